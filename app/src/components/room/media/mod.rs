//! Live audio and video in the room: one `RTCPeerConnection` per page, always the offerer, to the
//! server's SFU.
//!
//! - [`MediaClient`]: what the page's components read (signals) and ask (methods); inert when
//!   rendered on the server.
//! - `browser` (wasm only): the peer connection, the camera and microphone, the screen share,
//!   the negotiation over the room's WebSocket, statistics.
//! - [`view`]: the media area (stage, tiles, controls, device setup).
//!
//! What the page receives (last-N) and which receiving m-line shows what are plain functions in
//! [`super::model`], tested natively.

#[cfg(feature = "hydrate")]
mod browser;
#[cfg(feature = "hydrate")]
mod promise;
pub mod view;

use super::connection::RoomClient;
use super::model::LinkQuality;
use crate::protocol::ViewSlot;
use leptos::prelude::*;

/// The receiving connection as the page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Not connected: the room has no media yet, or the person turned it off.
    Off,
    Connecting,
    Live,
    /// The network dropped; the connection is being restarted.
    Reconnecting,
    /// The server refused (the class is full, say); `MediaSignals::error` says why.
    Failed,
}

/// What this page sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Local {
    pub camera: bool,
    pub microphone: bool,
    pub mic_muted: bool,
    pub screen: bool,
    /// Asking the browser for devices or the server for an answer right now.
    pub busy: bool,
}

impl Local {
    pub fn publishing(&self) -> bool {
        self.camera || self.microphone || self.screen
    }
}

/// A camera or microphone the browser offers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub label: String,
}

/// The device chooser, open before publishing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Setup {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
    pub camera: Option<String>,
    pub microphone: Option<String>,
}

/// The media state the components read. All `Copy`.
#[derive(Clone, Copy)]
pub struct MediaSignals {
    pub phase: RwSignal<Phase>,
    pub local: RwSignal<Local>,
    /// `Some` while the device chooser is open.
    pub setup: RwSignal<Option<Setup>>,
    pub audio_only: RwSignal<bool>,
    pub quality: RwSignal<Option<LinkQuality>>,
    /// The browser refused to play sound without a click.
    pub sound_blocked: RwSignal<bool>,
    /// Which receiving video m-line shows which track, as last sent to the server.
    pub slots: RwSignal<Vec<ViewSlot>>,
    /// Bumped whenever a received or local stream is (re)attached, so video elements re-bind.
    pub streams: RwSignal<u64>,
    /// A device or permission problem, in words for people.
    pub error: RwSignal<Option<String>>,
}

/// The page's audio and video. Cheap to clone; in Leptos context.
#[derive(Clone)]
pub struct MediaClient {
    pub s: MediaSignals,
    pub room: RoomClient,
    #[cfg(feature = "hydrate")]
    manager: send_wrapper::SendWrapper<std::rc::Rc<browser::Manager>>,
}

/// The sources a video element can show.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Feed {
    /// A received track, by its id in the room's track list.
    Remote(String),
    /// This browser's own camera (while publishing).
    OwnCamera,
    /// The device chooser's preview.
    Preview,
}

impl MediaClient {
    /// Set up media for the room of `room`: receiving starts when the room's welcome says it
    /// has media; it stops when the page goes away.
    pub fn new(room: &RoomClient) -> Self {
        let s = MediaSignals {
            phase: RwSignal::new(Phase::Off),
            local: RwSignal::new(Local::default()),
            setup: RwSignal::new(None),
            audio_only: RwSignal::new(false),
            quality: RwSignal::new(None),
            sound_blocked: RwSignal::new(false),
            slots: RwSignal::new(Vec::new()),
            streams: RwSignal::new(0),
            error: RwSignal::new(None),
        };
        #[cfg(feature = "hydrate")]
        {
            let manager = browser::Manager::start(room.clone(), s);
            let on_leave = send_wrapper::SendWrapper::new(manager.clone());
            on_cleanup(move || on_leave.stop());
            // What the page shows follows the room (tracks, speakers) and the audio-only switch.
            let model = room.model;
            let for_plan = send_wrapper::SendWrapper::new(manager.clone());
            let plan = Memo::new(move |_| model.with(|m| m.video_plan(s.audio_only.get())));
            Effect::new(move |_| for_plan.set_plan(plan.get()));
            Self { s, room: room.clone(), manager: send_wrapper::SendWrapper::new(manager) }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            Self { s, room: room.clone() }
        }
    }

    #[cfg(feature = "hydrate")]
    fn manager(&self) -> std::rc::Rc<browser::Manager> {
        std::rc::Rc::clone(&self.manager)
    }

    /// Show `feed` in `element` (a `<video>` or `<audio>`).
    #[cfg(feature = "hydrate")]
    pub fn attach(&self, element: &web_sys::HtmlMediaElement, feed: &Feed) {
        self.manager.attach(element, feed);
    }

    /// Open the device chooser with a live preview.
    pub fn open_setup(&self) {
        #[cfg(feature = "hydrate")]
        self.manager().open_setup();
    }

    pub fn close_setup(&self) {
        #[cfg(feature = "hydrate")]
        self.manager.close_setup();
    }

    /// Switch the preview (or, while publishing, what is sent) to another device.
    pub fn choose_camera(&self, id: String) {
        #[cfg(feature = "hydrate")]
        self.manager().choose_device(true, id);
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    }

    pub fn choose_microphone(&self, id: String) {
        #[cfg(feature = "hydrate")]
        self.manager().choose_device(false, id);
        #[cfg(not(feature = "hydrate"))]
        let _ = id;
    }

    /// Publish the chosen camera and microphone.
    pub fn start_publishing(&self) {
        #[cfg(feature = "hydrate")]
        self.manager().start_publishing();
    }

    pub fn set_mic_muted(&self, muted: bool) {
        #[cfg(feature = "hydrate")]
        self.manager.set_mic_muted(muted);
        #[cfg(not(feature = "hydrate"))]
        let _ = muted;
    }

    pub fn set_camera(&self, on: bool) {
        #[cfg(feature = "hydrate")]
        self.manager().set_camera(on);
        #[cfg(not(feature = "hydrate"))]
        let _ = on;
    }

    pub fn share_screen(&self) {
        #[cfg(feature = "hydrate")]
        self.manager().share_screen();
    }

    pub fn stop_screen(&self) {
        #[cfg(feature = "hydrate")]
        self.manager.stop_screen();
    }

    /// Stop receiving video and sending one's camera (or go back).
    pub fn set_audio_only(&self, on: bool) {
        #[cfg(feature = "hydrate")]
        self.manager().set_audio_only(on);
        #[cfg(not(feature = "hydrate"))]
        self.s.audio_only.set(on);
    }

    /// A student stops publishing (or declines an invitation to speak).
    pub fn stop_speaking(&self) {
        self.room.send(crate::protocol::ClientMsg::StopSpeaking { user: None });
        #[cfg(feature = "hydrate")]
        self.manager.unpublish();
    }

    /// Turn audio and video off for this page.
    pub fn leave(&self) {
        #[cfg(feature = "hydrate")]
        self.manager.leave();
    }

    /// Turn audio and video on again after `leave`.
    pub fn join(&self) {
        #[cfg(feature = "hydrate")]
        self.manager.join();
    }

    /// After the browser blocked autoplay: play the sound now (called from a click).
    pub fn enable_sound(&self) {
        #[cfg(feature = "hydrate")]
        self.manager.enable_sound();
    }
}
