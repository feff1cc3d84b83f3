//! The live room on two nodes that share one store and one Redis, on both databases.
//!
//! Each test runs two nodes: two `RoomHub::clustered` hubs, each with its own `Cluster` (so its
//! own node id) and its own loopback port, and connects participants to both. The node a class
//! is first reached on owns the room (runs its actor); the other relays through Redis. Every test
//! has a Redis key prefix of its own, so tests running at once (whose class ids repeat across
//! their databases) never hear each other.

mod common;

use app::protocol::{ChatMessage, ClientMsg, ErrorCode, PROTOCOL_VERSION, Participant, PollKind, ServerMsg, close};
use common::room::*;
use common::sdp::*;
use lectern_core::AppState;
use lectern_core::config::{ClusterConfig, Config};
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;
use lectern_model::Role;
use server::room::RoomHub;
use server::room::cluster::Cluster;
use server::sfu::Sfu;
use std::sync::Arc;
use str0m::media::{Direction, MediaKind};

fn redis_url() -> String {
    std::env::var("LECTERN_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// A cluster of its own: a random key prefix, so no other test's messages or claims reach it.
fn cluster_config(claim_ttl_seconds: u64) -> ClusterConfig {
    let unique: String =
        lectern_core::auth::token::generate().chars().filter(char::is_ascii_alphanumeric).take(16).collect();
    ClusterConfig { redis_url: Some(redis_url()), key_prefix: format!("lectern-test-{unique}"), claim_ttl_seconds }
}

struct Node {
    host: String,
    hub: Arc<RoomHub>,
    /// This node's SFU: a room's media runs on the node that owns the room.
    sfu: Arc<Sfu>,
}

/// One node over `app`: its own Redis connections and node id, its own hub and port. When this
/// returns the node is subscribed and listening, so nothing needs to wait for it.
async fn node(app: &AppState, config: &ClusterConfig) -> Node {
    let cluster = Cluster::connect(config)
        .await
        .unwrap_or_else(|e| panic!("these tests need Redis (LECTERN_TEST_REDIS_URL): {e}"));
    let sfu = Arc::new(Sfu::start(&app.config.media).expect("the SFU binds a loopback port"));
    let hub = RoomHub::clustered(app.clone(), cluster, Some(sfu.clone()));
    let host = serve_router(server::http::router_with_rooms(app.clone(), hub.clone())).await;
    Node { host, hub, sfu }
}

struct Cast {
    a: Node,
    b: Node,
    class_id: i64,
    teacher: Person,
    co: Person,
    students: Vec<Person>,
}

async fn cast(db: &TestDb, students: usize) -> Cast {
    let app = &db.state;
    let class = live_class_with_people(app, students).await;
    let config = cluster_config(10);
    let a = node(app, &config).await;
    let b = node(app, &config).await;
    Cast { a, b, class_id: class.id, teacher: class.teacher, co: class.co, students: class.students }
}

fn users(roster: &[Participant]) -> Vec<i64> {
    roster.iter().map(|p| p.user).collect()
}

async fn next_chat(client: &mut Client) -> ChatMessage {
    client
        .until(|m| match m {
            ServerMsg::Chat { message } => Some(message),
            _ => None,
        })
        .await
}

/// The next `n` chat messages.
async fn chats(client: &mut Client, n: usize) -> Vec<ChatMessage> {
    let mut seen = Vec::new();
    while seen.len() < n {
        seen.push(next_chat(client).await);
    }
    seen
}

/// Chat messages up to and including the first whose body is `last`.
async fn chats_through(client: &mut Client, last: &str) -> Vec<ChatMessage> {
    let mut seen = Vec::new();
    loop {
        let message = next_chat(client).await;
        let done = message.body == last;
        seen.push(message);
        if done {
            return seen;
        }
    }
}

/// The users announced by the next `n` `joined` events.
async fn joined(client: &mut Client, n: usize) -> Vec<i64> {
    let mut seen = Vec::new();
    while seen.len() < n {
        seen.push(
            client
                .until(|m| match m {
                    ServerMsg::Joined { participant } => Some(participant.user),
                    _ => None,
                })
                .await,
        );
    }
    seen
}

async fn left(client: &mut Client) -> i64 {
    client
        .until(|m| match m {
            ServerMsg::Left { user } => Some(user),
            _ => None,
        })
        .await
}

/// `teacher` posts `n` messages, each seen back before the next; returns their ids.
async fn post(teacher: &mut Client, prefix: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..n {
        let body = format!("{prefix} {i}");
        teacher.send(chat(&body)).await;
        ids.push(
            teacher
                .until(|m| match m {
                    ServerMsg::Chat { message } if message.body == body => Some(message.id),
                    _ => None,
                })
                .await,
        );
    }
    ids
}

/// (a) Chat, presence and hands between participants on both nodes: one actor, one order,
/// each event once.
async fn chat_and_presence_cross_nodes_once_and_in_one_order(db: &TestDb) {
    let c = cast(db, 3).await;
    let (s0, s1, s2) = (&c.students[0], &c.students[1], &c.students[2]);
    let (mut teacher, _) = join(&c.a.host, c.class_id, &c.teacher, None).await;
    let (mut b0, welcome) = join(&c.b.host, c.class_id, s0, None).await;
    assert_eq!(users(&welcome.roster), vec![c.teacher.id, s0.id], "the owner's welcome, through the relay");
    let (mut b1, welcome) = join(&c.b.host, c.class_id, s1, None).await;
    assert_eq!(users(&welcome.roster), vec![c.teacher.id, s0.id, s1.id]);
    let (mut a2, welcome) = join(&c.a.host, c.class_id, s2, None).await;
    assert_eq!(users(&welcome.roster), vec![c.teacher.id, s0.id, s1.id, s2.id], "arrivals on B are in A's roster");
    assert_eq!((c.a.hub.local_rooms(), c.b.hub.local_rooms()), (1, 0), "one actor, on the node reached first");
    // Each arrival (one's own too) is announced to everyone there, on both nodes, in order.
    assert_eq!(joined(&mut teacher, 4).await, vec![c.teacher.id, s0.id, s1.id, s2.id]);
    assert_eq!(joined(&mut b0, 3).await, vec![s0.id, s1.id, s2.id]);
    assert_eq!(joined(&mut b1, 2).await, vec![s1.id, s2.id]);
    assert_eq!(joined(&mut a2, 1).await, vec![s2.id]);

    // Everyone writes at once, from both nodes; the owner's actor puts the messages in one order.
    for (i, client) in [&mut teacher, &mut b0, &mut b1, &mut a2].into_iter().enumerate() {
        client.send(chat(&format!("hello from {i}"))).await;
    }
    let mut order = chats(&mut teacher, 4).await;
    teacher.send(chat("end")).await;
    order.extend(chats_through(&mut teacher, "end").await);
    assert!(order.windows(2).all(|w| w[0].id < w[1].id), "in the order they were stored");
    let mut bodies: Vec<&str> = order.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["end", "hello from 0", "hello from 1", "hello from 2", "hello from 3"]);
    for client in [&mut b0, &mut b1, &mut a2] {
        assert_eq!(chats_through(client, "end").await, order, "the same messages, each once, in the same order");
    }

    // A private thread from the relaying node reaches the staff on the owner, and no other student.
    b0.send(ClientMsg::SendChat { body: "I am lost".into(), thread: Some(s0.id) }).await;
    let private = next_chat(&mut teacher).await;
    assert_eq!((private.body.as_str(), private.thread), ("I am lost", Some(s0.id)));
    teacher.send(ClientMsg::SendChat { body: "Which part?".into(), thread: Some(s0.id) }).await;
    assert_eq!(next_chat(&mut b0).await.body, "I am lost");
    assert_eq!(next_chat(&mut b0).await.body, "Which part?");
    teacher.send(chat("public again")).await;
    for other in [&mut b1, &mut a2] {
        assert_eq!(next_chat(other).await.body, "public again", "no private message came before it");
    }

    // Hands raised on either node join one queue.
    b0.request(ClientMsg::RaiseHand).await.unwrap();
    a2.request(ClientMsg::RaiseHand).await.unwrap();
    for client in [&mut teacher, &mut b1] {
        let queue = client
            .until(|m| match m {
                ServerMsg::Hands { queue } if queue.len() == 2 => Some(queue),
                _ => None,
            })
            .await;
        assert_eq!(queue, vec![s0.id, s2.id]);
    }

    // Leaving the relaying node is announced on both.
    drop(b1);
    for client in [&mut teacher, &mut b0, &mut a2] {
        assert_eq!(left(client).await, s1.id);
    }
}

/// (a) A participant who joins on the relaying node while the owner works through a burst of
/// chat gets every message exactly once: in the welcome's history or live after it, never both.
async fn a_join_on_the_other_node_during_a_burst_sees_each_message_once(db: &TestDb) {
    const BURST: usize = 300;
    let mut config = Config::default();
    config.room.messages_per_second = 1_000;
    config.room.message_burst = 1_000;
    config.room.history_messages = 1_000;
    let db2 = TestDb::with_config(backend_of(db), config).await;
    let c = cast(&db2, 1).await;
    let (mut teacher, _) = join(&c.a.host, c.class_id, &c.teacher, None).await;
    for i in 0..BURST {
        teacher.send(chat(&format!("burst {i}"))).await;
    }
    let (mut student, welcome) = join(&c.b.host, c.class_id, &c.students[0], None).await;
    assert!(welcome.chat_complete);
    let in_welcome = welcome.chat.len();
    let mut seen: Vec<String> = welcome.chat.into_iter().map(|m| m.body).collect();
    teacher.send(chat("end")).await;
    seen.extend(chats_through(&mut student, "end").await.into_iter().map(|m| m.body));
    let expected: Vec<String> = (0..BURST).map(|i| format!("burst {i}")).chain(["end".to_owned()]).collect();
    assert_eq!(seen, expected, "every message once ({in_welcome} in the welcome, the rest live)");
    drop(teacher);
    db2.finish().await;
}

/// (b) A poll opened on the owner node and voted on from both: live counts reach the staff on
/// both nodes (and no student), results reach everyone when it closes.
async fn a_poll_opened_on_one_node_is_voted_on_from_both(db: &TestDb) {
    let c = cast(db, 3).await;
    let (s0, s1, s2) = (&c.students[0], &c.students[1], &c.students[2]);
    let (mut teacher, _) = join(&c.a.host, c.class_id, &c.teacher, None).await;
    let (mut co, _) = join(&c.b.host, c.class_id, &c.co, None).await;
    let (mut b0, _) = join(&c.b.host, c.class_id, s0, None).await;
    let (mut a1, _) = join(&c.a.host, c.class_id, s1, None).await;

    let options = vec!["red".into(), "green".into(), "blue".into()];
    teacher
        .request(ClientMsg::CreatePoll {
            question: "Which colour?".into(),
            kind: PollKind::Single,
            anonymous: false,
            options,
        })
        .await
        .unwrap();
    let opened = |m: ServerMsg| match m {
        ServerMsg::PollOpened { poll } => Some(poll),
        _ => None,
    };
    let staff_view = co.until(opened).await;
    assert_eq!(staff_view.results.unwrap().counts, vec![0, 0, 0], "staff on the relaying node see live results");
    let poll = staff_view.id;
    let [red, green, blue] = [0, 1, 2].map(|i| staff_view.options[i].id);
    for student in [&mut b0, &mut a1] {
        let view = student.until(opened).await;
        assert_eq!(view.id, poll);
        assert!(view.results.is_none(), "students see no counts while it is open");
    }

    // Each vote is answered on the voter's node and counted for the staff on both.
    for (on_b, choice, expected) in [(true, green, [0, 1, 0]), (false, red, [1, 1, 0]), (true, blue, [1, 0, 1])] {
        let voter = if on_b { &mut b0 } else { &mut a1 };
        voter.send(ClientMsg::Vote { poll, options: vec![choice] }).await;
        let mine = voter
            .until(|m| match m {
                ServerMsg::YourVote { options, .. } => Some(options),
                _ => None,
            })
            .await;
        assert_eq!(mine, vec![choice]);
        for staff in [&mut teacher, &mut co] {
            let counts = staff
                .until(|m| match m {
                    ServerMsg::PollCounts { results, .. } => Some(results.counts),
                    _ => None,
                })
                .await;
            assert_eq!(counts, expected);
        }
    }

    teacher.send(ClientMsg::ClosePoll { poll }).await;
    let closed = |m: ServerMsg| match m {
        ServerMsg::PollClosed { results, .. } => Some(results),
        _ => None,
    };
    for staff in [&mut teacher, &mut co] {
        let results = staff.until(closed).await;
        assert_eq!(results.counts, vec![1, 0, 1]);
        assert_eq!(results.names.unwrap(), vec![vec![s1.name.clone()], vec![], vec![s0.name.clone()]]);
    }
    for student in [&mut b0, &mut a1] {
        let results = student
            .until(|m| match m {
                ServerMsg::PollCounts { .. } => panic!("a student was sent live counts"),
                ServerMsg::PollClosed { results, .. } => Some(results),
                _ => None,
            })
            .await;
        assert_eq!((results.counts, results.voters, results.names), (vec![1, 0, 1], 2, None));
    }
    let (_, late) = join(&c.b.host, c.class_id, s2, None).await;
    assert!(late.polls[0].closed);
    assert_eq!(late.polls[0].results.as_ref().unwrap().counts, vec![1, 0, 1], "a late joiner on B sees the results");
}

/// (c) A client that reconnects to the other node with `resume_after` gets exactly what it
/// missed, both ways, and nothing twice after.
async fn a_client_resuming_on_the_other_node_gets_exactly_what_it_missed(db: &TestDb) {
    let c = cast(db, 1).await;
    let student = &c.students[0];
    let (mut teacher, _) = join(&c.a.host, c.class_id, &c.teacher, None).await;
    let (mut on_b, _) = join(&c.b.host, c.class_id, student, None).await;
    let seen = post(&mut teacher, "before", 3).await;
    assert_eq!(chats(&mut on_b, 3).await.iter().map(|m| m.id).collect::<Vec<_>>(), seen);

    drop(on_b);
    let missed = post(&mut teacher, "while away", 4).await;
    let (mut on_a, welcome) = join(&c.a.host, c.class_id, student, seen.last().copied()).await;
    assert_eq!(welcome.chat.iter().map(|m| m.id).collect::<Vec<_>>(), missed, "B to A: nothing lost, nothing twice");
    assert!(welcome.chat_complete);
    teacher.send(chat("live on A")).await;
    let live = next_chat(&mut on_a).await;
    assert_eq!(live.body, "live on A");

    drop(on_a);
    let missed = post(&mut teacher, "away again", 2).await;
    let (mut on_b, welcome) = join(&c.b.host, c.class_id, student, Some(live.id)).await;
    assert_eq!(welcome.chat.iter().map(|m| m.id).collect::<Vec<_>>(), missed, "A to B: nothing lost, nothing twice");
    teacher.send(chat("end")).await;
    let after: Vec<String> = chats_through(&mut on_b, "end").await.into_iter().map(|m| m.body).collect();
    assert_eq!(after, ["end"], "nothing from before the welcome comes again");
    assert_eq!((c.a.hub.local_rooms(), c.b.hub.local_rooms()), (1, 0));
}

/// (d) The teacher on the owner node mutes, removes and blocks students on the relaying node.
async fn moderation_reaches_participants_on_the_other_node(db: &TestDb) {
    let c = cast(db, 4).await;
    let (s0, s1, s2, s3) = (&c.students[0], &c.students[1], &c.students[2], &c.students[3]);
    let (mut teacher, _) = join(&c.a.host, c.class_id, &c.teacher, None).await;
    let (mut b0, _) = join(&c.b.host, c.class_id, s0, None).await;
    let (mut b1, _) = join(&c.b.host, c.class_id, s1, None).await;
    let (mut a2, _) = join(&c.a.host, c.class_id, s2, None).await;
    let (mut b3, _) = join(&c.b.host, c.class_id, s3, None).await;

    let updated = |m: ServerMsg| match m {
        ServerMsg::Updated { participant } => Some(participant.chat_muted),
        _ => None,
    };
    teacher.request(ClientMsg::MuteChat { user: s0.id, muted: true }).await.unwrap();
    assert!(b0.until(updated).await);
    assert_eq!(b0.request(chat("let me talk")).await.map_err(|e| e.0), Err(ErrorCode::ChatMuted));
    teacher.request(ClientMsg::MuteChat { user: s0.id, muted: false }).await.unwrap();
    assert!(!b0.until(updated).await);

    teacher.request(ClientMsg::Remove { user: s0.id }).await.unwrap();
    b0.until(|m| matches!(m, ServerMsg::Removed { .. }).then_some(())).await;
    assert_eq!(b0.closed().await, Some(close::REMOVED), "disconnected by the relaying node");
    for client in [&mut a2, &mut b3] {
        assert_eq!(left(client).await, s0.id);
    }
    // Removed for the rest of the session, whichever node they try.
    for host in [&c.b.host, &c.a.host] {
        let mut again = open(host, c.class_id, Some(&s0.token), None).await.unwrap();
        again.send(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: None }).await;
        assert!(matches!(again.next().await, ServerMsg::Removed { .. }), "on {host}");
        assert_eq!(again.closed().await, Some(close::REMOVED));
    }

    teacher.request(ClientMsg::Block { user: s1.id, reason: "abuse".into() }).await.unwrap();
    let reason = b1
        .until(|m| match m {
            ServerMsg::Blocked { reason } => Some(reason),
            _ => None,
        })
        .await;
    assert_eq!(reason, "abuse");
    assert_eq!(b1.closed().await, Some(close::BLOCKED));
    let mut again = open(&c.b.host, c.class_id, Some(&s1.token), None).await.unwrap();
    assert!(matches!(again.next().await, ServerMsg::Error { code: ErrorCode::Forbidden, .. }));
    assert_eq!(again.closed().await, Some(close::BLOCKED));

    // The rest of the room, on both nodes, goes on.
    assert_eq!(left(&mut b3).await, s1.id);
    teacher.send(chat("carry on")).await;
    for client in [&mut a2, &mut b3] {
        assert_eq!(next_chat(client).await.body, "carry on");
    }
}

