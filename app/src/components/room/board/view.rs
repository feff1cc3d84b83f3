//! Zoom and pan: which part of the page a browser shows. Each person's own; never sent.

/// The most a page can be magnified.
pub const MAX_ZOOM: f32 = 6.0;

/// The part of the page shown: magnified `zoom` times (1: the whole page), with the board point
/// `origin` at the top-left corner of the canvas.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct View {
    pub zoom: f32,
    pub origin: [f32; 2],
}

impl Default for View {
    fn default() -> Self {
        Self::FIT
    }
}

impl View {
    /// The whole page.
    pub const FIT: View = View { zoom: 1.0, origin: [0.0, 0.0] };

    /// The same view kept within the page: no zooming out past the page, no panning off it.
    pub fn within(self, page: (f32, f32)) -> View {
        let zoom = if self.zoom.is_finite() { self.zoom.clamp(1.0, MAX_ZOOM) } else { 1.0 };
        let limit = |origin: f32, size: f32| {
            let max = size - size / zoom;
            if origin.is_finite() { origin.clamp(0.0, max) } else { 0.0 }
        };
        View { zoom, origin: [limit(self.origin[0], page.0), limit(self.origin[1], page.1)] }
    }

    /// Magnify by `factor`, keeping the board point `at` where it is on the screen.
    pub fn zoomed(self, factor: f32, at: [f32; 2], page: (f32, f32)) -> View {
        let zoom = (self.zoom * factor).clamp(1.0, MAX_ZOOM);
        let keep = self.zoom / zoom;
        let origin = [at[0] - (at[0] - self.origin[0]) * keep, at[1] - (at[1] - self.origin[1]) * keep];
        View { zoom, origin }.within(page)
    }

    /// Move the page by a distance on the screen (`css` pixels of a canvas `css_width` wide).
    pub fn panned(self, css: [f32; 2], css_width: f32, page: (f32, f32)) -> View {
        let k = self.units_per_css_pixel(css_width, page.0);
        View { origin: [self.origin[0] - css[0] * k, self.origin[1] - css[1] * k], ..self }.within(page)
    }

    /// The board point under a canvas position (`css` pixels from its top-left corner).
    pub fn to_board(self, css: [f32; 2], css_width: f32, page_width: f32) -> [f32; 2] {
        let k = self.units_per_css_pixel(css_width, page_width);
        [self.origin[0] + css[0] * k, self.origin[1] + css[1] * k]
    }

    fn units_per_css_pixel(self, css_width: f32, page_width: f32) -> f32 {
        page_width / (css_width.max(1.0) * self.zoom)
    }

    /// Device pixels per board unit, for a canvas `pixel_width` wide showing a page `page_width`
    /// units wide.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    pub fn scale(self, pixel_width: f64, page_width: f64) -> f64 {
        pixel_width / page_width * f64::from(self.zoom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: (f32, f32) = (1600.0, 900.0);

    #[test]
    fn zooming_keeps_the_point_under_the_pointer_and_stays_on_the_page() {
        let at = [400.0, 300.0];
        let twice = View::FIT.zoomed(2.0, at, PAGE);
        assert_eq!(twice.zoom, 2.0);
        // The point was 400 units from the left edge at zoom 1; now 200 (half), so the origin is 200.
        assert_eq!(twice.origin, [200.0, 150.0]);
        // On a canvas 800 CSS pixels wide, the point is still under the same pixel (200, 150).
        assert_eq!(twice.to_board([200.0, 150.0], 800.0, PAGE.0), at);
        // Out again past the whole page: the whole page.
        assert_eq!(twice.zoomed(0.1, at, PAGE), View::FIT);
        // Never past the largest zoom, and never off the page near a corner.
        let deep = View::FIT.zoomed(100.0, [1600.0, 900.0], PAGE);
        assert_eq!(deep.zoom, MAX_ZOOM);
        assert_eq!(deep.to_board([800.0, 450.0], 800.0, PAGE.0), [1600.0, 900.0]);
    }

    #[test]
    fn panning_follows_the_pointer_within_the_page() {
        let view = View { zoom: 2.0, origin: [400.0, 200.0] };
        // Dragging 100 CSS pixels right on an 800-pixel canvas at zoom 2 moves 100 units left.
        assert_eq!(view.panned([100.0, 0.0], 800.0, PAGE).origin, [300.0, 200.0]);
        // Not past the edges.
        assert_eq!(view.panned([10_000.0, -10_000.0], 800.0, PAGE).origin, [0.0, 450.0]);
        // At zoom 1 there is nowhere to pan to; nonsense is put right.
        assert_eq!(View::FIT.panned([50.0, 50.0], 800.0, PAGE), View::FIT);
        assert_eq!(View { zoom: f32::NAN, origin: [f32::INFINITY, 3.0] }.within(PAGE), View::FIT);
        assert_eq!(View::FIT.scale(1600.0, 1600.0), 1.0);
        assert_eq!(view.scale(800.0, 1600.0), 1.0);
    }
}
