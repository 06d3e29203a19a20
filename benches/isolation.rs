//! What the bound on memory and CPU costs per document: the sample period's documents rendered
//! through render workers (`vanban render-worker`, each under `RLIMIT_AS` and `RLIMIT_CPU`,
//! src/render/worker.rs) against the same documents rendered in this process.
//!
//! - warm: engines (and workers) already up, one document after another on one thread, median
//!   over the runs of each document's time, summed over the period;
//! - batch: a whole `render` of the period from a fresh `Backends` (workers started, fonts and
//!   templates loaded, every document, both formats on every core), as the CLI does once per
//!   command;
//! - the worker's own start (spawn to ready) and its peak memory.
//!
//! `cargo bench --bench isolation`; `VANBAN_BENCH_RUNS` sets the number of timed runs
//! (default 20).

use std::time::{Duration, Instant};

use vanban::render::templates::Templates;
use vanban::render::worker::WorkerProgram;
use vanban::render::{self, Backends, Formats, Limits, PdfFrom, Renderer};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Per document: the median of `runs` renders after one warm-up, summed over the documents.
fn warm(renderer: &dyn Renderer, documents: &[render::PlannedDocument], runs: usize) -> Duration {
    documents
        .iter()
        .map(|document| {
            std::hint::black_box(renderer.render(document).expect("render"));
            median(
                (0..runs)
                    .map(|_| {
                        let start = Instant::now();
                        std::hint::black_box(renderer.render(document).expect("render"));
                        start.elapsed()
                    })
                    .collect(),
            )
        })
        .sum()
}

fn status_kb(pid: u32, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let runs: usize = std::env::var("VANBAN_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).expect("a valid date");
    let period = vanban::input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
        .unwrap_or_else(|p| panic!("sample period: {p}"));
    let documents = render::plan(&period, None, &|_, _| None);
    let templates = Templates::builtin();
    let program = WorkerProgram::at(env!("CARGO_BIN_EXE_vanban"));
    let limits = Limits::default();
    let n = documents.len();

    println!(
        "{n} documents of the sample, PDF from the Typst templates (page check and PDF/A on); \
         warm: median of {runs} runs per document, summed\n"
    );

    let in_process =
        Backends::in_process(&templates, Formats::Pdf, limits, PdfFrom::Typst).expect("backends");
    let isolated = Backends::isolated(&templates, Formats::Pdf, limits, PdfFrom::Typst, &program)
        .expect("backends");
    let direct = warm(in_process.renderers()[0], &documents, runs);
    let bounded = warm(isolated.renderers()[0], &documents, runs);
    println!("{:<34} {:>14} {:>14}", "", "in-process", "worker");
    println!(
        "{:<34} {:>14} {:>14}",
        "warm, per document (mean)",
        ms(direct / n as u32),
        ms(bounded / n as u32)
    );
    println!(
        "{:<34} {:>14} {:>14}   (+{} per document, {:.0}%)",
        "warm, the period",
        ms(direct),
        ms(bounded),
        ms((bounded.saturating_sub(direct)) / n as u32),
        (bounded.as_secs_f64() / direct.as_secs_f64() - 1.0) * 100.0
    );
    let pid = isolated.worker_pids()[0];
    println!(
        "worker {pid}: peak resident {} MB, peak address space {} MB (limit {} MB)",
        status_kb(pid, "VmHWM:") / 1024,
        status_kb(pid, "VmPeak:") / 1024,
        limits.process.max_memory_mb
    );
    drop(isolated);

    // A worker's start alone: spawn, limits, fonts and templates, the answer to its setup.
    let starts: Vec<Duration> = (0..runs.min(10))
        .map(|_| {
            let backends =
                Backends::isolated(&templates, Formats::Pdf, limits, PdfFrom::Typst, &program)
                    .expect("backends");
            let first = &documents[1..2];
            let start = Instant::now();
            render::render_all(first, &backends.renderers(), 1).expect("render");
            let with_start = start.elapsed();
            let start = Instant::now();
            render::render_all(first, &backends.renderers(), 1).expect("render");
            with_start.saturating_sub(start.elapsed())
        })
        .collect();
    println!(
        "worker start (spawn to ready), median: {}",
        ms(median(starts))
    );

    // The whole command's render: both formats, on every core, from fresh backends.
    let batch = |isolate: bool| {
        median(
            (0..runs.min(10))
                .map(|_| {
                    let start = Instant::now();
                    let backends = match isolate {
                        true => Backends::isolated(
                            &templates,
                            Formats::Both,
                            limits,
                            PdfFrom::Typst,
                            &program,
                        ),
                        false => {
                            Backends::in_process(&templates, Formats::Both, limits, PdfFrom::Typst)
                        }
                    }
                    .expect("backends");
                    let files = render::render_all(
                        &documents,
                        &backends.renderers(),
                        render::default_threads(),
                    )
                    .expect("render");
                    std::hint::black_box(files);
                    start.elapsed()
                })
                .collect(),
        )
    };
    let (direct, bounded) = (batch(false), batch(true));
    println!(
        "{:<34} {:>14} {:>14}   (+{}, {} threads)",
        "batch: backends + 24 files",
        ms(direct),
        ms(bounded),
        ms(bounded.saturating_sub(direct)),
        render::default_threads()
    );
    println!(
        "this process: peak resident {} MB",
        status_kb(std::process::id(), "VmHWM:") / 1024
    );
}
