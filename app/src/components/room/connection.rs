//! The page's WebSocket to its room: say hello, apply what the server sends to the
//! [`RoomModel`], and when the socket drops, reconnect with backoff and resume from the last chat
//! message seen. The decisions (what a close code means, how long to wait) are plain functions,
//! tested natively; the browser part is compiled only into the wasm client.

use super::model::{Ended, RoomModel};
#[cfg(feature = "hydrate")]
use crate::protocol::ServerMsg;
use crate::protocol::{ClientMsg, close};
use leptos::prelude::*;

/// The connection as the page shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Connecting,
    Live,
    /// Waiting `delay_ms` before attempt number `attempt`.
    Reconnecting {
        attempt: u32,
        delay_ms: u32,
    },
    /// The room said goodbye for good; `RoomModel::ended` says why.
    Ended,
}

/// What to do after the socket closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterClose {
    Reconnect { at_once: bool },
    End(Ended),
}

/// Decide from the close code (and the error the server sent just before, if any) whether to
/// reconnect. Codes are listed in docs/protocol.md.
pub fn after_close(code: u16, refusal: Option<&str>) -> AfterClose {
    const POLICY: u16 = 1008;
    match code {
        close::REMOVED => {
            AfterClose::End(Ended::Removed(refusal.unwrap_or("A teacher removed you from this session.").to_owned()))
        }
        close::BLOCKED => {
            AfterClose::End(Ended::Blocked(refusal.unwrap_or("You are blocked from this class.").to_owned()))
        }
        close::UNSUPPORTED_VERSION => AfterClose::End(Ended::Outdated),
        POLICY => AfterClose::End(Ended::Refused(refusal.unwrap_or("The room refused this connection.").to_owned())),
        // Cut off for reading too slowly, or the room moved: catch up straight away.
        close::TOO_SLOW | close::RECONNECT => AfterClose::Reconnect { at_once: true },
        _ => AfterClose::Reconnect { at_once: false },
    }
}

/// Milliseconds to wait before reconnect attempt `attempt` (1 = the first): doubling from half a
/// second up to 15 seconds, spread by `jitter` in [0, 1) so that a whole class that lost the
/// server at once does not come back in one wave.
pub fn backoff_ms(attempt: u32, jitter: f64) -> u32 {
    let base = 500u32.saturating_mul(1 << attempt.saturating_sub(1).min(5)).min(15_000);
    let spread = (base as f64 * 0.4 * jitter.clamp(0.0, 1.0)) as u32;
    base - base / 5 + spread
}

/// How the page's components reach the room: send a message, read the model and the status.
/// Cheap to copy; on the server (rendering) it is inert.
#[derive(Clone)]
pub struct RoomClient {
    pub model: RwSignal<RoomModel>,
    pub status: RwSignal<Status>,
    #[cfg(feature = "hydrate")]
    conn: Option<send_wrapper::SendWrapper<std::rc::Rc<browser::Connection>>>,
}

impl RoomClient {
    /// Open the room of `class_id` (in the browser) and close it when the page goes away.
    pub fn open(class_id: i64) -> Self {
        let model = RwSignal::new(RoomModel::default());
        let status = RwSignal::new(Status::Connecting);
        #[cfg(feature = "hydrate")]
        {
            let conn = browser::Connection::start(class_id, model, status);
            let on_leave = send_wrapper::SendWrapper::new(conn.clone());
            on_cleanup(move || on_leave.stop());
            Self { model, status, conn: Some(send_wrapper::SendWrapper::new(conn)) }
        }
        #[cfg(not(feature = "hydrate"))]
        {
            let _ = class_id;
            Self { model, status }
        }
    }

    /// Send a message to the room. While the connection is down it is not queued (a chat line
    /// sent minutes later would surprise people); the page says so instead.
    pub fn send(&self, msg: ClientMsg) -> bool {
        #[cfg(feature = "hydrate")]
        if let Some(conn) = &self.conn
            && conn.send(&msg)
        {
            // A fresh request: the last refusal no longer applies.
            if self.model.with_untracked(|m| m.notice.is_some()) {
                self.model.update(|m| m.notice = None);
            }
            return true;
        }
        let _ = msg;
        self.model.update(|m| m.notice = Some("Not connected to the room right now; try again in a moment.".into()));
        false
    }

