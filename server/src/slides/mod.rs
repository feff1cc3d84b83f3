//! Turning an uploaded PDF into slides, off the async runtime and out of the server's process.
//!
//! The server runs `lectern render-slides` (or the configured wrapper around it) once per PDF.
//! That child limits its own address space and CPU time, renders each page with hayro into a
//! folder the server made, and reports on standard output, one line at a time:
//! `pages <n>`, then `page <number> <width> <height>` per page, or `refused <reason as JSON>`.
//! The server moves each image to a generated name as it arrives (recording progress), kills
//! the child when the time limit passes, and reads a crash as a refusal: a hostile PDF costs
//! one child process, never the server.

pub mod export;

use app::board::{BLANK_PAGE, SlideRef};
use clap::Args;
use lectern_core::config::UploadsConfig;
use lectern_core::slides::{self, PdfRefusal, RenderLimits};
use lectern_core::store::Store;
use lectern_core::store::files::SlideRecord;
use lectern_core::uploads::FileStore;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::Semaphore;

/// Where the browser loads a rendered slide from (`GET /classes/{id}/slide-images/{name}`).
pub fn slide_image_url(class_id: i64, image_name: &str) -> String {
    format!("/classes/{class_id}/slide-images/{image_name}")
}

/// A ready deck's pages as the board shows them: as wide as a blank page, as tall as their
/// proportions say.
pub fn slide_refs(class_id: i64, slides: &[SlideRecord]) -> Vec<SlideRef> {
    let width = BLANK_PAGE.0;
    slides
        .iter()
        .map(|s| SlideRef {
            image: slide_image_url(class_id, &s.image_name),
            width,
            height: (width * s.height as f32 / s.width.max(1) as f32).round(),
        })
        .collect()
}

/// The hidden `render-slides` command's arguments (the server passes them; people do not).
#[derive(Debug, Clone, Args)]
pub struct RenderSlidesArgs {
    #[arg(long)]
    pub max_pages: usize,
    #[arg(long)]
    pub width_px: u32,
    #[arg(long)]
    pub max_pixels: u64,
    #[arg(long)]
    pub memory_mib: u64,
    #[arg(long)]
    pub cpu_seconds: u64,
    /// The PDF to read.
    pub input: PathBuf,
    /// An empty folder for `<number>.png`.
    pub out_dir: PathBuf,
}

/// What the child prints when it refuses a PDF; the server reads it back.
const REFUSED: &str = "refused ";

/// The child: limit ourselves, render, report. Exit status 0 when every page was written, 2
/// when the PDF was refused, 1 when something else went wrong.
pub fn render_child(args: &RenderSlidesArgs) -> ExitCode {
    let memory = args.memory_mib.saturating_mul(1024 * 1024);
    if let Err(err) = rlimit::setrlimit(rlimit::Resource::AS, memory, memory)
        .and_then(|()| rlimit::setrlimit(rlimit::Resource::CPU, args.cpu_seconds, args.cpu_seconds))
    {
        eprintln!("render-slides: cannot limit this process: {err}");
        return ExitCode::FAILURE;
    }
    let bytes = match std::fs::read(&args.input) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("render-slides: cannot read {}: {err}", args.input.display());
            return ExitCode::FAILURE;
        }
    };
    let limits = RenderLimits { max_pages: args.max_pages, width_px: args.width_px, max_pixels: args.max_pixels };
    let mut failed = None;
    let result = slides::render_pdf(
        bytes,
        &limits,
        |pages| report(&format!("pages {pages}")),
        |page| {
            if failed.is_some() {
                return;
            }
            let path = args.out_dir.join(format!("{}.png", page.number));
            match std::fs::write(&path, &page.png) {
                Ok(()) => report(&format!("page {} {} {}", page.number, page.width_px, page.height_px)),
                Err(err) => failed = Some(format!("cannot write {}: {err}", path.display())),
            }
        },
    );
    if let Some(err) = failed {
        eprintln!("render-slides: {err}");
        return ExitCode::FAILURE;
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(refusal) => {
            report(&format!("{REFUSED}{}", serde_json::to_string(&refusal).unwrap_or_default()));
            ExitCode::from(2)
        }
    }
}

