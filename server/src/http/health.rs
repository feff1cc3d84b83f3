//! `GET /healthz`: whether this node can serve, for load balancers and monitoring.

use super::HttpState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<HttpState>) -> (StatusCode, Json<Value>) {
    let backend = state.app.store.backend();
    match state.app.store.ping().await {
        Ok(latency) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "database": { "status": "ok", "backend": backend, "latency_ms": latency.as_secs_f64() * 1000.0 },
            })),
        ),
        Err(err) => {
            tracing::error!(error = %err, "health check: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({
                    "status": "unavailable",
                    "version": env!("CARGO_PKG_VERSION"),
                    "database": { "status": "unreachable", "backend": backend },
                })),
            )
        }
    }
}
