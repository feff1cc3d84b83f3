use super::*;
use app::board::{Actor, BoardAction, BoardLimits, BoardOp, SlideRef};
use lectern_core::sample_pdfs;
use lectern_core::slides::{RenderLimits, render_pdf};

const TEACHER: Actor = Actor { user: 1, staff: true };

fn shape(id: &str, color: &str, tool: Tool) -> Shape {
    Shape { id: id.into(), author: 1, color: color.into(), width: 8.0, tool }
}

fn apply(board: &mut Board, id: &str, action: BoardAction) {
    board.apply(TEACHER, BoardOp { id: id.into(), action }, &BoardLimits::TRUSTED).unwrap();
}

/// Render a PDF's pages with the same renderer slides use: (width, height, rgb) per page.
fn rendered(pdf: Vec<u8>, width_px: u32) -> Vec<(u32, u32, Vec<u8>)> {
    let limits = RenderLimits { max_pages: 10, width_px, max_pixels: 10_000_000 };
    let mut pages = Vec::new();
    render_pdf(
        pdf,
        &limits,
        |_| {},
        |page| {
            let mut reader = png::Decoder::new(std::io::Cursor::new(page.png)).read_info().unwrap();
            let mut buf = vec![0; reader.output_buffer_size().unwrap()];
            let info = reader.next_frame(&mut buf).unwrap();
            buf.truncate(info.buffer_size());
            pages.push((info.width, info.height, buf));
        },
    )
    .unwrap();
    pages
}

fn pixel((w, _, rgb): &(u32, u32, Vec<u8>), x: u32, y: u32) -> [u8; 3] {
    let i = ((y * w + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

#[test]
fn the_board_exports_as_its_slides_with_the_drawings_on_top() {
    // A slide picture as the renderer makes them: the sample lecture's first page, 800 wide.
    let dir = tempfile::tempdir().unwrap();
    let mut slide_png = None;
    let limits = RenderLimits { max_pages: 1, width_px: 800, max_pixels: 10_000_000 };
    render_pdf(sample_pdfs::lecture(1), &limits, |_| {}, |page| slide_png = Some(page.png)).unwrap();
    std::fs::write(dir.path().join("slide.png"), slide_png.unwrap()).unwrap();

    let mut board = Board::default();
    let slide = SlideRef { image: "/classes/1/slide-images/slide.png".into(), width: 1600.0, height: 900.0 };
    apply(&mut board, "d", BoardAction::InsertSlides { after: None, deck: 1, slides: vec![slide], first: 0 });
    // On the blank page 1: a red pen stroke across the middle. On the slide (page 2): a green
    // rectangle in the white lower-left area, a blue arrow, a highlighter, an ellipse and text.
    let red_pen = Tool::Pen { points: vec![[100.0, 450.0, 0.5], [1500.0, 450.0, 0.5]] };
    apply(&mut board, "a", BoardAction::Draw { page: 1, shape: shape("s1", "#ff0000", red_pen) });
    let rect = Tool::Rect { from: [100.0, 700.0], to: [400.0, 850.0] };
    apply(&mut board, "b", BoardAction::Draw { page: 2, shape: shape("s2", "#00ff00", rect) });
    let arrow = Tool::Arrow { from: [500.0, 800.0], to: [900.0, 800.0] };
    apply(&mut board, "c", BoardAction::Draw { page: 2, shape: shape("s3", "#0000ff", arrow) });
    let marker = Tool::Highlighter { points: vec![[1000.0, 700.0], [1200.0, 700.0]] };
    apply(&mut board, "e", BoardAction::Draw { page: 2, shape: shape("s4", "#ffff00", marker) });
    let ellipse = Tool::Ellipse { from: [1000.0, 780.0], to: [1200.0, 880.0] };
    apply(&mut board, "f", BoardAction::Draw { page: 2, shape: shape("s5", "#000000", ellipse) });
    let text = Tool::Text { at: [60.0, 560.0], text: "Café ≠ tea".into(), size: 40.0 };
    apply(&mut board, "g", BoardAction::Draw { page: 2, shape: shape("s6", "#000000", text) });

    let files = dir.path().to_owned();
    let pdf = board_pdf(&board, |url| Some(files.join(url.rsplit('/').next()?)));
    assert!(pdf.starts_with(b"%PDF-"));
    // Read back at 800 pixels wide: half a board unit per pixel.
    let pages = rendered(pdf, 800);
    assert_eq!(pages.len(), 2);
    assert_eq!((pages[0].0, pages[0].1), (800, 450));
    let blank = &pages[0];
    assert_eq!(pixel(blank, 400, 225), [255, 0, 0], "the pen stroke");
    assert_eq!(pixel(blank, 400, 100), [255, 255, 255]);
    let slide = &pages[1];
    // The slide's own title bar, under everything.
    assert_eq!(pixel(slide, 700, 10), [26, 51, 128]);
    // The rectangle's edge and its empty middle; the arrow's shaft.
    assert_eq!(pixel(slide, 50, 390), [0, 255, 0]);
    assert_eq!(pixel(slide, 125, 387), [255, 255, 255]);
    assert_eq!(pixel(slide, 350, 400), [0, 0, 255]);
    // The highlighter lets the page through: yellow over white, lighter than the solid yellow.
    let [r, g, b] = pixel(slide, 550, 350);
    assert!(r > 240 && g > 240 && (120..=200).contains(&b), "highlighter {r} {g} {b}");
    // The ellipse's left edge; the text's ink near where it starts (below the given point).
    assert_eq!(pixel(slide, 500, 415), [0, 0, 0]);
    let text_ink =
        (282..302).flat_map(|y| (30..150).map(move |x| (x, y))).filter(|&(x, y)| pixel(slide, x, y) == [0, 0, 0]);
    assert!(text_ink.count() > 20, "the text is drawn");
}
