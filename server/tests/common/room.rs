//! A live room on a real socket, and WebSocket clients that speak the room protocol.
#![allow(dead_code)] // each test file uses its own subset

use app::board::{BoardAction, BoardOp, Shape, Tool};
use app::protocol::{ClientFrame, ClientMsg, ErrorCode, PROTOCOL_VERSION, ServerMsg, Welcome};
use futures_util::{SinkExt, StreamExt};
use lectern_core::AppState;
use lectern_core::auth::token;
use lectern_core::store::classes::{ClassSchedule, NewClass, Slot};
use lectern_core::store::sessions::NewSession;
use lectern_core::store::users::{InitialRole, NewUser};
use lectern_model::Role;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for any one expected frame.
pub const WAIT: Duration = Duration::from_secs(10);

pub struct Person {
    pub id: i64,
    pub name: String,
    pub token: String,
}

/// A user with a live session, made directly in the store (no password hashing).
pub async fn person(app: &AppState, username: &str, role: Role) -> Person {
    let now = lectern_core::now_ms();
    let user = app
        .store
        .insert_user(
            &NewUser {
                username: username.into(),
                email: format!("{username}@example.org"),
                display_name: format!("{username} name"),
                password_hash: None,
                phone: None,
                time_zone: "UTC".into(),
                role: InitialRole::Exactly(role),
            },
            now,
        )
        .await
        .unwrap();
    let token = token::generate();
    let session = NewSession {
        token_hash: &token::digest(&token),
        user_id: user.id,
        now,
        expires_at: now + 86_400_000,
        ip: None,
        user_agent: None,
    };
    app.store.insert_session(&session).await.unwrap();
    Person { id: user.id, name: user.display_name, token }
}

/// A live class taught by `teacher`, with an occurrence that started five minutes ago.
pub async fn live_class(app: &AppState, teacher: &Person) -> i64 {
    let now = lectern_core::now_ms();
    let class = NewClass {
        teacher_id: teacher.id,
        title: "Live algebra".into(),
        description: String::new(),
        kind: "live",
        time_zone: "UTC".into(),
        capacity: None,
        enrolment_policy: "closed",
        invite_token: token::generate(),
    };
    let slots = [Slot { starts_at: now - 5 * 60_000, ends_at: now + 3_600_000, original_start_at: None }];
    app.store.create_class(&ClassSchedule { class: &class, series: None, slots: &slots }, now).await.unwrap().unwrap()
}

pub async fn enrol(app: &AppState, class_id: i64, who: &Person, role: &str) {
    app.store.set_enrolment_role(class_id, who.id, role, lectern_core::now_ms()).await.unwrap();
}

/// A live class running now, its teacher, a co-teacher and enrolled students.
pub struct LiveClass {
    pub id: i64,
    pub teacher: Person,
    pub co: Person,
    pub students: Vec<Person>,
}

/// Teacher "rosa", co-teacher "cole" and `students` students "student0".. in a class live now.
pub async fn live_class_with_people(app: &AppState, students: usize) -> LiveClass {
    let teacher = person(app, "rosa", Role::Teacher).await;
    let co = person(app, "cole", Role::Teacher).await;
    let id = live_class(app, &teacher).await;
    enrol(app, id, &co, "co_teacher").await;
    let mut list = Vec::new();
    for i in 0..students {
        let s = person(app, &format!("student{i}"), Role::Student).await;
        enrol(app, id, &s, "student").await;
        list.push(s);
    }
    LiveClass { id, teacher, co, students: list }
}

/// A public chat message.
pub fn chat(body: &str) -> ClientMsg {
    ClientMsg::SendChat { body: body.into(), thread: None }
}

/// Which database a test database is on, to open another one like it.
pub fn backend_of(db: &lectern_core::testing::TestDb) -> lectern_core::testing::Backend {
    match db.store().backend() {
        lectern_core::store::Backend::Sqlite => lectern_core::testing::Backend::Sqlite,
        lectern_core::store::Backend::Postgres => lectern_core::testing::Backend::Postgres,
    }
}

/// Serve `app` on a loopback port until the test ends; returns `host:port`.
pub async fn serve(app: AppState) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(server::serve::serve_on(listener, app, std::future::pending()));
    addr.to_string()
}

/// Serve a router (one node of a cluster, say) on a loopback port until the test ends; returns
/// `host:port`. Ready to accept connections when this returns.
pub async fn serve_router(router: axum::Router) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let service = router.into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr.to_string()
}

#[derive(Debug)]
pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_ref: u32,
    /// Messages that arrived while waiting for an answer, kept for the next reads: a broadcast
    /// of what a request did comes before its ack.
    backlog: std::collections::VecDeque<ServerMsg>,
}

