//! Server functions, one module per feature. Each checks who is calling before it does anything.

pub mod accounts;
pub mod admin;
pub mod classes;
pub mod dashboard;
mod error;
#[cfg(feature = "ssr")]
pub mod server;

pub use error::ApiError;
