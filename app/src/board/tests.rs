use super::*;

const TEACHER: Actor = Actor { user: 1, staff: true };
const ANNA: Actor = Actor { user: 2, staff: false };
const BEN: Actor = Actor { user: 3, staff: false };

fn limits() -> BoardLimits {
    BoardLimits { max_pages: 5, max_shapes_per_page: 50, max_points: 100, max_text_chars: 20, max_ids_per_op: 10 }
}

fn op(id: &str, action: BoardAction) -> BoardOp {
    BoardOp { id: id.into(), action }
}

fn pen(id: &str, points: &[[f32; 2]]) -> Shape {
    Shape {
        id: id.into(),
        author: 0,
        color: "#1d4ed8".into(),
        width: 3.0,
        tool: Tool::Pen { points: points.iter().map(|p| [p[0], p[1], 0.5]).collect() },
    }
}

fn draw(page: PageId, id: &str) -> BoardAction {
    BoardAction::Draw { page, shape: pen(id, &[[10.0, 10.0], [20.0, 30.0]]) }
}

fn apply(board: &mut Board, actor: Actor, id: &str, action: BoardAction) -> Result<Applied, BoardError> {
    board.apply(actor, op(id, action), &limits())
}

fn ids(board: &Board, page: PageId) -> Vec<String> {
    board.shapes(page).iter().map(|s| s.id.clone()).collect()
}

#[test]
fn an_operation_applied_twice_changes_the_board_once() {
    let mut board = Board::default();
    assert!(matches!(apply(&mut board, TEACHER, "op1", draw(1, "s1")), Ok(Applied::Changed(_))));
    let once = board.clone();
    assert_eq!(apply(&mut board, TEACHER, "op1", draw(1, "s1")), Ok(Applied::Duplicate));
    let moved = BoardAction::Move { page: 1, ids: vec!["s1".into()], dx: 5.0, dy: 0.0 };
    apply(&mut board, TEACHER, "op2", moved.clone()).unwrap();
    assert_eq!(apply(&mut board, TEACHER, "op2", moved), Ok(Applied::Duplicate), "a resent move moves once");
    let Tool::Pen { points } = &board.shapes(1)[0].tool else { panic!("a pen stroke") };
    assert_eq!(points[0][0], 15.0);
    assert_ne!(board, once);
}

#[test]
fn the_server_stamps_the_author_and_keeps_drawing_order() {
    let mut board = Board::default();
    let mut forged = pen("s1", &[[1.0, 1.0]]);
    forged.author = 99;
    let Ok(Applied::Changed(applied)) = apply(&mut board, TEACHER, "a", BoardAction::Draw { page: 1, shape: forged })
    else {
        panic!("applied")
    };
    let BoardAction::Draw { shape, .. } = applied.action else { panic!("a draw") };
    assert_eq!(shape.author, 1, "the author is whoever sent it, not what they claimed");
    apply(&mut board, TEACHER, "b", draw(1, "s2")).unwrap();
    apply(&mut board, TEACHER, "c", draw(1, "s3")).unwrap();
    apply(&mut board, TEACHER, "d", BoardAction::Erase { page: 1, ids: vec!["s2".into()] }).unwrap();
    assert_eq!(ids(&board, 1), ["s1", "s3"]);
    apply(&mut board, TEACHER, "e", BoardAction::Restore { page: 1, ids: vec!["s2".into()] }).unwrap();
    assert_eq!(ids(&board, 1), ["s1", "s2", "s3"], "a restored shape returns to its place in the order");
}

