#![recursion_limit = "512"]
//! The `lectern` server: the HTTP layer around [`lectern_core`] and the Leptos app, and the
//! command line that starts it.

pub mod cli;
pub mod http;
pub mod room;
pub mod serve;
pub mod sfu;
pub mod slides;
