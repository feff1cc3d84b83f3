//! The whiteboard through the room's WebSocket, on SQLite and PostgreSQL: who may change it,
//! that every change is stored before it is sent, that a resent change is applied once, that a
//! late joiner sees the board at once, and that the board outlives the room.

mod common;

use app::board::{Actor, Board, BoardAction, BoardLimits, BoardOp, DrawAccess};
use app::protocol::{ClientMsg, ErrorCode, ServerMsg};
use common::room::*;
use lectern_core::on_both_databases;
use lectern_core::testing::TestDb;

/// The next `board` message a client receives: (who, the op as applied).
async fn next_board(client: &mut Client) -> (i64, BoardOp) {
    client
        .until(|m| match m {
            ServerMsg::Board { by, op } => Some((by, op)),
            _ => None,
        })
        .await
}

fn shape_ids(board: &app::board::BoardSnapshot, page: i64) -> Vec<String> {
    board
        .pages
        .iter()
        .find(|p| p.id == page)
        .map(|p| p.shapes.iter().map(|s| s.id.clone()).collect())
        .unwrap_or_default()
}

async fn board_changes_are_stored_then_sent_and_late_joiners_see_the_board(db: &TestDb) {
    let class = live_class_with_people(&db.state, 3).await;
    let host = serve(db.state.clone()).await;
    let (mut teacher, welcome) = join(&host, class.id, &class.teacher, None).await;
    let empty = welcome.board.expect("the welcome carries the board");
    assert_eq!((empty.pages.len(), empty.current, empty.access), (1, 1, DrawAccess::StaffOnly));
    let (mut anna, _) = join(&host, class.id, &class.students[0], None).await;

    // The teacher draws on page 1: stored, then sent to everyone with the author filled in.
    teacher.request(op("t-1", stroke(1, "t-s1", 100.0))).await.unwrap();
    let (by, applied) = next_board(&mut anna).await;
    assert_eq!(by, class.teacher.id);
    let BoardAction::Draw { shape, .. } = &applied.action else { panic!("a draw: {applied:?}") };
    assert_eq!(shape.author, class.teacher.id);
    assert_eq!(db.store().board_ops(class.id).await.unwrap().len(), 1, "stored before it was sent");

    // A resend of the same op is acknowledged and changes nothing.
    teacher.request(op("t-1", stroke(1, "t-s1", 100.0))).await.unwrap();
    assert_eq!(db.store().board_ops(class.id).await.unwrap().len(), 1);

    // A new page after page 1, shown to everyone; drawings stay with their page.
    teacher.request(op("t-2", BoardAction::AddPage { after: Some(1), page: 0 })).await.unwrap();
    let (_, added) = next_board(&mut anna).await;
    let BoardAction::AddPage { page: slide2, .. } = added.action else { panic!("a new page: {added:?}") };
    assert_eq!(slide2, 2);
    teacher.request(op("t-3", BoardAction::ShowPage { page: slide2 })).await.unwrap();
    teacher.request(op("t-4", stroke(slide2, "t-s2", 300.0))).await.unwrap();

    // Anna may not draw until the teacher lets her, and then only change her own drawings.
    let refused = anna.request(op("a-1", stroke(slide2, "a-s1", 500.0))).await;
    assert_eq!(refused.map_err(|e| e.0), Err(ErrorCode::Forbidden));
    teacher
        .request(op("t-5", BoardAction::SetAccess { access: DrawAccess::Student { user: class.students[0].id } }))
        .await
        .unwrap();
    anna.request(op("a-1", stroke(slide2, "a-s1", 500.0))).await.unwrap();
    let erase_teachers = op("a-2", BoardAction::Erase { page: slide2, ids: vec!["t-s2".into()] });
    assert_eq!(anna.request(erase_teachers).await.map_err(|e| e.0), Err(ErrorCode::Forbidden));
    let turn_page = op("a-3", BoardAction::ShowPage { page: 1 });
    assert_eq!(anna.request(turn_page).await.map_err(|e| e.0), Err(ErrorCode::Forbidden));
    let nowhere = op("a-4", stroke(99, "a-s9", 1.0));
    assert_eq!(anna.request(nowhere).await.map_err(|e| e.0), Err(ErrorCode::NotFound));
    let bad = op("a-5", stroke(slide2, "a-s1", f32::NAN));
    assert!(anna.request(bad).await.is_err(), "a NaN point (sent as null) is refused");
    // The teacher sees Anna's stroke.
    let (by, seen) = teacher
        .until(|m| match m {
            ServerMsg::Board { by, op } if op.id == "a-1" => Some((by, op)),
            _ => None,
        })
        .await;
    assert_eq!(by, class.students[0].id);
    assert!(matches!(seen.action, BoardAction::Draw { page, .. } if page == slide2));
    // Another student cannot draw.
    let (mut ben, _) = join(&host, class.id, &class.students[1], None).await;
    let refused = ben.request(op("b-1", stroke(slide2, "b-s1", 700.0))).await;
    assert_eq!(refused.map_err(|e| e.0), Err(ErrorCode::Forbidden));

    // The laser pointer reaches everyone and is not stored.
    teacher.request(ClientMsg::Laser { page: slide2, at: Some([800.0, 450.0]) }).await.unwrap();
    let laser = anna
        .until(|m| match m {
            ServerMsg::Laser { user, page, at } => Some((user, page, at)),
            _ => None,
        })
        .await;
    assert_eq!(laser, (class.teacher.id, slide2, Some([800.0, 450.0])));
    let stored = db.store().board_ops(class.id).await.unwrap();
    assert_eq!(stored.len(), 6, "the five teacher ops and Anna's stroke; no refusal, resend or laser");

    // A late joiner gets the board as it is, on the presenter's page.
    let (_, late) = join(&host, class.id, &class.students[2], None).await;
    let board = late.board.expect("a board");
    assert_eq!(board.pages.iter().map(|p| p.id).collect::<Vec<_>>(), [1, slide2]);
    assert_eq!(board.current, slide2);
    assert_eq!(shape_ids(&board, 1), ["t-s1"]);
    assert_eq!(shape_ids(&board, slide2), ["t-s2", "a-s1"]);

    // After class the log alone rebuilds the same board.
    let mut replayed = Board::default();
    for record in stored {
        let op: BoardOp = serde_json::from_str(&record.body).unwrap();
        replayed.apply(Actor { user: record.author_id, staff: true }, op, &BoardLimits::TRUSTED).unwrap();
    }
    assert_eq!(replayed.snapshot(), board);
}

