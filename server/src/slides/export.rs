//! The board as one PDF: every page in order, each slide's picture with the drawings on top as
//! vectors (sharp at any zoom). Pages keep their proportions at 0.6 points per board unit, so
//! a 16:9 slide is 960 × 540 points.
//!
//! Drawings follow the canvas: pens with their pressure, the highlighter see-through and under
//! the ink, arrows with the same heads. Texts use Helvetica, which covers Latin-1; characters
//! outside it are written as `?`.

use app::board::{Board, Shape, TEXT_LINE_HEIGHT, Tool, arrow_head, pen_runs, pen_width};
use pdf_writer::types::LineCapStyle;
use pdf_writer::types::LineJoinStyle;
use pdf_writer::{Content, Filter, Finish, Name, Pdf, Rect, Ref, Str};
use std::path::PathBuf;

/// Points per board unit.
const POINTS_PER_UNIT: f32 = 0.6;
/// How see-through the highlighter is (as on the canvas).
const HIGHLIGHTER_ALPHA: f32 = 0.35;
/// A bezier approximation of a quarter circle.
const KAPPA: f32 = 0.552_284_8;

/// A slide picture ready to embed: a PNG's compressed rows as they are (PDF's Flate with PNG
/// predictors reads them directly), or raw RGB when the PNG was of another kind.
struct Picture {
    width: u32,
    height: u32,
    data: Vec<u8>,
    png_rows: bool,
}

/// Read a slide PNG for embedding; `None` when it is missing or unreadable (the page is then
/// exported without its picture).
fn picture(path: &std::path::Path) -> Option<Picture> {
    let bytes = std::fs::read(path).ok()?;
    let info = png::Decoder::new(std::io::Cursor::new(&bytes)).read_info().ok()?.info().clone();
    let (width, height) = (info.width, info.height);
    if info.color_type == png::ColorType::Rgb && info.bit_depth == png::BitDepth::Eight && !info.interlaced {
        return Some(Picture { width, height, data: idat(&bytes)?, png_rows: true });
    }
    // Anything else: decode to 8-bit samples, keep RGB, and compress again.
    let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let frame = reader.next_frame(&mut buf).ok()?;
    let channels = frame.color_type.samples();
    let rgb: Vec<u8> = buf[..frame.buffer_size()]
        .chunks_exact(channels)
        .flat_map(|p| if channels >= 3 { [p[0], p[1], p[2]] } else { [p[0]; 3] })
        .collect();
    Some(Picture { width, height, data: miniz_oxide::deflate::compress_to_vec_zlib(&rgb, 6), png_rows: false })
}

/// The concatenated IDAT chunks of a PNG: one zlib stream of filtered rows.
fn idat(png: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 8;
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png[at..at + 4].try_into().ok()?) as usize;
        let kind = &png[at + 4..at + 8];
        let data = png.get(at + 8..at + 8 + length)?;
        if kind == b"IDAT" {
            out.extend_from_slice(data);
        }
        at += 12 + length;
    }
    (!out.is_empty()).then_some(out)
}

/// `#rrggbb` as PDF colour components.
fn rgb(color: &str) -> (f32, f32, f32) {
    let channel = |i: usize| {
        color.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).map_or(0.0, |v| f32::from(v) / 255.0)
    };
    (channel(1), channel(3), channel(5))
}

/// Helvetica's WinAnsi bytes for `text` (Latin-1 is the same for the printable range).
fn win_ansi(text: &str) -> Vec<u8> {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) || ('\u{a0}'..='\u{ff}').contains(&c) { c as u8 } else { b'?' })
        .collect()
}

/// Write one drawing in board units (the page's transform flips y and scales).
fn draw(content: &mut Content, shape: &Shape) {
    let (r, g, b) = rgb(&shape.color);
    content.set_stroke_rgb(r, g, b).set_fill_rgb(r, g, b).set_line_width(shape.width);
    match &shape.tool {
        Tool::Pen { points } => {
            if let [only] = points.as_slice() {
                circle(content, [only[0], only[1]], pen_width(shape.width, only[2]) / 2.0);
                content.fill_nonzero();
            }
            for (width, run) in pen_runs(points, shape.width) {
                content.set_line_width(width);
                content.move_to(run[0][0], run[0][1]);
                for p in &run[1..] {
                    content.line_to(p[0], p[1]);
                }
                content.stroke();
            }
        }
        Tool::Highlighter { points } => {
            content.save_state().set_parameters(Name(b"Highlight"));
            for (i, p) in points.iter().enumerate() {
                if i == 0 {
                    content.move_to(p[0], p[1]);
                } else {
                    content.line_to(p[0], p[1]);
                }
            }
            content.stroke().restore_state();
        }
        Tool::Line { from, to } | Tool::Arrow { from, to } => {
            content.move_to(from[0], from[1]).line_to(to[0], to[1]);
            if matches!(shape.tool, Tool::Arrow { .. }) {
                for end in arrow_head(*from, *to, shape.width) {
                    content.move_to(to[0], to[1]).line_to(end[0], end[1]);
                }
            }
            content.stroke();
        }
        Tool::Rect { from, to } => {
            let (x, y) = (from[0].min(to[0]), from[1].min(to[1]));
            content.rect(x, y, (to[0] - from[0]).abs(), (to[1] - from[1]).abs()).stroke();
        }
        Tool::Ellipse { from, to } => {
            let center = [(from[0] + to[0]) / 2.0, (from[1] + to[1]) / 2.0];
            ellipse(content, center, (to[0] - from[0]).abs() / 2.0, (to[1] - from[1]).abs() / 2.0);
            content.stroke();
        }
        Tool::Text { at, text, size } => {
            for (i, line) in text.lines().enumerate() {
                // The canvas puts the top of the text at `at`; PDF puts the baseline at the
                // origin, about 0.8 of the size below the top for Helvetica. y is flipped back
                // for the glyphs.
                let baseline = at[1] + i as f32 * size * TEXT_LINE_HEIGHT + size * 0.8;
                content.begin_text().set_font(Name(b"Helv"), *size);
                content.set_text_matrix([1.0, 0.0, 0.0, -1.0, at[0], baseline]);
                content.show(Str(&win_ansi(line))).end_text();
            }
        }
    }
}

