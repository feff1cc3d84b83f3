use crate::api::dashboard::upcoming_classes;
use crate::components::layout::ErrorPage;
use crate::session::use_session;
use lectern_model::schedule::UpcomingClass;
use lectern_model::{Role, User};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let session = use_session();
    view! {
        <Title text="Dashboard · Lectern"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match session.user.await {
                    Ok(Some(user)) => view! { <Dashboard user/> }.into_any(),
                    Ok(None) => view! { <Welcome/> }.into_any(),
                    Err(e) => view! { <ErrorPage message=e.to_string()/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// For visitors who are not signed in.
#[component]
fn Welcome() -> impl IntoView {
    view! {
        <section class="hero">
            <h1>"Live classes, in your browser"</h1>
            <p>
                "Lectern is your school's classroom: live video, slides and a whiteboard, chat and polls, "
                "recordings to watch later, and reminders before every class."
            </p>
            <p class="actions">
                <a class="button" href="/login">"Sign in"</a>
                <a class="button secondary" href="/register">"Create an account"</a>
            </p>
        </section>
    }
}

#[component]
fn Dashboard(user: User) -> impl IntoView {
    let upcoming = Resource::new(|| (), |_| upcoming_classes());
    let role = user.role;
    view! {
        <section class="page-head">
            <h1>"Hello, " {user.display_name.clone()}</h1>
            <p class="muted">"Times are shown in " {user.time_zone.clone()} "."</p>
        </section>
        <section class="card">
            <h2>"Upcoming classes"</h2>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match upcoming.await {
                        Ok(classes) if classes.is_empty() => view! { <EmptyUpcoming role/> }.into_any(),
                        Ok(classes) => view! {
                            <ul class="upcoming" data-testid="upcoming">
                                {classes.into_iter().map(|c| view! { <UpcomingRow class=c/> }).collect_view()}
                            </ul>
                        }
                        .into_any(),
                        Err(e) => view! { <p class="form-error">{e.to_string()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn UpcomingRow(class: UpcomingClass) -> impl IntoView {
    view! {
        <li class="upcoming-item">
            <div>
                <a href=format!("/classes/{}", class.class_id)><strong>{class.title}</strong></a>
                <span class="muted">" with " {class.teacher_name}</span>
            </div>
            <div class="when">
                {class.live_now.then(|| view! { <span class="live-badge">"Live now"</span> })}
                {class.when}
            </div>
        </li>
    }
}

#[component]
fn EmptyUpcoming(role: Role) -> impl IntoView {
    let text = if role.can_teach() {
        "You have no classes scheduled. Classes you teach will appear here, soonest first."
    } else {
        "You have no upcoming classes yet. When you enrol in a class, its next sessions will appear here."
    };
    view! {
        <div class="empty-state" data-testid="no-upcoming">
            <p class="empty-title">"Nothing scheduled"</p>
            <p class="muted">{text}</p>
        </div>
    }
}
