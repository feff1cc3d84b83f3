//! The whiteboard: typed operations on a class's board, and the board they build.
//!
//! One [`Board`] per class, on the server (the authority: it checks who may do what and keeps
//! the operations in the database) and in every browser (built from the welcome's snapshot and
//! the operations that follow). Both run this same code, so they cannot disagree.
//!
//! Every operation carries an id chosen by its sender; applying an id twice changes nothing,
//! so a client may resend after a reconnect without drawing a stroke twice. Undo and redo are
//! per user ([`History`]): undoing sends the inverse operation, never rewinds other people's.

use crate::protocol::UserId;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A page of the board. The first page is 1; the server numbers the pages it adds.
pub type PageId = i64;
/// Chosen by the sender; unique on a board. The key that makes an operation idempotent.
pub type OpId = String;
/// Chosen by the drawer; unique on a board.
pub type ShapeId = String;

/// A blank page's size, in board units (a 16:9 page). Slides keep their own aspect.
pub const BLANK_PAGE: (f32, f32) = (1600.0, 900.0);
/// Ids are short printable tokens.
pub const MAX_ID_CHARS: usize = 40;
/// How far outside its page a point may lie (a stroke may start on the page and leave it).
const MARGIN: f32 = 0.25;

/// Who may draw, besides the class's staff (who always may).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "who", rename_all = "snake_case")]
pub enum DrawAccess {
    #[default]
    StaffOnly,
    Student {
        user: UserId,
    },
    Everyone,
}

/// A drawn object: a stroke, a shape or a text.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub id: ShapeId,
    /// Set by the server to whoever drew it; what a client sends here is ignored.
    #[serde(default)]
    pub author: UserId,
    /// `#rrggbb`.
    pub color: String,
    /// Stroke width in board units.
    pub width: f32,
    #[serde(flatten)]
    pub tool: Tool,
}

impl Shape {
    /// This shape moved by (`dx`, `dy`).
    pub fn moved(&self, dx: f32, dy: f32) -> Shape {
        let mut moved = self.clone();
        moved.tool.translate(dx, dy);
        moved
    }

    /// The smallest box around the shape: (top-left, bottom-right), stroke width left out; a
    /// text's box is estimated from its length and size.
    pub fn bounds(&self) -> ([f32; 2], [f32; 2]) {
        if let Tool::Text { at, text, size } = &self.tool {
            let longest = text.lines().map(|l| l.chars().count()).max().unwrap_or(0) as f32;
            let lines = text.lines().count().max(1) as f32;
            return (*at, [at[0] + longest * size * 0.6, at[1] + lines * size * 1.2]);
        }
        let points = self.tool.points();
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in &points {
            for i in 0..2 {
                lo[i] = lo[i].min(p[i]);
                hi[i] = hi[i].max(p[i]);
            }
        }
        (lo, hi)
    }
}

/// What a shape is. Points are `[x, y]` in board units from the page's top-left corner.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "tool", rename_all = "snake_case")]
pub enum Tool {
    /// Freehand, with the stylus's pressure (0 to 1) at each point.
    Pen {
        points: Vec<[f32; 3]>,
    },
    /// Freehand, translucent, drawn under the ink.
    Highlighter {
        points: Vec<[f32; 2]>,
    },
    Line {
        from: [f32; 2],
        to: [f32; 2],
    },
    Arrow {
        from: [f32; 2],
        to: [f32; 2],
    },
    Rect {
        from: [f32; 2],
        to: [f32; 2],
    },
    Ellipse {
        from: [f32; 2],
        to: [f32; 2],
    },
    /// `size` is the font size in board units.
    Text {
        at: [f32; 2],
        text: String,
        size: f32,
    },
}

impl Tool {
    fn points(&self) -> Vec<[f32; 2]> {
        match self {
            Tool::Pen { points } => points.iter().map(|p| [p[0], p[1]]).collect(),
            Tool::Highlighter { points } => points.clone(),
            Tool::Line { from, to }
            | Tool::Arrow { from, to }
            | Tool::Rect { from, to }
            | Tool::Ellipse { from, to } => {
                vec![*from, *to]
            }
            Tool::Text { at, .. } => vec![*at],
        }
    }

