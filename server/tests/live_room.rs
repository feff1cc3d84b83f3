//! The live room over real WebSockets, on both databases: chat with history and resume, private
//! threads, hands, polls, moderation with its audit trail, the authorisation of every message
//! kind for every role, limits, and the handshake's checks.

mod common;

use app::protocol::{ClientMsg, ErrorCode, PROTOCOL_VERSION, PollKind, Reaction, RoomRole, ServerMsg, close};
use common::room::*;
use lectern_core::config::Config;
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;
use lectern_model::Role;

struct Cast {
    host: String,
    class_id: i64,
    teacher: Person,
    co: Person,
    admin: Person,
    students: Vec<Person>,
    outsider: Person,
}

async fn cast(db: &TestDb, students: usize) -> Cast {
    let app = &db.state;
    let admin = person(app, "ada", Role::Admin).await;
    let outsider = person(app, "otto", Role::Student).await;
    let class = live_class_with_people(app, students).await;
    let host = serve(app.clone()).await;
    Cast { host, class_id: class.id, teacher: class.teacher, co: class.co, admin, students: class.students, outsider }
}

async fn chat_is_stored_then_broadcast_with_history_on_join(db: &TestDb) {
    let c = cast(db, 2).await;
    let (mut teacher, welcome) = join(&c.host, c.class_id, &c.teacher, None).await;
    assert_eq!(welcome.you.role, RoomRole::Teacher);
    assert!(welcome.chat.is_empty() && welcome.chat_complete);
    let (mut s0, welcome) = join(&c.host, c.class_id, &c.students[0], None).await;
    assert_eq!(welcome.roster.len(), 2, "the teacher and me");
    let joined = teacher
        .until(|m| match m {
            ServerMsg::Joined { participant } if participant.user != c.teacher.id => Some(participant),
            _ => None,
        })
        .await;
    assert_eq!(joined.user, c.students[0].id);

    s0.request(chat("Hello <b>class</b>, see https://example.org")).await.unwrap();
    let seen = teacher
        .until(|m| match m {
            ServerMsg::Chat { message } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(seen.body, "Hello <b>class</b>, see https://example.org", "text is carried as text");
    assert_eq!(seen.from, c.students[0].id);
    // It was stored before it was broadcast: a late joiner gets it in the history.
    let (_s1, late) = join(&c.host, c.class_id, &c.students[1], None).await;
    assert_eq!(late.chat.iter().map(|m| m.id).collect::<Vec<_>>(), vec![seen.id]);

    // A private thread: the student, the teacher and the co-teacher see it; other students do not.
    let (mut co, _) = join(&c.host, c.class_id, &c.co, None).await;
    let (mut s1, _) = join(&c.host, c.class_id, &c.students[1], None).await;
    let private = ClientMsg::SendChat { body: "I am lost".into(), thread: Some(c.students[0].id) };
    s0.request(private).await.unwrap();
    for staff in [&mut teacher, &mut co] {
        let m = staff
            .until(|m| match m {
                ServerMsg::Chat { message } if message.thread.is_some() => Some(message),
                _ => None,
            })
            .await;
        assert_eq!(m.body, "I am lost");
    }
    teacher.request(ClientMsg::SendChat { body: "Which part?".into(), thread: Some(c.students[0].id) }).await.unwrap();
    let reply = s0
        .until(|m| match m {
            ServerMsg::Chat { message } if message.from == c.teacher.id => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(reply.thread, Some(c.students[0].id));
    s1.request(chat("public again")).await.unwrap();
    let next = s1
        .until(|m| match m {
            ServerMsg::Chat { message } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(next.body, "public again", "student 1 saw no private message before this one");
    let (_, history) = join(&c.host, c.class_id, &c.students[1], None).await;
    assert!(history.chat.iter().all(|m| m.thread.is_none()), "history hides others' private threads");
    let (_, staff_history) = join(&c.host, c.class_id, &c.co, None).await;
    assert_eq!(staff_history.chat.iter().filter(|m| m.thread.is_some()).count(), 2);
}

async fn a_reconnecting_client_gets_exactly_what_it_missed(db: &TestDb) {
    let mut config = Config::default();
    config.room.history_messages = 20;
    let db2 = TestDb::with_config(backend_of(db), config).await;
    let c = cast(&db2, 1).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let (mut student, _) = join(&c.host, c.class_id, &c.students[0], None).await;
    let mut seen = Vec::new();
    for i in 0..3 {
        teacher.request(chat(&format!("before {i}"))).await.unwrap();
        seen.push(
            student
                .until(|m| match m {
                    ServerMsg::Chat { message } => Some(message.id),
                    _ => None,
                })
                .await,
        );
    }
    drop(student);
    let mut missed = Vec::new();
    for i in 0..5 {
        let body = format!("while away {i}");
        teacher.request(chat(&body)).await.unwrap();
        missed.push(
            teacher
                .until(|m| match m {
                    ServerMsg::Chat { message } if message.body == body => Some(message.id),
                    _ => None,
                })
                .await,
        );
    }
    let (mut student, welcome) = join(&c.host, c.class_id, &c.students[0], seen.last().copied()).await;
    assert_eq!(welcome.chat.iter().map(|m| m.id).collect::<Vec<_>>(), missed, "nothing lost, nothing twice");
    assert!(welcome.chat_complete);
    teacher.request(chat("after")).await.unwrap();
    let live = student
        .until(|m| match m {
            ServerMsg::Chat { message } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(live.body, "after");
    assert!(live.id > *missed.last().unwrap());

    // Away for longer than the history holds: the newest come, and the gap is admitted.
    drop(student);
    for i in 0..25 {
        teacher.request(chat(&format!("long away {i}"))).await.unwrap();
    }
    let (_, welcome) = join(&c.host, c.class_id, &c.students[0], Some(live.id)).await;
    assert_eq!(welcome.chat.len(), 20);
    assert!(!welcome.chat_complete);
    assert_eq!(welcome.chat.last().unwrap().body, "long away 24");
    db2.finish().await;
}

async fn hands_keep_their_order_and_reactions_reach_everyone(db: &TestDb) {
    let c = cast(db, 3).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let mut students = Vec::new();
    for s in &c.students {
        students.push(join(&c.host, c.class_id, s, None).await.0);
    }
    for i in [2, 0, 1] {
        students[i].request(ClientMsg::RaiseHand).await.unwrap();
    }
    let ids: Vec<i64> = [2, 0, 1].iter().map(|&i| c.students[i].id).collect();
    let queue = teacher
        .until(|m| match m {
            ServerMsg::Hands { queue } if queue.len() == 3 => Some(queue),
            _ => None,
        })
        .await;
    assert_eq!(queue, ids);
    teacher.request(ClientMsg::LowerHand { user: Some(c.students[0].id) }).await.unwrap();
    let queue = teacher
        .until(|m| match m {
            ServerMsg::Hands { queue } if queue.len() == 2 => Some(queue),
            _ => None,
        })
        .await;
    assert_eq!(queue, vec![c.students[2].id, c.students[1].id]);
    // Leaving lowers the hand.
    drop(students.remove(2));
    let queue = teacher
        .until(|m| match m {
            ServerMsg::Hands { queue } if queue.len() == 1 => Some(queue),
            _ => None,
        })
        .await;
    assert_eq!(queue, vec![c.students[1].id]);
    students[0].request(ClientMsg::React { reaction: Reaction::Clap }).await.unwrap();
    let (who, what) = teacher
        .until(|m| match m {
            ServerMsg::Reaction { user, reaction } => Some((user, reaction)),
            _ => None,
        })
        .await;
    assert_eq!((who, what), (c.students[0].id, Reaction::Clap));
}

async fn a_poll_runs_from_question_to_results(db: &TestDb) {
    let c = cast(db, 3).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let mut students = Vec::new();
    for s in &c.students {
        students.push(join(&c.host, c.class_id, s, None).await.0);
    }
    let create = ClientMsg::CreatePoll {
        question: "Which are prime?".into(),
        kind: PollKind::Multiple,
        anonymous: false,
        options: vec!["2".into(), "4".into(), "5".into()],
    };
    teacher.request(create).await.unwrap();
    let poll = students[0]
        .until(|m| match m {
            ServerMsg::PollOpened { poll } => Some(poll),
            _ => None,
        })
        .await;
    assert!(poll.results.is_none(), "students do not see counts while it is open");
    let [two, four, five] = [poll.options[0].id, poll.options[1].id, poll.options[2].id];
    students[0].request(ClientMsg::Vote { poll: poll.id, options: vec![two, five] }).await.unwrap();
    students[1].request(ClientMsg::Vote { poll: poll.id, options: vec![four] }).await.unwrap();
    // Changing one's mind replaces the vote.
    students[1].request(ClientMsg::Vote { poll: poll.id, options: vec![two] }).await.unwrap();
    let mine = students[1]
        .until(|m| match m {
            ServerMsg::YourVote { options, .. } if options == vec![two] => Some(options),
            _ => None,
        })
        .await;
    assert_eq!(mine, vec![two]);
    let live = teacher
        .until(|m| match m {
            ServerMsg::PollCounts { results, .. } if results.voters == 2 && results.counts[0] == 2 => Some(results),
            _ => None,
        })
        .await;
    assert_eq!(live.counts, vec![2, 0, 1]);
    assert_eq!(live.names.as_ref().unwrap()[0].len(), 2, "a named poll tells the teacher who");
    let bad = students[2].request(ClientMsg::Vote { poll: poll.id, options: vec![999] }).await.unwrap_err();
    assert_eq!(bad.0, ErrorCode::Invalid);

    teacher.request(ClientMsg::ClosePoll { poll: poll.id }).await.unwrap();
    for s in &mut students {
        let results = s
            .until(|m| match m {
                ServerMsg::PollClosed { results, .. } => Some(results),
                _ => None,
            })
            .await;
        assert_eq!(results.counts, vec![2, 0, 1]);
        assert!(results.names.is_none(), "students get counts, not names");
    }
    let late = students[2].request(ClientMsg::Vote { poll: poll.id, options: vec![two] }).await.unwrap_err();
    assert_eq!(late.0, ErrorCode::PollClosed);

    // A late joiner sees the closed poll with its results.
    let (_, welcome) = join(&c.host, c.class_id, &c.students[2], None).await;
    let stored = welcome.polls.iter().find(|p| p.id == poll.id).expect("the closed poll of this session");
    assert_eq!(stored.results.as_ref().unwrap().counts, vec![2, 0, 1]);

    // Yes/no polls get their options from the server.
    teacher
        .request(ClientMsg::CreatePoll {
            question: "Ready?".into(),
            kind: PollKind::YesNo,
            anonymous: true,
            options: vec![],
        })
        .await
        .unwrap();
    let yes_no = students[0]
        .until(|m| match m {
            ServerMsg::PollOpened { poll } if poll.kind == PollKind::YesNo => Some(poll),
            _ => None,
        })
        .await;
    assert_eq!(yes_no.options.iter().map(|o| o.label.as_str()).collect::<Vec<_>>(), vec!["Yes", "No"]);
    let double = students[0]
        .request(ClientMsg::Vote { poll: yes_no.id, options: vec![yes_no.options[0].id, yes_no.options[1].id] })
        .await;
    assert_eq!(double.unwrap_err().0, ErrorCode::Invalid);
}

async fn moderation_mutes_removes_and_blocks_and_is_audited(db: &TestDb) {
    let c = cast(db, 3).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let (mut s0, _) = join(&c.host, c.class_id, &c.students[0], None).await;
    let (mut s1, _) = join(&c.host, c.class_id, &c.students[1], None).await;
    let (mut s2, _) = join(&c.host, c.class_id, &c.students[2], None).await;

    // Mute: the student's chat is refused, everyone sees the flag; unmute restores it.
    teacher.request(ClientMsg::MuteChat { user: c.students[0].id, muted: true }).await.unwrap();
    assert_eq!(s0.request(chat("hey")).await.unwrap_err().0, ErrorCode::ChatMuted);
    teacher.request(ClientMsg::MuteChat { user: c.students[0].id, muted: false }).await.unwrap();
    s0.request(chat("thanks")).await.unwrap();

    // Lock: students cannot post publicly, but may still write to the teachers.
    teacher.request(ClientMsg::LockChat { locked: true }).await.unwrap();
    assert_eq!(s1.request(chat("hey")).await.unwrap_err().0, ErrorCode::ChatLocked);
    s1.request(ClientMsg::SendChat { body: "psst".into(), thread: Some(c.students[1].id) }).await.unwrap();
    teacher.request(ClientMsg::LockChat { locked: false }).await.unwrap();

    // Report and delete.
    s1.request(chat("something rude")).await.unwrap();
    let rude = s0
        .until(|m| match m {
            ServerMsg::Chat { message } if message.body == "something rude" => Some(message.id),
            _ => None,
        })
        .await;
    s0.request(ClientMsg::ReportChat { id: rude, reason: "rude".into() }).await.unwrap();
    let reported = teacher
        .until(|m| match m {
            ServerMsg::ChatReported { message, .. } => Some(message),
            _ => None,
        })
        .await;
    assert_eq!(reported, rude);
    teacher.request(ClientMsg::DeleteChat { id: rude }).await.unwrap();
    let gone = s0
        .until(|m| match m {
            ServerMsg::ChatDeleted { id } => Some(id),
            _ => None,
        })
        .await;
    assert_eq!(gone, rude);
    let (_, fresh) = join(&c.host, c.class_id, &c.students[2], Some(0)).await;
    assert!(fresh.chat.iter().all(|m| m.id != rude), "deleted messages leave the history");
    assert!(fresh.deleted.contains(&rude), "and a resuming client is told to drop it");

    // Remove: out now, and refused until the room ends.
    teacher.request(ClientMsg::Remove { user: c.students[1].id }).await.unwrap();
    let removed = s1
        .until(|m| match m {
            ServerMsg::Removed { reason } => Some(reason),
            _ => None,
        })
        .await;
    assert!(removed.contains("removed you"));
    assert_eq!(s1.closed().await, Some(close::REMOVED));
    let mut again = open(&c.host, c.class_id, Some(&c.students[1].token), None).await.unwrap();
    again.send(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: None }).await;
    assert!(matches!(again.next().await, ServerMsg::Removed { .. }));
    assert_eq!(again.closed().await, Some(close::REMOVED));

    // Block: disconnected at once with the reason, refused on rejoin, stored with the reason.
    teacher.request(ClientMsg::Block { user: c.students[2].id, reason: "harassment".into() }).await.unwrap();
    let blocked = s2
        .until(|m| match m {
            ServerMsg::Blocked { reason } => Some(reason),
            _ => None,
        })
        .await;
    assert_eq!(blocked, "harassment");
    assert_eq!(s2.closed().await, Some(close::BLOCKED));
    let mut again = open(&c.host, c.class_id, Some(&c.students[2].token), None).await.unwrap();
    match again.next().await {
        ServerMsg::Error { code: ErrorCode::Forbidden, message, .. } => {
            assert!(message.contains("harassment"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(again.closed().await, Some(close::BLOCKED));
    assert_eq!(db.store().active_block(c.class_id, c.students[2].id).await.unwrap().as_deref(), Some("harassment"));

    // Every moderation action is in the audit log, with who did it.
    let audit = db.store().recent_audit(50).await.unwrap();
    let mut actions: Vec<&str> =
        audit.iter().filter(|e| e.class_id == Some(c.class_id)).map(|e| e.action.as_str()).collect();
    actions.reverse();
    assert_eq!(actions, vec!["mute_chat", "unmute_chat", "lock_chat", "unlock_chat", "delete_chat", "remove", "block"]);
    assert!(audit.iter().filter(|e| e.class_id == Some(c.class_id)).all(|e| e.actor_id == Some(c.teacher.id)));
}

/// Every message kind, sent by every role: staff-only kinds are refused to students, student-only
/// kinds to staff, and the rest go through.
async fn every_message_kind_is_authorised_for_every_role(db: &TestDb) {
    let c = cast(db, 12).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let mut clients = vec![
        ("student", join(&c.host, c.class_id, &c.students[0], None).await.0, c.students[0].id),
        ("co_teacher", join(&c.host, c.class_id, &c.co, None).await.0, c.co.id),
        ("teacher", join(&c.host, c.class_id, &c.teacher, None).await.0, c.teacher.id),
        ("moderator", join(&c.host, c.class_id, &c.admin, None).await.0, c.admin.id),
    ];
    // Victims for removal and blocking, and a second student whose messages and hands are used.
    let mut victims = Vec::new();
    for s in &c.students[2..] {
        victims.push((join(&c.host, c.class_id, s, None).await.0, s.id));
    }
    let (mut other, _) = join(&c.host, c.class_id, &c.students[1], None).await;
    let other_id = c.students[1].id;

    for (role, client, me) in &mut clients {
        let staff = *role != "student";
        let expect = |allowed: bool, result: Result<(), (ErrorCode, String)>, what: &str| {
            if allowed {
                assert_eq!(result, Ok(()), "{role} may {what}");
            } else {
                assert_eq!(result.map_err(|e| e.0), Err(ErrorCode::Forbidden), "{role} may not {what}");
            }
        };
        // Messages to act on, from the other student.
        let body = format!("for {role} to delete");
        other.request(chat(&body)).await.unwrap();
        let target = client
            .until(|m| match m {
                ServerMsg::Chat { message } if message.body == body => Some(message.id),
                _ => None,
            })
            .await;
        other.request(ClientMsg::RaiseHand).await.unwrap();

        expect(true, client.request(chat("hi")).await, "chat");
        let thread = if staff { other_id } else { *me };
        expect(
            true,
            client.request(ClientMsg::SendChat { body: "private".into(), thread: Some(thread) }).await,
            "write in a private thread",
        );
        if !staff {
            expect(
                false,
                client.request(ClientMsg::SendChat { body: "x".into(), thread: Some(other_id) }).await,
                "write in another student's thread",
            );
        }
        expect(true, client.request(ClientMsg::ReportChat { id: target, reason: "test".into() }).await, "report");
        expect(staff, client.request(ClientMsg::DeleteChat { id: target }).await, "delete a message");
        expect(staff, client.request(ClientMsg::LockChat { locked: false }).await, "lock the chat");
        expect(!staff, client.request(ClientMsg::RaiseHand).await, "raise a hand");
        expect(true, client.request(ClientMsg::LowerHand { user: None }).await, "lower one's own hand");
        expect(staff, client.request(ClientMsg::LowerHand { user: Some(other_id) }).await, "lower another's hand");
        expect(true, client.request(ClientMsg::React { reaction: Reaction::ThumbsUp }).await, "react");
        let poll = ClientMsg::CreatePoll {
            question: format!("{role}?"),
            kind: PollKind::YesNo,
            anonymous: true,
            options: vec![],
        };
        let open_poll = if staff {
            let reference = client.send_ref(poll).await;
            let (mut opened, mut acked) = (None, false);
            while opened.is_none() || !acked {
                match client.next().await {
                    ServerMsg::PollOpened { poll } => opened = Some(poll),
                    ServerMsg::Ack { reference: r } if r == reference => acked = true,
                    ServerMsg::Error { reference: Some(r), message, .. } if r == reference => {
                        panic!("{role}: {message}")
                    }
                    _ => {}
                }
            }
            opened.unwrap()
        } else {
            expect(false, client.request(poll).await, "create a poll");
            teacher
                .request(ClientMsg::CreatePoll {
                    question: "for the student".into(),
                    kind: PollKind::YesNo,
                    anonymous: true,
                    options: vec![],
                })
                .await
                .unwrap();
            client
                .until(|m| match m {
                    ServerMsg::PollOpened { poll } => Some(poll),
                    _ => None,
                })
                .await
        };
        let vote = ClientMsg::Vote { poll: open_poll.id, options: vec![open_poll.options[0].id] };
        expect(!staff, client.request(vote).await, "vote");
        expect(staff, client.request(ClientMsg::ClosePoll { poll: open_poll.id }).await, "close a poll");
        expect(staff, client.request(ClientMsg::MuteChat { user: other_id, muted: false }).await, "mute chat");
        let (mut victim, victim_id) = victims.pop().unwrap();
        expect(staff, client.request(ClientMsg::Remove { user: victim_id }).await, "remove a participant");
        if staff {
            assert_eq!(victim.closed().await, Some(close::REMOVED));
        }
        let (mut victim, victim_id) = victims.pop().unwrap();
        expect(
            staff,
            client.request(ClientMsg::Block { user: victim_id, reason: "test".into() }).await,
            "block a user",
        );
        if staff {
            assert_eq!(victim.closed().await, Some(close::BLOCKED));
        }
        let hello = client.request(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: None }).await;
        assert_eq!(hello.map_err(|e| e.0), Err(ErrorCode::Hello), "{role}: hello is sent once");
        if staff {
            // Staff cannot be moderated.
            let refused = client.request(ClientMsg::MuteChat { user: c.teacher.id, muted: true }).await;
            assert_eq!(refused.map_err(|e| e.0), Err(ErrorCode::Forbidden));
        }
    }
}

async fn limits_and_malformed_messages_leave_the_room_running(db: &TestDb) {
    let mut config = Config::default();
    config.room.max_frame_bytes = 2048;
    config.room.messages_per_second = 5;
    config.room.message_burst = 5;
    let db2 = TestDb::with_config(backend_of(db), config).await;
    let c = cast(&db2, 2).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let (mut student, _) = join(&c.host, c.class_id, &c.students[0], None).await;

    // Malformed frames get errors that name the problem.
    student.send_raw("{not json").await;
    assert!(matches!(student.next_error().await, ServerMsg::Error { code: ErrorCode::Malformed, .. }));
    student.send_raw(r#"{"ref":7,"type":"fly"}"#).await;
    match student.next_error().await {
        ServerMsg::Error { reference: Some(7), code: ErrorCode::Malformed, message } => {
            assert!(message.contains("fly"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    student.send_raw(r#"{"ref":8,"type":"send_chat"}"#).await;
    match student.next_error().await {
        ServerMsg::Error { reference: Some(8), message, .. } => assert!(message.contains("body"), "{message}"),
        other => panic!("{other:?}"),
    }
    let long = "x".repeat(2001);
    assert_eq!(student.request(chat(&long[..1900])).await, Ok(()), "under both limits");

    // Rate: a burst of 5, then one error for the excess.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    for _ in 0..12 {
        student.send_ref(ClientMsg::React { reaction: Reaction::Heart }).await;
    }
    let mut acks = 0;
    let mut limited = 0;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    while tokio::time::Instant::now() < deadline && acks + limited < 6 {
        match student.next().await {
            ServerMsg::Ack { .. } => acks += 1,
            ServerMsg::Error { code: ErrorCode::RateLimited, message, .. } => {
                assert!(message.contains("at most 5 per second"), "{message}");
                limited += 1
            }
            _ => {}
        }
    }
    assert_eq!((acks, limited), (5, 1), "five through, one error for the rest");

    // Oversized: the socket closes with 1009; the room goes on for the others.
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    student.send_raw(&format!(r#"{{"type":"send_chat","body":"{long}{long}"}}"#)).await;
    assert_eq!(student.closed().await, Some(1009));
    let left = teacher
        .until(|m| match m {
            ServerMsg::Left { user } => Some(user),
            _ => None,
        })
        .await;
    assert_eq!(left, c.students[0].id);
    teacher.request(chat("still here")).await.unwrap();
    db2.finish().await;
}

async fn the_handshake_checks_origin_session_enrolment_and_version(db: &TestDb) {
    let c = cast(db, 1).await;
    let refused = open(&c.host, c.class_id, None, None).await.unwrap_err();
    assert!(matches!(refused, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 401), "{refused:?}");
    let evil = open(&c.host, c.class_id, Some(&c.students[0].token), Some("https://evil.example")).await.unwrap_err();
    assert!(matches!(evil, tokio_tungstenite::tungstenite::Error::Http(ref r) if r.status() == 403), "{evil:?}");
    let origin = format!("http://{}", c.host);
    let mut ok = open(&c.host, c.class_id, Some(&c.students[0].token), Some(&origin)).await.unwrap();
    ok.send(ClientMsg::Hello { protocol: PROTOCOL_VERSION, resume_after: None }).await;
    assert!(matches!(ok.next().await, ServerMsg::Welcome(_)), "our own pages' Origin is accepted");

    // Not enrolled: told why, then closed with 1008.
    let mut outsider = open(&c.host, c.class_id, Some(&c.outsider.token), None).await.unwrap();
    match outsider.next().await {
        ServerMsg::Error { code: ErrorCode::Forbidden, message, .. } => assert!(message.contains("Enrol"), "{message}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(outsider.closed().await, Some(1008));
    let mut nowhere = open(&c.host, 999_999, Some(&c.teacher.token), None).await.unwrap();
    assert!(matches!(nowhere.next().await, ServerMsg::Error { code: ErrorCode::NotFound, .. }));

    // Hello comes first, in our version.
    let mut rude = open(&c.host, c.class_id, Some(&c.students[0].token), None).await.unwrap();
    rude.send(ClientMsg::RaiseHand).await;
    assert!(matches!(rude.next().await, ServerMsg::Error { code: ErrorCode::Hello, .. }));
    assert_eq!(rude.closed().await, Some(close::NO_HELLO));
    let mut old = open(&c.host, c.class_id, Some(&c.students[0].token), None).await.unwrap();
    old.send(ClientMsg::Hello { protocol: PROTOCOL_VERSION + 1, resume_after: None }).await;
    assert!(matches!(old.next().await, ServerMsg::Error { code: ErrorCode::UnsupportedVersion, .. }));
    assert_eq!(old.closed().await, Some(close::UNSUPPORTED_VERSION));

    // Outside the class's time, students are told when the room opens; teachers may prepare.
    let later = person(&db.state, "later", Role::Teacher).await;
    let now = lectern_core::now_ms();
    let class = lectern_core::store::classes::NewClass {
        teacher_id: later.id,
        title: "Tomorrow".into(),
        description: String::new(),
        kind: "live",
        time_zone: "UTC".into(),
        capacity: None,
        enrolment_policy: "closed",
        invite_token: lectern_core::auth::token::generate(),
    };
    let slot = lectern_core::store::classes::Slot {
        starts_at: now + 86_400_000,
        ends_at: now + 90_000_000,
        original_start_at: None,
    };
    let schedule = lectern_core::store::classes::ClassSchedule { class: &class, series: None, slots: &[slot] };
    let tomorrow = db.store().create_class(&schedule, now).await.unwrap().unwrap();
    enrol(&db.state, tomorrow, &c.students[0], "student").await;
    let mut early = open(&c.host, tomorrow, Some(&c.students[0].token), None).await.unwrap();
    match early.next().await {
        ServerMsg::Error { message, .. } => assert!(message.contains("opens 10 minutes before"), "{message}"),
        other => panic!("{other:?}"),
    }
    let (_, welcome) = join(&c.host, tomorrow, &later, None).await;
    assert_eq!(welcome.you.role, RoomRole::Teacher);
}

async fn a_client_that_stops_reading_is_cut_off_and_the_room_goes_on(db: &TestDb) {
    let mut config = Config::default();
    config.room.client_queue = 16;
    config.room.messages_per_second = 10_000;
    config.room.message_burst = 10_000;
    // Big messages, so the kernel's socket buffers (a few megabytes) fill after a few hundred.
    config.room.chat_max_chars = 60_000;
    config.room.max_frame_bytes = 64 * 1024;
    let db2 = TestDb::with_config(backend_of(db), config).await;
    let c = cast(&db2, 2).await;
    let (mut teacher, _) = join(&c.host, c.class_id, &c.teacher, None).await;
    let (mut reader, _) = join(&c.host, c.class_id, &c.students[0], None).await;
    // This one never reads again: its socket buffers fill, then its queue of 16.
    let (stalled, _) = join(&c.host, c.class_id, &c.students[1], None).await;
    let stalled_id = c.students[1].id;

    // The reader keeps up, on its own task, until the last message.
    let reading = tokio::spawn(async move {
        let mut received = 0;
        loop {
            match reader.next().await {
                ServerMsg::Chat { message } if message.body == "end" => return received,
                ServerMsg::Chat { .. } => received += 1,
                _ => {}
            }
        }
    });
    let body = "z".repeat(60_000);
    let mut sent = 0;
    let mut cut_off = false;
    while !cut_off {
        assert!(sent < 2_000, "the stalled client was never cut off");
        let reference = teacher.send_ref(chat(&body)).await;
        sent += 1;
        loop {
            match teacher.next().await {
                ServerMsg::Ack { reference: r } if r == reference => break,
                ServerMsg::Left { user } if user == stalled_id => cut_off = true,
                ServerMsg::Error { message, .. } => panic!("{message}"),
                _ => {}
            }
        }
    }
    teacher.request(chat("end")).await.unwrap();
    // The reader got every message while the other client was stalled and cut off.
    let received = reading.await.unwrap();
    assert_eq!(received, sent, "every message reached the client that kept up");
    drop(stalled);
    db2.finish().await;
}

on_both_databases!(
    chat_is_stored_then_broadcast_with_history_on_join,
    a_reconnecting_client_gets_exactly_what_it_missed,
    hands_keep_their_order_and_reactions_reach_everyone,
    a_poll_runs_from_question_to_results,
    moderation_mutes_removes_and_blocks_and_is_audited,
    every_message_kind_is_authorised_for_every_role,
    limits_and_malformed_messages_leave_the_room_running,
    the_handshake_checks_origin_session_enrolment_and_version,
    a_client_that_stops_reading_is_cut_off_and_the_room_goes_on,
);
