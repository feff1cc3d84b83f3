//! Benchmark: how long a PDF takes to become slides, as a teacher waits for it after the upload.
//! Each run goes through the real path: the server's renderer starts `lectern render-slides` in
//! a child process with the configured limits, reads its progress and keeps each page under a
//! generated name. The PDF is the sample lecture (a title bar, three lines of text, a curve, a
//! rectangle and a photo-like image on every page).
//!
//! ```sh
//! cargo build --release -p server --bin lectern --example slides_bench
//! target/release/examples/slides_bench --pages 50 --runs 5
//! ```
//!
//! Prints one line per run and the median. Options: `--pages N`, `--runs N`, `--width PX`
//! (default: the config default, 1920), `--image-px N` and `--text-lines N` (the picture's side
//! and the body text on each slide; default 64 and 3), `--renderer PATH` (default: the `lectern`
//! binary next to this example's folder).

use lectern_core::config::UploadsConfig;
use lectern_core::sample_pdfs;
use server::slides::SlideRenderer;
use std::path::PathBuf;
use std::time::Instant;

fn arg<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pages: usize = arg(&args, "--pages").unwrap_or(50);
    let runs: usize = arg(&args, "--runs").unwrap_or(5);
    let defaults = UploadsConfig::default();
    let width: u32 = arg(&args, "--width").unwrap_or(defaults.slide_width_px);
    let renderer: PathBuf = arg(&args, "--renderer").unwrap_or_else(|| {
        let me = std::env::current_exe().expect("the example's own path");
        me.parent().and_then(|examples| examples.parent()).map(|dir| dir.join("lectern")).unwrap_or_default()
    });
    assert!(renderer.exists(), "no renderer at {} (build the lectern binary first)", renderer.display());

    let dir = tempfile::tempdir().expect("a temporary folder");
    let pdf_path = dir.path().join("lecture.pdf");
    let image_px: u32 = arg(&args, "--image-px").unwrap_or(64);
    let text_lines: usize = arg(&args, "--text-lines").unwrap_or(3);
    let pdf = sample_pdfs::lecture_sized(pages, image_px, text_lines);
    std::fs::write(&pdf_path, &pdf).expect("write the PDF");
    let config = UploadsConfig {
        dir: dir.path().join("files"),
        pdf_max_pages: pages.max(defaults.pdf_max_pages),
        slide_width_px: width,
        pdf_renderer: Some(renderer.clone()),
        ..defaults
    };
    println!(
        "{pages}-page PDF ({} KB; a {image_px} px picture and {text_lines} lines of text a slide), {width} px wide \
         slides, renderer {}, limits: {} s, {} MiB",
        pdf.len() / 1024,
        renderer.display(),
        config.pdf_render_seconds,
        config.pdf_render_memory_mib
    );
    let mut times = Vec::new();
    for run in 1..=runs {
        let slides = SlideRenderer::new(&config);
        let started = Instant::now();
        let mut first_page = None;
        let rendered = slides
            .render(&pdf_path, |done, _| {
                if done == 1 && first_page.is_none() {
                    first_page = Some(started.elapsed());
                }
                async {}
            })
            .await
            .unwrap_or_else(|e| panic!("run {run}: {e}"));
        let took = started.elapsed();
        let bytes: u64 = rendered
            .iter()
            .filter_map(|s| std::fs::metadata(config.dir.join(&s.image_name)).ok())
            .map(|m| m.len())
            .sum();
        println!(
            "run {run}: {} slides in {:.2} s ({:.0} ms a page; first slide after {:.0} ms), {:.1} MB of PNG",
            rendered.len(),
            took.as_secs_f64(),
            took.as_secs_f64() * 1000.0 / rendered.len() as f64,
            first_page.unwrap_or_default().as_secs_f64() * 1000.0,
            bytes as f64 / 1e6
        );
        times.push(took.as_secs_f64());
        for slide in &rendered {
            let _ = std::fs::remove_file(config.dir.join(&slide.image_name));
        }
    }
    times.sort_by(f64::total_cmp);
    println!("median: {:.2} s for {pages} pages (target: under 10 s)", times[times.len() / 2]);
}