    /// Send a message with a fresh reference, which the server's `ack` or `error` for it
    /// carries; `None` when the connection is down (nothing is sent and no notice is shown: the
    /// caller retries when the room welcomes the page again).
    pub fn send_with_ref(&self, msg: ClientMsg) -> Option<u32> {
        #[cfg(feature = "hydrate")]
        if let Some(conn) = &self.conn {
            return conn.send_with_ref(&msg);
        }
        let _ = msg;
        None
    }

    /// Call `listener` with every message from the server, after the model has taken it (the
    /// media connection follows offers, answers and welcomes this way).
    #[cfg(feature = "hydrate")]
    pub fn listen(&self, listener: std::rc::Rc<dyn Fn(&ServerMsg)>) {
        if let Some(conn) = &self.conn {
            conn.listen(listener);
        }
    }
}

#[cfg(feature = "hydrate")]
mod browser {
    use super::{AfterClose, Status, after_close, backoff_ms};
    use crate::components::room::model::{RoomModel, blocked_sentence};
    use crate::protocol::{ClientFrame, ClientMsg, PROTOCOL_VERSION, ServerFrame, ServerMsg};
    use leptos::prelude::*;
    use std::cell::RefCell;
    use std::rc::{Rc, Weak};
    use std::time::Duration;
    use wasm_bindgen::JsCast;
    use wasm_bindgen::prelude::Closure;
    use web_sys::{CloseEvent, Event, MessageEvent, WebSocket};

    /// How long a reaction stays on screen.
    const REACTION_SHOWN: Duration = Duration::from_secs(4);
    /// A socket that is open but has had no welcome this long is given up and retried.
    const WELCOME_WITHIN: Duration = Duration::from_secs(15);
    /// Close code for that (the 4000-4999 range is the application's).
    const NO_WELCOME: u16 = 4100;

    pub struct Connection {
        inner: Rc<RefCell<Inner>>,
    }

    struct Inner {
        class_id: i64,
        model: RwSignal<RoomModel>,
        status: RwSignal<Status>,
        socket: Option<Socket>,
        /// Reconnect attempts since the last welcome.
        attempt: u32,
        /// Counts sockets, so a timer can tell whether the socket it watches is still current.
        generation: u64,
        /// An error the server sent on this socket before its welcome: the reason for a refusal.
        refusal: Option<String>,
        retry: Option<TimeoutHandle>,
        stopped: bool,
        online: Option<WindowListenerHandle>,
        /// The last reference sent (see [`Connection::send_with_ref`]).
        last_ref: u32,
        listeners: Vec<Listener>,
    }

    type Listener = Rc<dyn Fn(&ServerMsg)>;

    impl Inner {
        /// The socket, when it is open and the room has welcomed this page on it.
        fn live_socket(&self) -> Option<&WebSocket> {
            let live = self.status.get_untracked() == Status::Live;
            self.socket.as_ref().map(|s| &s.ws).filter(|ws| live && ws.ready_state() == WebSocket::OPEN)
        }
    }

    /// One WebSocket and its handlers; the handlers hold only a weak reference back, so
    /// dropping this drops everything.
    struct Socket {
        ws: WebSocket,
        _open: Closure<dyn FnMut(Event)>,
        _message: Closure<dyn FnMut(MessageEvent)>,
        _close: Closure<dyn FnMut(CloseEvent)>,
    }

    impl Drop for Socket {
        fn drop(&mut self) {
            self.ws.set_onopen(None);
            self.ws.set_onmessage(None);
            self.ws.set_onclose(None);
        }
    }

    impl Connection {
        pub fn start(class_id: i64, model: RwSignal<RoomModel>, status: RwSignal<Status>) -> Rc<Self> {
            let inner = Rc::new(RefCell::new(Inner {
                class_id,
                model,
                status,
                socket: None,
                attempt: 0,
                generation: 0,
                refusal: None,
                retry: None,
                stopped: false,
                online: None,
                last_ref: 0,
                listeners: Vec::new(),
            }));
            // Back online after a network change: try now rather than at the end of the backoff.
            let weak = Rc::downgrade(&inner);
            let online = window_event_listener_untyped("online", move |_| {
                if let Some(inner) = weak.upgrade() {
                    let waiting = matches!(inner.borrow().status.get_untracked(), Status::Reconnecting { .. });
                    if waiting {
                        connect(&inner);
                    }
                }
            });
            inner.borrow_mut().online = Some(online);
            connect(&inner);
            Rc::new(Self { inner })
        }