    fn translate(&mut self, dx: f32, dy: f32) {
        let mv = |p: &mut [f32; 2]| {
            p[0] += dx;
            p[1] += dy;
        };
        match self {
            Tool::Pen { points } => points.iter_mut().for_each(|p| {
                p[0] += dx;
                p[1] += dy;
            }),
            Tool::Highlighter { points } => points.iter_mut().for_each(mv),
            Tool::Line { from, to }
            | Tool::Arrow { from, to }
            | Tool::Rect { from, to }
            | Tool::Ellipse { from, to } => {
                mv(from);
                mv(to);
            }
            Tool::Text { at, .. } => mv(at),
        }
    }
}

/// A pen segment's width at pressure `p` (0 to 1): half the stroke's width at no pressure, one
/// and a half at full. The canvas and the PDF export draw with this.
pub fn pen_width(width: f32, p: f32) -> f32 {
    width * (0.5 + p.clamp(0.0, 1.0))
}

/// How finely pen widths are told apart when a stroke is drawn (board units).
const PEN_WIDTH_STEP: f32 = 0.25;

/// A pen stroke as runs of connected points drawn at one width: each segment is as wide as the
/// pressure at its end says (to [`PEN_WIDTH_STEP`]), and neighbouring segments of the same width
/// are one run. A mouse's stroke, whose pressure never changes, is a single run, so it is drawn
/// as one path rather than one per segment. Runs share their joining point.
pub fn pen_runs(points: &[[f32; 3]], width: f32) -> Vec<(f32, &[[f32; 3]])> {
    let mut runs = Vec::new();
    // The run so far: its width, and the point it starts from.
    let mut run: Option<(f32, usize)> = None;
    for (end, point) in points.iter().enumerate().skip(1) {
        let this = (pen_width(width, point[2]) / PEN_WIDTH_STEP).round() * PEN_WIDTH_STEP;
        match run {
            Some((w, start)) if w != this => {
                runs.push((w, &points[start..end]));
                run = Some((this, end - 1));
            }
            Some(_) => {}
            None => run = Some((this, 0)),
        }
    }
    if let Some((w, start)) = run {
        runs.push((w, &points[start..]));
    }
    runs
}

/// The two ends of an arrow's head (it points at `to`).
pub fn arrow_head(from: [f32; 2], to: [f32; 2], width: f32) -> [[f32; 2]; 2] {
    let angle = (to[1] - from[1]).atan2(to[0] - from[0]);
    let head = (width * 4.0).max(12.0);
    [-0.45f32, 0.45].map(|side| [to[0] - head * (angle + side).cos(), to[1] - head * (angle + side).sin()])
}

/// Lines of text are this many times the text's size apart.
pub const TEXT_LINE_HEIGHT: f32 = 1.2;

/// A slide a page shows under its drawings (a page without one is blank).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlideRef {
    /// Where the browser loads the slide's image from.
    pub image: String,
    pub width: f32,
    pub height: f32,
}

/// One change to the board.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum BoardAction {
    Draw {
        page: PageId,
        shape: Shape,
    },
    /// Remove shapes (kept, so that undo can bring them back).
    Erase {
        page: PageId,
        ids: Vec<ShapeId>,
    },
    /// Bring erased shapes back.
    Restore {
        page: PageId,
        ids: Vec<ShapeId>,
    },
    Move {
        page: PageId,
        ids: Vec<ShapeId>,
        dx: f32,
        dy: f32,
    },
    /// Erase everything on a page (staff only).
    Clear {
        page: PageId,
    },
    /// Insert a blank page after `after` (at the end when absent). The server fills in `page`.
    AddPage {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<PageId>,
        #[serde(default)]
        page: PageId,
    },
    /// Insert a slide deck's pages after `after` (at the end when absent), staff only. A browser
    /// names the deck; the server fills in its `slides` and `first`, the id of the first new
    /// page (the others follow it in order).
    InsertSlides {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<PageId>,
        deck: i64,
        #[serde(default)]
        slides: Vec<SlideRef>,
        #[serde(default)]
        first: PageId,
    },
    /// Everyone follows the presenter to this page (staff only).
    ShowPage {
        page: PageId,
    },
    /// Who may draw (staff only).
    SetAccess {
        access: DrawAccess,
    },
}