#[test]
fn students_draw_only_when_let_and_change_only_their_own_drawings() {
    let mut board = Board::default();
    assert!(matches!(apply(&mut board, ANNA, "a1", draw(1, "anna1")), Err(BoardError::Forbidden(_))));
    apply(&mut board, TEACHER, "t1", draw(1, "teacher1")).unwrap();
    apply(&mut board, TEACHER, "t2", BoardAction::SetAccess { access: DrawAccess::Student { user: 2 } }).unwrap();
    apply(&mut board, ANNA, "a1", draw(1, "anna1")).unwrap();
    assert!(matches!(apply(&mut board, BEN, "b1", draw(1, "ben1")), Err(BoardError::Forbidden(_))), "only Anna");
    let erase_teachers = BoardAction::Erase { page: 1, ids: vec!["teacher1".into()] };
    assert!(matches!(apply(&mut board, ANNA, "a2", erase_teachers), Err(BoardError::Forbidden(_))));
    apply(&mut board, ANNA, "a3", BoardAction::Erase { page: 1, ids: vec!["anna1".into()] }).unwrap();
    for staff_only in [
        BoardAction::Clear { page: 1 },
        BoardAction::AddPage { after: None, page: 0 },
        BoardAction::ShowPage { page: 1 },
        BoardAction::SetAccess { access: DrawAccess::Everyone },
    ] {
        assert!(matches!(apply(&mut board, ANNA, "a4", staff_only), Err(BoardError::Forbidden(_))));
    }
    apply(&mut board, TEACHER, "t3", BoardAction::SetAccess { access: DrawAccess::Everyone }).unwrap();
    apply(&mut board, BEN, "b2", draw(1, "ben1")).unwrap();
    apply(&mut board, TEACHER, "t4", BoardAction::SetAccess { access: DrawAccess::StaffOnly }).unwrap();
    assert!(matches!(apply(&mut board, BEN, "b3", draw(1, "ben2")), Err(BoardError::Forbidden(_))), "taken back");
    assert!(!board.may_draw(BEN) && board.may_draw(TEACHER));
}

#[test]
fn refused_operations_leave_the_board_as_it_was() {
    let mut board = Board::default();
    apply(&mut board, TEACHER, "ok", draw(1, "s1")).unwrap();
    let before = board.clone();
    let bad = |f: fn(&mut Shape)| {
        let mut s = pen("s9", &[[1.0, 1.0]]);
        f(&mut s);
        BoardAction::Draw { page: 1, shape: s }
    };
    let refused = [
        draw(7, "s2"),
        draw(1, "s1"),
        draw(1, "bad id!"),
        bad(|s| s.color = "red".into()),
        bad(|s| s.width = f32::NAN),
        bad(|s| s.tool = Tool::Pen { points: vec![] }),
        bad(|s| s.tool = Tool::Pen { points: vec![[0.0, 0.0, 2.0]] }),
        bad(|s| s.tool = Tool::Highlighter { points: vec![[0.0, 0.0]; 101] }),
        bad(|s| s.tool = Tool::Line { from: [0.0, 0.0], to: [f32::INFINITY, 0.0] }),
        bad(|s| s.tool = Tool::Line { from: [0.0, 0.0], to: [99_999.0, 0.0] }),
        bad(|s| s.tool = Tool::Text { at: [5.0, 5.0], text: "x".repeat(21), size: 20.0 }),
        bad(|s| s.tool = Tool::Text { at: [5.0, 5.0], text: "  ".into(), size: 20.0 }),
        BoardAction::Erase { page: 1, ids: vec![] },
        BoardAction::Erase { page: 1, ids: (0..11).map(|i| format!("s{i}")).collect() },
        BoardAction::Move { page: 1, ids: vec!["s1".into()], dx: f32::NAN, dy: 0.0 },
        BoardAction::ShowPage { page: 42 },
        BoardAction::AddPage { after: Some(42), page: 0 },
    ];
    for (i, action) in refused.into_iter().enumerate() {
        let result = apply(&mut board, TEACHER, &format!("r{i}"), action.clone());
        assert!(result.is_err(), "{action:?} was accepted");
        assert_eq!(board, before, "{action:?} changed the board");
    }
    assert!(apply(&mut board, TEACHER, "", draw(1, "s5")).is_err(), "an op needs an id");
}