        pub fn send(&self, msg: &ClientMsg) -> bool {
            let inner = self.inner.borrow();
            inner.live_socket().is_some_and(|ws| ws.send_with_str(&ClientFrame::new(msg.clone()).encode()).is_ok())
        }

        pub fn send_with_ref(&self, msg: &ClientMsg) -> Option<u32> {
            let mut inner = self.inner.borrow_mut();
            let reference = inner.last_ref.wrapping_add(1);
            inner.live_socket()?.send_with_str(&ClientFrame::with_ref(reference, msg.clone()).encode()).ok()?;
            inner.last_ref = reference;
            Some(reference)
        }

        pub fn listen(&self, listener: Listener) {
            self.inner.borrow_mut().listeners.push(listener);
        }

        pub fn stop(&self) {
            let socket = {
                let mut inner = self.inner.borrow_mut();
                inner.stopped = true;
                if let Some(retry) = inner.retry.take() {
                    retry.clear();
                }
                if let Some(online) = inner.online.take() {
                    online.remove();
                }
                inner.socket.take()
            };
            if let Some(socket) = socket {
                let _ = socket.ws.close_with_code_and_reason(1000, "left the page");
            }
            self.inner.borrow_mut().listeners.clear();
        }
    }

    fn socket_url(class_id: i64) -> Option<String> {
        let location = window().location();
        let scheme = if location.protocol().ok()? == "https:" { "wss" } else { "ws" };
        Some(format!("{scheme}://{}/classes/{class_id}/live/ws", location.host().ok()?))
    }

    fn connect(inner_rc: &Rc<RefCell<Inner>>) {
        let (class_id, model, status, generation) = {
            let mut inner = inner_rc.borrow_mut();
            if inner.stopped {
                return;
            }
            inner.generation += 1;
            if let Some(retry) = inner.retry.take() {
                retry.clear();
            }
            inner.refusal = None;
            // Dropping the old socket detaches its handlers before a new one opens.
            if let Some(old) = inner.socket.take() {
                let _ = old.ws.close();
            }
            (inner.class_id, inner.model, inner.status, inner.generation)
        };
        if status.get_untracked() != Status::Connecting
            && !matches!(status.get_untracked(), Status::Reconnecting { .. })
        {
            status.set(Status::Connecting);
        }
        let Some(url) = socket_url(class_id) else { return };
        let ws = match WebSocket::new(&url) {
            Ok(ws) => ws,
            Err(_) => return schedule_retry(inner_rc, false),
        };

        let hello_ws = ws.clone();
        let weak = Rc::downgrade(inner_rc);
        let open = Closure::<dyn FnMut(Event)>::new(move |_| {
            let resume_after = model.with_untracked(|m| m.joined.then(|| m.last_chat_id()).flatten());
            let hello = ClientFrame::new(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after });
            let _ = hello_ws.send_with_str(&hello.encode());
            // A hello the room never answers (it moved between nodes at that moment, say) must
            // not leave the page waiting forever: give the socket up and try again.
            let (weak, watched) = (weak.clone(), hello_ws.clone());
            set_timeout(
                move || {
                    let Some(inner) = weak.upgrade() else { return };
                    let stale = {
                        let inner = inner.borrow();
                        inner.generation == generation && inner.status.get_untracked() != Status::Live
                    };
                    if stale {
                        let _ = watched.close_with_code_and_reason(NO_WELCOME, "no welcome");
                    }
                },
                WELCOME_WITHIN,
            );
        });