/// Seconds of a claim in the failover test: short, so the room moves quickly.
const SHORT_CLAIM: u64 = 3;

/// A node on a runtime of its own, so that killing it stops everything it runs at once: its
/// sockets, its room actors, its Redis connections and so the renewal of its claims.
struct MortalNode {
    host: String,
    runtime: Option<tokio::runtime::Runtime>,
}

impl MortalNode {
    async fn start(config: Config, cluster: ClusterConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let host = runtime
            .spawn(async move {
                // Its own pool on the same database, as a real second node has: connections made
                // on this runtime die with it.
                let app = AppState::open(config).await.expect("a second pool on the test database");
                node(&app, &cluster).await.host
            })
            .await
            .unwrap();
        Self { host, runtime: Some(runtime) }
    }

    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for MortalNode {
    fn drop(&mut self) {
        self.kill();
    }
}

/// When the owner node dies, its claim expires; the relaying node then closes its clients with
/// 4010, and when they come back the room runs on the surviving node.
async fn when_the_owner_dies_relayed_clients_reconnect_and_the_room_moves(db: &TestDb) {
    let app = &db.state;
    let teacher = person(app, "rosa", Role::Teacher).await;
    let student = person(app, "stu", Role::Student).await;
    let class_id = live_class(app, &teacher).await;
    enrol(app, class_id, &student, "student").await;
    let cluster = cluster_config(SHORT_CLAIM);
    let mut owner = MortalNode::start((*app.config).clone(), cluster.clone()).await;
    let b = node(app, &cluster).await;

    let (mut teacher_on_a, _) = join(&owner.host, class_id, &teacher, None).await;
    let (mut student_on_b, _) = join(&b.host, class_id, &student, None).await;
    teacher_on_a.send(chat("before")).await;
    let before = next_chat(&mut student_on_b).await;
    assert_eq!(b.hub.local_rooms(), 0, "B relays");

    let died = std::time::Instant::now();
    owner.kill();
    teacher_on_a.closed().await;
    assert_eq!(student_on_b.closed().await, Some(close::RECONNECT), "B noticed that the room's owner is gone");
    eprintln!("relayed client told to reconnect {:?} after the owner died", died.elapsed());

    let (mut student, welcome) = join(&b.host, class_id, &student, Some(before.id)).await;
    assert!(welcome.chat.is_empty() && welcome.chat_complete, "caught up: nothing was missed");
    assert_eq!(b.hub.local_rooms(), 1, "the room now runs on B");
    let (mut teacher, _) = join(&b.host, class_id, &teacher, None).await;
    teacher.send(chat("after")).await;
    assert_eq!(next_chat(&mut student).await.body, "after");
}

/// A student on the relaying node signals through Redis to the owner's SFU: the answer names
/// the owner's UDP port, and the tracks published on the owner reach the student.
async fn media_signalling_reaches_the_owning_nodes_sfu(db: &TestDb) {
    let c = cast(db, 1).await;
    let (mut teacher, _) = join(&c.a.host, c.class_id, &c.teacher, None).await;
    let (mut student, welcome) = join(&c.b.host, c.class_id, &c.students[0], None).await;
    assert!(welcome.media.is_some());
    let mut teacher_page = Page::new("teacher");
    let (offer, _) = teacher_page.offer(&CAMERA_AND_MIC, &PUBLISH_BOTH);
    negotiate(&mut teacher, &mut teacher_page, offer).await.unwrap();
    let tracks = next_tracks(&mut student).await;
    assert_eq!(tracks.len(), 2);

    let mut student_page = Page::new("student");
    let recv = [(MediaKind::Video, Direction::RecvOnly), (MediaKind::Audio, Direction::RecvOnly)];
    let (offer, _) = student_page.offer(&recv, &[]);
    let answer = negotiate(&mut student, &mut student_page, offer).await.unwrap();
    let owner_port = c.a.sfu.local_addrs()[0].port();
    let relay_port = c.b.sfu.local_addrs()[0].port();
    assert!(answer.contains(&format!(" {owner_port} typ host")), "the owner's SFU answers:\n{answer}");
    assert!(!answer.contains(&format!(" {relay_port} typ host")));
    assert_eq!(c.b.hub.local_rooms(), 0, "B only relays");
}

on_both_databases!(
    media_signalling_reaches_the_owning_nodes_sfu,
    chat_and_presence_cross_nodes_once_and_in_one_order,
    a_join_on_the_other_node_during_a_burst_sees_each_message_once,
    a_poll_opened_on_one_node_is_voted_on_from_both,
    a_client_resuming_on_the_other_node_gets_exactly_what_it_missed,
    moderation_reaches_participants_on_the_other_node,
    when_the_owner_dies_relayed_clients_reconnect_and_the_room_moves,
);
