//! A room's audio and video, as the room actor sees them: each browser's media session (one
//! SFU peer), what it publishes, who may publish, and the grace a participant has to come
//! back after their connection drops.
//!
//! The actor calls these methods with the sender's identity already known; they check the
//! sender's rights, call the class's SFU worker and say what to announce.

use super::state::{ConnKey, Identity, Refusal};
use crate::sfu::worker::EventSink;
use crate::sfu::{OfferRequest, PeerId, Sfu, SfuError, SfuEvent};
use app::protocol::{ErrorCode, IceServer, MediaSetup, MediaSource, MediaTrack, Publication, UserId, ViewSlot};
use lectern_core::config::MediaConfig;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// Peer ids are unique in the process: a worker serves several classes.
static NEXT_PEER: AtomicU64 = AtomicU64::new(1);

/// The longest the room waits for a worker's answer.
const SFU_TIMEOUT: Duration = Duration::from_secs(5);
/// Media session ids are the page's own random tokens.
const SESSION_MAX_LEN: usize = 64;

struct Session {
    peer: PeerId,
    user: UserId,
    /// The connection that signals for it; none while the participant is away.
    conn: Option<ConnKey>,
    away_since: Option<Instant>,
    tracks: Vec<MediaTrack>,
}

pub struct RoomMedia {
    sfu: Arc<Sfu>,
    config: MediaConfig,
    class_id: i64,
    events: EventSink,
    sessions: HashMap<String, Session>,
    active_speaker: Option<UserId>,
}

/// What the actor should announce after a media change.
#[derive(Debug, Default, PartialEq)]
pub struct Announce {
    /// The published tracks changed: send everyone `media_tracks`.
    pub tracks: bool,
}

impl RoomMedia {
    pub fn new(sfu: Arc<Sfu>, config: MediaConfig, class_id: i64) -> (Self, mpsc::UnboundedReceiver<SfuEvent>) {
        let (events, receiver) = mpsc::unbounded_channel();
        let media = Self { sfu, config, class_id, events, sessions: HashMap::new(), active_speaker: None };
        (media, receiver)
    }

    /// What a joining browser needs.
    pub fn setup(&self) -> MediaSetup {
        MediaSetup {
            ice_servers: self
                .config
                .ice_servers
                .iter()
                .map(|s| IceServer {
                    urls: s.urls.clone(),
                    username: s.username.clone(),
                    credential: s.credential.clone(),
                })
                .collect(),
            camera_max_kbps: self.config.camera_max_kbps,
            screen_max_kbps: self.config.screen_max_kbps,
            audio_max_kbps: self.config.audio_max_kbps,
            last_n: self.config.last_n,
            tracks: self.tracks(),
            active_speaker: self.active_speaker,
        }
    }

    /// Every published track, in a stable order.
    pub fn tracks(&self) -> Vec<MediaTrack> {
        let mut tracks: Vec<MediaTrack> = self.sessions.values().flat_map(|s| s.tracks.iter().cloned()).collect();
        tracks.sort_by(|a, b| a.id.cmp(&b.id));
        tracks
    }

