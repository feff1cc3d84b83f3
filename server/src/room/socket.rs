//! `GET /classes/{id}/live/ws`: one participant's WebSocket.
//!
//! The handshake checks the Origin and the session cookie; the room's admission rules decide the
//! participant's role. Then the first message must be `hello`; after that a reader task turns
//! frames into room inputs (rate-limited, decoded, size-capped) and a writer task drains the
//! connection's bounded queue into the socket, with pings to notice dead peers.

use super::access::{self, Admission, Refused};
use super::actor::RoomInput;
use super::clients::{ClientSink, Outgoing};
use super::hub::{RoomHub, RoomLink};
use super::rate::TokenBucket;
use super::state::ConnKey;
use crate::http::{HttpState, guard, session_token};
use app::protocol::{ClientFrame, ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg, close};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use lectern_core::{accounts, now_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How long a client has to say hello after the handshake.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one frame may take to reach a client's socket before it counts as stuck.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Read buffer per socket. tungstenite zero-fills its whole read buffer (default 128 KiB) before
/// every read attempt, and a participant's reading half is woken about once per frame its
/// writing half sends. With the default, that memset was ~40% of the server's CPU while a class
/// chatted, and 128 KiB of resident memory per participant (docs/benchmarks.md, "Live room").
/// Client messages are small; a larger one (up to `room.max_frame_bytes`) grows the buffer.
const READ_BUFFER_BYTES: usize = 4 * 1024;

pub async fn live_socket(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Ok(class_id) = id.parse::<i64>() else { return (StatusCode::NOT_FOUND, "No such class.").into_response() };
    let app = &state.app;
    if let Err(why) = guard::websocket_origin(&headers, app.config.server.public_url.as_deref()) {
        tracing::warn!(class = class_id, why, "refused a cross-site WebSocket");
        return (StatusCode::FORBIDDEN, format!("Refused: {why}.")).into_response();
    }
    let me = match session_token(&headers) {
        Some(token) => match accounts::authenticate(app, &token, now_ms()).await {
            Ok(me) => me,
            Err(err) => {
                tracing::error!(%err, "cannot check a session for the live room");
                return (StatusCode::INTERNAL_SERVER_ERROR, "The server could not check your sign-in; try again.")
                    .into_response();
            }
        },
        None => None,
    };
    let Some(me) = me else { return (StatusCode::UNAUTHORIZED, "Please sign in first.").into_response() };
    let verdict = access::admit(app, &me, class_id, now_ms()).await;
    let limit = app.config.room.max_frame_bytes;
    let hub = state.rooms.clone();
    let upgrade = upgrade.read_buffer_size(READ_BUFFER_BYTES).max_message_size(limit).max_frame_size(limit);
    upgrade.on_upgrade(move |socket| async move {
        match verdict {
            Ok(admission) => serve_participant(socket, hub, admission).await,
            Err(refused) => refuse(socket, refused).await,
        }
    })
}

/// Tell a refused client why (browsers cannot read a handshake's HTTP error), then close.
async fn refuse(mut socket: WebSocket, refused: Refused) {
    let (code, error) = match &refused {
        Refused::Blocked(_) => (close::BLOCKED, ErrorCode::Forbidden),
        Refused::NotFound => (POLICY, ErrorCode::NotFound),
        Refused::NotLive(_) | Refused::Forbidden(_) => (POLICY, ErrorCode::Forbidden),
        Refused::Store(err) => {
            tracing::error!(%err, "room admission failed");
            (SERVER_ERROR, ErrorCode::Internal)
        }
    };
    let message = match &refused {
        Refused::Store(_) => "The server could not open the room; try again.".to_owned(),
        other => other.to_string(),
    };
    let _ = socket.send(text(&ServerMsg::error(None, error, message))).await;
    let _ = socket.send(close_frame(code, "refused")).await;
}

const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;
const SERVER_ERROR: u16 = 1011;
const GOING_AWAY: u16 = 1001;

async fn serve_participant(socket: WebSocket, hub: Arc<RoomHub>, admission: Admission) {
    let config = hub.app().config.room.clone();
    let (mut sink, mut stream) = socket.split();
    let resume_after = match await_hello(&mut stream).await {
        Ok(resume_after) => resume_after,
        Err((code, error, message)) => {
            let _ = sink.send(text(&ServerMsg::error(None, error, message))).await;
            let _ = sink.send(close_frame(code, "expected hello")).await;
            return;
        }
    };
    let key = hub.new_conn_key();
    let (queue, outbound) = mpsc::channel(config.client_queue);
    let (kick, kicked) = oneshot::channel();
    let own = queue.clone();
    let join = RoomInput::Join { key, who: admission.who, resume_after, sink: Some(ClientSink { queue, kick }) };
    let Some(link) = hub.join(&admission.setup, join).await else {
        let _ = sink.send(close_frame(close::RECONNECT, "room unavailable")).await;
        return;
    };
    let heard = Arc::new(AtomicI64::new(now_ms()));
    let ping_every = Duration::from_secs(config.ping_seconds);
    let writer = write_loop(sink, outbound, kicked, heard.clone(), ping_every);
    tokio::pin!(writer);
    let reader = read_loop(stream, &link, key, &own, heard, &config);
    let ended = tokio::select! {
        ended = reader => ended,
        _ = &mut writer => ReadEnd::WriterDone,
    };
    if let ReadEnd::TooBig = ended {
        let _ = own.try_send(Outgoing::Close { code: TOO_BIG, reason: "message too big".into() });
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    }
    link.send(RoomInput::Leave { key }).await;
}

/// The first frame must be `hello` with our protocol version; returns its resume point.
async fn await_hello(stream: &mut SplitStream<WebSocket>) -> Result<Option<i64>, (u16, ErrorCode, String)> {
    let no_hello = |m: &str| (close::NO_HELLO, ErrorCode::Hello, m.to_owned());
    let first = tokio::time::timeout(HELLO_TIMEOUT, async {
        loop {
            match stream.next().await {
                Some(Ok(Message::Text(t))) => return Some(t),
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                _ => return None,
            }
        }
    })
    .await
    .map_err(|_| no_hello("No hello within 10 seconds."))?
    .ok_or_else(|| no_hello("The first message must be a text hello."))?;
    match ClientFrame::decode(&first) {
        Ok(ClientFrame { msg: ClientMsg::Hello { protocol, resume_after }, .. }) => {
            if protocol == PROTOCOL_VERSION {
                Ok(resume_after)
            } else {
                Err((
                    close::UNSUPPORTED_VERSION,
                    ErrorCode::UnsupportedVersion,
                    format!(
                        "This server speaks protocol {PROTOCOL_VERSION}; the client sent {protocol}. Reload the page."
                    ),
                ))
            }
        }
        Ok(other) => Err(no_hello(&format!("The first message must be hello, not {}.", other.msg.kind()))),
        Err(err) => Err(no_hello(&format!("The first message must be hello: {err}"))),
    }
}

enum ReadEnd {
    /// The client closed, or the socket failed.
    Closed,
    /// The client sent more than the frame limit.
    TooBig,
    /// The room is gone.
    RoomGone,
    WriterDone,
}

async fn read_loop(
    mut stream: SplitStream<WebSocket>,
    link: &RoomLink,
    key: ConnKey,
    own: &mpsc::Sender<Outgoing>,
    heard: Arc<AtomicI64>,
    config: &lectern_core::config::RoomConfig,
) -> ReadEnd {
    let mut bucket = TokenBucket::new(config.messages_per_second, config.message_burst, Instant::now());
    // One rate-limit error per burst of dropped messages, so the errors cannot flood the queue.
    let mut warned = false;
    let reply = |msg: ServerMsg| {
        let _ = own.try_send(Outgoing::Frame(msg.encode().into()));
    };
    while let Some(next) = stream.next().await {
        let message = match next {
            Ok(message) => message,
            Err(err) => return if is_too_big(err) { ReadEnd::TooBig } else { ReadEnd::Closed },
        };
        heard.store(now_ms(), Ordering::Relaxed);
        let body = match message {
            Message::Text(body) => Some(body),
            Message::Binary(_) => None,
            Message::Ping(_) | Message::Pong(_) => continue,
            Message::Close(_) => return ReadEnd::Closed,
        };
        // Every data frame counts against the rate, binary ones too.
        if !bucket.allow(Instant::now()) {
            if !warned {
                warned = true;
                let wait = bucket.wait().as_millis();
                let message = format!(
                    "Too many messages: at most {} per second. Dropped; try again in {wait} ms.",
                    config.messages_per_second
                );
                let reference = body.as_deref().and_then(ClientFrame::reference_of);
                reply(ServerMsg::error(reference, ErrorCode::RateLimited, message));
            }
            continue;
        }
        warned = false;
        let Some(body) = body else {
            reply(ServerMsg::error(
                None,
                ErrorCode::Malformed,
                "Binary frames are not part of the protocol; send JSON text.",
            ));
            continue;
        };
        match ClientFrame::decode(&body) {
            Ok(frame) => {
                if !link.send(RoomInput::Command { key, frame }).await {
                    return ReadEnd::RoomGone;
                }
            }
            Err(err) => reply(ServerMsg::error(ClientFrame::reference_of(&body), ErrorCode::Malformed, err.0)),
        }
    }
    ReadEnd::Closed
}

fn is_too_big(err: axum::Error) -> bool {
    let inner = err.into_inner();
    matches!(inner.downcast_ref::<tungstenite::Error>(), Some(tungstenite::Error::Capacity(_)))
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut outbound: mpsc::Receiver<Outgoing>,
    mut kicked: oneshot::Receiver<u16>,
    heard: Arc<AtomicI64>,
    ping_every: Duration,
) {
    let mut ping = tokio::time::interval(ping_every);
    ping.tick().await;
    let silent_limit = 2 * ping_every.as_millis() as i64 + 5_000;
    // The room drops the kick sender when it lets a connection go normally; after that only
    // the queue (which ends with a Close) matters.
    let mut kick_armed = true;
    loop {
        tokio::select! {
            biased;
            code = &mut kicked, if kick_armed => {
                let Ok(code) = code else {
                    kick_armed = false;
                    continue;
                };
                let reason = if code == close::TOO_SLOW { "too slow: reconnect to catch up" } else { "closed by the room" };
                let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close_frame(code, reason))).await;
                return;
            }
            item = outbound.recv() => match item {
                Some(Outgoing::Frame(frame)) => {
                    let message = Message::Text(Utf8Bytes::from(&*frame));
                    if !matches!(tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await, Ok(Ok(()))) {
                        return;
                    }
                }
                Some(Outgoing::Close { code, reason }) => {
                    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close_frame(code, &reason))).await;
                    return;
                }
                None => return,
            },
            _ = ping.tick() => {
                if now_ms() - heard.load(Ordering::Relaxed) > silent_limit {
                    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(close_frame(GOING_AWAY, "no answer to pings"))).await;
                    return;
                }
                if !matches!(tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Ping(Default::default()))).await, Ok(Ok(()))) {
                    return;
                }
            }
        }
    }
}

fn text(msg: &ServerMsg) -> Message {
    Message::Text(Utf8Bytes::from(msg.encode()))
}

fn close_frame(code: u16, reason: &str) -> Message {
    // A close reason may be at most 123 bytes.
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame { code, reason: Utf8Bytes::from(&reason[..end]) }))
}