/// An action with the id that makes it idempotent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardOp {
    pub id: OpId,
    #[serde(flatten)]
    pub action: BoardAction,
}

/// The limits an operation is checked against (from the server's config).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoardLimits {
    pub max_pages: usize,
    pub max_shapes_per_page: usize,
    pub max_points: usize,
    pub max_text_chars: usize,
    pub max_ids_per_op: usize,
}

impl BoardLimits {
    /// For operations that were already checked (replayed from the database, or sent by the
    /// server to a browser).
    pub const TRUSTED: BoardLimits = BoardLimits {
        max_pages: usize::MAX,
        max_shapes_per_page: usize::MAX,
        max_points: usize::MAX,
        max_text_chars: usize::MAX,
        max_ids_per_op: usize::MAX,
    };
}

/// Who is acting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user: UserId,
    /// Teacher, co-teacher or moderator.
    pub staff: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BoardError {
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    Invalid(String),
    #[error("there is no page {0}")]
    NoSuchPage(PageId),
    #[error("{0}")]
    Full(&'static str),
}

/// What applying an operation did.
#[derive(Clone, Debug, PartialEq)]
pub enum Applied {
    /// The board changed; this is the operation as applied (the author and new page ids filled
    /// in), to store and to send to everyone.
    Changed(BoardOp),
    /// Its id was applied before: nothing to do.
    Duplicate,
}

#[derive(Clone, Debug, PartialEq)]
struct StoredShape {
    shape: Shape,
    erased: bool,
}

#[derive(Clone, Debug, PartialEq)]
struct Page {
    id: PageId,
    slide: Option<SlideRef>,
    /// In drawing order (later on top), erased ones included.
    shapes: Vec<StoredShape>,
    index: HashMap<ShapeId, usize>,
}

impl Page {
    fn new(id: PageId, slide: Option<SlideRef>) -> Self {
        Self { id, slide, shapes: Vec::new(), index: HashMap::new() }
    }

    fn size(&self) -> (f32, f32) {
        self.slide.as_ref().map_or(BLANK_PAGE, |s| (s.width, s.height))
    }

    fn live(&self) -> impl Iterator<Item = &Shape> {
        self.shapes.iter().filter(|s| !s.erased).map(|s| &s.shape)
    }
}

/// A page as a late joiner receives it: its slide and its visible shapes, in drawing order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PageView {
    pub id: PageId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slide: Option<SlideRef>,
    pub shapes: Vec<Shape>,
}

/// The whole board as it is now: what the welcome carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BoardSnapshot {
    pub pages: Vec<PageView>,
    /// The page the presenter shows.
    pub current: PageId,
    pub access: DrawAccess,
}

/// A class's board: its pages in order, their shapes, the presenter's page and who may draw.
#[derive(Clone, Debug, PartialEq)]
pub struct Board {
    pages: Vec<Page>,
    current: PageId,
    access: DrawAccess,
    applied: HashSet<OpId>,
}

impl Default for Board {
    fn default() -> Self {
        Self { pages: vec![Page::new(1, None)], current: 1, access: DrawAccess::StaffOnly, applied: HashSet::new() }
    }
}

impl Board {
    pub fn current(&self) -> PageId {
        self.current
    }

    pub fn access(&self) -> DrawAccess {
        self.access
    }

    pub fn has_page(&self, page: PageId) -> bool {
        self.page(page).is_some()
    }

    pub fn page_ids(&self) -> Vec<PageId> {
        self.pages.iter().map(|p| p.id).collect()
    }

