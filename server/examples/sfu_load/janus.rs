//! Janus signalling for `sfu_load`: the VideoRoom plugin (Janus 1.1) over the plain HTTP
//! transport (REST requests plus one long-poll per session), as configured by
//! `bench/janus/` (`janus -F bench/janus`, HTTP on 127.0.0.1:8088, room [`ROOM`]).
//!
//! One [`JanusPeer`] is one Janus session with one VideoRoom handle. A background task
//! long-polls `GET /janus/{session}?maxev=16` for the whole life of the peer: it hands the
//! asynchronous plugin answers to the request that is waiting for them (matched by
//! `transaction`), records `webrtcup` / `hangup`, and, since every long-poll counts as a
//! keepalive for Janus, keeps the session from timing out (60 s) on its own.
//!
//! The JSON exchanged (checked against Janus 1.1.2; `tx` is a fresh transaction each time):
//!
//! ```text
//! POST /janus                {"janus":"create","transaction":tx}
//!   -> {"janus":"success","data":{"id":SESSION}}
//! POST /janus/SESSION        {"janus":"attach","plugin":"janus.plugin.videoroom","transaction":tx}
//!   -> {"janus":"success","data":{"id":HANDLE}}
//! POST /janus/SESSION/HANDLE {"janus":"message","transaction":tx,"body":{..},"jsep":{..}}
//!   -> {"janus":"ack"}, then on the long-poll:
//!      {"janus":"event","transaction":tx,"plugindata":{"data":{..}},"jsep":{..}}
//! POST /janus/SESSION/HANDLE {"janus":"trickle","transaction":tx,"candidate":{"completed":true}}
//!   -> {"janus":"ack"}
//!
//! publisher:  body {"request":"join","ptype":"publisher","room":1234,"display":..}
//!               -> data {"videoroom":"joined","id":FEED,..}
//!             body {"request":"publish","audiocodec":"opus","videocodec":"vp8"} + jsep offer
//!               -> data {"videoroom":"event","configured":"ok","streams":[..]} + jsep answer
//!             trickle {"completed":true}
//! subscriber: body {"request":"join","ptype":"subscriber","room":1234,
//!                   "streams":[{"feed":FEED,"substream":2}]}
//!               -> data {"videoroom":"attached","streams":[..]} + jsep offer
//!               (or data {"error_code":428,"error":"No such feed (FEED)"} while the
//!                publisher's PeerConnection is not up yet: retried, bounded)
//!             body {"request":"start"} + jsep answer
//!               -> data {"videoroom":"event","started":"ok"}
//!             trickle {"completed":true}
//! errors:     {"janus":"error","error":{"code":N,"reason":".."}} (core, in the POST answer) or
//!             data {"error_code":N,"error":".."} (plugin, in the event)
//! ```
//!
//! Media addresses: Janus 1.1.2 never offers 127.0.0.1 (it skips loopback interfaces), and
//! libnice binds its sockets to their interface, so what Janus sends to a peer on 127.0.0.1 is
//! lost. `bench/sfu.sh` therefore runs Janus in a network namespace of its own, reached over a
//! veth pair: its HTTP transport and its only host candidate are the pair's address there, and
//! the tool's peers bind to the address on this side.

#![allow(dead_code)] // the tool need not use every helper (state, wait_webrtcup, ids)

use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

type Failure = String;

/// The VideoRoom room the tool uses (from bench/janus/janus.plugin.videoroom.jcfg).
pub const ROOM: u64 = 1234;