fn circle(content: &mut Content, center: [f32; 2], radius: f32) {
    ellipse(content, center, radius, radius);
}

fn ellipse(content: &mut Content, [cx, cy]: [f32; 2], rx: f32, ry: f32) {
    let (kx, ky) = (rx * KAPPA, ry * KAPPA);
    content.move_to(cx + rx, cy);
    content.cubic_to(cx + rx, cy + ky, cx + kx, cy + ry, cx, cy + ry);
    content.cubic_to(cx - kx, cy + ry, cx - rx, cy + ky, cx - rx, cy);
    content.cubic_to(cx - rx, cy - ky, cx - kx, cy - ry, cx, cy - ry);
    content.cubic_to(cx + kx, cy - ry, cx + rx, cy - ky, cx + rx, cy);
    content.close_path();
}

/// The whole board as a PDF. `slide_file` maps a slide's picture address to its file (or
/// `None`: not one of ours).
pub fn board_pdf(board: &Board, slide_file: impl Fn(&str) -> Option<PathBuf>) -> Vec<u8> {
    let mut pdf = Pdf::new();
    let mut next = 1;
    let mut alloc = || {
        next += 1;
        Ref::new(next - 1)
    };
    let (catalog, tree, font, highlight) = (alloc(), alloc(), alloc(), alloc());
    pdf.type1_font(font).base_font(Name(b"Helvetica")).encoding_predefined(Name(b"WinAnsiEncoding"));
    pdf.ext_graphics(highlight).stroking_alpha(HIGHLIGHTER_ALPHA).non_stroking_alpha(HIGHLIGHTER_ALPHA);
    let mut pages = Vec::new();
    for page_id in board.page_ids() {
        let (page, content_id) = (alloc(), alloc());
        pages.push(page);
        let (w, h) = board.page_size(page_id);
        let (pw, ph) = (w * POINTS_PER_UNIT, h * POINTS_PER_UNIT);
        let mut content = Content::new();
        let image = board.slide(page_id).and_then(|s| slide_file(&s.image)).and_then(|path| picture(&path));
        let image_ref = image.as_ref().map(|_| alloc());
        if let (Some(picture), Some(id)) = (&image, image_ref) {
            let mut xobject = pdf.image_xobject(id, &picture.data);
            xobject.width(picture.width as i32).height(picture.height as i32).bits_per_component(8);
            xobject.color_space().device_rgb();
            xobject.filter(Filter::FlateDecode);
            if picture.png_rows {
                xobject
                    .decode_parms()
                    .predictor(pdf_writer::types::Predictor::PngOptimum)
                    .colors(3)
                    .bits_per_component(8)
                    .columns(picture.width as i32);
            }
            xobject.finish();
            content.save_state().transform([pw, 0.0, 0.0, ph, 0.0, 0.0]).x_object(Name(b"Slide")).restore_state();
        }
        // Board units, y down, from the top-left corner.
        content.transform([POINTS_PER_UNIT, 0.0, 0.0, -POINTS_PER_UNIT, 0.0, ph]);
        content.set_line_cap(LineCapStyle::RoundCap).set_line_join(LineJoinStyle::RoundJoin);
        let shapes = board.shapes(page_id);
        // The highlighter under the ink, as on the canvas.
        for shape in shapes.iter().filter(|s| matches!(s.tool, Tool::Highlighter { .. })) {
            draw(&mut content, shape);
        }
        for shape in shapes.iter().filter(|s| !matches!(s.tool, Tool::Highlighter { .. })) {
            draw(&mut content, shape);
        }
        let stream = miniz_oxide::deflate::compress_to_vec_zlib(&content.finish(), 6);
        pdf.stream(content_id, &stream).filter(Filter::FlateDecode);
        let mut page_writer = pdf.page(page);
        page_writer.media_box(Rect::new(0.0, 0.0, pw, ph)).parent(tree).contents(content_id);
        let mut resources = page_writer.resources();
        resources.fonts().pair(Name(b"Helv"), font);
        resources.ext_g_states().pair(Name(b"Highlight"), highlight);
        if let Some(id) = image_ref {
            resources.x_objects().pair(Name(b"Slide"), id);
        }
        resources.finish();
        page_writer.finish();
    }
    pdf.catalog(catalog).pages(tree);
    pdf.pages(tree).kids(pages.iter().copied()).count(pages.len() as i32);
    pdf.finish()
}

#[cfg(test)]
mod tests;