    /// The visible shapes of a page, in drawing order.
    pub fn shapes(&self, page: PageId) -> Vec<&Shape> {
        self.page(page).map(|p| p.live().collect()).unwrap_or_default()
    }

    /// The size of a page in board units (a blank page's when there is no such page).
    pub fn page_size(&self, page: PageId) -> (f32, f32) {
        self.page(page).map_or(BLANK_PAGE, Page::size)
    }

    /// The visible shapes of a page that pass within `radius` of `at`, topmost first: what an
    /// eraser or a click touches.
    pub fn hit(&self, page: PageId, at: [f32; 2], radius: f32) -> Vec<ShapeId> {
        let mut hits: Vec<ShapeId> = self
            .shapes(page)
            .into_iter()
            .filter(|s| distance_to(s, at) <= radius + s.width / 2.0)
            .map(|s| s.id.clone())
            .collect();
        hits.reverse();
        hits
    }

    pub fn slide(&self, page: PageId) -> Option<&SlideRef> {
        self.page(page).and_then(|p| p.slide.as_ref())
    }

    /// Whether `actor` may draw now.
    pub fn may_draw(&self, actor: Actor) -> bool {
        actor.staff
            || match self.access {
                DrawAccess::StaffOnly => false,
                DrawAccess::Student { user } => user == actor.user,
                DrawAccess::Everyone => true,
            }
    }

    pub fn snapshot(&self) -> BoardSnapshot {
        BoardSnapshot {
            pages: self
                .pages
                .iter()
                .map(|p| PageView { id: p.id, slide: p.slide.clone(), shapes: p.live().cloned().collect() })
                .collect(),
            current: self.current,
            access: self.access,
        }
    }

    /// The board a snapshot shows. Erased shapes are not in a snapshot, so a browser cannot
    /// restore what was erased before it joined; the server's board can.
    pub fn from_snapshot(snapshot: BoardSnapshot) -> Self {
        let pages = snapshot
            .pages
            .into_iter()
            .map(|view| {
                let mut page = Page::new(view.id, view.slide);
                for shape in view.shapes {
                    page.index.insert(shape.id.clone(), page.shapes.len());
                    page.shapes.push(StoredShape { shape, erased: false });
                }
                page
            })
            .collect::<Vec<_>>();
        let mut board = Self { pages, current: snapshot.current, access: snapshot.access, applied: HashSet::new() };
        if board.pages.is_empty() {
            board.pages.push(Page::new(1, None));
        }
        board
    }

