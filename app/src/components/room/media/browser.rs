//! The browser side of the room's audio and video: one `RTCPeerConnection`, always the offerer.
//!
//! Its receiving transceivers are slots the server fills (audio: the class's microphones;
//! video: what `media_view` names); its sending transceivers carry this person's camera,
//! microphone and screen. Offers go over the room's WebSocket one at a time: a change while an
//! offer is in flight is queued and offered after the answer.

use super::promise::{call, settled};
use super::{Device, Feed, Local, MediaSignals, Phase, Setup};
use crate::components::room::connection::RoomClient;
use crate::components::room::model::{
    VideoPlan, assign_slots, audio_slots_needed, link_quality, loss_between, video_slot_count,
};
use crate::protocol::{ClientMsg, ErrorCode, MediaSource, Publication, ServerMsg, ViewSlot};
use js_sys::{Array, Reflect};
use leptos::logging::warn;
use leptos::prelude::*;
use leptos::task::spawn_local;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use std::time::Duration;
use wasm_bindgen::prelude::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    DisplayMediaStreamConstraints, Event, HtmlAudioElement, HtmlMediaElement, MediaDeviceInfo, MediaDeviceKind,
    MediaDevices, MediaStream, MediaStreamConstraints, MediaStreamTrack, RtcBundlePolicy, RtcConfiguration,
    RtcIceConnectionState, RtcIceServer, RtcOfferOptions, RtcPeerConnection, RtcRtpEncodingParameters,
    RtcRtpTransceiver, RtcRtpTransceiverDirection, RtcRtpTransceiverInit, RtcSdpType, RtcSessionDescriptionInit,
    RtcTrackEvent,
};

/// An answer that has not come this long after its offer is given up, and the offer made again.
const ANSWER_WITHIN: Duration = Duration::from_secs(15);
/// ICE "disconnected" this long is treated as failed: restart.
const DISCONNECTED_GRACE: Duration = Duration::from_secs(3);
const STATS_EVERY: Duration = Duration::from_secs(2);
/// Receiving audio m-lines made beyond those needed now, so that a new speaker rarely needs a
/// renegotiation.
const SPARE_AUDIO_SLOTS: usize = 2;

pub struct Manager {
    room: RoomClient,
    s: MediaSignals,
    this: Weak<Manager>,
    inner: RefCell<Inner>,
}

/// A sending transceiver and what it sends.
#[derive(Default)]
struct Outgoing {
    transceiver: Option<RtcRtpTransceiver>,
    /// The captured track: previewed, and sent while the transceiver sends.
    track: Option<MediaStreamTrack>,
}

impl Outgoing {
    fn sending(&self) -> bool {
        self.track.is_some()
            && self.transceiver.as_ref().is_some_and(|t| t.direction() == RtcRtpTransceiverDirection::Sendonly)
    }

    /// Stop sending and release the device.
    fn release(&mut self) {
        if let Some(t) = &self.transceiver {
            t.set_direction(RtcRtpTransceiverDirection::Inactive);
            let _ = t.sender().replace_track(None);
        }
        if let Some(track) = self.track.take() {
            track.stop();
        }
    }
}

struct Peer {
    pc: RtcPeerConnection,
    video_slots: Vec<RtcRtpTransceiver>,
    audio_slots: Vec<RtcRtpTransceiver>,
    /// Received streams by the mid of their transceiver.
    receiving: HashMap<String, MediaStream>,
    /// One element per receiving audio m-line, kept out of the page: it only plays.
    audio: HashMap<String, HtmlAudioElement>,
    /// The server answered at least once: it knows this session and takes a view.
    answered: bool,
    _on_track: Closure<dyn FnMut(RtcTrackEvent)>,
    _on_ice: Closure<dyn FnMut(Event)>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.pc.set_ontrack(None);
        self.pc.set_oniceconnectionstatechange(None);
        self.pc.close();
        for element in self.audio.values() {
            let _ = element.pause();
            element.set_src_object(None);
        }
    }
}

struct Inner {
    /// Made once per page load; the server re-attaches it after a WebSocket reconnect.
    session: String,
    peer: Option<Peer>,
    /// An offer is being made or answered.
    busy: bool,
    /// The reference of the offer the server has not answered yet.
    awaiting: Option<u32>,
    /// Whether that offer publishes something (a refusal then means "you may not publish").
    offer_publishes: bool,
    /// Another offer is wanted after this one (`true`: with an ICE restart).
    queued: Option<bool>,
    /// Bumped when offers in flight are given up, so their remaining steps do nothing.
    offer_gen: u64,
    /// The person turned media off: do not come back on by oneself.
    left: bool,
    camera: Outgoing,
    microphone: Outgoing,
    screen: Outgoing,
    /// The own camera, for the preview and the own tile.
    own: Option<MediaStream>,
    plan: VideoPlan,
    sent_view: Option<Vec<ViewSlot>>,
    camera_before_audio_only: bool,
    stats: Option<IntervalHandle>,
    /// Cumulative (lost, received) packets at the last statistics reading.
    counts: Option<(f64, f64)>,
    disconnected: Option<TimeoutHandle>,
    answer_timer: Option<TimeoutHandle>,
    screen_ended: Option<Closure<dyn FnMut(Event)>>,
}

fn session_id() -> String {
    const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..24).map(|_| LETTERS[(js_sys::Math::random() * LETTERS.len() as f64) as usize % LETTERS.len()] as char).collect()
}