#[test]
fn pages_are_added_where_asked_up_to_the_limit_and_everyone_follows_the_presenter() {
    let mut board = Board::default();
    let added = |r: Result<Applied, BoardError>| match r {
        Ok(Applied::Changed(BoardOp { action: BoardAction::AddPage { page, .. }, .. })) => page,
        other => panic!("not added: {other:?}"),
    };
    let p2 = added(apply(&mut board, TEACHER, "p2", BoardAction::AddPage { after: None, page: 0 }));
    let p3 = added(apply(&mut board, TEACHER, "p3", BoardAction::AddPage { after: Some(1), page: 0 }));
    assert_eq!((p2, p3), (2, 3));
    assert_eq!(board.page_ids(), [1, 3, 2], "page 3 was inserted after page 1");
    apply(&mut board, TEACHER, "show", BoardAction::ShowPage { page: 3 }).unwrap();
    assert_eq!(board.current(), 3);
    apply(&mut board, TEACHER, "d", draw(3, "on3")).unwrap();
    assert_eq!(ids(&board, 3), ["on3"]);
    assert!(ids(&board, 1).is_empty(), "drawings stay with their page");
    apply(&mut board, TEACHER, "p4", BoardAction::AddPage { after: None, page: 0 }).unwrap();
    apply(&mut board, TEACHER, "p5", BoardAction::AddPage { after: None, page: 0 }).unwrap();
    assert!(matches!(
        apply(&mut board, TEACHER, "p6", BoardAction::AddPage { after: None, page: 0 }),
        Err(BoardError::Full(_))
    ));
}

#[test]
fn a_replayed_log_and_a_snapshot_give_the_same_board() {
    let mut live = Board::default();
    let mut log = Vec::new();
    let actions = [
        (TEACHER, draw(1, "s1")),
        (TEACHER, BoardAction::AddPage { after: None, page: 0 }),
        (TEACHER, BoardAction::SetAccess { access: DrawAccess::Everyone }),
        (ANNA, draw(2, "s2")),
        (TEACHER, BoardAction::ShowPage { page: 2 }),
        (ANNA, BoardAction::Move { page: 2, ids: vec!["s2".into()], dx: 1.0, dy: 2.0 }),
        (TEACHER, BoardAction::Erase { page: 1, ids: vec!["s1".into()] }),
    ];
    for (i, (actor, action)) in actions.into_iter().enumerate() {
        if let Applied::Changed(applied) = apply(&mut live, actor, &format!("op{i}"), action).unwrap() {
            log.push((actor.user, applied));
        }
    }
    // The server restarts: its board is the log replayed, each operation as its author's and
    // trusted (access may have changed since).
    let mut replayed = Board::default();
    for (author, op) in &log {
        replayed.apply(Actor { user: *author, staff: true }, op.clone(), &BoardLimits::TRUSTED).unwrap();
    }
    assert_eq!(replayed.snapshot(), live.snapshot());
    assert_eq!(replayed.shapes(2)[0].author, 2, "authors survive the replay");
    // A late joiner builds the board from the welcome's snapshot (as JSON, as on the wire).
    let json = serde_json::to_string(&live.snapshot()).unwrap();
    let joined = Board::from_snapshot(serde_json::from_str(&json).unwrap());
    assert_eq!(joined.snapshot(), live.snapshot());
    assert_eq!(joined.current(), 2);
}

#[test]
fn undo_and_redo_are_per_user_and_leave_others_drawings_alone() {
    let mut board = Board::default();
    let mut anna = History::default();
    let mut n = 0;
    let mut act = |board: &mut Board, history: Option<&mut History>, actor: Actor, action: BoardAction| {
        if let Some(h) = history {
            h.record(board, &action);
        }
        n += 1;
        apply(board, actor, &format!("op{n}"), action).unwrap();
    };
    act(&mut board, None, TEACHER, BoardAction::SetAccess { access: DrawAccess::Everyone });
    act(&mut board, Some(&mut anna), ANNA, draw(1, "a1"));
    act(&mut board, None, BEN, draw(1, "b1"));
    act(&mut board, Some(&mut anna), ANNA, BoardAction::Move { page: 1, ids: vec!["a1".into()], dx: 10.0, dy: 0.0 });

    let undo = anna.undo(&board).unwrap();
    act(&mut board, None, ANNA, undo);
    let Tool::Pen { points } = &board.shapes(1)[0].tool else { panic!() };
    assert_eq!(points[0][0], 10.0, "the move is undone");
    let undo = anna.undo(&board).unwrap();
    act(&mut board, None, ANNA, undo);
    assert_eq!(ids(&board, 1), ["b1"], "Anna's stroke is gone, Ben's stays");
    assert!(!anna.can_undo());

    let redo = anna.redo(&board).unwrap();
    act(&mut board, None, ANNA, redo);
    assert_eq!(ids(&board, 1), ["a1", "b1"]);
    let redo = anna.redo(&board).unwrap();
    act(&mut board, None, ANNA, redo);
    let Tool::Pen { points } = &board.shapes(1)[0].tool else { panic!() };
    assert_eq!(points[0][0], 20.0, "the move is redone");
    assert!(!anna.can_redo());

    // A new change forgets the redo stack.
    anna.undo(&board).map(|u| act(&mut board, None, ANNA, u));
    act(&mut board, Some(&mut anna), ANNA, draw(1, "a2"));
    assert!(!anna.can_redo());
}

