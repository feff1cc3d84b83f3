//! Round trips of every message kind, the wire shape other clients rely on, and decoding of
//! arbitrary input (it must fail with an error, never panic).

use super::*;
use crate::board::{BoardAction, DrawAccess, PageView, Shape, Tool};
use proptest::prelude::*;

fn every_client_msg() -> Vec<ClientMsg> {
    vec![
        ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: Some(41) },
        ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: None },
        ClientMsg::SendChat { body: "hi <b>all</b>".into(), thread: None },
        ClientMsg::SendChat { body: "a question".into(), thread: Some(7) },
        ClientMsg::DeleteChat { id: 3 },
        ClientMsg::LockChat { locked: true },
        ClientMsg::ReportChat { id: 3, reason: "spam".into() },
        ClientMsg::RaiseHand,
        ClientMsg::LowerHand { user: None },
        ClientMsg::LowerHand { user: Some(9) },
        ClientMsg::React { reaction: Reaction::Slower },
        ClientMsg::CreatePoll {
            question: "Which?".into(),
            kind: PollKind::Multiple,
            anonymous: false,
            options: vec!["a".into(), "b".into()],
        },
        ClientMsg::Vote { poll: 1, options: vec![2, 3] },
        ClientMsg::ClosePoll { poll: 1 },
        ClientMsg::MuteChat { user: 4, muted: true },
        ClientMsg::Remove { user: 4 },
        ClientMsg::Block { user: 4, reason: "abuse".into() },
        ClientMsg::MediaOffer {
            session: "tab-1".into(),
            sdp: "v=0\r\n".into(),
            publish: vec![Publication { mid: "0".into(), source: MediaSource::Camera }],
        },
        ClientMsg::MediaView {
            slots: vec![ViewSlot { mid: "2".into(), track: Some("5-0".into()), quality: VideoQuality::Low }],
        },
        ClientMsg::MediaLeave,
        ClientMsg::InviteToSpeak { user: 4 },
        ClientMsg::StopSpeaking { user: None },
        ClientMsg::StopSpeaking { user: Some(4) },
        ClientMsg::Board { op: board_op() },
        ClientMsg::Board {
            op: BoardOp { id: "op-2".into(), action: BoardAction::AddPage { after: Some(1), page: 0 } },
        },
        ClientMsg::Laser { page: 1, at: Some([120.5, 80.0]) },
        ClientMsg::Laser { page: 1, at: None },
        ClientMsg::Board {
            op: BoardOp {
                id: "op-3".into(),
                action: BoardAction::InsertSlides { after: None, deck: 4, slides: vec![], first: 0 },
            },
        },
        ClientMsg::ShareFile { file: 12 },
        ClientMsg::UnshareFile { file: 12 },
    ]
}

fn board_op() -> BoardOp {
    BoardOp {
        id: "op-1".into(),
        action: BoardAction::Draw {
            page: 1,
            shape: Shape {
                id: "s-1".into(),
                author: 1,
                color: "#1d4ed8".into(),
                width: 3.0,
                tool: Tool::Text { at: [10.0, 20.0], text: "x² <b>".into(), size: 24.0 },
            },
        },
    }
}

#[test]
fn every_client_message_round_trips_with_and_without_ref() {
    for msg in every_client_msg() {
        for frame in [ClientFrame::new(msg.clone()), ClientFrame::with_ref(17, msg.clone())] {
            let text = frame.encode();
            assert_eq!(ClientFrame::decode(&text).unwrap(), frame, "{text}");
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(value["type"], msg.kind(), "the wire type is the documented name");
        }
    }
}