/// Open a room socket; `origin` is sent as a browser would.
pub async fn open(
    host: &str,
    class_id: i64,
    token: Option<&str>,
    origin: Option<&str>,
) -> Result<Client, tungstenite::Error> {
    let mut request = format!("ws://{host}/classes/{class_id}/live/ws").into_client_request()?;
    if let Some(token) = token {
        request.headers_mut().insert("cookie", format!("lectern_session={token}").parse().unwrap());
    }
    if let Some(origin) = origin {
        request.headers_mut().insert("origin", origin.parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request).await?;
    Ok(Client { ws, next_ref: 1, backlog: Default::default() })
}

/// Open, say hello and return the welcome.
pub async fn join(host: &str, class_id: i64, who: &Person, resume_after: Option<i64>) -> (Client, Welcome) {
    let mut client = open(host, class_id, Some(&who.token), None).await.unwrap();
    client.send(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after }).await;
    match client.next().await {
        ServerMsg::Welcome(welcome) => (client, *welcome),
        other => panic!("expected a welcome for {}, got {other:?}", who.name),
    }
}

impl Client {
    pub async fn send(&mut self, msg: ClientMsg) {
        self.send_raw(&ClientFrame::new(msg).encode()).await;
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws.send(Message::Text(text.into())).await.unwrap();
    }

    /// Send with a fresh `ref`; returns it.
    pub async fn send_ref(&mut self, msg: ClientMsg) -> u32 {
        let reference = self.next_ref;
        self.next_ref += 1;
        self.send_raw(&ClientFrame::with_ref(reference, msg).encode()).await;
        reference
    }

    /// The next protocol message (pings are skipped). Panics on close or timeout.
    pub async fn next(&mut self) -> ServerMsg {
        match self.next_or_close().await {
            Ok(msg) => msg,
            Err(close) => panic!("expected a message, the socket closed: {close:?}"),
        }
    }

    /// The next message, or the close frame if the socket closed first.
    pub async fn next_or_close(&mut self) -> Result<ServerMsg, Option<CloseFrame>> {
        if let Some(msg) = self.backlog.pop_front() {
            return Ok(msg);
        }
        loop {
            let frame = tokio::time::timeout(WAIT, self.ws.next()).await.expect("a frame within the wait");
            match frame {
                Some(Ok(Message::Text(text))) => {
                    return Ok(ServerMsg::decode(&text).unwrap_or_else(|e| panic!("undecodable {text}: {e}")));
                }
                Some(Ok(Message::Close(frame))) => return Err(frame),
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return Err(None),
            }
        }
    }

    /// Skip messages until one matches.
    pub async fn until<T>(&mut self, mut pick: impl FnMut(ServerMsg) -> Option<T>) -> T {
        loop {
            if let Some(found) = pick(self.next().await) {
                return found;
            }
        }
    }

    /// The next error, skipping everything else.
    pub async fn next_error(&mut self) -> ServerMsg {
        self.until(|m| matches!(m, ServerMsg::Error { .. }).then_some(m)).await
    }

    /// The answer to `reference`: Ok for an ack, the error code otherwise.
    /// Other messages that arrive meanwhile stay for the next reads.
    pub async fn answer(&mut self, reference: u32) -> Result<(), (ErrorCode, String)> {
        let mut skipped = Vec::new();
        let answer = loop {
            match self.next().await {
                ServerMsg::Ack { reference: r } if r == reference => break Ok(()),
                ServerMsg::Error { reference: Some(r), code, message } if r == reference => break Err((code, message)),
                other => skipped.push(other),
            }
        };
        for msg in skipped.into_iter().rev() {
            self.backlog.push_front(msg);
        }
        answer
    }

    /// Send and wait for the answer.
    pub async fn request(&mut self, msg: ClientMsg) -> Result<(), (ErrorCode, String)> {
        let reference = self.send_ref(msg).await;
        self.answer(reference).await
    }

    /// Read until the socket closes; returns the close code.
    pub async fn closed(&mut self) -> Option<u16> {
        loop {
            match self.next_or_close().await {
                Ok(_) => continue,
                Err(frame) => return frame.map(|f| u16::from(f.code)),
            }
        }
    }
}

/// A board operation as a client sends it.
pub fn op(id: &str, action: BoardAction) -> ClientMsg {
    ClientMsg::Board { op: BoardOp { id: id.into(), action } }
}

/// A red pen stroke on `page`, starting at `x`.
pub fn stroke(page: i64, id: &str, x: f32) -> BoardAction {
    BoardAction::Draw {
        page,
        shape: Shape {
            id: id.into(),
            author: 0,
            color: "#d62828".into(),
            width: 4.0,
            tool: Tool::Pen { points: vec![[x, 100.0, 0.4], [x + 50.0, 140.0, 0.8]] },
        },
    }
}