/// A plain JavaScript object from name-value pairs.
fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let object = js_sys::Object::new();
    for (name, value) in pairs {
        let _ = Reflect::set(&object, &JsValue::from_str(name), value);
    }
    object.into()
}

fn field(value: &JsValue, name: &str) -> JsValue {
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

fn error_name(err: &JsValue) -> String {
    field(err, "name").as_string().unwrap_or_default()
}

fn describe(err: &JsValue) -> String {
    field(err, "message").as_string().or_else(|| err.as_string()).unwrap_or_else(|| format!("{err:?}"))
}

fn media_devices() -> Result<MediaDevices, String> {
    window()
        .navigator()
        .media_devices()
        .map_err(|_| "Camera and microphone need a secure (https) connection to this site.".to_owned())
}

/// What to tell people when the browser did not give a camera or microphone.
fn device_error(err: &JsValue) -> String {
    match error_name(err).as_str() {
        "NotAllowedError" | "SecurityError" => {
            "The browser did not allow the camera and microphone. Allow them for this site (see the address bar), then try again.".to_owned()
        }
        "NotFoundError" | "OverconstrainedError" => "No camera or microphone was found.".to_owned(),
        "NotReadableError" | "AbortError" => {
            "The camera or microphone is in use by another program, or could not be started.".to_owned()
        }
        _ => format!("The camera and microphone could not be started ({}).", describe(err)),
    }
}

fn encoding(rid: Option<&str>, scale_down: Option<f32>, max_bps: u32) -> RtcRtpEncodingParameters {
    let e = RtcRtpEncodingParameters::new();
    if let Some(rid) = rid {
        e.set_rid(rid);
    }
    if let Some(scale) = scale_down {
        e.set_scale_resolution_down_by(scale);
    }
    e.set_max_bitrate(max_bps);
    e
}

fn first_track(stream: &MediaStream, video: bool) -> Option<MediaStreamTrack> {
    let tracks = if video { stream.get_video_tracks() } else { stream.get_audio_tracks() };
    tracks.get(0).dyn_into::<MediaStreamTrack>().ok()
}

fn device_id_of(track: &MediaStreamTrack) -> Option<String> {
    field(&track.get_settings(), "deviceId").as_string().filter(|id| !id.is_empty())
}

fn play(element: &HtmlMediaElement) -> Option<js_sys::Promise> {
    element.play().ok()
}

impl Manager {
    pub fn start(room: RoomClient, s: MediaSignals) -> Rc<Self> {
        let manager = Rc::new_cyclic(|this| Manager {
            room: room.clone(),
            s,
            this: this.clone(),
            inner: RefCell::new(Inner {
                session: session_id(),
                peer: None,
                busy: false,
                awaiting: None,
                offer_publishes: false,
                queued: None,
                offer_gen: 0,
                left: false,
                camera: Outgoing::default(),
                microphone: Outgoing::default(),
                screen: Outgoing::default(),
                own: None,
                plan: VideoPlan::default(),
                sent_view: None,
                camera_before_audio_only: false,
                stats: None,
                counts: None,
                disconnected: None,
                answer_timer: None,
                screen_ended: None,
            }),
        });
        let weak = Rc::downgrade(&manager);
        room.listen(Rc::new(move |msg: &ServerMsg| {
            if let Some(manager) = weak.upgrade() {
                manager.on_server(msg);
            }
        }));
        manager
    }

    fn rc(&self) -> Option<Rc<Self>> {
        self.this.upgrade()
    }

    fn pc(&self) -> Option<RtcPeerConnection> {
        self.inner.borrow().peer.as_ref().map(|p| p.pc.clone())
    }

    fn current(&self, generation: u64) -> bool {
        self.inner.borrow().offer_gen == generation
    }

    fn set_local(&self, f: impl FnOnce(&mut Local)) {
        self.s.local.update(f);
    }

    fn bump_streams(&self) {
        self.s.streams.update(|n| *n += 1);
    }

    // ---- The room's messages ----

    fn on_server(&self, msg: &ServerMsg) {
        match msg {
            ServerMsg::Welcome(welcome) => self.on_welcome(welcome.media.is_some()),
            ServerMsg::MediaAnswer { sdp } => self.on_answer(sdp.clone()),
            ServerMsg::Error { reference: Some(reference), code, .. }
                if self.inner.borrow().awaiting == Some(*reference) =>
            {
                self.on_refused(*code);
            }
            ServerMsg::MaySpeak { allowed: false } => self.unpublish(),
            ServerMsg::MediaTracks { .. } => {
                let short = {
                    let inner = self.inner.borrow();
                    let needed = self.room.model.with_untracked(|m| audio_slots_needed(&m.tracks, m.my_id()));
                    inner.peer.as_ref().is_some_and(|p| p.audio_slots.len() < needed)
                };
                if short {
                    self.negotiate(false);
                }
            }
            _ => {}
        }
    }

    fn on_welcome(&self, has_media: bool) {
        if !has_media {
            self.teardown();
            return;
        }
        let (has_peer, left) = {
            let inner = self.inner.borrow();
            (inner.peer.is_some(), inner.left)
        };
        if has_peer {
            // A new WebSocket: whatever was in flight on the old one is lost. Offer again with
            // the same session (the server re-attaches it), restart ICE, and send the view again.
            self.abandon_offer();
            self.inner.borrow_mut().sent_view = None;
            self.negotiate(true);
        } else if !left {
            self.start_receiving();
        }
    }

    // ---- The peer connection ----

    fn start_receiving(&self) {
        let Some(setup) = self.room.model.with_untracked(|m| m.media.clone()) else { return };
        if self.inner.borrow().peer.is_some() {
            return;
        }
        let config = RtcConfiguration::new();
        let servers = Array::new();
        for server in &setup.ice_servers {
            let ice = RtcIceServer::new();
            let urls: Array = server.urls.iter().map(|u| JsValue::from_str(u)).collect();
            ice.set_urls(&urls);
            if let Some(username) = &server.username {
                ice.set_username(username);
            }
            if let Some(credential) = &server.credential {
                ice.set_credential(credential);
            }
            servers.push(&ice);
        }
        config.set_ice_servers(&servers);
        config.set_bundle_policy(RtcBundlePolicy::MaxBundle);
        let pc = match RtcPeerConnection::new_with_configuration(&config) {
            Ok(pc) => pc,
            Err(err) => {
                warn!("media: cannot create a peer connection: {}", describe(&err));
                self.s.error.set(Some("This browser cannot receive audio and video.".into()));
                self.s.phase.set(Phase::Failed);
                return;
            }
        };
        let receive = |kind: &str| {
            let init = RtcRtpTransceiverInit::new();
            init.set_direction(RtcRtpTransceiverDirection::Recvonly);
            pc.add_transceiver_with_str_and_init(kind, &init)
        };
        let video_slots: Vec<_> = (0..video_slot_count(setup.last_n)).map(|_| receive("video")).collect();
        let needed = self.room.model.with_untracked(|m| audio_slots_needed(&m.tracks, m.my_id()));
        let audio_slots: Vec<_> = (0..needed + SPARE_AUDIO_SLOTS).map(|_| receive("audio")).collect();

        let weak = self.this.clone();
        let on_track = Closure::<dyn FnMut(RtcTrackEvent)>::new(move |event: RtcTrackEvent| {
            if let Some(manager) = weak.upgrade() {
                manager.on_track(&event);
            }
        });
        let weak = self.this.clone();
        let on_ice = Closure::<dyn FnMut(Event)>::new(move |_| {
            if let Some(manager) = weak.upgrade() {
                manager.on_ice_state();
            }
        });
        pc.set_ontrack(Some(on_track.as_ref().unchecked_ref()));
        pc.set_oniceconnectionstatechange(Some(on_ice.as_ref().unchecked_ref()));

        let weak = self.this.clone();
        let stats = set_interval_with_handle(
            move || {
                if let Some(manager) = weak.upgrade() {
                    manager.read_stats();
                }
            },
            STATS_EVERY,
        )
        .ok();
        {
            let mut inner = self.inner.borrow_mut();
            inner.peer = Some(Peer {
                pc,
                video_slots,
                audio_slots,
                receiving: HashMap::new(),
                audio: HashMap::new(),
                answered: false,
                _on_track: on_track,
                _on_ice: on_ice,
            });
            inner.stats = stats;
            inner.counts = None;
            inner.sent_view = None;
        }
        self.s.phase.set(Phase::Connecting);
        self.s.error.set(None);
        self.negotiate(false);
    }

    /// Close the connection and release every device, and say so on the page.
    fn teardown(&self) {
        self.release_all();
        self.s.local.set(Local::default());
        self.s.setup.set(None);
        self.s.phase.set(Phase::Off);
        self.s.quality.set(None);
        self.s.slots.set(Vec::new());
        self.s.sound_blocked.set(false);
        self.bump_streams();
    }

    /// Close the connection and release every device (no signals: the page may be going away).
    fn release_all(&self) {
        let peer = {
            let mut inner = self.inner.borrow_mut();
            inner.offer_gen += 1;
            inner.busy = false;
            inner.awaiting = None;
            inner.queued = None;
            let inner = &mut *inner;
            for outgoing in [&mut inner.camera, &mut inner.microphone, &mut inner.screen] {
                outgoing.release();
                outgoing.transceiver = None;
            }
            inner.own = None;
            inner.sent_view = None;
            inner.screen_ended = None;
            if let Some(stats) = inner.stats.take() {
                stats.clear();
            }
            if let Some(timer) = inner.disconnected.take() {
                timer.clear();
            }
            if let Some(timer) = inner.answer_timer.take() {
                timer.clear();
            }
            inner.peer.take()
        };
        drop(peer);
    }

    /// The page goes away.
    pub fn stop(&self) {
        self.release_all();
    }

    pub fn leave(&self) {
        self.inner.borrow_mut().left = true;
        self.room.send_with_ref(ClientMsg::MediaLeave);
        self.teardown();
    }

    pub fn join(&self) {
        self.inner.borrow_mut().left = false;
        self.s.error.set(None);
        self.start_receiving();
    }

    fn on_track(&self, event: &RtcTrackEvent) {
        let Some(mid) = event.transceiver().mid() else { return };
        let track = event.track();
        let audio = {
            let mut inner = self.inner.borrow_mut();
            let Some(peer) = inner.peer.as_mut() else { return };
            let known = peer.receiving.get(&mid).is_some_and(|s| s.get_track_by_id(&track.id()).is_some());
            if !known {
                let Ok(stream) = MediaStream::new_with_tracks(&Array::of1(&track)) else { return };
                peer.receiving.insert(mid.clone(), stream);
            }
            let Some(stream) = peer.receiving.get(&mid).cloned() else { return };
            if track.kind() == "audio" {
                let element = match peer.audio.get(&mid) {
                    Some(element) => element.clone(),
                    None => {
                        let Ok(element) = HtmlAudioElement::new() else { return };
                        element.set_autoplay(true);
                        peer.audio.insert(mid.clone(), element.clone());
                        element
                    }
                };
                if element.src_object().as_ref() != Some(&stream) {
                    element.set_src_object(Some(&stream));
                }
                element.paused().then_some(element)
            } else {
                None
            }
        };
        if let Some(element) = audio {
            self.play_sound(element.unchecked_ref());
        }
        self.bump_streams();
    }

    /// Play received sound; a browser that wants a click first says so, and the page shows a
    /// button.
    fn play_sound(&self, element: &HtmlMediaElement) {
        let Some(promise) = play(element) else { return };
        let blocked = self.s.sound_blocked;
        spawn_local(async move {
            if let Err(err) = settled(&promise).await
                && error_name(&err) == "NotAllowedError"
            {
                blocked.set(true);
            }
        });
    }

    pub fn enable_sound(&self) {
        let elements: Vec<HtmlAudioElement> =
            self.inner.borrow().peer.as_ref().map(|p| p.audio.values().cloned().collect()).unwrap_or_default();
        // Called from the click itself, so the browser allows it.
        let promises: Vec<_> = elements.iter().filter_map(|e| play(e.unchecked_ref())).collect();
        let blocked = self.s.sound_blocked;
        spawn_local(async move {
            let mut ok = true;
            for promise in promises {
                ok &= settled(&promise).await.is_ok();
            }
            blocked.set(!ok);
        });
    }

    fn on_ice_state(&self) {
        let Some(pc) = self.pc() else { return };
        let state = pc.ice_connection_state();
        if state != RtcIceConnectionState::Disconnected
            && let Some(timer) = self.inner.borrow_mut().disconnected.take()
        {
            timer.clear();
        }
        match state {
            RtcIceConnectionState::Connected | RtcIceConnectionState::Completed => {
                self.s.phase.set(Phase::Live);
                self.s.error.set(None);
            }
            RtcIceConnectionState::Disconnected => {
                self.s.phase.set(Phase::Reconnecting);
                let weak = self.this.clone();
                let timer = set_timeout_with_handle(
                    move || {
                        let Some(manager) = weak.upgrade() else { return };
                        manager.inner.borrow_mut().disconnected = None;
                        if manager
                            .pc()
                            .is_some_and(|pc| pc.ice_connection_state() == RtcIceConnectionState::Disconnected)
                        {
                            manager.negotiate(true);
                        }
                    },
                    DISCONNECTED_GRACE,
                )
                .ok();
                self.inner.borrow_mut().disconnected = timer;
            }
            RtcIceConnectionState::Failed => {
                self.s.phase.set(Phase::Reconnecting);
                self.negotiate(true);
            }
            _ => {}
        }
    }

    // ---- Negotiation ----

    /// Offer now, or after the offer in flight.
    fn negotiate(&self, ice_restart: bool) {
        let generation = {
            let mut inner = self.inner.borrow_mut();
            if inner.peer.is_none() {
                return;
            }
            if inner.busy {
                inner.queued = Some(inner.queued.unwrap_or(false) || ice_restart);
                return;
            }
            inner.busy = true;
            inner.offer_gen
        };
        let Some(this) = self.rc() else { return };
        spawn_local(async move {
            if let Err(err) = this.offer(ice_restart, generation).await
                && this.current(generation)
            {
                warn!("media: the offer failed: {}", describe(&err));
                this.s.error.set(Some(format!("Audio and video could not be set up: {}", describe(&err))));
                this.finish_negotiation(generation);
            }
        });
    }

    async fn offer(&self, ice_restart: bool, generation: u64) -> Result<(), JsValue> {
        let Some(pc) = self.pc() else { return Ok(()) };
        self.grow_audio_slots();
        let options = RtcOfferOptions::new();
        options.set_ice_restart(ice_restart);
        let offer = settled(&pc.create_offer_with_rtc_offer_options(&options)).await?;
        if !self.current(generation) {
            return Ok(());
        }
        let description = RtcSessionDescriptionInit::new(RtcSdpType::Offer);
        description.set_sdp(&field(&offer, "sdp").as_string().unwrap_or_default());
        settled(&pc.set_local_description(&description)).await?;
        if !self.current(generation) {
            return Ok(());
        }
        let sdp = pc.local_description().map(|d| d.sdp()).unwrap_or_default();
        let (session, publish) = {
            let inner = self.inner.borrow();
            let publish: Vec<Publication> = [
                (&inner.camera, MediaSource::Camera),
                (&inner.microphone, MediaSource::Microphone),
                (&inner.screen, MediaSource::Screen),
            ]
            .into_iter()
            .filter(|(outgoing, _)| outgoing.sending())
            .filter_map(|(outgoing, source)| {
                outgoing.transceiver.as_ref().and_then(|t| t.mid()).map(|mid| Publication { mid, source })
            })
            .collect();
            (inner.session.clone(), publish)
        };
        let publishes = !publish.is_empty();
        let reference = self.room.send_with_ref(ClientMsg::MediaOffer { session, sdp, publish });
        let mut inner = self.inner.borrow_mut();
        match reference {
            Some(reference) => {
                inner.awaiting = Some(reference);
                inner.offer_publishes = publishes;
                let weak = self.this.clone();
                inner.answer_timer = set_timeout_with_handle(
                    move || {
                        let Some(manager) = weak.upgrade() else { return };
                        let late = manager.inner.borrow().awaiting == Some(reference);
                        if late {
                            warn!("media: no answer to offer {reference}; offering again");
                            manager.abandon_offer();
                            manager.negotiate(true);
                        }
                    },
                    ANSWER_WITHIN,
                )
                .ok();
            }
            // Not connected to the room: the next welcome offers again.
            None => {
                inner.busy = false;
                inner.queued = None;
            }
        }
        Ok(())
    }

    /// Forget the offer in flight; its late steps do nothing.
    fn abandon_offer(&self) {
        let mut inner = self.inner.borrow_mut();
        inner.offer_gen += 1;
        inner.busy = false;
        inner.awaiting = None;
        inner.queued = None;
        if let Some(timer) = inner.answer_timer.take() {
            timer.clear();
        }
    }

    fn finish_negotiation(&self, generation: u64) {
        let queued = {
            let mut inner = self.inner.borrow_mut();
            if inner.offer_gen != generation {
                return;
            }
            inner.busy = false;
            inner.queued.take()
        };
        self.set_local(|l| l.busy = false);
        if let Some(ice_restart) = queued {
            self.negotiate(ice_restart);
        }
    }

    fn on_answer(&self, sdp: String) {
        let generation = {
            let mut inner = self.inner.borrow_mut();
            if inner.awaiting.take().is_none() {
                return;
            }
            if let Some(timer) = inner.answer_timer.take() {
                timer.clear();
            }
            inner.offer_gen
        };
        let (Some(this), Some(pc)) = (self.rc(), self.pc()) else { return };
        spawn_local(async move {
            let description = RtcSessionDescriptionInit::new(RtcSdpType::Answer);
            description.set_sdp(&sdp);
            let applied = settled(&pc.set_remote_description(&description)).await;
            if !this.current(generation) {
                return;
            }
            match applied {
                Ok(_) => {
                    if let Some(peer) = this.inner.borrow_mut().peer.as_mut() {
                        peer.answered = true;
                    }
                    this.send_view(true);
                }
                Err(err) => {
                    warn!("media: the server's answer was not accepted: {}", describe(&err));
                    this.rollback(&pc).await;
                    this.s.error.set(Some("Audio and video could not be set up with the server.".into()));
                }
            }
            this.finish_negotiation(generation);
        });
    }

    /// The server refused the offer in flight. Its message is already on the page (the room's
    /// notice shows every refusal).
    fn on_refused(&self, code: ErrorCode) {
        let (generation, publishes) = {
            let mut inner = self.inner.borrow_mut();
            inner.awaiting = None;
            if let Some(timer) = inner.answer_timer.take() {
                timer.clear();
            }
            (inner.offer_gen, inner.offer_publishes)
        };
        let (Some(this), Some(pc)) = (self.rc(), self.pc()) else { return };
        spawn_local(async move {
            this.rollback(&pc).await;
            if !this.current(generation) {
                return;
            }
            if publishes && code == ErrorCode::Forbidden {
                // Not (or no longer) allowed to publish: keep receiving without sending.
                this.finish_negotiation(generation);
                this.unpublish();
            } else if code == ErrorCode::MediaDisabled {
                this.teardown();
            } else {
                this.teardown();
                this.s.phase.set(Phase::Failed);
            }
        });
    }

    async fn rollback(&self, pc: &RtcPeerConnection) {
        if pc.signaling_state() == web_sys::RtcSignalingState::HaveLocalOffer {
            let rollback = RtcSessionDescriptionInit::new(RtcSdpType::Rollback);
            let _ = settled(&pc.set_local_description(&rollback)).await;
        }
    }

    /// Enough receiving audio m-lines for every other microphone (they only ever grow).
    fn grow_audio_slots(&self) {
        let needed = self.room.model.with_untracked(|m| audio_slots_needed(&m.tracks, m.my_id()));
        let mut inner = self.inner.borrow_mut();
        let Some(peer) = inner.peer.as_mut() else { return };
        if peer.audio_slots.len() >= needed {
            return;
        }
        for _ in peer.audio_slots.len()..needed + SPARE_AUDIO_SLOTS {
            let init = RtcRtpTransceiverInit::new();
            init.set_direction(RtcRtpTransceiverDirection::Recvonly);
            peer.audio_slots.push(peer.pc.add_transceiver_with_str_and_init("audio", &init));
        }
    }

    // ---- What the page shows ----

    pub fn set_plan(&self, plan: VideoPlan) {
        self.inner.borrow_mut().plan = plan;
        self.send_view(false);
    }

    /// Put the plan into the receiving video m-lines and tell the server (when it changed, or
    /// `always`, after an answer).
    fn send_view(&self, always: bool) {
        let slots = {
            let inner = self.inner.borrow();
            let Some(peer) = inner.peer.as_ref().filter(|p| p.answered) else { return };
            let mids: Vec<String> = peer.video_slots.iter().filter_map(|t| t.mid()).collect();
            let slots = self.s.slots.with_untracked(|previous| assign_slots(&mids, previous, &inner.plan.shown));
            if !always && inner.sent_view.as_ref() == Some(&slots) {
                return;
            }
            slots
        };
        let sent = self.room.send_with_ref(ClientMsg::MediaView { slots: slots.clone() }).is_some();
        self.inner.borrow_mut().sent_view = sent.then(|| slots.clone());
        if self.s.slots.with_untracked(|s| *s != slots) {
            self.s.slots.set(slots);
        }
    }

    pub fn attach(&self, element: &HtmlMediaElement, feed: &Feed) {
        let stream = {
            let mut inner = self.inner.borrow_mut();
            match feed {
                Feed::Remote(track) => self.s.slots.with_untracked(|slots| {
                    let mid = slots.iter().find(|s| s.track.as_deref() == Some(track.as_str())).map(|s| &s.mid)?;
                    let peer = inner.peer.as_mut()?;
                    if !peer.receiving.contains_key(mid) {
                        // Before (or without) a track event: the receiver's track is the same one.
                        let slot = peer.video_slots.iter().find(|t| t.mid().as_ref() == Some(mid))?;
                        let stream = MediaStream::new_with_tracks(&Array::of1(&slot.receiver().track())).ok()?;
                        peer.receiving.insert(mid.clone(), stream);
                    }
                    peer.receiving.get(mid).cloned()
                }),
                Feed::OwnCamera | Feed::Preview => inner.own.clone(),
            }
        };
        if element.src_object() != stream {
            element.set_src_object(stream.as_ref());
        }
        if stream.is_some() && element.paused() {
            // Video elements are muted: browsers let them play without a click.
            if let Some(promise) = play(element) {
                spawn_local(async move {
                    let _ = settled(&promise).await;
                });
            }
        }
    }

    fn read_stats(&self) {
        let Some(pc) = self.pc() else { return };
        if self.s.phase.get_untracked() != Phase::Live {
            if self.s.quality.get_untracked().is_some() {
                self.s.quality.set(None);
            }
            return;
        }
        let Some(this) = self.rc() else { return };
        spawn_local(async move {
            let Ok(report) = settled(&pc.get_stats()).await else { return };
            let (mut rtt, mut remote_rtt, mut remote_loss) = (None::<f64>, None::<f64>, None::<f64>);
            let (mut lost, mut received) = (0.0, 0.0);
            let Ok(Some(entries)) = js_sys::try_iter(&report) else { return };
            for entry in entries.flatten() {
                let stat = Array::from(&entry).get(1);
                let number = |name: &str| field(&stat, name).as_f64();
                match field(&stat, "type").as_string().as_deref() {
                    Some("candidate-pair")
                        if field(&stat, "nominated").as_bool() == Some(true)
                            && field(&stat, "state").as_string().as_deref() == Some("succeeded") =>
                    {
                        if let Some(seconds) = number("currentRoundTripTime") {
                            rtt = Some(rtt.unwrap_or(0.0).max(seconds * 1000.0));
                        }
                    }
                    Some("inbound-rtp") => {
                        lost += number("packetsLost").unwrap_or(0.0).max(0.0);
                        received += number("packetsReceived").unwrap_or(0.0);
                    }
                    Some("remote-inbound-rtp") => {
                        if let Some(fraction) = number("fractionLost") {
                            remote_loss = Some(remote_loss.unwrap_or(0.0).max(fraction));
                        }
                        if let Some(seconds) = number("roundTripTime") {
                            remote_rtt = Some(remote_rtt.unwrap_or(0.0).max(seconds * 1000.0));
                        }
                    }
                    _ => {}
                }
            }
            let before = this.inner.borrow_mut().counts.replace((lost, received));
            let loss = before.and_then(|before| loss_between(before, (lost, received)));
            let loss = match (loss, remote_loss) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            let quality = link_quality(rtt.or(remote_rtt), loss);
            if this.s.quality.get_untracked() != quality {
                this.s.quality.set(quality);
            }
        });
    }

    // ---- Cameras, microphones, screens ----

    async fn capture(
        &self,
        video: Option<Option<String>>,
        audio: Option<Option<String>>,
    ) -> Result<MediaStream, String> {
        let devices = media_devices()?;
        let constraints = MediaStreamConstraints::new();
        let device = |id: &Option<String>, mut pairs: Vec<(&str, JsValue)>| {
            if let Some(id) = id {
                pairs.push(("deviceId", object(&[("exact", JsValue::from_str(id))])));
            }
            object(&pairs)
        };
        if let Some(id) = &video {
            let ideal = |n: f64| object(&[("ideal", JsValue::from_f64(n))]);
            constraints.set_video(&device(
                id,
                vec![("width", ideal(1280.0)), ("height", ideal(720.0)), ("frameRate", ideal(30.0))],
            ));
        }
        if let Some(id) = &audio {
            let on = JsValue::TRUE;
            constraints.set_audio(&device(
                id,
                vec![("echoCancellation", on.clone()), ("noiseSuppression", on.clone()), ("autoGainControl", on)],
            ));
        }
        match call(devices.get_user_media_with_constraints(&constraints)).await {
            Ok(stream) => Ok(stream.unchecked_into()),
            Err(err) => {
                warn!("media: getUserMedia failed: {} {}", error_name(&err), describe(&err));
                Err(device_error(&err))
            }
        }
    }

    async fn device_lists(&self) -> Setup {
        let mut setup = Setup::default();
        {
            let inner = self.inner.borrow();
            setup.camera = inner.camera.track.as_ref().and_then(device_id_of);
            setup.microphone = inner.microphone.track.as_ref().and_then(device_id_of);
        }
        let Ok(devices) = media_devices() else { return setup };
        let Ok(list) = call(devices.enumerate_devices()).await else { return setup };
        for info in Array::from(&list).iter().filter_map(|d| d.dyn_into::<MediaDeviceInfo>().ok()) {
            let (list, noun) = match info.kind() {
                MediaDeviceKind::Videoinput => (&mut setup.cameras, "Camera"),
                MediaDeviceKind::Audioinput => (&mut setup.microphones, "Microphone"),
                _ => continue,
            };
            let label = info.label();
            let label = if label.is_empty() { format!("{noun} {}", list.len() + 1) } else { label };
            list.push(Device { id: info.device_id(), label });
        }
        setup
    }

    /// Show the own camera (in the preview or the own tile).
    fn show_own(&self) {
        let stream = {
            let inner = self.inner.borrow();
            inner.camera.track.as_ref().and_then(|t| MediaStream::new_with_tracks(&Array::of1(t)).ok())
        };
        self.inner.borrow_mut().own = stream;
        self.bump_streams();
    }

    pub fn open_setup(self: Rc<Self>) {
        self.s.error.set(None);
        self.set_local(|l| l.busy = true);
        spawn_local(async move {
            let have = {
                let inner = self.inner.borrow();
                (inner.camera.track.is_some(), inner.microphone.track.is_some())
            };
            if have == (false, false) {
                let stream = match self.capture(Some(None), Some(None)).await {
                    Ok(stream) => Ok(stream),
                    // No camera (or it is busy): a microphone alone will do.
                    Err(_) => self.capture(None, Some(None)).await,
                };
                match stream {
                    Ok(stream) => {
                        let mut inner = self.inner.borrow_mut();
                        inner.camera.track = first_track(&stream, true);
                        inner.microphone.track = first_track(&stream, false);
                    }
                    Err(message) => {
                        self.s.error.set(Some(message));
                        self.set_local(|l| l.busy = false);
                        return;
                    }
                }
            }
            self.show_own();
            let setup = self.device_lists().await;
            self.s.setup.set(Some(setup));
            self.set_local(|l| l.busy = false);
        });
    }

    /// Close the chooser; the devices are released unless they are being sent.
    pub fn close_setup(&self) {
        self.s.setup.set(None);
        let local = self.s.local.get_untracked();
        {
            let mut inner = self.inner.borrow_mut();
            if !local.camera {
                inner.camera.release();
            }
            if !local.microphone {
                inner.microphone.release();
            }
        }
        self.show_own();
    }

    pub fn choose_device(self: Rc<Self>, camera: bool, id: String) {
        spawn_local(async move {
            let wanted = Some(Some(id.clone()));
            let captured = if camera { self.capture(wanted, None).await } else { self.capture(None, wanted).await };
            let stream = match captured {
                Ok(stream) => stream,
                Err(message) => return self.s.error.set(Some(message)),
            };
            let Some(track) = first_track(&stream, camera) else { return };
            let (old, sender) = {
                let mut inner = self.inner.borrow_mut();
                let outgoing = if camera { &mut inner.camera } else { &mut inner.microphone };
                let sender = outgoing.sending().then(|| outgoing.transceiver.as_ref().map(|t| t.sender())).flatten();
                (outgoing.track.replace(track.clone()), sender)
            };
            if let Some(sender) = sender {
                let _ = settled(&sender.replace_track(Some(&track))).await;
            }
            if let Some(old) = old {
                old.stop();
            }
            if !camera && self.s.local.get_untracked().mic_muted {
                track.set_enabled(false);
            }
            self.s.setup.update(|s| {
                if let Some(s) = s {
                    if camera {
                        s.camera = Some(id);
                    } else {
                        s.microphone = Some(id);
                    }
                }
            });
            self.show_own();
        });
    }

    /// Send `track` on the transceiver of `source`, making it the first time.
    fn send_track(&self, source: MediaSource, track: &MediaStreamTrack) {
        let Some(setup) = self.room.model.with_untracked(|m| m.media.clone()) else { return };
        let mut inner = self.inner.borrow_mut();
        let Some(pc) = inner.peer.as_ref().map(|p| p.pc.clone()) else { return };
        let outgoing = match source {
            MediaSource::Camera => &mut inner.camera,
            MediaSource::Microphone => &mut inner.microphone,
            MediaSource::Screen => &mut inner.screen,
        };
        outgoing.track = Some(track.clone());
        match &outgoing.transceiver {
            Some(transceiver) => {
                let _ = transceiver.sender().replace_track(Some(track));
                transceiver.set_direction(RtcRtpTransceiverDirection::Sendonly);
            }
            None => {
                let encodings = Array::new();
                match source {
                    MediaSource::Camera => {
                        // Simulcast: quarter, half and full resolution; the server picks per viewer.
                        let cap = setup.camera_max_kbps * 1000;
                        encodings.push(&encoding(Some("q"), Some(4.0), cap / 10));
                        encodings.push(&encoding(Some("h"), Some(2.0), cap / 3));
                        encodings.push(&encoding(Some("f"), None, cap));
                    }
                    MediaSource::Microphone => {
                        encodings.push(&encoding(None, None, setup.audio_max_kbps * 1000));
                    }
                    MediaSource::Screen => {
                        encodings.push(&encoding(None, None, setup.screen_max_kbps * 1000));
                    }
                }
                let init = RtcRtpTransceiverInit::new();
                init.set_direction(RtcRtpTransceiverDirection::Sendonly);
                init.set_send_encodings(&encodings);
                outgoing.transceiver = Some(pc.add_transceiver_with_media_stream_track_and_init(track, &init));
            }
        }
    }

    pub fn start_publishing(self: Rc<Self>) {
        if self.pc().is_none() {
            self.inner.borrow_mut().left = false;
            self.start_receiving();
        }
        self.s.error.set(None);
        self.set_local(|l| l.busy = true);
        spawn_local(async move {
            let have = {
                let inner = self.inner.borrow();
                (inner.camera.track.clone(), inner.microphone.track.clone())
            };
            let (camera, microphone) = match have {
                (None, None) => match self.capture(Some(None), Some(None)).await {
                    Ok(stream) => (first_track(&stream, true), first_track(&stream, false)),
                    Err(message) => {
                        self.s.error.set(Some(message));
                        self.set_local(|l| l.busy = false);
                        return;
                    }
                },
                have => have,
            };
            if self.pc().is_none() {
                self.set_local(|l| l.busy = false);
                return;
            }
            let muted = self.s.local.get_untracked().mic_muted;
            if let Some(track) = &microphone {
                track.set_enabled(!muted);
                self.send_track(MediaSource::Microphone, track);
            }
            if let Some(track) = &camera {
                self.send_track(MediaSource::Camera, track);
            }
            self.s.setup.set(None);
            self.set_local(|l| {
                l.camera = camera.is_some();
                l.microphone = microphone.is_some();
            });
            self.show_own();
            self.negotiate(false);
            self.set_local(|l| l.busy = false);
        });
    }

    pub fn set_mic_muted(&self, muted: bool) {
        if let Some(track) = &self.inner.borrow().microphone.track {
            track.set_enabled(!muted);
        }
        self.set_local(|l| l.mic_muted = muted);
    }

    pub fn set_camera(self: Rc<Self>, on: bool) {
        if !on {
            self.inner.borrow_mut().camera.release();
            self.set_local(|l| l.camera = false);
            self.show_own();
            self.negotiate(false);
            return;
        }
        let id = self.s.setup.with_untracked(|s| s.as_ref().and_then(|s| s.camera.clone()));
        self.set_local(|l| l.busy = true);
        spawn_local(async move {
            match self.capture(Some(id), None).await {
                Ok(stream) => {
                    if let Some(track) = first_track(&stream, true) {
                        self.send_track(MediaSource::Camera, &track);
                        self.set_local(|l| l.camera = true);
                        self.show_own();
                        self.negotiate(false);
                    }
                }
                Err(message) => self.s.error.set(Some(message)),
            }
            self.set_local(|l| l.busy = false);
        });
    }

    pub fn share_screen(self: Rc<Self>) {
        let Ok(devices) = media_devices() else { return };
        let constraints = DisplayMediaStreamConstraints::new();
        constraints.set_video(&object(&[("frameRate", object(&[("ideal", JsValue::from_f64(15.0))]))]));
        constraints.set_audio_bool(false);
        // Called from the click itself: browsers ask for the screen only then.
        let asked = devices.get_display_media_with_constraints(&constraints);
        spawn_local(async move {
            let stream: MediaStream = match call(asked).await {
                Ok(stream) => stream.unchecked_into(),
                Err(err) => {
                    if error_name(&err) != "NotAllowedError" {
                        self.s.error.set(Some(format!("The screen could not be shared ({}).", describe(&err))));
                    }
                    return;
                }
            };
            let Some(track) = first_track(&stream, true) else { return };
            // Text and slides: keep them sharp rather than smooth.
            let _ = Reflect::set(&track, &JsValue::from_str("contentHint"), &JsValue::from_str("detail"));
            // The browser's own "Stop sharing" button ends the track.
            let weak = self.this.clone();
            let ended = Closure::<dyn FnMut(Event)>::new(move |_| {
                if let Some(manager) = weak.upgrade() {
                    manager.stop_screen();
                }
            });
            track.set_onended(Some(ended.as_ref().unchecked_ref()));
            self.inner.borrow_mut().screen_ended = Some(ended);
            self.send_track(MediaSource::Screen, &track);
            self.set_local(|l| l.screen = true);
            self.negotiate(false);
        });
    }

    pub fn stop_screen(&self) {
        {
            let mut inner = self.inner.borrow_mut();
            if let Some(track) = &inner.screen.track {
                track.set_onended(None);
            }
            inner.screen.release();
            inner.screen_ended = None;
        }
        self.set_local(|l| l.screen = false);
        self.negotiate(false);
    }

    /// Stop sending anything (stopped by a teacher, or by oneself); receiving goes on.
    pub fn unpublish(&self) {
        let was = self.s.local.get_untracked();
        {
            let mut inner = self.inner.borrow_mut();
            if let Some(track) = &inner.screen.track {
                track.set_onended(None);
            }
            inner.screen_ended = None;
            let inner = &mut *inner;
            for outgoing in [&mut inner.camera, &mut inner.microphone, &mut inner.screen] {
                outgoing.release();
            }
        }
        self.s.setup.set(None);
        self.s.local.set(Local::default());
        self.show_own();
        if was.publishing() {
            self.negotiate(false);
        }
    }

    pub fn set_audio_only(self: Rc<Self>, on: bool) {
        self.s.audio_only.set(on);
        let camera = self.s.local.get_untracked().camera;
        if on {
            self.inner.borrow_mut().camera_before_audio_only = camera;
            if camera {
                self.set_camera(false);
            }
        } else if std::mem::take(&mut self.inner.borrow_mut().camera_before_audio_only) && !camera {
            self.set_camera(true);
        }
    }
}
