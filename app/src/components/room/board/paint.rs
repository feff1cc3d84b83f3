//! Drawing a page on a canvas (browser only). Everything is drawn in board units under one
//! transform, so a page looks the same at any size. Texts are drawn as text (`fillText`), never
//! parsed as markup.

use super::view::View;
use crate::board::{PageId, Shape, TEXT_LINE_HEIGHT, Tool, arrow_head, pen_runs, pen_width};
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
    pub page: PageId,
    pub page_size: (f32, f32),
    /// Counts the board's changes other than drawings added on top: the settled layer is
    /// redrawn whole only when it moves, and new drawings are otherwise added to it.
    pub epoch: u64,
    pub view: View,
    /// The page's slide picture, once loaded.
    pub slide: Option<&'a HtmlImageElement>,
    /// The settled drawings, in drawing order.
    pub shapes: &'a [&'a Shape],
    /// Drawings left out of the settled layer (the selection being dragged)...
    pub lifted: &'a [String],
    /// ...and drawn on top instead, where the pointer has them now.
    pub floating: &'a [Shape],
    /// The drawing in progress.
    pub preview: Option<&'a Shape>,
    pub lasers: &'a [[f32; 2]],
    /// Frames around the selected drawings.
    pub selection: &'a [([f32; 2], [f32; 2])],
}

/// What the settled layer was drawn for: while it matches, a repaint only copies the layer and
/// draws what moves on top, so the pointer stays smooth with thousands of drawings on a page.
#[derive(Clone, Debug, PartialEq)]
struct LayerKey {
    page: PageId,
    epoch: u64,
    view: View,
    size: (u32, u32),
    slide: bool,
    lifted: Vec<String>,
}

/// The canvas's painter: an offscreen layer with the slide and the settled drawings.
pub struct Painter {
    layer: Option<HtmlCanvasElement>,
    key: Option<LayerKey>,
    /// How many of the page's drawings the layer holds.
    drawn: usize,
}

/// How long the last repaints took, for the page to show in `data-*` attributes (the
/// whiteboard benchmark reads them).
#[derive(Clone, Copy, Debug, Default)]
pub struct PaintTimes {
    /// Redrawing the settled layer (every drawing on the page), when it was redrawn.
    pub layer_ms: Option<f64>,
    /// The whole repaint.
    pub frame_ms: f64,
}

impl Painter {
    pub fn new() -> Self {
        Self { layer: None, key: None, drawn: 0 }
    }