    /// Check `op` against who sends it and the limits, then apply it.
    pub fn apply(&mut self, actor: Actor, op: BoardOp, limits: &BoardLimits) -> Result<Applied, BoardError> {
        check_id(&op.id, "operation")?;
        if self.applied.contains(&op.id) {
            return Ok(Applied::Duplicate);
        }
        let BoardOp { id, mut action } = op;
        self.authorise(actor, &action)?;
        let erasing = matches!(action, BoardAction::Erase { .. });
        match &mut action {
            BoardAction::Draw { page, shape } => {
                shape.author = actor.user;
                check_shape(shape, limits)?;
                let page = self.page_mut(*page)?;
                check_bounds(shape, page.size())?;
                if page.index.contains_key(&shape.id) {
                    return Err(BoardError::Invalid(format!("shape {:?} is already on the board", shape.id)));
                }
                if page.shapes.len() >= limits.max_shapes_per_page {
                    return Err(BoardError::Full("this page holds as many drawings as it can; add a page"));
                }
                page.index.insert(shape.id.clone(), page.shapes.len());
                page.shapes.push(StoredShape { shape: shape.clone(), erased: false });
            }
            BoardAction::Erase { page, ids } | BoardAction::Restore { page, ids } => {
                check_ids(ids, limits)?;
                let page = self.page_mut(*page)?;
                for id in ids.iter() {
                    if let Some(&i) = page.index.get(id) {
                        page.shapes[i].erased = erasing;
                    }
                }
            }
            BoardAction::Move { page, ids, dx, dy } => {
                check_ids(ids, limits)?;
                if !dx.is_finite() || !dy.is_finite() {
                    return Err(BoardError::Invalid("a move must be a finite distance".into()));
                }
                let (dx, dy) = (*dx, *dy);
                let page = self.page_mut(*page)?;
                let (w, h) = page.size();
                if dx.abs() > w * 2.0 || dy.abs() > h * 2.0 {
                    return Err(BoardError::Invalid("a move must stay near the page".into()));
                }
                for id in ids.iter() {
                    if let Some(&i) = page.index.get(id) {
                        page.shapes[i].shape.tool.translate(dx, dy);
                    }
                }
            }
            BoardAction::Clear { page } => {
                for shape in &mut self.page_mut(*page)?.shapes {
                    shape.erased = true;
                }
            }
            BoardAction::AddPage { after, page } => {
                if self.pages.len() >= limits.max_pages {
                    return Err(BoardError::Full("the board has as many pages as it can hold"));
                }
                let at = match after {
                    Some(after) => self.position(*after)? + 1,
                    None => self.pages.len(),
                };
                // A replayed or relayed operation keeps its page id; a new one gets the next.
                if *page <= 0 || self.page(*page).is_some() {
                    *page = self.pages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                }
                self.pages.insert(at, Page::new(*page, None));
            }
            BoardAction::InsertSlides { after, slides, first, .. } => {
                check_slides(slides)?;
                if self.pages.len() + slides.len() > limits.max_pages {
                    return Err(BoardError::Full("the board cannot hold that many more pages"));
                }
                let at = match after {
                    Some(after) => self.position(*after)? + 1,
                    None => self.pages.len(),
                };
                let count = slides.len() as PageId;
                if *first <= 0 || (*first..*first + count).any(|id| self.page(id).is_some()) {
                    *first = self.pages.iter().map(|p| p.id).max().unwrap_or(0) + 1;
                }
                let new = slides.iter().zip(*first..).map(|(slide, id)| Page::new(id, Some(slide.clone())));
                self.pages.splice(at..at, new);
            }
            BoardAction::ShowPage { page } => {
                self.position(*page)?;
                self.current = *page;
            }
            BoardAction::SetAccess { access } => self.access = *access,
        }
        self.applied.insert(id.clone());
        Ok(Applied::Changed(BoardOp { id, action }))
    }

    fn authorise(&self, actor: Actor, action: &BoardAction) -> Result<(), BoardError> {
        match action {
            BoardAction::Clear { .. }
            | BoardAction::AddPage { .. }
            | BoardAction::InsertSlides { .. }
            | BoardAction::ShowPage { .. }
            | BoardAction::SetAccess { .. } => {
                if !actor.staff {
                    return Err(BoardError::Forbidden("only the class's teachers can do that"));
                }
            }
            BoardAction::Draw { .. } => {
                if !self.may_draw(actor) {
                    return Err(BoardError::Forbidden("the teacher has not let you draw"));
                }
            }
            BoardAction::Erase { page, ids }
            | BoardAction::Restore { page, ids }
            | BoardAction::Move { page, ids, .. } => {
                if !self.may_draw(actor) {
                    return Err(BoardError::Forbidden("the teacher has not let you draw"));
                }
                // Students change only their own drawings.
                if !actor.staff
                    && let Some(p) = self.page(*page)
                    && ids.iter().filter_map(|id| p.index.get(id)).any(|&i| p.shapes[i].shape.author != actor.user)
                {
                    return Err(BoardError::Forbidden("you can only change your own drawings"));
                }
            }
        }
        Ok(())
    }

    fn page(&self, id: PageId) -> Option<&Page> {
        self.pages.iter().find(|p| p.id == id)
    }

    fn page_mut(&mut self, id: PageId) -> Result<&mut Page, BoardError> {
        self.pages.iter_mut().find(|p| p.id == id).ok_or(BoardError::NoSuchPage(id))
    }

    fn position(&self, id: PageId) -> Result<usize, BoardError> {
        self.pages.iter().position(|p| p.id == id).ok_or(BoardError::NoSuchPage(id))
    }
}

