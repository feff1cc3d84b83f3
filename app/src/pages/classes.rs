//! Finding classes, and a class's own page.

use crate::api::ApiError;
use crate::api::classes::{
    AddCoTeacher, AddStudent, CancelClass, CancelOccurrence, Enrol, LeaveClass, RemoveStudent, UpdateClass, load_class,
    open_classes,
};
use crate::components::layout::{ErrorPage, SignInRequired};
use crate::components::scheduler::{CreateDialog, Draft, FollowingEdit};
use lectern_model::schedule::{ClassDetails, ClassKind, EnrolmentPolicy};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

/// Open classes a student can enrol in.
#[component]
pub fn ClassesPage() -> impl IntoView {
    let classes = Resource::new(|| (), |_| open_classes());
    view! {
        <Title text="Classes · Lectern"/>
        <section class="page-head">
            <h1>"Find a class"</h1>
            <p class="muted">"Classes open to everyone, soonest first. Your own classes are on the "
                <A href="/schedule">"schedule"</A> "."</p>
        </section>
        <section class="card">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match classes.await {
                        Ok(list) if list.is_empty() => view! {
                            <div class="empty-state"><p class="empty-title">"No open classes right now"</p>
                            <p class="muted">"When a teacher opens a class to everyone, it will be listed here."</p></div>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="upcoming" data-testid="open-classes">
                                {list.into_iter().map(|c| view! {
                                    <li class="upcoming-item">
                                        <div><A href=format!("/classes/{}", c.id)><strong>{c.title}</strong></A>
                                            <span class="muted">" with " {c.teacher_name}</span></div>
                                        <div class="when">{c.next.unwrap_or_default()}</div>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(ApiError::NotSignedIn) => view! { <SignInRequired/> }.into_any(),
                        Err(e) => view! { <ErrorPage message=e.to_string()/> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
pub fn ClassPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").and_then(|s| s.parse::<i64>().ok()).unwrap_or(0);
    let invite = move || query.read().get("invite");
    let enrol = ServerAction::<Enrol>::new();
    let leave = ServerAction::<LeaveClass>::new();
    let add = ServerAction::<AddStudent>::new();
    let add_co_teacher = ServerAction::<AddCoTeacher>::new();
    let remove = ServerAction::<RemoveStudent>::new();
    let cancel_occurrence = ServerAction::<CancelOccurrence>::new();
    let cancel_class = ServerAction::<CancelClass>::new();
    let update = ServerAction::<UpdateClass>::new();
    let replanned = RwSignal::new(0u32);
    let details = Resource::new(
        move || {
            (
                id(),
                invite(),
                enrol.version().get()
                    + leave.version().get()
                    + add.version().get()
                    + add_co_teacher.version().get()
                    + remove.version().get()
                    + cancel_occurrence.version().get()
                    + cancel_class.version().get()
                    + update.version().get()
                    + replanned.get() as usize,
            )
        },
        |(id, invite, _)| load_class(id, invite),
    );
    let actions =
        ClassActions { enrol, leave, add, add_co_teacher, remove, cancel_occurrence, cancel_class, update, replanned };
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match details.await {
                    Ok(class) => view! { <ClassView class invite=invite() actions/> }.into_any(),
                    Err(ApiError::NotSignedIn) => view! { <SignInRequired/> }.into_any(),
                    Err(ApiError::NotFound) => view! { <crate::components::layout::NotFound/> }.into_any(),
                    Err(e) => view! { <ErrorPage message=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
struct ClassActions {
    enrol: ServerAction<Enrol>,
    leave: ServerAction<LeaveClass>,
    add: ServerAction<AddStudent>,
    add_co_teacher: ServerAction<AddCoTeacher>,
    remove: ServerAction<RemoveStudent>,
    cancel_occurrence: ServerAction<CancelOccurrence>,
    cancel_class: ServerAction<CancelClass>,
    update: ServerAction<UpdateClass>,
    /// Bumped when "this and following" saved, to reload the page's data.
    replanned: RwSignal<u32>,
}

fn action_error<T: Clone + Send + Sync + 'static>(
    value: impl Get<Value = Option<Result<T, ApiError>>> + Send + Sync + 'static,
) -> impl Fn() -> Option<String> {
    move || value.get().and_then(Result::err).map(|e| e.to_string())
}

#[component]
fn ClassView(class: ClassDetails, invite: Option<String>, actions: ClassActions) -> impl IntoView {
    let id = class.id;
    // The Join button opens 10 minutes before a start; re-check every 20 s without a reload. The
    // browser's clock is corrected by the server's (`js_now` is 0 while rendering on the server,
    // so there the server's time is used as it is).
    let clock_offset = class.now - js_now();
    let join_target = class.next.iter().find(|o| !o.cancelled).map(|o| (o.id, o.starts_at, o.ends_at));
    let ticks = RwSignal::new(0u32);
    Effect::new(move |_| {
        let handle = set_interval_with_handle(move || ticks.update(|t| *t += 1), std::time::Duration::from_secs(20));
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });
    let lead = class.join_lead_ms;
    let participant = class.is_teacher || class.is_enrolled;
    let cancelled = class.cancelled;
    let join_open = move || {
        ticks.get();
        if cancelled || !participant {
            return None;
        }
        let now = js_now() + clock_offset;
        match join_target {
            Some((occ, start, end)) if start - lead <= now && now < end => Some(occ),
            _ => None,
        }
    };
    let kind_label = match class.kind {
        ClassKind::Live => "Live class",
        ClassKind::Recorded => "Recorded lecture",
    };
    let capacity = match class.capacity {
        Some(c) => format!("{} of {c} places taken", class.enrolled_count),
        None => format!("{} enrolled", class.enrolled_count),
    };
    let policy = match class.enrolment {
        EnrolmentPolicy::Open => "Anyone can enrol",
        EnrolmentPolicy::Invite => "Enrolment by invite link",
        EnrolmentPolicy::Closed => "The teacher adds students",
    };
    let enrol_error = action_error(actions.enrol.value());
    let add_error = action_error(actions.add.value());
    let co_teacher_error = action_error(actions.add_co_teacher.value());
    let update_error = action_error(actions.update.value());
    // The session being re-planned: (occurrence, local start in the class's zone, minutes, sessions left).
    let replan: RwSignal<Option<(i64, String, i32, u32)>> = RwSignal::new(None);
    let edit_base = FollowingEdit {
        occurrence_id: 0,
        title: class.title.clone(),
        description: class.description.clone(),
        kind: class.kind,
        capacity: class.capacity,
        enrolment: class.enrolment,
        recurrence: class.recurrence.clone(),
        remaining: None,
    };
    let class_zone = class.time_zone.clone();
    view! {
        <Title text=format!("{} · Lectern", class.title)/>
        <section class="page-head class-head">
            <div>
                <p class="muted">{kind_label} " · " {class.teacher_name.clone()}</p>
                <h1>{class.title.clone()}</h1>
                {class.cancelled.then(|| view! { <p class="form-error">"This class has been cancelled."</p> })}
                {class.schedule_text.clone().map(|s| view! { <p class="muted">{s}</p> })}
            </div>
            <div class="class-actions">
                {move || match join_open() {
                    Some(occ) => view! {
                        <a class="button join" href=format!("/classes/{id}/live?occurrence={occ}")>"Join"</a>
                    }.into_any(),
                    None => view! {
                        <button class="button join" disabled title="The room opens 10 minutes before the class starts">"Join"</button>
                    }.into_any(),
                }}
                <a class="button secondary" href=format!("/classes/{id}/calendar.ics") download="">"Add to calendar (.ics)"</a>
            </div>
        </section>
        <div class="class-layout">
            <section class="card">
                <h2>"About"</h2>
                {if class.description.is_empty() {
                    view! { <p class="muted">"No description."</p> }.into_any()
                } else {
                    view! { <p class="description">{class.description.clone()}</p> }.into_any()
                }}
                <p class="muted">{capacity} " · " {policy} " · times in " {class.time_zone.clone()}</p>
                {class.can_enrol.then(|| view! {
                    <ActionForm action=actions.enrol>
                        <input type="hidden" name="class_id" value=id.to_string()/>
                        {invite.clone().map(|t| view! { <input type="hidden" name="invite" value=t/> })}
                        <button type="submit" class="button">"Enrol"</button>
                    </ActionForm>
                })}
                {class.is_enrolled.then(|| view! {
                    <p class="form-success">"You are enrolled."</p>
                    <ActionForm action=actions.leave attr:class="inline">
                        <input type="hidden" name="class_id" value=id.to_string()/>
                        <button type="submit" class="link-button">"Leave this class"</button>
                    </ActionForm>
                })}
                {move || enrol_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                {class.is_teacher.then(|| {
                    let capacity = class.capacity.map(|c| c.to_string()).unwrap_or_default();
                    let policy = class.enrolment;
                    view! {
                        <details class="edit-details">
                            <summary>"Edit details"</summary>
                            <ActionForm action=actions.update attr:class="stack">
                                <input type="hidden" name="class_id" value=id.to_string()/>
                                <div class="field"><label for="edit-title">"Title"</label>
                                    <input id="edit-title" name="title" value=class.title.clone()/></div>
                                <div class="field"><label for="edit-description">"Description"</label>
                                    <textarea id="edit-description" name="description" rows="3">{class.description.clone()}</textarea></div>
                                <div class="row">
                                    <div class="field"><label for="edit-capacity">"Capacity"</label>
                                        <input id="edit-capacity" name="capacity" type="number" min="1" placeholder="No limit" value=capacity/></div>
                                    <div class="field"><label for="edit-enrolment">"Who can enrol"</label>
                                        <select id="edit-enrolment" name="enrolment">
                                            <option value="open" selected=policy == EnrolmentPolicy::Open>"Anyone"</option>
                                            <option value="invite" selected=policy == EnrolmentPolicy::Invite>"People with the invite link"</option>
                                            <option value="closed" selected=policy == EnrolmentPolicy::Closed>"Only people I add"</option>
                                        </select></div>
                                </div>
                                <button type="submit" class="button secondary">"Save details"</button>
                            </ActionForm>
                            {move || update_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                        </details>
                    }
                })}
            </section>
            <section class="card">
                <h2>"Next sessions"</h2>
                {if class.next.is_empty() {
                    view! { <p class="muted">"No sessions to come."</p> }.into_any()
                } else {
                    let is_teacher = class.is_teacher;
                    view! {
                        <ul class="sessions">
                            {class.next.clone().into_iter().map(|o| view! {
                                <li class:cancelled=o.cancelled>
                                    <span>{o.when.clone()}</span>
                                    {o.cancelled.then(|| view! { <span class="muted">" (cancelled)"</span> })}
                                    {(is_teacher && !o.cancelled).then(|| view! {
                                        <span class="session-actions">
                                            <ActionForm action=actions.cancel_occurrence attr:class="inline">
                                                <input type="hidden" name="occurrence_id" value=o.id.to_string()/>
                                                <button type="submit" class="link-button">"Cancel this session"</button>
                                            </ActionForm>
                                            {o.remaining_in_series.map(|remaining| {
                                                let target = (o.id, o.class_local_start.clone(), ((o.ends_at - o.starts_at) / 60_000) as i32, remaining);
                                                view! {
                                                    <button type="button" class="link-button"
                                                        on:click=move |_| replan.set(Some(target.clone()))>
                                                        "Change this and following…"
                                                    </button>
                                                }
                                            })}
                                        </span>
                                    })}
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any()
                }}
            </section>
            {class.roster.clone().map(|roster| view! {
                <section class="card">
                    <h2>"Roster"</h2>
                    {class.invite_path.clone().map(|p| view! {
                        <p class="muted">"Invite link: " <code class="invite-link">{p}</code></p>
                    })}
                    <ActionForm action=actions.add attr:class="filter-bar">
                        <input type="hidden" name="class_id" value=id.to_string()/>
                        <label for="add-student" class="visually-hidden">"Username or email"</label>
                        <input id="add-student" name="login" placeholder="Add by username or email"/>
                        <button type="submit" class="button secondary">"Add"</button>
                    </ActionForm>
                    {move || add_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                    <ActionForm action=actions.add_co_teacher attr:class="filter-bar">
                        <input type="hidden" name="class_id" value=id.to_string()/>
                        <label for="add-co-teacher" class="visually-hidden">"Co-teacher's username or email"</label>
                        <input id="add-co-teacher" name="login" placeholder="Add a co-teacher by username or email"/>
                        <button type="submit" class="button secondary">"Add co-teacher"</button>
                    </ActionForm>
                    {move || co_teacher_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
                    {if roster.is_empty() {
                        view! { <p class="muted">"No one has enrolled yet."</p> }.into_any()
                    } else {
                        view! {
                            <ul class="roster" data-testid="roster">
                                {roster.into_iter().map(|m| view! {
                                    <li>
                                        <span>{m.display_name} " "<span class="muted">{format!("@{}", m.username)}</span>
                                            {m.co_teacher.then(|| view! { " " <span class="role-badge role-teacher">"Co-teacher"</span> })}</span>
                                        <ActionForm action=actions.remove attr:class="inline">
                                            <input type="hidden" name="class_id" value=id.to_string()/>
                                            <input type="hidden" name="user_id" value=m.user_id.to_string()/>
                                            <button type="submit" class="link-button">"Remove"</button>
                                        </ActionForm>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any()
                    }}
                    {(!class.cancelled).then(|| view! {
                        <ActionForm action=actions.cancel_class attr:class="danger-zone">
                            <input type="hidden" name="class_id" value=id.to_string()/>
                            <button type="submit" class="button secondary">"Cancel the whole class"</button>
                        </ActionForm>
                    })}
                </section>
            })}
        </div>
        {move || replan.get().map(|(occurrence_id, start, minutes, remaining)| {
            let start_date = start.get(..10).and_then(|d| d.parse().ok()).unwrap_or_default();
            let minute = start.get(11..13).and_then(|h| h.parse::<i32>().ok()).unwrap_or(9) * 60
                + start.get(14..16).and_then(|m| m.parse::<i32>().ok()).unwrap_or(0);
            let edit = FollowingEdit { occurrence_id, remaining: Some(remaining), ..edit_base.clone() };
            view! {
                <CreateDialog draft=Draft::at(start_date, minute, minutes) time_zone=class_zone.clone() edit
                    on_close=Callback::new(move |saved: bool| {
                        replan.set(None);
                        if saved {
                            actions.replanned.update(|n| *n += 1);
                        }
                    })/>
            }
        })}
    }
}

/// Milliseconds since the epoch by the browser's clock (0 while rendering on the server).
fn js_now() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        0
    }
}