const PLUGIN: &str = "janus.plugin.videoroom";
/// Any single HTTP request (connect, send, whole answer), long-polls excepted.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// From Janus's "ack" to the plugin's event on the long-poll (join, publish, start).
const EVENT_TIMEOUT: Duration = Duration::from_secs(15);
/// Janus answers a long-poll with a keepalive after 30 s when it has nothing to say.
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(45);
const LONG_POLL_MAX_EVENTS: u32 = 16;
/// Consecutive failed long-polls (network, not "session gone") before the peer gives up.
const LONG_POLL_ATTEMPTS: u32 = 3;
const LONG_POLL_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// How long `subscribe` keeps retrying while Janus says 428 (publisher not connected yet).
const SUBSCRIBE_RACE_LIMIT: Duration = Duration::from_secs(10);
const SUBSCRIBE_RETRY_PAUSE: Duration = Duration::from_millis(200);
/// Each of the two requests of `close`.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
const READY_POLL: Duration = Duration::from_millis(100);
/// VideoRoom `JANUS_VIDEOROOM_ERROR_NO_SUCH_FEED`: unknown feed, or its PeerConnection is not
/// up (ICE + DTLS) yet.
const NO_SUCH_FEED: i64 = 428;
/// The top simulcast layer (h), which VideoRoom calls substream 2.
const TOP_SUBSTREAM: u64 = 2;

/// One Janus session and its event long-poll, for one peer (publisher or subscriber).
pub struct JanusPeer {
    http: reqwest::Client,
    /// `http://{addr}/janus`
    base: String,
    session: u64,
    /// 0 until the VideoRoom handle is attached.
    handle: u64,
    shared: Arc<Shared>,
    poller: JoinHandle<()>,
}

/// What a peer has heard from Janus outside of its own requests.
#[derive(Clone, Debug, Default)]
pub struct PeerState {
    /// Janus said `webrtcup`: ICE and DTLS are done for this handle.
    pub webrtc_up: bool,
    /// Janus said `hangup` (with this reason): the PeerConnection is gone.
    pub hangup: Option<String>,
    /// The long-poll ended (session destroyed, timed out, or Janus unreachable).
    pub stopped: Option<String>,
}

/// Shared between a peer and its long-poll task.
struct Shared {
    pending: Mutex<Pending>,
    state: watch::Sender<PeerState>,
}

#[derive(Default)]
struct Pending {
    /// Requests waiting for their asynchronous answer, by transaction.
    waiters: HashMap<String, oneshot::Sender<Value>>,
    /// Set when the long-poll ends; no request waits after that.
    stopped: Option<String>,
}

/// Why a VideoRoom request failed: the plugin's own error (with its code), or anything else.
enum MsgError {
    Plugin { code: i64, text: String },
    Other(Failure),
}

impl MsgError {
    fn context(self, what: &str) -> Failure {
        match self {
            MsgError::Plugin { code, text } => format!("{what}: VideoRoom error {code}: {text}"),
            MsgError::Other(error) => format!("{what}: {error}"),
        }
    }
}

enum PollError {
    /// The session no longer exists: stop.
    Gone(Failure),
    /// Anything else: retry a few times.
    Transient(Failure),
}

