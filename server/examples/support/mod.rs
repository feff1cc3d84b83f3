//! What the load tools (`room_load`, `sfu_load`) share: a fixture database, the server as a
//! child process, and the figures read from `/proc`.

#![allow(dead_code)] // each tool uses a different part

pub mod fixture;
pub mod proc_stats;
pub mod room_socket;
pub mod server_process;

use std::time::{Duration, Instant};

pub type Failure = String;

/// How often the tools check a condition they wait for.
const POLL_EVERY: Duration = Duration::from_millis(10);

pub fn fail(context: &str, error: impl std::fmt::Display) -> Failure {
    format!("{context}: {error}")
}

pub fn nanos_since(base: Instant) -> u64 {
    // +1 so that 0 can mean "not yet" in the logs.
    base.elapsed().as_nanos() as u64 + 1
}

/// Wait until `done` holds, checking every [`POLL_EVERY`], for at most `limit`.
pub async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
