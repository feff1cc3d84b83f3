//! The Lectern web application: one Leptos app, rendered on the server (feature `ssr`) and
//! hydrated in the browser (feature `hydrate`).

#![recursion_limit = "512"]

pub mod api;
pub mod board;
pub mod components;
pub mod pages;
pub mod protocol;
pub mod session;

pub use lectern_model as model;

use components::layout::{Header, NotFound};
use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, provide_meta_context};
use leptos_router::SsrMode;
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;
use pages::classes::{ClassPage, ClassesPage};
use pages::room::LiveRoomPage;
use pages::schedule::SchedulePage;
use pages::{
    admin::AdminPage, dashboard::DashboardPage, login::LoginPage, profile::ProfilePage, register::RegisterPage,
};

/// The HTML document around the app, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="theme-color" content="#1d4ed8"/>
                <link rel="manifest" href="/manifest.webmanifest"/>
                <link rel="icon" href="/icon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    session::provide_session();
    // Effects run only in the browser, after hydration: mark the page interactive (browser
    // tests wait for this before they click).
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    // Pages render completely on the server (SsrMode::Async) so that their HTTP status (401,
    // 403, 404) is known before the first byte is sent.
    view! {
        <Stylesheet id="leptos" href="/pkg/lectern.css"/>
        <Router>
            <Header/>
            <main id="main">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=DashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/admin") view=AdminPage ssr=SsrMode::Async/>
                    <Route path=path!("/schedule") view=SchedulePage ssr=SsrMode::Async/>
                    <Route path=path!("/classes") view=ClassesPage ssr=SsrMode::Async/>
                    <Route path=path!("/classes/:id") view=ClassPage ssr=SsrMode::Async/>
                    <Route path=path!("/classes/:id/live") view=LiveRoomPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