/// Wait until http://{addr}/janus/info answers (addr like "127.0.0.1:8088"), at most `limit`.
pub async fn wait_ready(addr: &str, limit: Duration) -> Result<(), String> {
    let http = http_client()?;
    let url = format!("http://{addr}/janus/info");
    let deadline = Instant::now() + limit;
    let mut last = String::from("no attempt made");
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!("Janus did not answer {url} within {limit:?}: {last}"));
        }
        match server_info(&http, &url, left.min(Duration::from_secs(2))).await {
            Ok(info) => {
                if info.get("plugins").and_then(|plugins| plugins.get(PLUGIN)).is_none() {
                    return Err(format!(
                        "Janus answers {url} but has no {PLUGIN} loaded (start it with `janus -F bench/janus`)"
                    ));
                }
                return Ok(());
            }
            Err(error) => last = error,
        }
        tokio::time::sleep(READY_POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

impl JanusPeer {
    /// Publisher: create session, attach janus.plugin.videoroom, join ROOM as publisher,
    /// publish with the given SDP offer (audio+video, the video with rid simulcast h/m/l
    /// as str0m writes it), then send a trickle {"completed": true}. Returns the peer and
    /// Janus's SDP answer, plus the publisher's feed id (needed by subscribers).
    pub async fn publish(
        addr: &str,
        offer_sdp: String,
    ) -> Result<(JanusPeer, u64 /*feed id*/, String /*answer sdp*/), String> {
        let peer = JanusPeer::open(addr).await?;
        let steps = peer.publish_steps(offer_sdp).await;
        match steps {
            Ok((feed, answer)) => Ok((peer, feed, answer)),
            Err(error) => {
                peer.close().await;
                Err(error)
            }
        }
    }

    /// Subscriber: create session, attach, join ROOM as subscriber to `feed` (all its streams,
    /// the top simulcast substream 2), and return Janus's SDP offer. While Janus answers 428
    /// (the publisher's PeerConnection is not up yet) the join is retried every 200 ms, for
    /// 10 s at most.
    pub async fn subscribe(addr: &str, feed: u64) -> Result<(JanusPeer, String /*offer sdp*/), String> {
        let peer = JanusPeer::open(addr).await?;
        let steps = peer.subscribe_steps(feed).await;
        match steps {
            Ok(offer) => Ok((peer, offer)),
            Err(error) => {
                peer.close().await;
                Err(error)
            }
        }
    }

    /// Subscriber: send "start" with our SDP answer, then trickle {"completed": true}.
    pub async fn start(&self, answer_sdp: String) -> Result<(), String> {
        let what = format!("starting the subscription (session {})", self.session);
        let jsep = json!({ "type": "answer", "sdp": answer_sdp });
        let started = self.message(json!({ "request": "start" }), Some(jsep)).await.map_err(|e| e.context(&what))?;
        let data = plugin_data(&started);
        if data.get("started").and_then(Value::as_str) != Some("ok") {
            return Err(format!("{what}: expected \"started\": \"ok\", got {}", brief(&started)));
        }
        self.trickle_completed().await.map_err(|e| format!("{what}: {e}"))
    }

    /// Keep the session alive (send a keepalive). Optional: the peer's long-poll already
    /// counts as a keepalive for Janus, but this is harmless every ~20 s.
    pub async fn keepalive(&self) -> Result<(), String> {
        let body = json!({ "janus": "keepalive", "transaction": transaction() });
        let reply = post(&self.http, &self.session_url(), &body, REQUEST_TIMEOUT).await?;
        expect_kind(&reply, "ack", "keepalive")
    }

    /// Leave and destroy the session (best effort, at most 2 × 2 s).
    pub async fn close(self) {
        if self.handle != 0 {
            let leave = json!({ "janus": "message", "transaction": transaction(), "body": { "request": "leave" } });
            let _ = post(&self.http, &self.handle_url(), &leave, CLOSE_TIMEOUT).await;
        }
        let destroy = json!({ "janus": "destroy", "transaction": transaction() });
        let _ = post(&self.http, &self.session_url(), &destroy, CLOSE_TIMEOUT).await;
        // Dropping `self` stops the long-poll.
    }

    /// Wait until Janus reports `webrtcup` for this peer (ICE + DTLS done), at most `limit`.
    /// Fails at once on a `hangup` or when the session is over. A publisher that is up is
    /// what subscribers need (before that, joining its feed gives 428).
    pub async fn wait_webrtcup(&self, limit: Duration) -> Result<(), String> {
        let mut state = self.shared.state.subscribe();
        let waited =
            tokio::time::timeout(limit, state.wait_for(|s| s.webrtc_up || s.hangup.is_some() || s.stopped.is_some()))
                .await
                .map(|seen| seen.map(|s| PeerState::clone(&s)));
        match waited {
            Err(_) => Err(format!("Janus session {}: no webrtcup (ICE + DTLS) within {limit:?}", self.session)),
            Ok(Err(_)) => Err(format!("Janus session {}: peer state is gone", self.session)),
            Ok(Ok(seen)) if seen.webrtc_up => Ok(()),
            Ok(Ok(seen)) => match (seen.hangup, seen.stopped) {
                (Some(reason), _) => Err(format!("Janus session {}: hangup before webrtcup: {reason}", self.session)),
                (None, Some(reason)) => Err(format!("Janus session {} is over: {reason}", self.session)),
                (None, None) => Err(format!("Janus session {}: no webrtcup", self.session)),
            },
        }
    }

    /// What Janus has said about this peer so far (webrtcup, hangup, end of session).
    pub fn state(&self) -> PeerState {
        self.shared.state.borrow().clone()
    }

    pub fn session_id(&self) -> u64 {
        self.session
    }

    pub fn handle_id(&self) -> u64 {
        self.handle
    }

    /// Create a session, start its long-poll, attach the VideoRoom plugin.
    async fn open(addr: &str) -> Result<JanusPeer, Failure> {
        let http = http_client()?;
        let base = format!("http://{addr}/janus");
        let create = json!({ "janus": "create", "transaction": transaction() });
        let created = post(&http, &base, &create, REQUEST_TIMEOUT).await?;
        let session = created
            .pointer("/data/id")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("Janus create at {base}: no session id in {}", brief(&created)))?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(Pending::default()),
            state: watch::Sender::new(PeerState::default()),
        });
        let poller = tokio::spawn(long_poll(http.clone(), format!("{base}/{session}"), shared.clone()));
        let mut peer = JanusPeer { http, base, session, handle: 0, shared, poller };
        let attach = json!({ "janus": "attach", "plugin": PLUGIN, "transaction": transaction() });
        let attached = post(&peer.http, &peer.session_url(), &attach, REQUEST_TIMEOUT).await.and_then(|reply| {
            reply
                .pointer("/data/id")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("Janus attach {PLUGIN}: no handle id in {}", brief(&reply)))
        });
        match attached {
            Ok(handle) => {
                peer.handle = handle;
                Ok(peer)
            }
            Err(error) => {
                peer.close().await;
                Err(error)
            }
        }
    }

    async fn publish_steps(&self, offer_sdp: String) -> Result<(u64, String), Failure> {
        let what = format!("joining VideoRoom {ROOM} as publisher (session {})", self.session);
        let join = json!({ "request": "join", "ptype": "publisher", "room": ROOM, "display": "sfu_load" });
        let joined = self.message(join, None).await.map_err(|e| e.context(&what))?;
        let data = plugin_data(&joined);
        if data.get("videoroom").and_then(Value::as_str) != Some("joined") {
            return Err(format!("{what}: expected \"joined\", got {}", brief(&joined)));
        }
        let feed = data
            .get("id")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{what}: no feed id in {}", brief(&joined)))?;

        let what = format!("publishing feed {feed} in VideoRoom {ROOM}");
        let simulcast_offered = offer_sdp.contains("a=simulcast:");
        let publish = json!({ "request": "publish", "audiocodec": "opus", "videocodec": "vp8" });
        let jsep = json!({ "type": "offer", "sdp": offer_sdp });
        let configured = self.message(publish, Some(jsep)).await.map_err(|e| e.context(&what))?;
        let data = plugin_data(&configured);
        if data.get("configured").and_then(Value::as_str) != Some("ok") {
            return Err(format!("{what}: expected \"configured\": \"ok\", got {}", brief(&configured)));
        }
        let answer = jsep_sdp(&configured, "answer").map_err(|e| format!("{what}: {e}"))?;
        if simulcast_offered {
            // Janus lists the accepted streams; a video one without "simulcast": true means it
            // did not understand the rids (e.g. no sdes:rtp-stream-id extension offered).
            let simulcast_kept = data.get("streams").and_then(Value::as_array).is_some_and(|streams| {
                streams.iter().any(|s| {
                    s.get("type").and_then(Value::as_str) == Some("video")
                        && s.get("simulcast").and_then(Value::as_bool) == Some(true)
                })
            });
            if !simulcast_kept {
                return Err(format!("{what}: the offer has simulcast but Janus did not accept it: {}", brief(data)));
            }
        }
        self.trickle_completed().await.map_err(|e| format!("{what}: {e}"))?;
        Ok((feed, answer))
    }

    async fn subscribe_steps(&self, feed: u64) -> Result<String, Failure> {
        let what = format!("subscribing to feed {feed} in VideoRoom {ROOM} (session {})", self.session);
        // No "mid": every stream of the feed. "substream" only applies to simulcast video
        // (2 is also VideoRoom's default target, said here to be explicit).
        let join = json!({
            "request": "join",
            "ptype": "subscriber",
            "room": ROOM,
            "streams": [{ "feed": feed, "substream": TOP_SUBSTREAM }],
        });
        let deadline = Instant::now() + SUBSCRIBE_RACE_LIMIT;
        let mut attempts = 0u32;
        let attached = loop {
            attempts += 1;
            match self.message(join.clone(), None).await {
                Ok(event) => break event,
                Err(MsgError::Plugin { code: NO_SUCH_FEED, text }) => {
                    if Instant::now() + SUBSCRIBE_RETRY_PAUSE >= deadline {
                        return Err(format!(
                            "{what}: still VideoRoom error {NO_SUCH_FEED} ({text}) after {attempts} attempts \
                             over {SUBSCRIBE_RACE_LIMIT:?}: the publisher's PeerConnection is not up, or the feed \
                             id is wrong"
                        ));
                    }
                    tokio::time::sleep(SUBSCRIBE_RETRY_PAUSE).await;
                }
                Err(error) => return Err(error.context(&what)),
            }
        };
        let data = plugin_data(&attached);
        if data.get("videoroom").and_then(Value::as_str) != Some("attached") {
            return Err(format!("{what}: expected \"attached\", got {}", brief(&attached)));
        }
        jsep_sdp(&attached, "offer").map_err(|e| format!("{what}: {e}"))
    }

    /// Send a VideoRoom request (with an optional JSEP) and wait for its answer: the event
    /// with the same transaction on the long-poll (after an "ack"), or a synchronous
    /// "success". A plugin error comes back as [`MsgError::Plugin`].
    async fn message(&self, body: Value, jsep: Option<Value>) -> Result<Value, MsgError> {
        let what = body.get("request").and_then(Value::as_str).unwrap_or("message").to_owned();
        let tx = transaction();
        let (sender, receiver) = oneshot::channel();
        {
            let mut pending = lock(&self.shared.pending);
            if let Some(reason) = &pending.stopped {
                return Err(MsgError::Other(format!("Janus session {} is over: {reason}", self.session)));
            }
            pending.waiters.insert(tx.clone(), sender);
        }
        let mut request = json!({ "janus": "message", "transaction": tx, "body": body });
        if let Some(jsep) = jsep {
            request["jsep"] = jsep;
        }
        let reply = match post(&self.http, &self.handle_url(), &request, REQUEST_TIMEOUT).await {
            Ok(reply) => reply,
            Err(error) => {
                self.forget(&tx);
                return Err(MsgError::Other(error));
            }
        };
        let event = match reply.get("janus").and_then(Value::as_str) {
            Some("ack") => match tokio::time::timeout(EVENT_TIMEOUT, receiver).await {
                Ok(Ok(event)) => event,
                Ok(Err(_)) => {
                    let reason = lock(&self.shared.pending).stopped.clone().unwrap_or_default();
                    return Err(MsgError::Other(format!(
                        "Janus session {} ended before the answer to \"{what}\": {reason}",
                        self.session
                    )));
                }
                Err(_) => {
                    self.forget(&tx);
                    return Err(MsgError::Other(format!(
                        "no answer from Janus to \"{what}\" within {EVENT_TIMEOUT:?} (session {})",
                        self.session
                    )));
                }
            },
            Some("success") => {
                self.forget(&tx);
                reply
            }
            _ => {
                self.forget(&tx);
                return Err(MsgError::Other(format!("unexpected answer to \"{what}\": {}", brief(&reply))));
            }
        };
        if event.get("janus").and_then(Value::as_str) == Some("error") {
            return Err(MsgError::Other(format!("\"{what}\" failed: {}", janus_error(&event))));
        }
        let data = plugin_data(&event);
        if let Some(code) = data.get("error_code").and_then(Value::as_i64) {
            let text = data.get("error").and_then(Value::as_str).unwrap_or("no reason given").to_owned();
            return Err(MsgError::Plugin { code, text });
        }
        Ok(event)
    }

    /// Tell Janus there are no more candidates from us (all are in our SDP). Without it
    /// Janus waits for trickled candidates and ICE stalls.
    async fn trickle_completed(&self) -> Result<(), Failure> {
        let body = json!({ "janus": "trickle", "transaction": transaction(), "candidate": { "completed": true } });
        let reply = post(&self.http, &self.handle_url(), &body, REQUEST_TIMEOUT).await?;
        expect_kind(&reply, "ack", "trickle")
    }

    fn forget(&self, tx: &str) {
        lock(&self.shared.pending).waiters.remove(tx);
    }

    fn session_url(&self) -> String {
        format!("{}/{}", self.base, self.session)
    }

    fn handle_url(&self) -> String {
        format!("{}/{}/{}", self.base, self.session, self.handle)
    }
}