        let weak = Rc::downgrade(inner_rc);
        let message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let Some(text) = event.data().as_string() else { return };
            // Unknown types from a newer server are skipped; broken frames too (never a panic).
            let Ok(ServerFrame::Known(msg)) = ServerFrame::decode_lenient(&text) else { return };
            on_message(&weak, msg);
        });

        let weak = Rc::downgrade(inner_rc);
        let closed = Closure::<dyn FnMut(CloseEvent)>::new(move |event: CloseEvent| {
            on_close(&weak, event.code());
        });

        ws.set_onopen(Some(open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(closed.as_ref().unchecked_ref()));
        inner_rc.borrow_mut().socket = Some(Socket { ws, _open: open, _message: message, _close: closed });
    }

    fn on_message(weak: &Weak<RefCell<Inner>>, msg: ServerMsg) {
        let Some(inner_rc) = weak.upgrade() else { return };
        let (model, status, listeners) = {
            let mut inner = inner_rc.borrow_mut();
            match &msg {
                ServerMsg::Welcome(_) => inner.attempt = 0,
                // An error before this socket's welcome is the room refusing us: keep its words
                // for when the socket closes.
                ServerMsg::Error { message, .. } if inner.status.get_untracked() != Status::Live => {
                    inner.refusal = Some(message.clone());
                }
                ServerMsg::Removed { reason } => inner.refusal = Some(reason.clone()),
                ServerMsg::Blocked { reason } => inner.refusal = Some(blocked_sentence(reason)),
                _ => {}
            }
            (inner.model, inner.status, inner.listeners.clone())
        };
        let welcomed = matches!(msg, ServerMsg::Welcome(_));
        let heard = (!listeners.is_empty()).then(|| msg.clone());
        let mut reaction = None;
        model.update(|m| reaction = m.apply(msg));
        if welcomed {
            status.set(Status::Live);
        }
        if let Some(msg) = heard {
            for listener in &listeners {
                listener(&msg);
            }
        }
        if let Some(seq) = reaction {
            set_timeout(move || model.try_update(|m| m.expire_reaction(seq)).unwrap_or(()), REACTION_SHOWN);
        }
    }

    fn on_close(weak: &Weak<RefCell<Inner>>, code: u16) {
        let Some(inner_rc) = weak.upgrade() else { return };
        let (decision, model, status) = {
            let mut inner = inner_rc.borrow_mut();
            if inner.stopped {
                return;
            }
            inner.socket = None;
            (after_close(code, inner.refusal.as_deref()), inner.model, inner.status)
        };
        match decision {
            AfterClose::End(ended) => {
                model.update(|m| m.ended = Some(ended));
                status.set(Status::Ended);
            }
            AfterClose::Reconnect { at_once } => schedule_retry(&inner_rc, at_once),
        }
    }

    fn schedule_retry(inner_rc: &Rc<RefCell<Inner>>, at_once: bool) {
        let (delay, attempt, status) = {
            let mut inner = inner_rc.borrow_mut();
            inner.attempt += 1;
            // Cut off or moved: come back within a second, spread out, since the rest of the
            // class is probably reconnecting at the same moment.
            let delay = if at_once && inner.attempt == 1 {
                (js_sys::Math::random() * 1000.0) as u32
            } else {
                backoff_ms(inner.attempt, js_sys::Math::random())
            };
            (delay, inner.attempt, inner.status)
        };
        status.set(Status::Reconnecting { attempt, delay_ms: delay });
        let weak = Rc::downgrade(inner_rc);
        let handle = set_timeout_with_handle(
            move || {
                if let Some(inner) = weak.upgrade() {
                    connect(&inner);
                }
            },
            Duration::from_millis(delay as u64),
        );
        inner_rc.borrow_mut().retry = handle.ok();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removal_blocking_refusal_and_old_clients_end_the_session() {
        assert_eq!(
            after_close(close::REMOVED, Some("Rosa removed you.")),
            AfterClose::End(Ended::Removed("Rosa removed you.".into()))
        );
        assert!(matches!(after_close(close::BLOCKED, Some("spam")), AfterClose::End(Ended::Blocked(r)) if r == "spam"));
        assert!(
            matches!(after_close(1008, Some("Enrol first.")), AfterClose::End(Ended::Refused(r)) if r == "Enrol first.")
        );
        assert_eq!(after_close(close::UNSUPPORTED_VERSION, None), AfterClose::End(Ended::Outdated));
    }

    #[test]
    fn everything_else_reconnects_and_a_cut_off_client_does_so_at_once() {
        assert_eq!(after_close(close::TOO_SLOW, None), AfterClose::Reconnect { at_once: true });
        assert_eq!(after_close(close::RECONNECT, None), AfterClose::Reconnect { at_once: true });
        for code in [1000, 1001, 1006, 1011] {
            assert_eq!(after_close(code, None), AfterClose::Reconnect { at_once: false }, "{code}");
        }
    }

    #[test]
    fn backoff_doubles_to_a_cap_and_jitter_stays_within_bounds() {
        assert_eq!(backoff_ms(1, 0.0), 400);
        assert_eq!(backoff_ms(2, 0.0), 800);
        assert!(backoff_ms(1, 0.999) < 600);
        assert!(backoff_ms(3, 0.5) > backoff_ms(2, 0.5));
        for attempt in [7, 20, u32::MAX] {
            assert!(backoff_ms(attempt, 1.0) <= 18_000, "{attempt}");
            assert!(backoff_ms(attempt, 0.0) >= 12_000, "{attempt}");
        }
    }
}
