//! The PDF from the office's DOCX (`pdf_from = "docx"`) against the PDF from the Typst
//! templates, per document of the sample period, warm (engines built once), median of N runs:
//! docx → Typst → PDF (fill the DOCX, convert, compile, page check, PDF/A export) vs the direct
//! template render, and the conversion alone (read the filled DOCX, write Typst source).
//! `cargo bench --bench docx_pdf`; `VANBAN_BENCH_RUNS` sets the number of timed runs (default 30).

use std::time::{Duration, Instant};

use vanban::render::docx_pdf::{DocxPdfRenderer, convert};
use vanban::render::pdf::PdfEngine;
use vanban::render::{self, DocxRenderer, PdfRenderer, Renderer, templates::Templates};

const WARMUP: usize = 3;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..WARMUP {
        f();
    }
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::var("VANBAN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).expect("a valid date");
    let period = vanban::input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
        .unwrap_or_else(|p| panic!("sample period: {p}"));
    let documents = render::plan(&period, None, &|_, _| None);
    let templates = Templates::builtin();
    let direct = PdfRenderer::new(PdfEngine::new(&templates).expect("engine"));
    let docx = DocxRenderer::new(&templates).expect("docx templates");
    let from_docx = DocxPdfRenderer::new(
        DocxRenderer::new(&templates).expect("docx templates"),
        PdfEngine::new(&templates).expect("engine"),
    );
    println!(
        "PDF per document of the sample, {runs} runs after {WARMUP} warm-up, median (page check and PDF/A on)\n"
    );
    println!(
        "{:<28} {:>12} {:>14} {:>8} {:>12}",
        "document", "Typst", "DOCX→Typst", "ratio", "convert"
    );
    let (mut sum_direct, mut sum_docx, mut sum_convert) =
        (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    for document in &documents {
        let filled = docx.render(document).expect("docx");
        let a = time(runs, || {
            std::hint::black_box(direct.render(document).expect("typst pdf"));
        });
        let b = time(runs, || {
            std::hint::black_box(from_docx.render(document).expect("pdf from docx"));
        });
        let c = time(runs, || {
            std::hint::black_box(convert(&filled).expect("convert"));
        });
        sum_direct += a;
        sum_docx += b;
        sum_convert += c;
        println!(
            "{:<28} {:>12} {:>14} {:>7.2}× {:>12}",
            document.file_stem,
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64(),
            ms(c)
        );
    }
    let n = documents.len() as u32;
    println!(
        "{:<28} {:>12} {:>14} {:>7.2}× {:>12}",
        "mean",
        ms(sum_direct / n),
        ms(sum_docx / n),
        sum_docx.as_secs_f64() / sum_direct.as_secs_f64(),
        ms(sum_convert / n)
    );
}
