//! Drawing a page on a canvas (browser only). Everything is drawn in board units under one
//! transform, so a page looks the same at any size. Texts are drawn as text (`fillText`), never
//! parsed as markup.

use crate::board::{Shape, TEXT_LINE_HEIGHT, Tool, arrow_head, pen_width};
use leptos::prelude::*;
use std::collections::HashMap;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, HtmlImageElement};

/// How see-through the highlighter is.
const HIGHLIGHTER_ALPHA: f64 = 0.35;
const LASER_COLOR: &str = "#ef233c";
const SELECTION_COLOR: &str = "#2563eb";

/// What one repaint shows.
pub struct Scene<'a> {
    pub page_size: (f32, f32),
    /// The page's slide picture, once loaded.
    pub slide: Option<&'a HtmlImageElement>,
    pub shapes: &'a [&'a Shape],
    /// The drawing in progress.
    pub preview: Option<&'a Shape>,
    pub lasers: &'a [[f32; 2]],
    /// Frames around the selected drawings.
    pub selection: &'a [([f32; 2], [f32; 2])],
}

/// Size the canvas to its box (sharp on high-density screens) and draw the page.
pub fn paint(canvas: &HtmlCanvasElement, scene: &Scene) {
    let Scene { page_size, slide, shapes, preview, lasers, selection } = *scene;
    let Some(ctx) = context(canvas) else { return };
    let css_width = f64::from(canvas.client_width().max(1));
    let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
    let (w, h) = (f64::from(page_size.0), f64::from(page_size.1));
    let pixel_width = (css_width * ratio).round();
    let pixel_height = (pixel_width * h / w).round();
    if f64::from(canvas.width()) != pixel_width || f64::from(canvas.height()) != pixel_height {
        canvas.set_width(pixel_width as u32);
        canvas.set_height(pixel_height as u32);
    }
    let scale = pixel_width / w;
    let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    ctx.set_fill_style_str("#ffffff");
    ctx.fill_rect(0.0, 0.0, pixel_width, pixel_height);
    let _ = ctx.set_transform(scale, 0.0, 0.0, scale, 0.0, 0.0);
    if let Some(image) = slide {
        ctx.set_image_smoothing_enabled(true);
        let _ = ctx.draw_image_with_html_image_element_and_dw_and_dh(image, 0.0, 0.0, w, h);
    }
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    // Highlighter under the ink, as on paper.
    for shape in shapes.iter().filter(|s| matches!(s.tool, Tool::Highlighter { .. })) {
        draw(&ctx, shape);
    }
    for shape in shapes.iter().filter(|s| !matches!(s.tool, Tool::Highlighter { .. })) {
        draw(&ctx, shape);
    }
    if let Some(shape) = preview {
        draw(&ctx, shape);
    }
    for (lo, hi) in selection {
        // A dashed frame a little outside each selected drawing.
        let pad = 8.0;
        ctx.set_global_alpha(1.0);
        ctx.set_stroke_style_str(SELECTION_COLOR);
        ctx.set_line_width(2.0);
        let dashes = js_sys::Array::of2(&6.0.into(), &4.0.into());
        let _ = ctx.set_line_dash(&dashes);
        let (x, y) = (f64::from(lo[0]) - pad, f64::from(lo[1]) - pad);
        ctx.stroke_rect(x, y, f64::from(hi[0] - lo[0]) + 2.0 * pad, f64::from(hi[1] - lo[1]) + 2.0 * pad);
        let _ = ctx.set_line_dash(&js_sys::Array::new());
    }
    for at in lasers {
        ctx.set_global_alpha(0.85);
        ctx.set_fill_style_str(LASER_COLOR);
        ctx.begin_path();
        let _ = ctx.arc(f64::from(at[0]), f64::from(at[1]), 9.0, 0.0, std::f64::consts::TAU);
        ctx.fill();
        ctx.set_global_alpha(1.0);
    }
}

/// Slide pictures, loaded once each; a repaint follows each one's arrival.
#[derive(Clone, Copy)]
pub struct SlideImages {
    images: StoredValue<HashMap<String, HtmlImageElement>, LocalStorage>,
    loaded: RwSignal<u32>,
}

impl SlideImages {
    pub fn new() -> Self {
        Self { images: StoredValue::new_local(HashMap::new()), loaded: RwSignal::new(0) }
    }

    /// Repaint when a picture arrives.
    pub fn track(&self) {
        self.loaded.track();
    }