impl Drop for JanusPeer {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// The long-poll of one session: runs until the session is gone, Janus is unreachable, or the
/// peer is dropped (which aborts it).
async fn long_poll(http: reqwest::Client, session_url: String, shared: Arc<Shared>) {
    let url = format!("{session_url}?maxev={LONG_POLL_MAX_EVENTS}");
    let mut failures = 0u32;
    let reason = loop {
        match poll_once(&http, &url).await {
            Ok(events) => {
                failures = 0;
                let mut over = None;
                for event in events {
                    if let Some(reason) = dispatch(&shared, event) {
                        over = Some(reason);
                    }
                }
                if let Some(reason) = over {
                    break reason;
                }
            }
            Err(PollError::Gone(reason)) => break reason,
            Err(PollError::Transient(reason)) => {
                failures += 1;
                if failures >= LONG_POLL_ATTEMPTS {
                    break format!("{reason} ({failures} attempts in a row)");
                }
                tokio::time::sleep(LONG_POLL_RETRY_PAUSE).await;
            }
        }
    };
    {
        let mut pending = lock(&shared.pending);
        pending.stopped = Some(reason.clone());
        // Dropping the senders wakes every waiting request with an error.
        pending.waiters.clear();
    }
    shared.state.send_modify(|state| state.stopped = Some(reason));
}

async fn poll_once(http: &reqwest::Client, url: &str) -> Result<Vec<Value>, PollError> {
    let response = http
        .get(url)
        .timeout(LONG_POLL_TIMEOUT)
        .send()
        .await
        .map_err(|e| PollError::Transient(format!("Janus long-poll {url}: {}", chain(&e))))?;
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND {
        return Err(PollError::Gone(format!("Janus long-poll {url}: the session no longer exists (HTTP 404)")));
    }
    let text = response
        .text()
        .await
        .map_err(|e| PollError::Transient(format!("Janus long-poll {url}: reading the answer: {}", chain(&e))))?;
    if !status.is_success() {
        return Err(PollError::Transient(format!("Janus long-poll {url}: HTTP {status}: {}", cut(&text))));
    }
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| PollError::Transient(format!("Janus long-poll {url}: not JSON ({e}): {}", cut(&text))))?;
    // With maxev > 1 Janus answers with an array (a keepalive too); be lenient anyway.
    Ok(match value {
        Value::Array(events) => events,
        other => vec![other],
    })
}