fn check_id(id: &str, what: &str) -> Result<(), BoardError> {
    if id.is_empty()
        || id.chars().count() > MAX_ID_CHARS
        || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(BoardError::Invalid(format!("a {what} id is 1 to {MAX_ID_CHARS} letters, digits, '-' or '_'")));
    }
    Ok(())
}

fn check_ids(ids: &[ShapeId], limits: &BoardLimits) -> Result<(), BoardError> {
    if ids.is_empty() || ids.len() > limits.max_ids_per_op {
        return Err(BoardError::Invalid(format!("name 1 to {} shapes", limits.max_ids_per_op)));
    }
    ids.iter().try_for_each(|id| check_id(id, "shape"))
}

/// Largest side of a slide, in board units (slides are 1,600 wide; a tall page may be longer).
const MAX_SLIDE_SIDE: f32 = 20_000.0;

/// Slides come from the server's renderer; still, only pictures it serves and sane sizes.
fn check_slides(slides: &[SlideRef]) -> Result<(), BoardError> {
    if slides.is_empty() {
        return Err(BoardError::Invalid("a deck without slides cannot be inserted".into()));
    }
    for slide in slides {
        let sized = |v: f32| v.is_finite() && v > 0.0 && v <= MAX_SLIDE_SIDE;
        if !sized(slide.width) || !sized(slide.height) {
            return Err(BoardError::Invalid("a slide's size is out of range".into()));
        }
        let image = &slide.image;
        if !image.starts_with("/classes/") || image.len() > 200 || image.contains("..") || image.contains("//") {
            return Err(BoardError::Invalid("a slide's picture must be one this server renders".into()));
        }
    }
    Ok(())
}

fn check_shape(shape: &Shape, limits: &BoardLimits) -> Result<(), BoardError> {
    check_id(&shape.id, "shape")?;
    let color = shape.color.as_bytes();
    if color.len() != 7 || color[0] != b'#' || !color[1..].iter().all(u8::is_ascii_hexdigit) {
        return Err(BoardError::Invalid("a colour is #rrggbb".into()));
    }
    if !(shape.width.is_finite() && (0.5..=100.0).contains(&shape.width)) {
        return Err(BoardError::Invalid("a width is 0.5 to 100".into()));
    }
    let count = match &shape.tool {
        Tool::Pen { points } => {
            if points.iter().any(|p| !(p[2].is_finite() && (0.0..=1.0).contains(&p[2]))) {
                return Err(BoardError::Invalid("pressure is 0 to 1".into()));
            }
            points.len()
        }
        Tool::Highlighter { points } => points.len(),
        Tool::Text { text, size, .. } => {
            let chars = text.chars().count();
            if text.trim().is_empty()
                || chars > limits.max_text_chars
                || text.chars().any(|c| c.is_control() && c != '\n')
            {
                return Err(BoardError::Invalid(format!("a text is 1 to {} characters", limits.max_text_chars)));
            }
            if !(size.is_finite() && (4.0..=400.0).contains(size)) {
                return Err(BoardError::Invalid("a text size is 4 to 400".into()));
            }
            1
        }
        _ => 2,
    };
    if count == 0 || count > limits.max_points {
        return Err(BoardError::Invalid(format!("a stroke has 1 to {} points", limits.max_points)));
    }
    Ok(())
}

fn check_bounds(shape: &Shape, (w, h): (f32, f32)) -> Result<(), BoardError> {
    let inside = |p: &[f32; 2]| {
        p[0].is_finite()
            && p[1].is_finite()
            && (-w * MARGIN..=w * (1.0 + MARGIN)).contains(&p[0])
            && (-h * MARGIN..=h * (1.0 + MARGIN)).contains(&p[1])
    };
    if shape.tool.points().iter().all(inside) {
        Ok(())
    } else {
        Err(BoardError::Invalid("a drawing must be on its page".into()))
    }
}

