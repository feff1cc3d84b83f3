//! The router, as a value: tests drive it without a socket.

mod api_status;
mod calendar;
pub mod files;
pub(crate) mod guard;
mod health;

use crate::room::RoomHub;
use crate::slides::SlideRenderer;
use app::{App, shell};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::FromRef;
use axum::http::{HeaderMap, header};
use axum::routing::{get, post};
use lectern_core::AppState;
use lectern_core::config::Config;
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use std::sync::{Arc, OnceLock};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

pub use guard::client_addr;

/// The Leptos settings, from our config rather than cargo-leptos's environment, so the binary
/// runs the same however it is started.
pub fn leptos_options(config: &Config) -> LeptosOptions {
    let dev = std::env::var("LEPTOS_ENV").is_ok_and(|e| e.eq_ignore_ascii_case("dev"));
    LeptosOptions::builder()
        .output_name("lectern")
        .site_root(config.server.site_root.to_string_lossy().into_owned())
        .site_pkg_dir("pkg")
        .site_addr(config.server.bind)
        .env(if dev { leptos::config::Env::DEV } else { leptos::config::Env::PROD })
        .build()
}

/// What axum handlers share: the Leptos options and the app's state.
#[derive(Clone)]
pub struct HttpState {
    pub leptos: LeptosOptions,
    pub app: AppState,
    /// This node's live rooms.
    pub rooms: Arc<RoomHub>,
    /// Renders uploaded PDFs into slides.
    pub slides: Arc<SlideRenderer>,
}

impl FromRef<HttpState> for LeptosOptions {
    fn from_ref(state: &HttpState) -> Self {
        state.leptos.clone()
    }
}

/// The session cookie's value in a request's headers.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<String> {
    lectern_core::auth::session_cookie(headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()))
}

/// The app's routes, listed once per process. leptos lists them by running the app with
/// resource loading turned off through a flag for the whole process, and a resource first run
/// meanwhile, by a page another router is rendering, never finishes (leptos-rs/leptos#4773).
/// Every router after the first (the nodes of a cluster in one process, tests) reuses the
/// list, so no page can render while it is made.
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every route Lectern serves, with live rooms served by this node alone.
pub fn router(app: AppState) -> Router {
    let rooms = RoomHub::local(app.clone());
    router_with_rooms(app, rooms)
}

/// Every route Lectern serves: health, the live rooms' WebSocket, the app's pages and server
/// functions, and static files.
pub fn router_with_rooms(app: AppState, rooms: Arc<RoomHub>) -> Router {
    let leptos = leptos_options(&app.config);
    let routes = route_list();
    let context = {
        let app = app.clone();
        move || provide_context(app.clone())
    };
    let max_body = app.config.server.max_body_bytes;
    let max_upload = app.config.uploads.max_file_bytes;
    let slides = SlideRenderer::new(&app.config.uploads);
    let state = HttpState { leptos: leptos.clone(), app, rooms, slides };
    // Uploads take bodies up to their own limit; everything else keeps the small one.
    let uploads = Router::new()
        .route("/classes/{id}/slides", post(files::upload_slides).get(files::list_decks))
        .route("/classes/{id}/files", post(files::upload_file))
        .layer(DefaultBodyLimit::max(max_upload))
        .layer(RequestBodyLimitLayer::new(max_upload));
    let pages = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/calendar/{file}", get(calendar::feed))
        .route("/classes/{id}/calendar.ics", get(calendar::class_file))
        .route("/classes/{id}/live/ws", get(crate::room::socket::live_socket))
        .route("/classes/{id}/slides/{deck}", get(files::deck_status))
        .route("/classes/{id}/slide-images/{name}", get(files::slide_image))
        .route("/classes/{id}/files/{file}", get(files::download_file))
        .route("/classes/{id}/board.pdf", get(files::board_pdf))
        .leptos_routes_with_context(&state, routes, context.clone(), {
            let leptos = leptos.clone();
            move || shell(leptos.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<HttpState, _>(context, shell))
        .layer(RequestBodyLimitLayer::new(max_body));
    uploads
        .merge(pages)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::same_origin))
        .layer(axum::middleware::from_fn(api_status::api_error_status))
        .layer(axum::middleware::from_fn(guard::security_headers))
        .layer(axum::middleware::from_fn(guard::close_after_unread_body))
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard::client_addr))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