/// Route one long-poll event. Returns `Some(reason)` when it means the session is over.
fn dispatch(shared: &Shared, event: Value) -> Option<String> {
    let kind = event.get("janus").and_then(Value::as_str).unwrap_or("").to_owned();
    match kind.as_str() {
        "keepalive" | "ack" | "media" | "slowlink" | "detached" | "trickle" => None,
        "webrtcup" => {
            shared.state.send_modify(|state| state.webrtc_up = true);
            None
        }
        "hangup" => {
            let reason = event.get("reason").and_then(Value::as_str).unwrap_or("no reason given").to_owned();
            shared.state.send_modify(|state| {
                state.webrtc_up = false;
                state.hangup = Some(reason);
            });
            None
        }
        "timeout" => Some("Janus timed the session out (no request or long-poll for 60 s)".to_owned()),
        _ => {
            // "event" (plugin answers and notifications) and "error": the ones answering one
            // of our requests carry its transaction; notifications (other publishers, etc.)
            // have none and are dropped.
            let tx = event.get("transaction").and_then(Value::as_str).map(str::to_owned);
            if let Some(tx) = tx {
                let waiter = lock(&shared.pending).waiters.remove(&tx);
                if let Some(waiter) = waiter {
                    let _ = waiter.send(event);
                }
            }
            None
        }
    }
}

