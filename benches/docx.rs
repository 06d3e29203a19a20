//! DOCX fill speed over the sample period's documents: warm (each kind's template parsed once,
//! then only rendered) and one-shot (parse + render, as a fresh process would), median per
//! document, plus the cost of generating the built-in templates with docx-rs.
//! `cargo bench --bench docx`; `VANBAN_BENCH_RUNS` sets the number of timed runs (default 100).

use std::time::{Duration, Instant};

use vanban::model::DocumentKind;
use vanban::render::docx::fill::DocxTemplate;
use vanban::render::docx::{builtin, builtin_templates};
use vanban::render::{self, DocxRenderer, Renderer, templates::Templates};

const WARMUP: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time(runs: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..WARMUP {
        f();
    }
    (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect()
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let runs: usize = std::env::var("VANBAN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).expect("a valid date");
    let period = vanban::input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
        .unwrap_or_else(|p| panic!("sample period: {p}"));
    let documents = render::plan(&period, None, &|_, _| None);
    let renderer = DocxRenderer::new(&Templates::builtin()).expect("built-in templates");
    let sources: Vec<(DocumentKind, Vec<u8>)> = DocumentKind::ALL
        .into_iter()
        .map(|k| {
            (
                k,
                builtin::template(k, &render::wording::Wording::builtin())
                    .expect("built-in template"),
            )
        })
        .collect();

    println!(
        "DOCX fill, {} documents of the sample, {runs} runs each after {WARMUP} warm-up; median per document\n",
        documents.len()
    );
    println!(
        "{:<28} {:>10} {:>12} {:>10}",
        "document", "bytes", "warm", "one-shot"
    );
    let mut all_warm = Vec::new();
    let mut all_cold = Vec::new();
    for document in &documents {
        let context = serde_json::to_value(&document.context).expect("context");
        let bytes = renderer.render(document).expect("render").len();
        // Warm: the renderer's template was parsed once, in DocxRenderer::new.
        let warm = time(runs, || {
            std::hint::black_box(renderer.render(document).expect("render"));
        });
        // One-shot: unzip, merge runs, compile Tera, render, check, zip.
        let source = &sources
            .iter()
            .find(|(k, _)| *k == document.kind)
            .expect("a template per kind")
            .1;
        let cold = time(runs, || {
            let template = DocxTemplate::parse("bench.docx", source).expect("parse");
            std::hint::black_box(template.render(&context).expect("render"));
        });
        println!(
            "{:<28} {:>10} {:>12} {:>10}",
            document.file_stem,
            bytes,
            ms(median(warm.clone())),
            ms(median(cold.clone()))
        );
        all_warm.extend(warm);
        all_cold.extend(cold);
    }
    println!(
        "{:<28} {:>10} {:>12} {:>10}",
        "all documents",
        "",
        ms(median(all_warm)),
        ms(median(all_cold))
    );
    let generate = time(runs.min(50), || {
        std::hint::black_box(builtin_templates().expect("built-in templates"));
    });
    println!(
        "\nbuilt-in templates generated with docx-rs (3 files, once per process): {}",
        ms(median(generate))
    );
    println!("goals: warm <= 1 ms, one-shot <= 5 ms per document");
}
