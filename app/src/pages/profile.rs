use crate::api::accounts::time_zones;
use crate::api::classes::{ResetCalendarFeed, RevokeCalendarFeed, has_calendar_feed};
use crate::components::form::{FormError, TextField, last_error};
use crate::components::layout::WithUser;
use crate::session::use_session;
use lectern_model::{Field, User};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProfilePage() -> impl IntoView {
    view! {
        <Title text="Your profile · Lectern"/>
        <WithUser render=|user| view! { <ProfileForm user/> <CalendarFeed/> }/>
    }
}

#[component]
fn ProfileForm(user: User) -> impl IntoView {
    let update = use_session().update_profile;
    let error = last_error(update.value());
    let saved = move || matches!(update.value().get(), Some(Ok(_)));
    let zones = Resource::new(|| (), |_| time_zones());
    let current_zone = user.time_zone.clone();
    let zone_error = move || error.get().and_then(|e| e.for_field(Field::TimeZone));
    view! {
        <section class="card narrow">
            <h1>"Your profile"</h1>
            <p class="muted">"Signed in as " <strong>{user.username.clone()}</strong> " (" {user.role.label()} ")."</p>
            <ActionForm action=update attr:novalidate=true attr:class="stack">
                <FormError error/>
                {move || saved().then(|| view! { <p class="form-success" role="status">"Your profile is saved."</p> })}
                <TextField label="Display name" name="display_name" field=Field::DisplayName error value=user.display_name.clone()
                    autocomplete="name"/>
                <TextField label="Email" name="email" field=Field::Email error kind="email" value=user.email.clone()
                    autocomplete="email"/>
                <TextField label="Mobile phone (for SMS reminders)" name="phone" field=Field::Phone error kind="tel"
                    value=user.phone.clone().unwrap_or_default() autocomplete="tel"
                    hint="International format, like +14155550123. Leave empty for no SMS."/>
                <div class="field" class:invalid=move || zone_error().is_some()>
                    <label for="field-time_zone">"Time zone"</label>
                    <Suspense fallback=move || view! { <input id="field-time_zone" name="time_zone" value=current_zone.clone()/> }>
                        {
                            let current = user.time_zone.clone();
                            move || {
                                let current = current.clone();
                                Suspend::new(async move {
                                    let names = zones.await.unwrap_or_else(|_| vec![current.clone()]);
                                    view! {
                                        <select id="field-time_zone" name="time_zone">
                                            {names.into_iter().map(|name| {
                                                let selected = name == current;
                                                view! { <option value=name.clone() selected=selected>{name.clone()}</option> }
                                            }).collect_view()}
                                        </select>
                                    }
                                })
                            }
                        }
                    </Suspense>
                    {move || zone_error().map(|m| view! { <p class="field-error" data-field="time_zone">{m}</p> })}
                </div>
                <button type="submit" class="button" disabled=move || update.pending().get()>"Save profile"</button>
            </ActionForm>
        </section>
    }
}

/// The private calendar link that calendar apps subscribe to. Its secret is shown once: only a
/// hash is kept, so a lost link is replaced, not looked up.
#[component]
fn CalendarFeed() -> impl IntoView {
    let reset = ServerAction::<ResetCalendarFeed>::new();
    let revoke = ServerAction::<RevokeCalendarFeed>::new();
    let has_feed = Resource::new(move || (reset.version().get(), revoke.version().get()), |_| has_calendar_feed());
    let new_url = move || {
        reset.value().get().and_then(Result::ok).map(|path| {
            let origin = web_sys::window().and_then(|w| w.location().origin().ok()).unwrap_or_default();
            format!("{origin}{path}")
        })
    };
    view! {
        <section class="card narrow">
            <h2>"Calendar subscription"</h2>
            <p class="muted">"Subscribe to this private link in Google Calendar, Apple Calendar or Outlook to see your \
                classes there. Anyone with the link can read your schedule; make a new one to cut off the old."</p>
            {move || new_url().map(|url| view! {
                <p class="form-success" role="status">"Your new link (copy it now, it is shown only once): "</p>
                <code class="invite-link" data-testid="feed-url">{url}</code>
            })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let active = has_feed.await.unwrap_or(false);
                    view! {
                        <p class="muted">{if active { "A link is active." } else { "You have no link yet." }}</p>
                        <div class="actions-left">
                            <ActionForm action=reset attr:class="inline">
                                <button type="submit" class="button secondary">
                                    {if active { "Make a new link" } else { "Create a link" }}
                                </button>
                            </ActionForm>
                            {active.then(|| view! {
                                <ActionForm action=revoke attr:class="inline">
                                    <button type="submit" class="link-button">"Turn the link off"</button>
                                </ActionForm>
                            })}
                        </div>
                    }
                })}
            </Suspense>
        </section>
    }
}