/// POST one Janus API request; fails on transport errors, non-2xx statuses, non-JSON, and
/// `{"janus":"error"}` answers.
async fn post(http: &reqwest::Client, url: &str, body: &Value, timeout: Duration) -> Result<Value, Failure> {
    let what = body.get("janus").and_then(Value::as_str).unwrap_or("request");
    let response = http
        .post(url)
        .json(body)
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| format!("Janus \"{what}\" to {url}: {}", chain(&e)))?;
    let status = response.status();
    let text =
        response.text().await.map_err(|e| format!("Janus \"{what}\" to {url}: reading the answer: {}", chain(&e)))?;
    if !status.is_success() {
        return Err(format!("Janus \"{what}\" to {url}: HTTP {status}: {}", cut(&text)));
    }
    let reply: Value = serde_json::from_str(&text)
        .map_err(|e| format!("Janus \"{what}\" to {url}: answer is not JSON ({e}): {}", cut(&text)))?;
    if reply.get("janus").and_then(Value::as_str) == Some("error") {
        return Err(format!("Janus \"{what}\" to {url} failed: {}", janus_error(&reply)));
    }
    Ok(reply)
}

async fn server_info(http: &reqwest::Client, url: &str, timeout: Duration) -> Result<Value, Failure> {
    let response = http.get(url).timeout(timeout).send().await.map_err(|e| format!("GET {url}: {}", chain(&e)))?;
    let status = response.status();
    let text = response.text().await.map_err(|e| format!("GET {url}: reading the answer: {}", chain(&e)))?;
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}: {}", cut(&text)));
    }
    let info: Value =
        serde_json::from_str(&text).map_err(|e| format!("GET {url}: answer is not JSON ({e}): {}", cut(&text)))?;
    if info.get("janus").and_then(Value::as_str) != Some("server_info") {
        return Err(format!("GET {url}: not a Janus server_info: {}", brief(&info)));
    }
    Ok(info)
}