    /// A browser's offer. `may_publish`: the room's rule for this person now.
    pub async fn offer(
        &mut self,
        key: ConnKey,
        who: &Identity,
        may_publish: bool,
        session: String,
        sdp: String,
        publish: Vec<Publication>,
    ) -> Result<(String, Announce), Refusal> {
        if session.is_empty()
            || session.len() > SESSION_MAX_LEN
            || !session.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Refusal::invalid("The media session id must be 1 to 64 letters, digits, - or _."));
        }
        if !publish.is_empty() && !may_publish {
            return Err(Refusal::forbidden("Raise your hand: a teacher can invite you to speak."));
        }
        if publish.iter().any(|p| p.source == MediaSource::Screen) && !who.role.is_staff() {
            return Err(Refusal::forbidden("Only teachers share their screen."));
        }
        let peer = match self.sessions.get(&session) {
            Some(s) if s.user != who.user => return Err(Refusal::forbidden("That media session is not yours.")),
            Some(s) => s.peer,
            None => NEXT_PEER.fetch_add(1, Ordering::Relaxed),
        };
        let req = OfferRequest { class: self.class_id, peer, user: who.user, sdp, publish };
        let accepted = match tokio::time::timeout(SFU_TIMEOUT, self.sfu.offer(req, self.events.clone())).await {
            Ok(result) => result.map_err(refusal)?,
            Err(_) => return Err(refusal(SfuError::Unavailable)),
        };
        let tracks: Vec<MediaTrack> = accepted
            .published
            .iter()
            .map(|(mid, source)| MediaTrack { id: format!("{peer}-{mid}"), user: who.user, source: *source })
            .collect();
        let entry = self.sessions.entry(session).or_insert_with(|| Session {
            peer,
            user: who.user,
            conn: None,
            away_since: None,
            tracks: Vec::new(),
        });
        entry.conn = Some(key);
        entry.away_since = None;
        let changed = entry.tracks != tracks;
        entry.tracks = tracks;
        Ok((accepted.answer, Announce { tracks: changed }))
    }

    pub async fn view(&mut self, key: ConnKey, who: &Identity, slots: Vec<ViewSlot>) -> Result<(), Refusal> {
        let peer = self
            .session_of(key)
            .map(|(_, s)| s.peer)
            .ok_or_else(|| Refusal::new(ErrorCode::NotFound, "Send a media offer before choosing what to watch."))?;
        match tokio::time::timeout(SFU_TIMEOUT, self.sfu.view(self.class_id, peer, who.user, slots)).await {
            Ok(result) => result.map_err(refusal),
            Err(_) => Err(refusal(SfuError::Unavailable)),
        }
    }

    /// The browser on `key` turned its media off.
    pub fn leave(&mut self, key: ConnKey) -> Announce {
        let ids: Vec<String> =
            self.sessions.iter().filter(|(_, s)| s.conn == Some(key)).map(|(id, _)| id.clone()).collect();
        self.close_sessions(ids)
    }

    /// Stop everything `user` publishes (their sessions go on receiving).
    pub fn stop_publishing(&mut self, user: UserId) -> Announce {
        self.sfu.stop_publishing(self.class_id, user);
        let mut changed = false;
        for s in self.sessions.values_mut().filter(|s| s.user == user) {
            changed |= !s.tracks.is_empty();
            s.tracks.clear();
        }
        Announce { tracks: changed }
    }

    /// Close every session of `user` (removed or blocked).
    pub fn close_user(&mut self, user: UserId) -> Announce {
        let ids: Vec<String> = self.sessions.iter().filter(|(_, s)| s.user == user).map(|(id, _)| id.clone()).collect();
        self.close_sessions(ids)
    }

    /// A connection closed: its sessions wait for the participant to come back.
    pub fn connection_lost(&mut self, key: ConnKey, now: Instant) {
        for s in self.sessions.values_mut().filter(|s| s.conn == Some(key)) {
            s.conn = None;
            s.away_since = Some(now);
        }
    }

    /// Close the sessions whose participant stayed away longer than the grace.
    pub fn sweep(&mut self, now: Instant) -> Announce {
        let grace = Duration::from_secs(self.config.rejoin_grace_seconds);
        let ids: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.away_since.is_some_and(|t| now.duration_since(t) >= grace))
            .map(|(id, _)| id.clone())
            .collect();
        self.close_sessions(ids)
    }

    /// Close every session (the room is closing).
    pub fn close_all(&mut self) {
        let ids: Vec<String> = self.sessions.keys().cloned().collect();
        self.close_sessions(ids);
    }

    /// Something the SFU said. Returns what to announce, and a new active speaker.
    pub fn event(&mut self, event: SfuEvent) -> (Announce, Option<Option<UserId>>) {
        match event {
            SfuEvent::PeerClosed { peer, .. } => {
                let ids: Vec<String> =
                    self.sessions.iter().filter(|(_, s)| s.peer == peer).map(|(id, _)| id.clone()).collect();
                let mut announce = Announce::default();
                for id in ids {
                    if let Some(s) = self.sessions.remove(&id) {
                        announce.tracks |= !s.tracks.is_empty();
                    }
                }
                (announce, None)
            }
            SfuEvent::ActiveSpeaker { user, .. } => {
                if self.active_speaker == user {
                    return (Announce::default(), None);
                }
                self.active_speaker = user;
                (Announce::default(), Some(user))
            }
        }
    }

    fn session_of(&self, key: ConnKey) -> Option<(&String, &Session)> {
        self.sessions.iter().find(|(_, s)| s.conn == Some(key))
    }

    fn close_sessions(&mut self, ids: Vec<String>) -> Announce {
        let mut announce = Announce::default();
        for id in ids {
            if let Some(s) = self.sessions.remove(&id) {
                self.sfu.close(self.class_id, s.peer);
                announce.tracks |= !s.tracks.is_empty();
            }
        }
        announce
    }
}

/// An SFU error as the browser hears it.
fn refusal(err: SfuError) -> Refusal {
    let code = match &err {
        SfuError::BadSdp(_) | SfuError::BadRequest(_) => ErrorCode::Invalid,
        SfuError::ClassFull(_) | SfuError::TooManyPublishers(_) => ErrorCode::Full,
        SfuError::NotYours => ErrorCode::Forbidden,
        SfuError::NoSession => ErrorCode::NotFound,
        SfuError::Unavailable => {
            tracing::error!("the SFU worker did not answer");
            ErrorCode::Internal
        }
    };
    let message = match code {
        ErrorCode::Internal => "Audio and video are not available right now; try again.".to_owned(),
        _ => {
            let text = err.to_string();
            let mut chars = text.chars();
            chars.next().map_or(text.clone(), |c| c.to_uppercase().collect::<String>() + chars.as_str()) + "."
        }
    };
    Refusal::new(code, message)
}