#[test]
fn clearing_a_page_is_undone_by_the_teacher_in_one_step() {
    let mut board = Board::default();
    let mut teacher = History::default();
    for (i, id) in ["s1", "s2", "s3"].iter().enumerate() {
        apply(&mut board, TEACHER, &format!("d{i}"), draw(1, id)).unwrap();
    }
    let clear = BoardAction::Clear { page: 1 };
    teacher.record(&board, &clear);
    apply(&mut board, TEACHER, "clear", clear).unwrap();
    assert!(ids(&board, 1).is_empty());
    let undo = teacher.undo(&board).unwrap();
    apply(&mut board, TEACHER, "undo", undo).unwrap();
    assert_eq!(ids(&board, 1), ["s1", "s2", "s3"]);
}

#[test]
fn operations_travel_as_flat_json() {
    let op = op("k1", BoardAction::Draw { page: 1, shape: pen("s1", &[[1.5, 2.0]]) });
    let json = serde_json::to_value(&op).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"id": "k1", "action": "draw", "page": 1, "shape": {
            "id": "s1", "author": 0, "color": "#1d4ed8", "width": 3.0, "tool": "pen", "points": [[1.5, 2.0, 0.5]]
        }})
    );
    assert_eq!(serde_json::from_value::<BoardOp>(json).unwrap(), op);
}

#[test]
fn the_eraser_touches_what_it_passes_over_topmost_first() {
    let mut board = Board::default();
    apply(&mut board, TEACHER, "a", draw(1, "under")).unwrap();
    let shape = |id: &str, tool: Tool| Shape { id: id.into(), author: 0, color: "#000000".into(), width: 2.0, tool };
    let rect = shape("box", Tool::Rect { from: [0.0, 0.0], to: [100.0, 100.0] });
    apply(&mut board, TEACHER, "b", BoardAction::Draw { page: 1, shape: rect }).unwrap();
    let text = shape("label", Tool::Text { at: [300.0, 300.0], text: "hello".into(), size: 20.0 });
    apply(&mut board, TEACHER, "c", BoardAction::Draw { page: 1, shape: text }).unwrap();
    // The pen stroke runs from (10, 10) to (20, 30); the box's left edge is x = 0.
    assert_eq!(board.hit(1, [15.0, 20.0], 2.0), ["under"]);
    assert_eq!(board.hit(1, [5.0, 8.0], 8.0), ["box", "under"], "topmost first");
    assert!(board.hit(1, [50.0, 50.0], 3.0).is_empty(), "the inside of an outline is not the outline");
    assert_eq!(board.hit(1, [320.0, 310.0], 1.0), ["label"], "a text is hit anywhere on it");
    apply(&mut board, TEACHER, "d", BoardAction::Erase { page: 1, ids: vec!["label".into()] }).unwrap();
    assert!(board.hit(1, [320.0, 310.0], 1.0).is_empty(), "erased shapes are not hit");
}

#[test]
fn a_shape_moves_and_knows_its_bounds() {
    let stroke = pen("s", &[[10.0, 40.0], [30.0, 20.0], [20.0, 50.0]]);
    assert_eq!(stroke.bounds(), ([10.0, 20.0], [30.0, 50.0]));
    assert_eq!(stroke.moved(5.0, -10.0).bounds(), ([15.0, 10.0], [35.0, 40.0]));
    let text = Shape { tool: Tool::Text { at: [100.0, 100.0], text: "ab\nabcd".into(), size: 10.0 }, ..stroke };
    assert_eq!(text.bounds(), ([100.0, 100.0], [124.0, 124.0]));
}

fn slide(n: u32, height: f32) -> SlideRef {
    SlideRef { image: format!("/classes/7/slide-images/{n:032x}.png"), width: 1600.0, height }
}

