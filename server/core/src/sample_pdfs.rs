//! PDFs made for tests and benchmarks: lectures with text, shapes and images, and hostile files
//! (broken, encrypted, huge, slow, memory-hungry). Enabled by the `testing` feature.

use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};

/// A 16:9 slide, in points.
const SLIDE: (f32, f32) = (960.0, 540.0);

fn deflate(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

/// A PDF of `pages` slides. Each has a title and body text in Helvetica, filled and stroked
/// shapes, a curve, and a photo-like RGB image (one image object shared by every page).
pub fn lecture(pages: usize) -> Vec<u8> {
    lecture_sized(pages, 64, 3)
}

/// [`lecture`] with an `image_px`-square picture and `text_lines` lines of body text on each
/// slide (the benchmark's heavier deck).
pub fn lecture_sized(pages: usize, image_px: u32, text_lines: usize) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let catalog = Ref::new(1);
    let tree = Ref::new(2);
    let font = Ref::new(3);
    let image = Ref::new(4);
    let mut next = 5;
    let mut alloc = || {
        next += 1;
        Ref::new(next - 1)
    };
    let page_ids: Vec<(Ref, Ref)> = (0..pages).map(|_| (alloc(), alloc())).collect();
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(page_ids.iter().map(|(page, _)| *page)).count(pages as i32);
    pdf.type1_font(font).base_font(Name(b"Helvetica"));

    let (w, h) = (image_px.max(1), image_px.max(1));
    // A gradient (as the small one always was), with grain in larger pictures so that they do
    // not compress to nothing.
    let step = (256 / w).max(1);
    let pixels: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let (x, y) = (i % w, i / w);
            let grain = if w > 64 { (i.wrapping_mul(2_654_435_761) >> 27) as u8 } else { 0 };
            [(x * step) as u8 ^ grain, (y * step) as u8, ((x + y) * step / 2) as u8]
        })
        .collect();
    let packed = deflate(&pixels);
    let mut xobject = pdf.image_xobject(image, &packed);
    xobject.width(w as i32).height(h as i32).bits_per_component(8).filter(Filter::FlateDecode);
    xobject.color_space().device_rgb();
    xobject.finish();

    for (n, (page_id, content_id)) in page_ids.iter().enumerate() {
        let mut page = pdf.page(*page_id);
        page.media_box(Rect::new(0.0, 0.0, SLIDE.0, SLIDE.1)).parent(tree).contents(*content_id);
        let mut resources = page.resources();
        resources.fonts().pair(Name(b"F1"), font);
        resources.x_objects().pair(Name(b"Im1"), image);
        resources.finish();
        page.finish();

        let mut content = Content::new();
        content.set_fill_rgb(0.1, 0.2, 0.5).rect(0.0, 470.0, SLIDE.0, 70.0).fill_nonzero();
        content
            .begin_text()
            .set_fill_rgb(1.0, 1.0, 1.0)
            .set_font(Name(b"F1"), 32.0)
            .next_line(40.0, 492.0)
            .show(Str(format!("Slide {} of {pages}: Photosynthesis", n + 1).as_bytes()))
            .end_text();
        // Three lines by default; more are set smaller and closer, to fit above the drawings.
        let spacing = if text_lines > 3 { 380.0 / text_lines as f32 } else { 30.0 };
        let size = (spacing * 0.8).min(20.0);
        content.begin_text().set_fill_rgb(0.0, 0.0, 0.0).set_font(Name(b"F1"), size).next_line(40.0, 420.0);
        let lines =
            ["Light reactions happen in the thylakoids.", "The Calvin cycle fixes carbon.", "Oxygen is a by-product."];
        for line in lines.iter().cycle().take(text_lines) {
            content.show(Str(line.as_bytes())).next_line(0.0, -spacing);
        }
        content.end_text();
        content.set_stroke_rgb(0.8, 0.1, 0.1).set_line_width(4.0);
        content.move_to(40.0, 200.0).cubic_to(200.0, 320.0, 360.0, 80.0, 520.0, 200.0).stroke();
        content.set_fill_rgb(0.1, 0.6, 0.2).rect(560.0, 120.0, 120.0, 90.0).fill_nonzero();
        content.save_state().transform([240.0, 0.0, 0.0, 240.0, 680.0, 60.0]).x_object(Name(b"Im1")).restore_state();
        pdf.stream(*content_id, &deflate(&content.finish())).filter(Filter::FlateDecode);
    }
    pdf.finish()
}