async fn every_role_may_do_what_the_board_allows(db: &TestDb) {
    let class = live_class_with_people(&db.state, 1).await;
    let host = serve(db.state.clone()).await;
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let (mut co, _) = join(&host, class.id, &class.co, None).await;
    let (mut student, _) = join(&host, class.id, &class.students[0], None).await;
    for (name, client, staff) in
        [("teacher", &mut teacher, true), ("co-teacher", &mut co, true), ("student", &mut student, false)]
    {
        let expect = |allowed: bool, result: Result<(), (ErrorCode, String)>, what: &str| {
            if allowed {
                assert_eq!(result, Ok(()), "{name} may {what}");
            } else {
                assert_eq!(result.map_err(|e| e.0), Err(ErrorCode::Forbidden), "{name} may not {what}");
            }
        };
        expect(staff, client.request(op(&format!("{name}-d"), stroke(1, &format!("{name}-s"), 10.0))).await, "draw");
        expect(
            staff,
            client.request(op(&format!("{name}-p"), BoardAction::AddPage { after: None, page: 0 })).await,
            "add a page",
        );
        expect(
            staff,
            client.request(op(&format!("{name}-show"), BoardAction::ShowPage { page: 1 })).await,
            "turn the page",
        );
        expect(staff, client.request(op(&format!("{name}-c"), BoardAction::Clear { page: 1 })).await, "clear a page");
        let access = BoardAction::SetAccess { access: DrawAccess::StaffOnly };
        expect(staff, client.request(op(&format!("{name}-a"), access)).await, "change who may draw");
        expect(staff, client.request(ClientMsg::Laser { page: 1, at: Some([1.0, 1.0]) }).await, "point");
    }
    // Everyone may draw once the teacher says so, and the teacher can take it back.
    teacher.request(op("open", BoardAction::SetAccess { access: DrawAccess::Everyone })).await.unwrap();
    student.request(op("s-1", stroke(1, "s-s1", 10.0))).await.unwrap();
    teacher.request(op("close", BoardAction::SetAccess { access: DrawAccess::StaffOnly })).await.unwrap();
    let refused = student.request(op("s-2", stroke(1, "s-s2", 10.0))).await;
    assert_eq!(refused.map_err(|e| e.0), Err(ErrorCode::Forbidden));
}

on_both_databases!(
    board_changes_are_stored_then_sent_and_late_joiners_see_the_board,
    every_role_may_do_what_the_board_allows,
);
