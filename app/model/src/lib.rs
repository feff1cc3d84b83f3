//! Types shared by the browser client and the server.
//!
//! Everything here compiles to wasm32 as well as to the host: no I/O, no database, no time zone
//! database. The server adds what needs those (password lists, IANA zone checks) in `lectern-core`.

pub mod schedule;
pub mod user;
pub mod validate;

pub use user::{Role, User};
pub use validate::{Field, FieldError};
