//! The live class room: one WebSocket per participant, one actor per class.
//!
//! - [`socket`]: the WebSocket endpoint (Origin, session, hello, rate and size limits).
//! - [`access`]: who may enter, and with which role.
//! - [`hub`]: this node's rooms; starts an actor on a room's first join.
//! - [`actor`]: the task that owns one room's state and applies every message.
//! - [`board`]: the class's whiteboard, loaded from and appended to its operation log.
//! - [`state`]: that state as plain data (roster, hands, mutes, polls), tested without I/O.
//! - [`clients`]: bounded per-connection queues; slow clients are cut off, never waited for.
//! - [`cluster`]: several nodes through Redis (one owner node per room, the others relay).
//! - [`media`]: the room's audio and video sessions (the SFU is `crate::sfu`).
//! - [`rate`]: the per-connection token bucket.
//!
//! The wire protocol is `app::protocol`, documented in docs/protocol.md.

pub mod access;
pub mod actor;
pub mod board;
pub mod clients;
pub mod cluster;
pub mod hub;
pub mod media;
pub mod rate;
pub mod socket;
pub mod state;

pub use hub::RoomHub;
