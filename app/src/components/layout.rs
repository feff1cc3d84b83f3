//! The frame around every page: the header with navigation by role, and the error pages.

use crate::session::{set_page_status, use_session};
use lectern_model::{Role, User};
use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    let session = use_session();
    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                " Lectern"
            </a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => view! { <SignedInNav user/> }.into_any(),
                        _ => view! {
                            <nav class="nav" aria-label="Account">
                                <A href="/login">"Sign in"</A>
                                <A href="/register" attr:class="button small">"Create account"</A>
                            </nav>
                        }
                        .into_any(),
                    }
                })}
            </Transition>
        </header>
    }
}

#[component]
fn SignedInNav(user: User) -> impl IntoView {
    let session = use_session();
    let is_admin = user.role == Role::Admin;
    view! {
        <nav class="nav" aria-label="Main">
            <A href="/" exact=true>"Dashboard"</A>
            <A href="/schedule">"Schedule"</A>
            <A href="/classes" exact=true>"Classes"</A>
            {is_admin.then(|| view! { <A href="/admin">"Admin"</A> })}
            <A href="/profile" attr:class="who">
                <span class="who-name">{user.display_name.clone()}</span>
                <span class=format!("role-badge role-{}", user.role.as_str())>{user.role.label()}</span>
            </A>
            <ActionForm action=session.logout attr:class="inline">
                <button type="submit" class="link-button">"Sign out"</button>
            </ActionForm>
        </nav>
    }
}

/// A page that explains why there is nothing else to show, with the HTTP status to match.
#[component]
fn MessagePage(
    status: u16,
    title: &'static str,
    text: &'static str,
    #[prop(default = ("/", "Go to the dashboard"))] action: (&'static str, &'static str),
    #[prop(optional)] test_id: &'static str,
) -> impl IntoView {
    set_page_status(status);
    view! {
        <Title text=format!("{title} · Lectern")/>
        <section class="card narrow message-page" data-testid=(!test_id.is_empty()).then_some(test_id)>
            <h1>{title}</h1>
            <p>{text}</p>
            <p><a class="button" href=action.0>{action.1}</a></p>
        </section>
    }
}

/// Shown for any path no route matches.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <MessagePage status=404 title="Page not found"
            text="There is nothing at this address. It may have moved, or the link may be mistyped."/>
    }
}

/// For pages that need a sign-in.
#[component]
pub fn SignInRequired() -> impl IntoView {
    view! {
        <MessagePage status=401 title="Please sign in" text="You need to be signed in to see this page."
            action=("/login", "Sign in")/>
    }
}

/// For pages the signed-in user's role does not allow.
#[component]
pub fn Forbidden() -> impl IntoView {
    view! {
        <MessagePage status=403 title="You don't have access to this page" test_id="forbidden"
            text="This page is for admins. If you think you should see it, ask an admin of your school."/>
    }
}

/// For an unexpected failure; says nothing of internals.
#[component]
pub fn ErrorPage(message: String) -> impl IntoView {
    view! {
        <section class="card narrow message-page" role="alert">
            <h1>"Something went wrong"</h1>
            <p>{message}</p>
            <p><a class="button" href="/">"Go to the dashboard"</a></p>
        </section>
    }
}

/// Render `render` with the signed-in user; "please sign in" (401) for visitors.
#[component]
pub fn WithUser<F, V>(render: F) -> impl IntoView
where
    F: Fn(User) -> V + Clone + Send + Sync + 'static,
    V: IntoView + 'static,
{
    let session = use_session();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match session.user.await {
                        Ok(Some(user)) => render(user).into_any(),
                        Ok(None) => view! { <SignInRequired/> }.into_any(),
                        Err(e) => view! { <ErrorPage message=e.to_string()/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}