    /// Size the canvas to its box (sharp on high-density screens) and draw the scene.
    pub fn paint(&mut self, canvas: &HtmlCanvasElement, scene: &Scene) -> PaintTimes {
        let started = now_ms();
        let mut times = PaintTimes::default();
        let Some(ctx) = context(canvas) else { return times };
        let css_width = f64::from(canvas.client_width().max(1));
        let ratio = web_sys::window().map_or(1.0, |w| w.device_pixel_ratio()).max(1.0);
        let (w, h) = (f64::from(scene.page_size.0), f64::from(scene.page_size.1));
        let pixel_width = (css_width * ratio).round();
        let pixel_height = (pixel_width * h / w).round();
        let size = (pixel_width as u32, pixel_height as u32);
        if (canvas.width(), canvas.height()) != size {
            canvas.set_width(size.0);
            canvas.set_height(size.1);
        }
        let scale = scene.view.scale(pixel_width, w);
        let [ox, oy] = scene.view.origin.map(f64::from);
        let key = LayerKey {
            page: scene.page,
            epoch: scene.epoch,
            view: scene.view,
            size,
            slide: scene.slide.is_some(),
            lifted: scene.lifted.to_vec(),
        };
        // Drawings added on top since the layer was drawn go onto it; a highlighter among them
        // (drawn under the ink) or any other change redraws the layer.
        let added = scene.shapes.get(self.drawn..).unwrap_or_default();
        let same = self.key.as_ref() == Some(&key) && self.layer.is_some() && scene.shapes.len() >= self.drawn;
        if same && !added.iter().any(|s| matches!(s.tool, Tool::Highlighter { .. })) {
            if !added.is_empty()
                && let Some(layer_ctx) = self.layer.as_ref().and_then(context)
            {
                in_board_units(&layer_ctx, scale, [ox, oy]);
                for shape in added {
                    draw(&layer_ctx, shape);
                }
            }
        } else {
            let layer_started = now_ms();
            self.draw_layer(scene, size, scale, [ox, oy]);
            self.key = Some(key);
            times.layer_ms = Some(now_ms() - layer_started);
        }
        self.drawn = scene.shapes.len();
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        if let Some(layer) = &self.layer {
            let _ = ctx.draw_image_with_html_canvas_element(layer, 0.0, 0.0);
        }
        in_board_units(&ctx, scale, [ox, oy]);
        for shape in scene.floating.iter().chain(scene.preview) {
            draw(&ctx, shape);
        }
        for (lo, hi) in scene.selection {
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
        for at in scene.lasers {
            ctx.set_global_alpha(0.85);
            ctx.set_fill_style_str(LASER_COLOR);
            ctx.begin_path();
            let _ = ctx.arc(f64::from(at[0]), f64::from(at[1]), 9.0, 0.0, std::f64::consts::TAU);
            ctx.fill();
            ctx.set_global_alpha(1.0);
        }
        times.frame_ms = now_ms() - started;
        times
    }

    /// White paper, the slide, then the settled drawings (highlighter under the ink).
    fn draw_layer(&mut self, scene: &Scene, size: (u32, u32), scale: f64, [ox, oy]: [f64; 2]) {
        if self.layer.is_none() {
            self.layer = web_sys::window()
                .and_then(|w| w.document())
                .and_then(|d| d.create_element("canvas").ok())
                .and_then(|c| c.dyn_into::<HtmlCanvasElement>().ok());
        }
        let Some(layer) = &self.layer else { return };
        if (layer.width(), layer.height()) != size {
            layer.set_width(size.0);
            layer.set_height(size.1);
        }
        let Some(ctx) = context(layer) else { return };
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.set_fill_style_str("#ffffff");
        ctx.fill_rect(0.0, 0.0, f64::from(size.0), f64::from(size.1));
        in_board_units(&ctx, scale, [ox, oy]);
        if let Some(image) = scene.slide {
            ctx.set_image_smoothing_enabled(true);
            let (w, h) = (f64::from(scene.page_size.0), f64::from(scene.page_size.1));
            let _ = ctx.draw_image_with_html_image_element_and_dw_and_dh(image, 0.0, 0.0, w, h);
        }
        let settled = scene.shapes.iter().filter(|s| !scene.lifted.contains(&s.id));
        let (marks, ink): (Vec<&&Shape>, Vec<&&Shape>) =
            settled.partition(|s| matches!(s.tool, Tool::Highlighter { .. }));
        for shape in marks.into_iter().chain(ink) {
            draw(&ctx, shape);
        }
    }
}

/// Draw in board units: `scale` device pixels a unit, the board point `origin` at the top-left
/// corner, strokes with round ends and joins.
fn in_board_units(ctx: &CanvasRenderingContext2d, scale: f64, [ox, oy]: [f64; 2]) {
    let _ = ctx.set_transform(scale, 0.0, 0.0, scale, -ox * scale, -oy * scale);
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
}

fn now_ms() -> f64 {
    web_sys::window().and_then(|w| w.performance()).map_or(0.0, |p| p.now())
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
            // As wide as the pressure says: a stylus thickens as it presses.
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
            for (width, run) in pen_runs(points, shape.width) {
                ctx.set_line_width(f64::from(width));
                ctx.begin_path();
                for (i, p) in run.iter().enumerate() {
                    let (x, y) = (f64::from(p[0]), f64::from(p[1]));
                    if i == 0 { ctx.move_to(x, y) } else { ctx.line_to(x, y) }
                }
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