#[test]
fn every_server_message_round_trips() {
    let participant =
        Participant { user: 1, name: "Ada".into(), role: RoomRole::CoTeacher, chat_muted: false, may_speak: false };
    let message = ChatMessage { id: 5, from: 1, from_name: "Ada".into(), thread: Some(2), body: "x".into(), at: 9 };
    let results = PollResults { counts: vec![1, 2], voters: 3, names: Some(vec![vec!["A".into()], vec![]]) };
    let poll = Poll {
        id: 1,
        question: "q".into(),
        kind: PollKind::YesNo,
        anonymous: true,
        options: vec![PollOption { id: 1, label: "Yes".into() }],
        closed: false,
        results: None,
        my_vote: vec![],
    };
    let shared_file = SharedFile {
        id: 12,
        name: "notes.pdf".into(),
        size: 100,
        kind: "pdf".into(),
        url: "/classes/3/files/12".into(),
    };
    let all = vec![
        ServerMsg::Welcome(Box::new(Welcome {
            protocol: PROTOCOL_VERSION,
            class_id: 3,
            title: "Algebra".into(),
            you: participant.clone(),
            roster: vec![participant.clone()],
            hands: vec![1],
            chat_locked: false,
            chat: vec![message.clone()],
            chat_complete: true,
            deleted: vec![2],
            polls: vec![poll.clone()],
            media: Some(MediaSetup {
                ice_servers: vec![IceServer {
                    urls: vec!["turn:t.example:3478".into()],
                    username: None,
                    credential: None,
                }],
                camera_max_kbps: 1500,
                screen_max_kbps: 2500,
                audio_max_kbps: 64,
                last_n: 4,
                tracks: vec![MediaTrack { id: "1-0".into(), user: 1, source: MediaSource::Screen }],
                active_speaker: Some(1),
            }),
            board: Some(BoardSnapshot {
                pages: vec![PageView { id: 1, slide: None, shapes: vec![] }],
                current: 1,
                access: DrawAccess::Everyone,
            }),
            files: vec![shared_file.clone()],
        })),
        ServerMsg::Joined { participant: participant.clone() },
        ServerMsg::Left { user: 1 },
        ServerMsg::Updated { participant },
        ServerMsg::Hands { queue: vec![3, 1] },
        ServerMsg::Reaction { user: 1, reaction: Reaction::Clap },
        ServerMsg::Chat { message },
        ServerMsg::ChatDeleted { id: 5 },
        ServerMsg::ChatLocked { locked: true },
        ServerMsg::ChatReported { message: 5, reporter: 2, reason: "rude".into() },
        ServerMsg::PollOpened { poll },
        ServerMsg::PollCounts { poll: 1, results: results.clone() },
        ServerMsg::YourVote { poll: 1, options: vec![1] },
        ServerMsg::PollClosed { poll: 1, results },
        ServerMsg::Removed { reason: "r".into() },
        ServerMsg::Blocked { reason: "b".into() },
        ServerMsg::MediaAnswer { sdp: "v=0\r\n".into() },
        ServerMsg::MediaTracks {
            tracks: vec![MediaTrack { id: "1-1".into(), user: 1, source: MediaSource::Microphone }],
        },
        ServerMsg::ActiveSpeaker { user: None },
        ServerMsg::MaySpeak { allowed: true },
        ServerMsg::Board { by: 1, op: board_op() },
        ServerMsg::Laser { user: 1, page: 2, at: Some([1.0, 2.0]) },
        ServerMsg::Laser { user: 1, page: 2, at: None },
        ServerMsg::FileShared { file: shared_file.clone() },
        ServerMsg::FileUnshared { file: 12 },
        ServerMsg::Ack { reference: 4 },
        ServerMsg::error(Some(4), ErrorCode::ChatLocked, "locked"),
        ServerMsg::error(None, ErrorCode::Malformed, "bad"),
    ];
    for msg in all {
        let text = msg.encode();
        assert_eq!(ServerMsg::decode(&text).unwrap(), msg, "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        let kind = value["type"].as_str().unwrap().to_owned();
        assert!(KNOWN_SERVER_TYPES.contains(&kind.as_str()), "{kind} is listed as known");
        assert!(matches!(ServerFrame::decode_lenient(&text), Ok(ServerFrame::Known(_))));
    }
}

#[test]
fn the_wire_shape_is_flat_json() {
    let frame = ClientFrame::with_ref(2, ClientMsg::SendChat { body: "hi".into(), thread: None });
    assert_eq!(frame.encode(), r#"{"ref":2,"type":"send_chat","body":"hi"}"#);
    let decoded = ClientFrame::decode(r#"{"type":"raise_hand"}"#).unwrap();
    assert_eq!(decoded, ClientFrame::new(ClientMsg::RaiseHand));
    assert_eq!(ServerMsg::Ack { reference: 2 }.encode(), r#"{"type":"ack","ref":2}"#);
}

#[test]
fn decode_errors_name_the_problem() {
    let unknown = ClientFrame::decode(r#"{"type":"launch_rockets"}"#).unwrap_err();
    assert!(unknown.0.contains("launch_rockets"), "{unknown}");
    let missing = ClientFrame::decode(r#"{"type":"send_chat"}"#).unwrap_err();
    assert!(missing.0.contains("body"), "{missing}");
    let wrong = ClientFrame::decode(r#"{"type":"vote","poll":"one","options":[]}"#).unwrap_err();
    assert!(wrong.0.contains("invalid type"), "{wrong}");
    assert_eq!(ClientFrame::reference_of(r#"{"ref":9,"type":"nope"}"#), Some(9));
}

#[test]
fn a_newer_servers_unknown_types_are_skipped_by_clients() {
    assert!(
        matches!(ServerFrame::decode_lenient(r#"{"type":"sfu_offer","sdp":"v=0"}"#), Ok(ServerFrame::Unknown(t)) if t == "sfu_offer")
    );
    assert!(ServerFrame::decode_lenient(r#"{"type":"chat"}"#).is_err(), "a known type with missing fields is an error");
    assert!(ServerFrame::decode_lenient("not json").is_err());
}

proptest! {
    #[test]
    fn decoding_arbitrary_text_never_panics(text in ".{0,300}") {
        let _ = ClientFrame::decode(&text);
        let _ = ClientFrame::reference_of(&text);
        let _ = ServerFrame::decode_lenient(&text);
    }

    #[test]
    fn decoding_json_shaped_input_never_panics(
        kind in prop::sample::select(vec!["hello", "send_chat", "vote", "create_poll", "block", "lower_hand", "x"]),
        key in "[a-z_]{1,10}",
        value in prop_oneof![
            Just("null".to_owned()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| n.to_string()),
            "[ -~]{0,20}".prop_map(|s| serde_json::to_string(&s).unwrap()),
            Just("[1,2,3]".to_owned()),
            Just("{\"a\":[]}".to_owned()),
        ],
    ) {
        let text = format!(r#"{{"type":"{kind}","{key}":{value}}}"#);
        let _ = ClientFrame::decode(&text);
    }

    #[test]
    fn chat_bodies_round_trip_exactly(body in "\\PC{0,200}", thread in proptest::option::of(any::<i64>())) {
        let frame = ClientFrame::with_ref(1, ClientMsg::SendChat { body, thread });
        prop_assert_eq!(ClientFrame::decode(&frame.encode()).unwrap(), frame);
    }
}

/// docs/protocol.md, which other clients are written from: its examples must be real frames.
const PROTOCOL_DOC: &str = include_str!("../../../docs/protocol.md");

/// One fenced example of the protocol document: its direction, where it starts, and its text.
#[derive(Debug)]
struct DocExample {
    client: bool,
    line: usize,
    text: String,
}

/// The ```json client and ```json server blocks of a Markdown text. Any other fence whose info
/// string starts with `json` is an error, so that no example escapes the checks.
fn doc_examples(doc: &str) -> Result<Vec<DocExample>, String> {
    let mut examples = Vec::new();
    let mut lines = doc.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let Some(info) = line.trim_start().strip_prefix("```") else { continue };
        let info = info.trim();
        let client = match info {
            "json client" => true,
            "json server" => false,
            _ if info.starts_with("json") => {
                return Err(format!(
                    "line {}: a JSON block must be ```json client or ```json server, not ```{info}",
                    index + 1
                ));
            }
            _ => {
                // Another kind of block: skip to its closing fence.
                lines.by_ref().find(|(_, l)| is_closing_fence(l));
                continue;
            }
        };
        let mut text = String::new();
        let mut closed = false;
        for (_, l) in lines.by_ref() {
            if is_closing_fence(l) {
                closed = true;
                break;
            }
            text.push_str(l);
            text.push('\n');
        }
        if !closed {
            return Err(format!("line {}: the block is never closed", index + 1));
        }
        examples.push(DocExample { client, line: index + 1, text });
    }
    Ok(examples)
}

/// A fence that closes a block: backticks only (an info string would open a new block).
fn is_closing_fence(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 3 && line.chars().all(|c| c == '`')
}

/// The variant names serde knows for a `type`-tagged enum, read from its unknown-variant error,
/// so that a variant added to the enum is checked without anyone listing it here.
fn variants_named_by_serde(error: DecodeError) -> Vec<String> {
    let list = error.0.split_once("expected one of ").map(|(_, rest)| rest.to_owned()).unwrap_or_default();
    let names: Vec<String> = list.split('`').skip(1).step_by(2).map(str::to_owned).collect();
    assert!(!names.is_empty(), "serde's error no longer lists the variants: {error}");
    names
}

#[test]
fn every_example_in_the_protocol_doc_decodes_and_every_type_has_one() {
    let examples = doc_examples(PROTOCOL_DOC).unwrap_or_else(|e| panic!("docs/protocol.md: {e}"));
    let mut failures = Vec::new();
    let mut client_kinds = std::collections::BTreeSet::new();
    let mut server_types = std::collections::BTreeSet::new();
    for (n, example) in examples.iter().enumerate() {
        let name = format!(
            "block {} (line {}, json {})",
            n + 1,
            example.line,
            if example.client { "client" } else { "server" }
        );
        if example.client {
            match ClientFrame::decode(&example.text) {
                Ok(frame) => {
                    client_kinds.insert(frame.msg.kind().to_owned());
                }
                Err(e) => failures.push(format!("{name} is not a ClientFrame: {e}\n{}", example.text)),
            }
        } else {
            match ServerMsg::decode(&example.text) {
                Ok(msg) => {
                    let value: serde_json::Value = serde_json::from_str(&msg.encode()).unwrap();
                    server_types.insert(value["type"].as_str().unwrap_or_default().to_owned());
                }
                Err(e) => failures.push(format!("{name} is not a ServerMsg: {e}\n{}", example.text)),
            }
        }
    }
    assert!(failures.is_empty(), "docs/protocol.md has examples that do not decode:\n\n{}", failures.join("\n\n"));

    let all_client_kinds = variants_named_by_serde(ClientFrame::decode(r#"{"type":"?"}"#).unwrap_err());
    let listed: std::collections::BTreeSet<String> = every_client_msg().iter().map(|m| m.kind().to_owned()).collect();
    assert_eq!(
        all_client_kinds.iter().cloned().collect::<std::collections::BTreeSet<_>>(),
        listed,
        "serde's ClientMsg variants and every_client_msg() differ"
    );
    let all_server_types = variants_named_by_serde(ServerMsg::decode(r#"{"type":"?"}"#).unwrap_err());
    assert_eq!(all_server_types, KNOWN_SERVER_TYPES, "KNOWN_SERVER_TYPES must list every ServerMsg type, in order");

    let missing_client: Vec<&String> = all_client_kinds.iter().filter(|k| !client_kinds.contains(*k)).collect();
    let missing_server: Vec<&str> = KNOWN_SERVER_TYPES.iter().copied().filter(|t| !server_types.contains(*t)).collect();
    assert!(
        missing_client.is_empty() && missing_server.is_empty(),
        "docs/protocol.md has no example of client messages {missing_client:?} or server messages {missing_server:?}"
    );
}

#[test]
fn the_doc_example_extractor_finds_blocks_and_refuses_stray_json_fences() {
    let doc = "intro\n```json client\n{\"type\":\"raise_hand\"}\n```\n```text\n```json server\n```\n```json server\n{\"type\":\"ack\",\n \"ref\":1}\n```\n";
    let examples = doc_examples(doc).unwrap();
    assert_eq!(examples.len(), 2, "the fence inside the text block is not an example");
    assert!(examples[0].client && examples[0].line == 2);
    assert!(!examples[1].client && examples[1].text.contains("\"ref\":1"));
    assert!(doc_examples("```json\n{}\n```\n").unwrap_err().contains("line 1"));
    assert!(doc_examples("```json client\n{}\n").is_err());
}