fn expect_kind(reply: &Value, kind: &str, what: &str) -> Result<(), Failure> {
    if reply.get("janus").and_then(Value::as_str) == Some(kind) {
        Ok(())
    } else {
        Err(format!("Janus \"{what}\": expected \"{kind}\", got {}", brief(reply)))
    }
}

/// `plugindata.data` of a plugin event (Null when absent).
fn plugin_data(event: &Value) -> &Value {
    static NULL: Value = Value::Null;
    event.pointer("/plugindata/data").unwrap_or(&NULL)
}

/// The SDP of the event's JSEP, which must be of type `kind` ("offer" or "answer").
fn jsep_sdp(event: &Value, kind: &str) -> Result<String, Failure> {
    let jsep = event.get("jsep").ok_or_else(|| format!("no JSEP {kind} in {}", brief(event)))?;
    let got = jsep.get("type").and_then(Value::as_str).unwrap_or("");
    if got != kind {
        return Err(format!("expected a JSEP {kind}, got type {got:?}"));
    }
    jsep.get("sdp").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| format!("JSEP {kind} without an sdp"))
}

fn janus_error(reply: &Value) -> String {
    let code = reply.pointer("/error/code").and_then(Value::as_i64).unwrap_or(0);
    let reason = reply.pointer("/error/reason").and_then(Value::as_str).unwrap_or("no reason given");
    format!("error {code}: {reason}")
}

fn http_client() -> Result<reqwest::Client, Failure> {
    // One client (one connection pool) for every peer of the process.
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client.clone());
    }
    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .map_err(|e| format!("building the HTTP client for Janus: {e}"))?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

fn transaction() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("sfu-load-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An error and its sources ("error sending request: … : Connection refused").
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn brief(value: &Value) -> String {
    cut(&value.to_string())
}

/// At most 400 bytes of `text`, for error messages.
fn cut(text: &str) -> String {
    const MAX: usize = 400;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}