/// A PDF with one page of the given size (points) and one filled rectangle.
fn single_page(width: f32, height: f32, content: &[u8], extra: impl FnOnce(&mut Pdf)) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree, page, stream) = (Ref::new(1), Ref::new(2), Ref::new(3), Ref::new(4));
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids([page]).count(1);
    let mut p = pdf.page(page);
    p.media_box(Rect::new(0.0, 0.0, width, height)).parent(tree).contents(stream);
    let mut resources = p.resources();
    let mut x_objects = resources.x_objects();
    x_objects.pair(Name(b"Im1"), Ref::new(5));
    x_objects.pair(Name(b"Fm0"), Ref::new(10));
    x_objects.finish();
    resources.finish();
    p.finish();
    pdf.stream(stream, &deflate(content)).filter(Filter::FlateDecode);
    extra(&mut pdf);
    pdf.finish()
}

/// A lecture whose trailer asks for decryption (as a locked PDF's does).
pub fn encrypted() -> Vec<u8> {
    let plain = String::from_utf8_lossy(&lecture(1)).into_owned();
    let lock = "/Encrypt << /Filter /Standard /V 1 /R 2 /O <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> \
                /U <00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff> /P -4 >>\n  /Root";
    plain.replacen("/Root", lock, 1).into_bytes()
}

/// A PDF header and then noise.
pub fn garbage() -> Vec<u8> {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    bytes.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    bytes
}

/// `pages` blank pages.
pub fn many_pages(pages: usize) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let (catalog, tree) = (Ref::new(1), Ref::new(2));
    pdf.catalog(catalog).pages(tree);
    let ids: Vec<Ref> = (0..pages).map(|i| Ref::new(3 + i as i32)).collect();
    pdf.pages(tree).kids(ids.iter().copied()).count(pages as i32);
    for id in ids {
        pdf.page(id).media_box(Rect::new(0.0, 0.0, SLIDE.0, SLIDE.1)).parent(tree);
    }
    pdf.finish()
}

/// One page 100 points wide and 14,400 tall: thousands of pixels high at slide width.
pub fn towering_page() -> Vec<u8> {
    single_page(100.0, 14_400.0, b"0 0 1 rg 0 0 100 100 re f", |_| {})
}

/// One page that draws a form, which draws the next form `fanout` times, and so on `depth`
/// levels down to one filled rectangle: a few hundred bytes that ask for `fanout^depth` fills.
pub fn slow(fanout: usize, depth: usize) -> Vec<u8> {
    let form = |level: usize| Ref::new(10 + level as i32);
    single_page(SLIDE.0, SLIDE.1, b"/Fm0 Do", |pdf| {
        for level in 0..depth {
            let content = b"/Fm0 Do ".repeat(fanout);
            let mut xobject = pdf.form_xobject(form(level), &content);
            xobject.bbox(Rect::new(0.0, 0.0, SLIDE.0, SLIDE.1));
            xobject.resources().x_objects().pair(Name(b"Fm0"), form(level + 1));
        }
        pdf.form_xobject(form(depth), b"0.2 0.4 0.8 rg 100 100 700 300 re f")
            .bbox(Rect::new(0.0, 0.0, SLIDE.0, SLIDE.1));
    })
}

/// One page drawing a 30,000 × 30,000 image whose compressed data is tiny: decoding it would
/// need gigabytes.
pub fn memory_bomb() -> Vec<u8> {
    single_page(SLIDE.0, SLIDE.1, b"q 960 0 0 540 0 0 cm /Im1 Do Q", |pdf| {
        let side = 30_000usize;
        let zeros = vec![0u8; side * 3 * 64];
        // 64 rows of zeros, repeated by the decoder's expectations: the stream says it is the
        // whole image.
        let packed = deflate(&zeros);
        let mut image = pdf.image_xobject(Ref::new(5), &packed);
        image.width(side as i32).height(side as i32).bits_per_component(8).filter(Filter::FlateDecode);
        image.color_space().device_rgb();
    })
}