/// One line to the server, at once (it shows progress as pages arrive).
fn report(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Renders PDFs for this node, a few at a time.
pub struct SlideRenderer {
    program: PathBuf,
    files: FileStore,
    limits: RenderLimits,
    memory_mib: u64,
    time_limit: Duration,
    turns: Semaphore,
    /// Exports at once: each holds a board's slide pictures in memory.
    exports: Semaphore,
}

/// How a rendering ended, besides success.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(transparent)]
    Refused(#[from] PdfRefusal),
    /// Our side failed (no folder, no child process): not the PDF's fault.
    #[error("{0}")]
    Internal(String),
}

impl SlideRenderer {
    pub fn new(config: &UploadsConfig) -> Arc<Self> {
        let program = config
            .pdf_renderer
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("lectern"));
        Arc::new(Self {
            program,
            files: FileStore::new(&config.dir),
            limits: RenderLimits {
                max_pages: config.pdf_max_pages,
                width_px: config.slide_width_px,
                max_pixels: config.slide_max_pixels,
            },
            memory_mib: config.pdf_render_memory_mib,
            time_limit: Duration::from_secs(config.pdf_render_seconds),
            turns: Semaphore::new(config.pdf_renders_at_once),
            exports: Semaphore::new(config.pdf_renders_at_once.max(2)),
        })
    }

    /// Render a stored PDF into deck `deck_id` in the background, recording progress and the
    /// outcome on the deck. Slides appear all at once or not at all.
    pub fn start(self: &Arc<Self>, store: Store, deck_id: i64, pdf: PathBuf) {
        let renderer = self.clone();
        tokio::spawn(async move {
            let progress = {
                let store = store.clone();
                move |done: usize, total: usize| {
                    let store = store.clone();
                    async move {
                        let (done, total) = (done as i64, total as i64);
                        if let Err(err) = store.deck_progress(deck_id, total, done).await {
                            tracing::warn!(%err, deck = deck_id, "cannot record slide progress");
                        }
                    }
                }
            };
            let outcome = renderer.render(&pdf, progress).await;
            let recorded = match &outcome {
                Ok(slides) => store.finish_deck(deck_id, slides).await,
                Err(RenderError::Refused(refusal)) => store.fail_deck(deck_id, &refusal.to_string()).await,
                Err(RenderError::Internal(err)) => {
                    tracing::error!(deck = deck_id, %err, "slide rendering failed");
                    store.fail_deck(deck_id, "The slides could not be prepared because of a server problem.").await
                }
            };
            if let Err(err) = recorded {
                tracing::error!(deck = deck_id, %err, "cannot record how slide rendering ended");
                if let Ok(slides) = &outcome {
                    slides.iter().for_each(|s| renderer.files.remove(&s.image_name));
                }
            }
        });
    }

    /// Render `pdf` in a child process within the time limit, keeping each page under a new
    /// name; `progress(done, total)` hears of each page.
    pub async fn render<F, Fut>(&self, pdf: &Path, mut progress: F) -> Result<Vec<SlideRecord>, RenderError>
    where
        F: FnMut(usize, usize) -> Fut,
        Fut: std::future::Future<Output = ()>,
    {
        let internal = |what: &str, err: &dyn std::fmt::Display| RenderError::Internal(format!("{what}: {err}"));
        let _turn = self.turns.acquire().await.map_err(|e| internal("renderer closed", &e))?;
        std::fs::create_dir_all(self.files.dir()).map_err(|e| internal("cannot create the upload folder", &e))?;
        let out_dir = tempfile::Builder::new()
            .prefix(".render-")
            .tempdir_in(self.files.dir())
            .map_err(|e| internal("cannot create a folder for rendering", &e))?;
        let mut child = tokio::process::Command::new(&self.program)
            .arg("render-slides")
            .args(["--max-pages", &self.limits.max_pages.to_string()])
            .args(["--width-px", &self.limits.width_px.to_string()])
            .args(["--max-pixels", &self.limits.max_pixels.to_string()])
            .args(["--memory-mib", &self.memory_mib.to_string()])
            // CPU time a little past the wall-clock limit: the kill below normally comes first.
            .args(["--cpu-seconds", &(self.time_limit.as_secs() + 2).to_string()])
            .arg(pdf)
            .arg(out_dir.path())
            .env_clear()
            .envs(std::env::var_os("PATH").map(|path| ("PATH", path)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| internal(&format!("cannot run {}", self.program.display()), &e))?;
        let stdout = child.stdout.take().ok_or_else(|| internal("no output", &"stdout"))?;
        let stderr = child.stderr.take();
        let mut slides = Vec::new();
        let mut reported: Option<PdfRefusal> = None;
        let mut total = 0usize;
        let read = async {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(json) = line.strip_prefix(REFUSED) {
                    reported = serde_json::from_str(json).ok();
                } else if let Some(n) = line.strip_prefix("pages ") {
                    total = n.trim().parse().unwrap_or(0);
                    progress(0, total).await;
                } else if let Some(page) = line.strip_prefix("page ") {
                    let slide = self.keep_page(out_dir.path(), page, slides.len() + 1)?;
                    slides.push(slide);
                    progress(slides.len(), total).await;
                }
            }
            child.wait().await.map_err(|e| internal("lost the renderer", &e))
        };
        let status = match tokio::time::timeout(self.time_limit, read).await {
            Ok(status) => status,
            Err(_) => Err(RenderError::Refused(PdfRefusal::TooSlow { seconds: self.time_limit.as_secs() })),
        };
        let result: Result<Vec<SlideRecord>, RenderError> = match (status, reported) {
            (Ok(_), Some(refusal)) => Err(RenderError::Refused(refusal)),
            (Ok(status), None) if status.success() && total > 0 && slides.len() == total => {
                return Ok(slides);
            }
            (Ok(status), None) => {
                let detail = match stderr {
                    Some(mut stderr) => read_some(&mut stderr).await,
                    None => String::new(),
                };
                tracing::warn!(%status, pages = slides.len(), total, detail, "the PDF renderer stopped early");
                Err(RenderError::Refused(PdfRefusal::RendererFailed))
            }
            (Err(err), _) => Err(err),
        };
        // Nothing of a failed rendering is kept. Dropping `child` kills it if it still runs;
        // `out_dir` goes with anything left in it.
        slides.iter().for_each(|s| self.files.remove(&s.image_name));
        result
    }

    /// The board of class `class_id` as one PDF (see [`export`]), made off the async runtime.
    pub async fn export(&self, class_id: i64, board: app::board::Board) -> Result<Vec<u8>, RenderError> {
        let _turn = self.exports.acquire().await.map_err(|e| RenderError::Internal(e.to_string()))?;
        let files = self.files.clone();
        let prefix = format!("/classes/{class_id}/slide-images/");
        let made = tokio::task::spawn_blocking(move || {
            export::board_pdf(&board, |url| files.path(url.strip_prefix(&prefix)?))
        });
        made.await.map_err(|e| RenderError::Internal(format!("the export failed: {e}")))
    }

    /// Move the child's `<number>.png` to a generated name. The child says which page it wrote;
    /// only the next one in order is taken, so it cannot name another file.
    fn keep_page(&self, out_dir: &Path, line: &str, expected: usize) -> Result<SlideRecord, RenderError> {
        let bad = || RenderError::Refused(PdfRefusal::RendererFailed);
        let fields: Vec<u32> = line.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        let [number, width, height] = fields[..] else { return Err(bad()) };
        if number as usize != expected || width == 0 || height == 0 {
            return Err(bad());
        }
        let name = FileStore::new_name("png").map_err(|e| RenderError::Internal(e.to_string()))?;
        let target = self.files.path(&name).ok_or_else(bad)?;
        std::fs::rename(out_dir.join(format!("{number}.png")), target)
            .map_err(|e| RenderError::Internal(format!("cannot keep a rendered slide: {e}")))?;
        Ok(SlideRecord {
            position: i64::from(number),
            image_name: name,
            width: i64::from(width),
            height: i64::from(height),
        })
    }
}

/// The start of what a failed child wrote to stderr, for the log.
async fn read_some(stderr: &mut tokio::process::ChildStderr) -> String {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; 2048];
    let n = tokio::time::timeout(Duration::from_millis(200), stderr.read(&mut buf)).await.ok().and_then(Result::ok);
    String::from_utf8_lossy(&buf[..n.unwrap_or(0)]).trim().to_owned()
}