#[test]
fn a_deck_goes_in_as_pages_with_their_slides_where_asked() {
    let mut board = Board::default();
    apply(&mut board, TEACHER, "p2", BoardAction::AddPage { after: None, page: 0 }).unwrap();
    let insert = |slides: Vec<SlideRef>| BoardAction::InsertSlides { after: Some(1), deck: 4, slides, first: 0 };
    // Students may not; an empty deck, a slide of no size or a picture from elsewhere is refused.
    assert!(matches!(apply(&mut board, ANNA, "x1", insert(vec![slide(1, 900.0)])), Err(BoardError::Forbidden(_))));
    let foreign = SlideRef { image: "https://tracker.example/p.png".into(), ..slide(1, 900.0) };
    let climbing = SlideRef { image: "/classes/7/../../etc/passwd".into(), ..slide(1, 900.0) };
    for bad in [vec![], vec![slide(1, 0.0)], vec![slide(1, f32::NAN)], vec![foreign], vec![climbing]] {
        assert!(matches!(apply(&mut board, TEACHER, "x2", insert(bad)), Err(BoardError::Invalid(_))));
    }
    // Three slides after page 1 (before page 2) take ids 3, 4 and 5 and their slides' sizes.
    let Ok(Applied::Changed(applied)) =
        apply(&mut board, TEACHER, "d1", insert(vec![slide(1, 900.0), slide(2, 1200.0), slide(3, 900.0)]))
    else {
        panic!("inserted")
    };
    assert_eq!(board.page_ids(), [1, 3, 4, 5, 2]);
    let BoardAction::InsertSlides { first, .. } = applied.action else { panic!("{applied:?}") };
    assert_eq!(first, 3);
    assert_eq!(board.page_size(4), (1600.0, 1200.0));
    assert_eq!(board.slide(5), Some(&slide(3, 900.0)));
    // Drawings stay with their slide page, within its own size.
    apply(&mut board, TEACHER, "s", BoardAction::Draw { page: 4, shape: pen("s1", &[[100.0, 1100.0]]) }).unwrap();
    assert_eq!(ids(&board, 4), ["s1"]);
    // The board's page limit (5) counts the whole deck.
    assert!(matches!(apply(&mut board, TEACHER, "d2", insert(vec![slide(4, 900.0)])), Err(BoardError::Full(_))));
    // Replayed from the log, the pages keep their ids.
    let mut replayed = Board::default();
    for (id, action) in [
        ("p2", BoardAction::AddPage { after: None, page: 2 }),
        (
            "d1",
            BoardAction::InsertSlides {
                after: Some(1),
                deck: 4,
                slides: vec![slide(1, 900.0), slide(2, 1200.0), slide(3, 900.0)],
                first: 3,
            },
        ),
    ] {
        replayed.apply(TEACHER, op(id, action), &BoardLimits::TRUSTED).unwrap();
    }
    assert_eq!(replayed.page_ids(), [1, 3, 4, 5, 2]);
}

#[test]
fn a_pen_stroke_is_drawn_in_runs_of_one_width() {
    // A mouse: one pressure, one run of every point.
    let mouse: Vec<[f32; 3]> = (0..50).map(|i| [i as f32, 0.0, 0.5]).collect();
    let runs = pen_runs(&mouse, 4.0);
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].0, runs[0].1.len()), (4.0, 50));
    // A stylus pressing harder halfway: two runs that share the point where the width changes.
    let stylus = [[0.0, 0.0, 0.2], [1.0, 0.0, 0.2], [2.0, 0.0, 0.2], [3.0, 0.0, 0.9], [4.0, 0.0, 0.9]];
    let runs = pen_runs(&stylus, 4.0);
    assert_eq!(runs.iter().map(|r| (r.0, r.1.len())).collect::<Vec<_>>(), [(2.75, 3), (5.5, 3)]);
    assert_eq!(runs[0].1.last(), runs[1].1.first());
    // Each segment keeps the width of its end point, as before.
    let uneven = [[0.0, 0.0, 0.0], [1.0, 0.0, 1.0], [2.0, 0.0, 0.0]];
    assert_eq!(pen_runs(&uneven, 2.0).iter().map(|r| r.0).collect::<Vec<_>>(), [3.0, 1.0]);
    assert!(pen_runs(&uneven[..1], 2.0).is_empty());
}