fn segment_distance(p: [f32; 2], a: [f32; 2], b: [f32; 2]) -> f32 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 == 0.0 { 0.0 } else { (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0) };
    let (cx, cy) = (a[0] + t * dx, a[1] + t * dy);
    ((p[0] - cx).powi(2) + (p[1] - cy).powi(2)).sqrt()
}

/// How far `at` is from a shape's outline (0 inside a text's box).
fn distance_to(shape: &Shape, at: [f32; 2]) -> f32 {
    let polyline = |points: &[[f32; 2]]| match points {
        [] => f32::INFINITY,
        [only] => segment_distance(at, *only, *only),
        _ => points.windows(2).map(|w| segment_distance(at, w[0], w[1])).fold(f32::INFINITY, f32::min),
    };
    match &shape.tool {
        Tool::Pen { .. } | Tool::Highlighter { .. } | Tool::Line { .. } | Tool::Arrow { .. } => {
            polyline(&shape.tool.points())
        }
        Tool::Rect { from, to } | Tool::Ellipse { from, to } => {
            let corners = [*from, [to[0], from[1]], *to, [from[0], to[1]], *from];
            polyline(&corners)
        }
        Tool::Text { .. } => {
            let ([x0, y0], [x1, y1]) = shape.bounds();
            let dx = (x0 - at[0]).max(at[0] - x1).max(0.0);
            let dy = (y0 - at[1]).max(at[1] - y1).max(0.0);
            (dx * dx + dy * dy).sqrt()
        }
    }
}

/// One user's undo and redo: the inverse of each of their changes, newest last.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    undo: Vec<BoardAction>,
    redo: Vec<BoardAction>,
}

/// How many changes a user can undo.
const HISTORY_DEPTH: usize = 200;

impl History {
    /// Remember how to undo `action`, which the user is about to do on `board`. A new change
    /// forgets what could be redone.
    pub fn record(&mut self, board: &Board, action: &BoardAction) {
        if let Some(inverse) = inverse(board, action) {
            self.push_undo(inverse);
            self.redo.clear();
        }
    }

    /// The action that undoes the user's latest change, if any (to send with a new op id).
    pub fn undo(&mut self, board: &Board) -> Option<BoardAction> {
        let action = self.undo.pop()?;
        if let Some(again) = inverse(board, &action) {
            self.redo.push(again);
        }
        Some(action)
    }

    /// The action that redoes the latest undone change, if any.
    pub fn redo(&mut self, board: &Board) -> Option<BoardAction> {
        let action = self.redo.pop()?;
        if let Some(back) = inverse(board, &action) {
            self.push_undo(back);
        }
        Some(action)
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    fn push_undo(&mut self, action: BoardAction) {
        if self.undo.len() == HISTORY_DEPTH {
            self.undo.remove(0);
        }
        self.undo.push(action);
    }
}

/// What puts the board back as it was before `action`; `None` for what is not undone (pages,
/// the presenter's page, access).
fn inverse(board: &Board, action: &BoardAction) -> Option<BoardAction> {
    match action {
        BoardAction::Draw { page, shape } => Some(BoardAction::Erase { page: *page, ids: vec![shape.id.clone()] }),
        BoardAction::Erase { page, ids } => Some(BoardAction::Restore { page: *page, ids: ids.clone() }),
        BoardAction::Restore { page, ids } => Some(BoardAction::Erase { page: *page, ids: ids.clone() }),
        BoardAction::Move { page, ids, dx, dy } => {
            Some(BoardAction::Move { page: *page, ids: ids.clone(), dx: -dx, dy: -dy })
        }
        BoardAction::Clear { page } => {
            let ids: Vec<ShapeId> = board.shapes(*page).into_iter().map(|s| s.id.clone()).collect();
            (!ids.is_empty()).then_some(BoardAction::Restore { page: *page, ids })
        }
        BoardAction::AddPage { .. }
        | BoardAction::InsertSlides { .. }
        | BoardAction::ShowPage { .. }
        | BoardAction::SetAccess { .. } => None,
    }
}

#[cfg(test)]
mod tests;
