use crate::components::form::{FormError, TextField, last_error};
use crate::session::use_session;
use lectern_model::Field;
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

/// The browser's IANA time zone, from `Intl`.
fn browser_time_zone() -> Option<String> {
    let options = js_sys::Intl::DateTimeFormat::new(&js_sys::Array::new(), &js_sys::Object::new()).resolved_options();
    js_sys::Reflect::get(&options, &"timeZone".into()).ok()?.as_string()
}

#[component]
pub fn RegisterPage() -> impl IntoView {
    let register = use_session().register;
    let error = last_error(register.value());
    let time_zone = RwSignal::new("UTC".to_owned());
    // Effects run only in the browser: start with the zone the device is set to.
    Effect::new(move |_| {
        if let Some(zone) = browser_time_zone() {
            time_zone.set(zone);
        }
    });
    view! {
        <Title text="Create an account · Lectern"/>
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <ActionForm action=register attr:novalidate=true attr:class="stack">
                <FormError error/>
                <TextField label="Username" name="username" field=Field::Username error autocomplete="username"
                    hint="Letters, digits, '.', '_' or '-'. You sign in with it."/>
                <TextField label="Display name" name="display_name" field=Field::DisplayName error autocomplete="name"
                    hint="The name teachers and classmates see."/>
                <TextField label="Email" name="email" field=Field::Email error kind="email" autocomplete="email"/>
                <TextField label="Password" name="password" field=Field::Password error kind="password" autocomplete="new-password"
                    hint="At least 8 characters. Common passwords are refused."/>
                <input type="hidden" name="time_zone" prop:value=move || time_zone.get()/>
                <p class="hint">
                    "Times will be shown in " <strong>{move || time_zone.get()}</strong> ". You can change this in your profile."
                </p>
                {move || error.get().and_then(|e| e.for_field(Field::TimeZone)).map(|m| view! { <p class="field-error">{m}</p> })}
                <button type="submit" class="button" disabled=move || register.pending().get()>"Create account"</button>
            </ActionForm>
            <p class="aside">"Already have an account? " <A href="/login">"Sign in"</A></p>
        </section>
    }
}
