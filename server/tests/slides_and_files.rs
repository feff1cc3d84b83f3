//! PDF slides and shared files over real HTTP and the room's WebSocket, on SQLite and
//! PostgreSQL: a PDF uploaded by a teacher is rendered in a child process with progress, goes on
//! the board as slides everyone sees and can draw on; hostile PDFs are refused with a reason
//! within the time limit and leave nothing behind; shared files download as attachments with
//! the type their bytes show, to the class only.

mod common;

use app::board::{BoardAction, BoardOp, SlideRef};
use app::protocol::{ClientMsg, DeckStatus, ErrorCode, ServerMsg, SharedFile, SlideDeck};
use common::room::*;
use lectern_core::config::Config;
use lectern_core::on_both_databases;
use lectern_core::sample_pdfs;
use lectern_core::testing::TestDb;
use lectern_model::Role;
use reqwest::StatusCode;
use std::time::{Duration, Instant};

/// Rendering runs this package's own `lectern` binary, with limits small enough to test (and
/// the default time and memory, so that a busy test machine does not fail a good PDF).
fn config() -> Config {
    let mut config = Config::default();
    config.uploads.pdf_renderer = Some(env!("CARGO_BIN_EXE_lectern").into());
    config.uploads.pdf_max_pages = 20;
    config.uploads.max_file_bytes = 256 * 1024;
    config
}

/// For hostile PDFs: a short time limit, well under what the slow ones need.
fn strict_config() -> Config {
    let mut config = config();
    config.uploads.pdf_render_seconds = 2;
    config
}

struct Http {
    host: String,
    client: reqwest::Client,
}

impl Http {
    fn new(host: &str) -> Self {
        Self { host: host.into(), client: reqwest::Client::new() }
    }

    async fn upload(&self, who: &Person, path: &str, name: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
        let res = self.upload_answer(who, path, name, body).await;
        let status = res.status();
        (status, res.json().await.unwrap_or(serde_json::Value::Null))
    }

