//! Live audio and video: a selective forwarding unit (SFU) inside the server, built on str0m.
//!
//! - [`arrival`]: datagrams with the time they reached the socket.
//! - [`backlog`]: whether a worker keeps up (how long datagrams waited in its socket).
//! - [`overload`]: a worker past its core holds video to a lower layer until it fits.
//! - [`core`]: one worker's peers and the forwarding between them, sans-IO (tested on
//!   simulated time).
//! - [`worker`]: the threads: each owns one UDP socket, its classes' peers and its clock.
//! - [`send_batch`]: datagrams sent many to a system call, and runs to one student as one message.
//! - [`layers`]: simulcast layer allocation and switching.
//! - [`downlink`]: a student's downlink judged from the loss it reports.
//! - [`feedback`]: what a browser is asked to report about the media it receives.
//! - [`keyframes`]: coalesced keyframe requests.
//! - [`speaker`]: the active speaker from audio levels.
//! - [`timeline`]: continuous RTP timestamps across source and layer switches.
//! - [`rtp`]: packet-level forwarding: frame starts, keyframes, sequence numbers.
//!
//! Signalling rides the room's WebSocket (`media_offer`, `media_answer`, `media_view`); the room
//! actor checks who may publish and calls the class's worker through [`Sfu`].

pub mod arrival;
pub mod backlog;
pub mod core;
pub mod downlink;
pub mod feedback;
pub mod keyframes;
pub mod layers;
pub mod overload;
pub mod rtp;
pub mod send_batch;
pub mod speaker;
pub mod timeline;
pub mod worker;

#[cfg(test)]
mod sim_tests;

pub use self::core::{Accepted, ClassId, OfferRequest, PeerId, SfuError, SfuEvent};
pub use worker::Sfu;
