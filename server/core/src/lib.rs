//! Lectern's server-side core: configuration, the store over SQLite or PostgreSQL, and accounts.
//!
//! Server functions (in the `app` crate) and the HTTP layer (the `server` crate) both call into
//! this crate; it knows nothing of HTTP or Leptos.

pub mod accounts;
pub mod auth;
pub mod classes;
pub mod config;
pub mod demo;
pub mod local_time;
pub mod schedule;
pub mod slides;
pub mod state;
pub mod store;
pub mod uploads;

#[cfg(feature = "testing")]
pub mod sample_pdfs;
#[cfg(feature = "testing")]
pub mod testing;

pub use state::{AppState, now_ms};