    /// The picture at `url` if it has loaded; starts loading it otherwise.
    pub fn ready(&self, url: &str) -> Option<HtmlImageElement> {
        let image = match self.images.with_value(|images| images.get(url).cloned()) {
            Some(image) => image,
            None => {
                let image = HtmlImageElement::new().ok()?;
                let loaded = self.loaded;
                let on_load = wasm_bindgen::closure::Closure::once_into_js(move || loaded.update(|n| *n += 1));
                image.set_onload(Some(on_load.unchecked_ref()));
                image.set_src(url);
                self.images.update_value(|images| {
                    images.insert(url.to_owned(), image.clone());
                });
                image
            }
        };
        (image.complete() && image.natural_width() > 0).then_some(image)
    }
}

/// Offer the canvas as it is as a PNG download.
pub fn download_png(canvas: &HtmlCanvasElement, name: &str) {
    let Ok(url) = canvas.to_data_url_with_type("image/png") else { return };
    let Some(document) = web_sys::window().and_then(|w| w.document()) else { return };
    let Some(link) = document.create_element("a").ok().and_then(|a| a.dyn_into::<web_sys::HtmlAnchorElement>().ok())
    else {
        return;
    };
    link.set_href(&url);
    link.set_download(name);
    link.click();
}

fn context(canvas: &HtmlCanvasElement) -> Option<CanvasRenderingContext2d> {
    canvas.get_context("2d").ok().flatten()?.dyn_into::<CanvasRenderingContext2d>().ok()
}

fn draw(ctx: &CanvasRenderingContext2d, shape: &Shape) {
    let width = f64::from(shape.width);
    ctx.set_stroke_style_str(&shape.color);
    ctx.set_fill_style_str(&shape.color);
    ctx.set_line_width(width);
    ctx.set_global_alpha(1.0);
    let p = |v: [f32; 2]| (f64::from(v[0]), f64::from(v[1]));
    match &shape.tool {
        Tool::Pen { points } => {
            // Each segment as wide as the pressure at its end: a stylus thickens as it presses.
            if let [only] = points.as_slice() {
                ctx.begin_path();
                let _ = ctx.arc(
                    f64::from(only[0]),
                    f64::from(only[1]),
                    f64::from(pen_width(shape.width, only[2])) / 2.0,
                    0.0,
                    std::f64::consts::TAU,
                );
                ctx.fill();
            }
            for pair in points.windows(2) {
                ctx.set_line_width(f64::from(pen_width(shape.width, pair[1][2])));
                ctx.begin_path();
                ctx.move_to(f64::from(pair[0][0]), f64::from(pair[0][1]));
                ctx.line_to(f64::from(pair[1][0]), f64::from(pair[1][1]));
                ctx.stroke();
            }
        }
        Tool::Highlighter { points } => {
            ctx.set_global_alpha(HIGHLIGHTER_ALPHA);
            ctx.begin_path();
            for (i, point) in points.iter().enumerate() {
                let (x, y) = p(*point);
                if i == 0 { ctx.move_to(x, y) } else { ctx.line_to(x, y) }
            }
            ctx.stroke();
            ctx.set_global_alpha(1.0);
        }
        Tool::Line { from, to } | Tool::Arrow { from, to } => {
            let ((x0, y0), (x1, y1)) = (p(*from), p(*to));
            ctx.begin_path();
            ctx.move_to(x0, y0);
            ctx.line_to(x1, y1);
            if matches!(shape.tool, Tool::Arrow { .. }) {
                for end in arrow_head(*from, *to, shape.width) {
                    ctx.move_to(x1, y1);
                    ctx.line_to(f64::from(end[0]), f64::from(end[1]));
                }
            }
            ctx.stroke();
        }
        Tool::Rect { from, to } => {
            let ((x0, y0), (x1, y1)) = (p(*from), p(*to));
            ctx.stroke_rect(x0.min(x1), y0.min(y1), (x1 - x0).abs(), (y1 - y0).abs());
        }
        Tool::Ellipse { from, to } => {
            let ((x0, y0), (x1, y1)) = (p(*from), p(*to));
            ctx.begin_path();
            let _ = ctx.ellipse(
                (x0 + x1) / 2.0,
                (y0 + y1) / 2.0,
                (x1 - x0).abs() / 2.0,
                (y1 - y0).abs() / 2.0,
                0.0,
                0.0,
                std::f64::consts::TAU,
            );
            ctx.stroke();
        }
        Tool::Text { at, text, size } => {
            let size = f64::from(*size);
            ctx.set_font(&format!("{size}px system-ui, sans-serif"));
            ctx.set_text_baseline("top");
            for (i, line) in text.lines().enumerate() {
                let _ = ctx.fill_text(
                    line,
                    f64::from(at[0]),
                    f64::from(at[1]) + i as f64 * size * f64::from(TEXT_LINE_HEIGHT),
                );
            }
        }
    }
}
