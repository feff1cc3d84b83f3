use super::*;
use crate::sample_pdfs;

const LIMITS: RenderLimits = RenderLimits { max_pages: 20, width_px: 480, max_pixels: 1_000_000 };

fn render(bytes: Vec<u8>) -> Result<Vec<RenderedPage>, PdfRefusal> {
    let mut pages = Vec::new();
    let mut announced = None;
    render_pdf(bytes, &LIMITS, |n| announced = Some(n), |p| pages.push(p))?;
    assert_eq!(announced, Some(pages.len()));
    Ok(pages)
}

fn decode(png: &[u8]) -> (u32, u32, Vec<u8>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    assert_eq!(info.color_type, png::ColorType::Rgb);
    (info.width, info.height, buf)
}

fn pixel(rgb: &[u8], width: u32, x: u32, y: u32) -> [u8; 3] {
    let i = ((y * width + x) * 3) as usize;
    [rgb[i], rgb[i + 1], rgb[i + 2]]
}

#[test]
fn a_lecture_becomes_one_png_per_page_with_its_text_shapes_and_image() {
    let pages = render(sample_pdfs::lecture(3)).unwrap();
    assert_eq!(pages.iter().map(|p| p.number).collect::<Vec<_>>(), [1, 2, 3]);
    for page in &pages {
        // 960 × 540 points at 480 pixels wide.
        assert_eq!((page.width_px, page.height_px), (480, 270));
        let (w, h, rgb) = decode(&page.png);
        assert_eq!((w, h), (480, 270));
        // The title bar is dark blue, with white title text somewhere in it.
        assert_eq!(pixel(&rgb, w, 470, 5), [26, 51, 128]);
        let mut title_row = (10..25).flat_map(|y| (20..300).map(move |x| (x, y)));
        assert!(title_row.any(|(x, y)| pixel(&rgb, w, x, y)[0] > 200), "no title text");
        // Body text is black on white.
        let mut body = (50..110).flat_map(|y| (20..240).map(move |x| (x, y)));
        assert!(body.any(|(x, y)| pixel(&rgb, w, x, y).iter().all(|&c| c < 80)), "no body text");
        // The green rectangle, and the image's gradient (its corner pixels differ).
        assert_eq!(pixel(&rgb, w, 310, 190), [26, 153, 51]);
        assert_ne!(pixel(&rgb, w, 345, 235), pixel(&rgb, w, 455, 215));
        // The background is white.
        assert_eq!(pixel(&rgb, w, 470, 260), [255, 255, 255]);
    }
}

#[test]
fn hostile_pdfs_are_refused_with_the_reason() {
    assert_eq!(render(sample_pdfs::encrypted()), Err(PdfRefusal::Encrypted));
    assert_eq!(render(sample_pdfs::garbage()), Err(PdfRefusal::Unreadable));
    assert_eq!(render(b"%PDF-1.4\n%%EOF".to_vec()), Err(PdfRefusal::Unreadable));
    assert_eq!(render(sample_pdfs::many_pages(21)), Err(PdfRefusal::TooManyPages { pages: 21, max: 20 }));
    assert!(matches!(render(sample_pdfs::towering_page()), Err(PdfRefusal::PageTooLarge { page: 1, .. })));
    // The limit on pages is inclusive, and blank pages render white.
    let blank = render(sample_pdfs::many_pages(20)).unwrap();
    assert_eq!(blank.len(), 20);
    let (w, _, rgb) = decode(&blank[19].png);
    assert_eq!(pixel(&rgb, w, 240, 135), [255, 255, 255]);
    // Every refusal says what to do in words for a teacher.
    assert!(PdfRefusal::Encrypted.to_string().contains("unprotected copy"));
}

#[test]
fn a_cut_off_pdf_is_refused_or_rendered_but_never_panics() {
    let whole = sample_pdfs::lecture(4);
    for cut in [whole.len() / 4, whole.len() / 2, whole.len() - 40] {
        match render(whole[..cut].to_vec()) {
            Ok(pages) => assert!(pages.len() <= 4),
            Err(refusal) => assert!(matches!(refusal, PdfRefusal::Unreadable | PdfRefusal::NoPages), "{refusal:?}"),
        }
    }
}

#[test]
fn page_sizes_are_checked_before_rendering() {
    let limits = RenderLimits { max_pages: 5, width_px: 1000, max_pixels: 2_000_000 };
    assert_eq!(page_pixels(1, (960.0, 540.0), &limits), Ok((1000, 563)));
    assert_eq!(page_pixels(1, (100.0, 200.0), &limits), Ok((1000, 2000)));
    assert!(matches!(page_pixels(2, (100.0, 201.0), &limits), Err(PdfRefusal::PageTooLarge { page: 2, .. })));
    for bad in [(0.0, 10.0), (10.0, -1.0), (f32::NAN, 10.0), (10.0, f32::INFINITY)] {
        assert_eq!(page_pixels(1, bad, &limits), Err(PdfRefusal::Unreadable), "{bad:?}");
    }
    // Even with a generous pixel budget, a page hayro cannot size (over 65,535 rows) is refused.
    let generous = RenderLimits { max_pixels: u64::MAX, ..limits };
    assert!(page_pixels(1, (1.0, 100.0), &generous).is_err());
}
