//! PDF slides: a PDF's pages rendered to PNG images with hayro.
//!
//! Rendering runs in a child process (`lectern render-slides`, driven from the server crate)
//! with its own memory and CPU limits, so a PDF made to exhaust either, or one that crashes the
//! renderer, costs that process and never the server. This module is what the child runs.

use hayro::hayro_interpret::InterpreterSettings;
use hayro::hayro_syntax::{LoadPdfError, Pdf};
use hayro::vello_cpu::color::palette::css::WHITE;
use hayro::{PixmapSettings, RenderCache, RenderSettings};

/// What a PDF may ask of the renderer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderLimits {
    pub max_pages: usize,
    /// Every slide is rendered this many pixels wide...
    pub width_px: u32,
    /// ...and a page that would need more pixels than this (a very tall one) is refused.
    pub max_pixels: u64,
}

/// Why a PDF cannot become slides, in words for the teacher who uploaded it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum PdfRefusal {
    #[error("This PDF is password-protected or encrypted. Save an unprotected copy and upload that.")]
    Encrypted,
    #[error("This file could not be read as a PDF. It may be damaged.")]
    Unreadable,
    #[error("This PDF has no pages.")]
    NoPages,
    #[error("This PDF has {pages} pages; at most {max} can become slides. Split it and upload the parts.")]
    TooManyPages { pages: usize, max: usize },
    #[error("Page {page} of this PDF is too large to show ({width_px} × {height_px} pixels).")]
    PageTooLarge { page: usize, width_px: u32, height_px: u64 },
    #[error("This PDF took longer than {seconds} seconds to prepare, so it was stopped.")]
    TooSlow { seconds: u64 },
    #[error("This PDF needed more memory than allowed or made the renderer fail, so it was stopped.")]
    RendererFailed,
}

/// One rendered page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedPage {
    /// From 1.
    pub number: usize,
    pub png: Vec<u8>,
    pub width_px: u32,
    pub height_px: u32,
}

/// Whether the file asks to be decrypted. hayro opens PDFs with only an owner password without
/// a word, so the trailer's `/Encrypt` entry is looked for directly: a class's slides should not
/// be copies of documents their author locked.
fn is_encrypted(bytes: &[u8]) -> bool {
    bytes.windows(8).any(|w| w == b"/Encrypt")
}

/// The pixel size page `number` would render at, or why it is refused.
fn page_pixels(
    number: usize,
    (width_pt, height_pt): (f32, f32),
    limits: &RenderLimits,
) -> Result<(u32, u32), PdfRefusal> {
    if !(width_pt.is_finite() && height_pt.is_finite() && width_pt > 0.0 && height_pt > 0.0) {
        return Err(PdfRefusal::Unreadable);
    }
    let width_px = limits.width_px;
    let height = (f64::from(width_px) * f64::from(height_pt) / f64::from(width_pt)).round().max(1.0);
    // hayro takes sizes as u16; anything near that is far past any sensible page anyway.
    let height_px = height.min(u64::MAX as f64) as u64;
    if u64::from(width_px) * height_px > limits.max_pixels || height_px > u64::from(u16::MAX) {
        return Err(PdfRefusal::PageTooLarge { page: number, width_px, height_px });
    }
    Ok((width_px, height_px as u32))
}

/// Open a PDF and check it against the limits: the number of pages, or why it is refused.
pub fn page_count(bytes: &[u8], limits: &RenderLimits) -> Result<usize, PdfRefusal> {
    open(bytes.to_vec(), limits).map(|pdf| pdf.pages().len())
}

fn open(bytes: Vec<u8>, limits: &RenderLimits) -> Result<Pdf, PdfRefusal> {
    if is_encrypted(&bytes) {
        return Err(PdfRefusal::Encrypted);
    }
    let pdf = Pdf::new(bytes).map_err(|err| match err {
        LoadPdfError::Decryption(_) => PdfRefusal::Encrypted,
        LoadPdfError::Invalid => PdfRefusal::Unreadable,
    })?;
    let pages = pdf.pages();
    if pages.is_empty() {
        return Err(PdfRefusal::NoPages);
    }
    if pages.len() > limits.max_pages {
        return Err(PdfRefusal::TooManyPages { pages: pages.len(), max: limits.max_pages });
    }
    // Every page's size is checked before any is rendered, so a bad last page fails fast.
    for (i, page) in pages.iter().enumerate() {
        page_pixels(i + 1, page.render_dimensions(), limits)?;
    }
    Ok(pdf)
}

/// Render every page of a PDF to PNG, in order: `started` hears the page count once the file
/// has passed its checks, then `rendered` each page as it is done.
pub fn render_pdf(
    bytes: Vec<u8>,
    limits: &RenderLimits,
    mut started: impl FnMut(usize),
    mut rendered: impl FnMut(RenderedPage),
) -> Result<(), PdfRefusal> {
    let pdf = open(bytes, limits)?;
    let pages = pdf.pages();
    started(pages.len());
    let cache = RenderCache::new();
    let interpreter = InterpreterSettings::default();
    let settings = RenderSettings::default();
    for (i, page) in pages.iter().enumerate() {
        let (width_pt, height_pt) = page.render_dimensions();
        let (width_px, height_px) = page_pixels(i + 1, (width_pt, height_pt), limits)?;
        let scale = PixmapSettings {
            x_scale: width_px as f32 / width_pt,
            y_scale: height_px as f32 / height_pt,
            bg_color: WHITE,
        };
        let pixmap = hayro::render(page, &cache, &interpreter, &settings, &scale);
        let (w, h) = (u32::from(pixmap.width()), u32::from(pixmap.height()));
        let png = encode_png(pixmap.data_as_u8_slice(), w, h).map_err(|_| PdfRefusal::RendererFailed)?;
        rendered(RenderedPage { number: i + 1, png, width_px: w, height_px: h });
    }
    Ok(())
}

/// Premultiplied RGBA over an opaque white background is plain RGB: drop the alpha channel.
fn encode_png(rgba: &[u8], width: u32, height: u32) -> Result<Vec<u8>, png::EncodingError> {
    let rgb: Vec<u8> = rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]).collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&rgb)?;
    writer.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests;