    async fn upload_answer(&self, who: &Person, path: &str, name: &str, body: Vec<u8>) -> reqwest::Response {
        self.client
            .post(format!("http://{}{path}", self.host))
            .query(&[("name", name)])
            .header("cookie", format!("lectern_session={}", who.token))
            .body(body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, who: Option<&Person>, path: &str) -> reqwest::Response {
        let mut req = self.client.get(format!("http://{}{path}", self.host));
        if let Some(who) = who {
            req = req.header("cookie", format!("lectern_session={}", who.token));
        }
        req.send().await.unwrap()
    }

    /// Poll a deck until it is no longer rendering, as the teacher's browser does.
    async fn settled(&self, teacher: &Person, class_id: i64, deck: i64) -> (SlideDeck, Vec<(i64, i64)>) {
        let started = Instant::now();
        let mut seen = Vec::new();
        loop {
            let res = self.get(Some(teacher), &format!("/classes/{class_id}/slides/{deck}")).await;
            assert_eq!(res.status(), StatusCode::OK);
            let deck: SlideDeck = res.json().await.unwrap();
            if seen.last() != Some(&(deck.done, deck.pages)) {
                seen.push((deck.done, deck.pages));
            }
            if deck.status != DeckStatus::Rendering {
                return (deck, seen);
            }
            assert!(started.elapsed() < Duration::from_secs(60), "deck {deck:?} still rendering");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn deck_of(reply: &serde_json::Value) -> SlideDeck {
    serde_json::from_value(reply["deck"].clone()).unwrap_or_else(|e| panic!("no deck in {reply}: {e}"))
}

async fn next_board(client: &mut Client) -> BoardOp {
    client.until(|m| if let ServerMsg::Board { op, .. } = m { Some(op) } else { None }).await
}

async fn a_pdf_becomes_slides_on_the_board(db: &TestDb) {
    let class = live_class_with_people(&db.state, 1).await;
    let outsider = person(&db.state, "outsider", Role::Student).await;
    let host = serve(db.state.clone()).await;
    let http = Http::new(&host);
    let slides_path = format!("/classes/{}/slides", class.id);

    // The teacher uploads a three-page lecture: accepted at once, then rendered with progress.
    let (status, reply) =
        http.upload(&class.teacher, &slides_path, "Week 3/Photosynthesis.pdf", sample_pdfs::lecture(3)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{reply}");
    let deck = deck_of(&reply);
    assert_eq!((deck.title.as_str(), deck.status), ("Photosynthesis", DeckStatus::Rendering));
    let (deck, progress) = http.settled(&class.teacher, class.id, deck.id).await;
    assert_eq!((deck.status, deck.pages, deck.done, deck.error.as_deref()), (DeckStatus::Ready, 3, 3, None));
    assert!(progress.iter().all(|&(done, pages)| done <= pages), "{progress:?}");
    let listed: Vec<SlideDeck> = http.get(Some(&class.teacher), &slides_path).await.json().await.unwrap();
    assert_eq!(listed, [deck.clone()]);

    // Students neither upload nor see the teacher's decks; people outside the class see nothing.
    let student = &class.students[0];
    // (The body was read before the refusal, so the connection stays open for the next request.)
    let res = http.upload_answer(student, &slides_path, "mine.pdf", sample_pdfs::lecture(1)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_ne!(res.headers().get("connection").and_then(|v| v.to_str().ok()), Some("close"));
    assert_eq!(http.get(Some(student), &slides_path).await.status(), StatusCode::FORBIDDEN);
    assert_eq!(http.get(Some(&outsider), &slides_path).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(http.get(None, &slides_path).await.status(), StatusCode::UNAUTHORIZED);

    // In class, the teacher puts the deck after page 1; the student's board gets three slides.
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let (mut anna, _) = join(&host, class.id, student, None).await;
    // A forged picture address is replaced by the server's own, and a student may not insert.
    let forged = vec![SlideRef { image: "https://tracker.example/x.png".into(), width: 10.0, height: 10.0 }];
    let insert = |slides| BoardAction::InsertSlides { after: Some(1), deck: deck.id, slides, first: 0 };
    let refused = anna.request(op("a-1", insert(Vec::new()))).await.map_err(|e| e.0);
    assert_eq!(refused, Err(ErrorCode::Forbidden));
    teacher.request(op("t-1", insert(forged))).await.unwrap();
    let applied = next_board(&mut anna).await;
    let BoardAction::InsertSlides { slides, first, .. } = applied.action else { panic!("{applied:?}") };
    assert_eq!((slides.len(), first), (3, 2));
    for slide in &slides {
        assert!(slide.image.starts_with(&format!("/classes/{}/slide-images/", class.id)), "{slide:?}");
        // 16:9 slides, as wide as a blank page.
        assert_eq!((slide.width, slide.height), (1600.0, 900.0));
    }
    // Decks that are not this class's are not found.
    let other = op("t-2", BoardAction::InsertSlides { after: None, deck: deck.id + 100, slides: vec![], first: 0 });
    assert_eq!(teacher.request(other).await.map_err(|e| e.0), Err(ErrorCode::NotFound));

    // Each slide image is a PNG of the configured width, for the class only.
    for slide in &slides {
        let res = http.get(Some(student), &slide.image).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], "image/png");
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        let png = res.bytes().await.unwrap();
        let info = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap().info().clone();
        assert_eq!((info.width, info.height), (1920, 1080));
        assert_eq!(http.get(Some(&outsider), &slide.image).await.status(), StatusCode::NOT_FOUND);
    }
    for hostile in ["../lectern.db", "..%2F..%2Fetc%2Fpasswd", "nothere.png"] {
        let res = http.get(Some(student), &format!("/classes/{}/slide-images/{hostile}", class.id)).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{hostile}");
    }

    // The teacher draws on slide 2; the student sees it there, and so does a late joiner.
    let slide2 = first + 1;
    teacher.request(op("t-3", BoardAction::ShowPage { page: slide2 })).await.unwrap();
    teacher.request(op("t-4", stroke(slide2, "s-1", 200.0))).await.unwrap();
    let drawn = anna.until(|m| match m {
        ServerMsg::Board { op: BoardOp { action: BoardAction::Draw { page, .. }, .. }, .. } => Some(page),
        _ => None,
    });
    assert_eq!(drawn.await, slide2);
    let (_, welcome) = join(&host, class.id, &class.co, None).await;
    let board = welcome.board.unwrap();
    assert_eq!(board.current, slide2);
    assert_eq!(board.pages.len(), 4);
    assert_eq!(board.pages[2].slide.as_ref(), Some(&slides[1]));
    assert_eq!(board.pages[2].shapes.len(), 1);

    // Everyone in the class can take the annotated board away as one PDF: four pages.
    let export = format!("/classes/{}/board.pdf", class.id);
    let res = http.get(Some(student), &export).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/pdf");
    let disposition = res.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.starts_with("attachment; filename=\"Live algebra - whiteboard.pdf\""), "{disposition}");
    let pdf = res.bytes().await.unwrap().to_vec();
    let limits = lectern_core::slides::RenderLimits { max_pages: 10, width_px: 100, max_pixels: 1_000_000 };
    assert_eq!(lectern_core::slides::page_count(&pdf, &limits), Ok(4));
    assert_eq!(http.get(Some(&outsider), &export).await.status(), StatusCode::NOT_FOUND);
}

async fn hostile_pdfs_are_refused_in_time_and_leave_nothing(db: &TestDb) {
    let class = live_class_with_people(&db.state, 0).await;
    let host = serve(db.state.clone()).await;
    let http = Http::new(&host);
    let path = format!("/classes/{}/slides", class.id);

    // Not a PDF at all: refused before anything is kept.
    let (status, reply) =
        http.upload(&class.teacher, &path, "slides.pdf", b"MZ\x90\0\x03\0 an executable".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reply["error"].as_str().unwrap().contains("not a PDF"), "{reply}");
    // Bigger than uploads.max_file_bytes: refused before the body is read, so the answer closes
    // the connection. Were it kept, the client could send its next upload on a connection the
    // server is closing, and that upload would fail with a broken pipe.
    let res = http.upload_answer(&class.teacher, &path, "big.pdf", sample_pdfs::many_pages(1).repeat(1000)).await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(res.headers().get("connection").and_then(|v| v.to_str().ok()), Some("close"));

    let cases: Vec<(&str, Vec<u8>, &[&str])> = vec![
        ("locked.pdf", sample_pdfs::encrypted(), &["password-protected"]),
        ("noise.pdf", sample_pdfs::garbage(), &["could not be read"]),
        ("long.pdf", sample_pdfs::many_pages(21), &["21 pages", "at most 20"]),
        ("tall.pdf", sample_pdfs::towering_page(), &["too large"]),
        // A million fills from 2 KB: most of a minute of work, stopped at the 2 s limit (well
        // before it needs much memory).
        ("slow.pdf", sample_pdfs::slow(10, 6), &["longer than 2 seconds"]),
    ];
    for (name, pdf, reasons) in cases {
        let started = Instant::now();
        let (status, reply) = http.upload(&class.teacher, &path, name, pdf).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{name}: {reply}");
        let (deck, _) = http.settled(&class.teacher, class.id, deck_of(&reply).id).await;
        let took = started.elapsed();
        assert_eq!(deck.status, DeckStatus::Failed, "{name}");
        let error = deck.error.unwrap_or_default();
        assert!(reasons.iter().all(|r| error.contains(r)), "{name}: {error}");
        assert!(took < Duration::from_secs(15), "{name} took {took:?}");
    }
    // Ten million fills (stopped by the time or the memory limit), and an image claiming
    // 30,000² pixels: refused (or, for the image, rendered) within the limit, and the server
    // carries on.
    for (name, pdf) in [("deeper.pdf", sample_pdfs::slow(10, 7)), ("bomb.pdf", sample_pdfs::memory_bomb())] {
        let (_, reply) = http.upload(&class.teacher, &path, name, pdf).await;
        let (deck, _) = http.settled(&class.teacher, class.id, deck_of(&reply).id).await;
        assert!(deck.status == DeckStatus::Failed || deck.pages == 1, "{name}: {deck:?}");
    }
    assert_eq!(http.get(None, "/healthz").await.status(), StatusCode::OK);

    // Only the uploaded PDFs and the bomb's slide remain: no rendered pages of refused decks,
    // no working folders.
    let dir = &db.state.config.uploads.dir;
    let mut left: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    left.sort();
    let pdfs = left.iter().filter(|n| n.ends_with(".pdf")).count();
    let pngs = left.iter().filter(|n| n.ends_with(".png")).count();
    assert_eq!(pdfs, 7, "{left:?}");
    assert!(pngs <= 1 && pdfs + pngs == left.len(), "{left:?}");
}

async fn shared_files_download_as_attachments_to_the_class_only(db: &TestDb) {
    let class = live_class_with_people(&db.state, 1).await;
    let outsider = person(&db.state, "outsider", Role::Student).await;
    let host = serve(db.state.clone()).await;
    let http = Http::new(&host);
    let path = format!("/classes/{}/files", class.id);
    let (mut teacher, _) = join(&host, class.id, &class.teacher, None).await;
    let student = &class.students[0];
    let (mut anna, welcome) = join(&host, class.id, student, None).await;
    assert!(welcome.files.is_empty());

    // The teacher uploads notes and offers them; the student hears of them at once.
    let notes = "Week 3 reading: chapters 4–5.\n".as_bytes().to_vec();
    let (status, reply) = http.upload(&class.teacher, &path, "C:\\Users\\rosa\\notes.txt", notes.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{reply}");
    let file: SharedFile = serde_json::from_value(reply["file"].clone()).unwrap();
    assert_eq!((file.name.as_str(), file.kind.as_str(), file.size), ("notes.txt", "other", notes.len() as i64));
    teacher.request(ClientMsg::ShareFile { file: file.id }).await.unwrap();
    let shared = anna.until(|m| if let ServerMsg::FileShared { file } = m { Some(file) } else { None }).await;
    assert_eq!(shared, file);

    let res = http.get(Some(student), &file.url).await;
    assert_eq!(res.status(), StatusCode::OK);
    let headers = res.headers().clone();
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(disposition.starts_with("attachment; filename=\"notes.txt\""), "{disposition}");
    assert_eq!(res.bytes().await.unwrap(), notes);
    assert_eq!(http.get(Some(&outsider), &file.url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(http.get(None, &file.url).await.status(), StatusCode::UNAUTHORIZED);

    // The type is the bytes': a PDF named like a picture is a PDF, and keeps a .pdf name.
    let (status, reply) = http.upload(&class.teacher, &path, "photo.png", sample_pdfs::lecture(1)).await;
    assert_eq!(status, StatusCode::CREATED);
    let pdf: SharedFile = serde_json::from_value(reply["file"].clone()).unwrap();
    assert_eq!((pdf.name.as_str(), pdf.kind.as_str()), ("photo.png.pdf", "pdf"));
    let res = http.get(Some(&class.teacher), &pdf.url).await;
    assert_eq!(res.headers()["content-type"], "application/pdf");
    // Pages that could run script, and executables, are refused; students cannot upload.
    for (name, body) in [("page.html", &b"<!doctype html><script>alert(1)</script>"[..]), ("run.exe", b"MZ\x90\0")] {
        let (status, reply) = http.upload(&class.teacher, &path, name, body.to_vec()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name}");
        assert!(reply["error"].as_str().unwrap().contains("cannot be shared"), "{reply}");
    }
    let (status, _) = http.upload(student, &path, "mine.txt", b"hello".to_vec()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(anna.request(ClientMsg::ShareFile { file: pdf.id }).await.map_err(|e| e.0), Err(ErrorCode::Forbidden));

    // A late joiner's welcome lists what is offered; unsharing takes it away from students.
    let (_, welcome) = join(&host, class.id, &class.co, None).await;
    assert_eq!(welcome.files, [file.clone()]);
    teacher.request(ClientMsg::UnshareFile { file: file.id }).await.unwrap();
    let gone = anna.until(|m| if let ServerMsg::FileUnshared { file } = m { Some(file) } else { None }).await;
    assert_eq!(gone, file.id);
    assert_eq!(http.get(Some(student), &file.url).await.status(), StatusCode::NOT_FOUND);
    assert_eq!(http.get(Some(&class.teacher), &file.url).await.status(), StatusCode::OK);
    let missing = ClientMsg::ShareFile { file: file.id + 1000 };
    assert_eq!(teacher.request(missing).await.map_err(|e| e.0), Err(ErrorCode::NotFound));
}

on_both_databases!(config = super::config();
    a_pdf_becomes_slides_on_the_board,
    shared_files_download_as_attachments_to_the_class_only,
);

mod hostile {
    use super::*;
    on_both_databases!(config = super::strict_config(); hostile_pdfs_are_refused_in_time_and_leave_nothing);
}
