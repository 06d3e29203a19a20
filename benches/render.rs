//! PDF rendering speed and memory: per-document warm render (median), the sample batch from
//! a cold process, and RSS over thousands of renders in one process.
//!
//! `cargo bench --bench render` (add `-- --renders N` to change the memory run's length).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use vanban::input;
use vanban::model::DocumentKind;
use vanban::render::pdf::PdfEngine;
use vanban::render::templates::Templates;
use vanban::render::{self, PdfRenderer, Renderer};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

fn main() {
    let renders: usize = std::env::args()
        .skip_while(|a| a != "--renders")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(3000);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let period_path = root.join("samples/dam-ha-2024-h1.toml");
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
    let period = input::load_period(&period_path, None, today).expect("sample period");

    let start = Instant::now();
    let engine = PdfEngine::new(&Templates::builtin()).expect("engine");
    let engine_start = start.elapsed();
    let pdf = PdfRenderer::new(engine);
    let documents = render::plan(&period, None, &|_, _| None);

    // Warm: every document once to warm up, then 20 rounds over all of them in turn, so no
    // document is rendered twice in a row: the memo cache may only reuse what consecutive
    // documents share (the frame, the header), never a previous render of the same document.
    for d in &documents {
        pdf.render(d).expect("render");
    }
    let mut samples: Vec<(DocumentKind, Duration)> = Vec::new();
    for _ in 0..20 {
        for d in &documents {
            let t = Instant::now();
            pdf.render(d).expect("render");
            samples.push((d.kind, t.elapsed()));
        }
    }
    println!("PDF render, warm, median over 20 rounds of the sample's documents (goal ≤ 8 ms):");
    println!("{:<34} {:>10} {:>8}", "document", "median", "docs");
    for kind in DocumentKind::ALL {
        let of_kind: Vec<Duration> = samples
            .iter()
            .filter(|(k, _)| *k == kind)
            .map(|(_, t)| *t)
            .collect();
        let docs = documents.iter().filter(|d| d.kind == kind).count();
        println!(
            "{:<34} {:>8.2} ms {:>8}",
            kind.slug(),
            median(of_kind).as_secs_f64() * 1e3,
            docs
        );
    }
    let all: Vec<Duration> = samples.iter().map(|(_, t)| *t).collect();
    println!(
        "{:<34} {:>8.2} ms",
        "all documents",
        median(all).as_secs_f64() * 1e3
    );
    // The Decree-30 page check (on by default): the same rounds with it off, so its cost per
    // document is the difference of the medians (goal: at most 10%).
    let mut unchecked_engine = PdfEngine::new(&Templates::builtin()).expect("engine");
    unchecked_engine.set_page_check(false);
    let unchecked = PdfRenderer::new(unchecked_engine);
    for d in &documents {
        unchecked.render(d).expect("render");
    }
    // A round with the check off, then a round with it on: rendering the same document twice
    // in a row would let the second render reuse the first one's layout from the memo cache
    // and show the checked render as the faster one.
    let mut checked_samples: Vec<(DocumentKind, Duration, Duration)> = Vec::new();
    for _ in 0..20 {
        let off: Vec<Duration> = documents
            .iter()
            .map(|d| {
                let t = Instant::now();
                unchecked.render(d).expect("render");
                t.elapsed()
            })
            .collect();
        for (d, off) in documents.iter().zip(off) {
            let t = Instant::now();
            pdf.render(d).expect("render");
            checked_samples.push((d.kind, off, t.elapsed()));
        }
    }
    println!("page check: median render with it off / on, and its share:");
    for kind in DocumentKind::ALL {
        let off = median(
            checked_samples
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, o, _)| *o)
                .collect(),
        );
        let on = median(
            checked_samples
                .iter()
                .filter(|(k, _, _)| *k == kind)
                .map(|(_, _, o)| *o)
                .collect(),
        );
        println!(
            "{:<34} {:>8.2} ms {:>8.2} ms {:>+7.1}%",
            kind.slug(),
            off.as_secs_f64() * 1e3,
            on.as_secs_f64() * 1e3,
            (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0
        );
    }

    // The check's rules alone, on a layout read from Typst's frames once, against the median
    // whole render of the same document (goal: at most 10%); the off/on rounds above include
    // reading the frames.
    let layout_engine = PdfEngine::new(&Templates::builtin()).expect("engine");
    println!("page check rules alone (layout read once), median of 200, against the whole render:");
    for kind in DocumentKind::ALL {
        let Some(d) = documents.iter().find(|d| d.kind == kind) else {
            continue;
        };
        let data = serde_json::to_vec(&d.context).expect("json");
        let layout = layout_engine
            .page_layout(d.kind, &data, d.date)
            .expect("layout");
        let check: Vec<Duration> = (0..200)
            .map(|_| {
                let t = Instant::now();
                vanban::render::page_check::check(&layout).expect("page check");
                t.elapsed()
            })
            .collect();
        let render = median(
            samples
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, t)| *t)
                .collect(),
        );
        let check = median(check);
        println!(
            "{:<34} {:>8.3} ms of {:>6.2} ms  {:>5.1}%",
            kind.slug(),
            check.as_secs_f64() * 1e3,
            render.as_secs_f64() * 1e3,
            check.as_secs_f64() / render.as_secs_f64() * 100.0
        );
    }

    // What vanban adds to a bare Typst compile of the same template: building the contexts
    // and serialising each to the JSON its template reads.
    let t = Instant::now();
    for d in &documents {
        let _ = serde_json::to_vec(&d.context).expect("json");
    }
    let json = t.elapsed();
    let t = Instant::now();
    let _ = render::plan(&period, None, &|_, _| None);
    println!(
        "context JSON per document: {:.3} ms; building all {} contexts: {:.3} ms",
        json.as_secs_f64() * 1e3 / documents.len() as f64,
        documents.len(),
        t.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "engine start (fonts, library, templates): {:.2} ms",
        engine_start.as_secs_f64() * 1e3
    );

    // The sample batch from a cold process, both cores (the binary as a user runs it).
    let binary = root.join("target/release/vanban");
    if binary.exists() {
        let out = tempfile::tempdir().expect("tempdir");
        let mut samples = Vec::new();
        for _ in 0..7 {
            let t = Instant::now();
            let status = Command::new(&binary)
                .args([
                    "render",
                    period_path.to_str().unwrap(),
                    "--format",
                    "pdf",
                    "--out",
                ])
                .arg(out.path())
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run vanban");
            assert!(status.success());
            samples.push(t.elapsed());
        }
        println!(
            "sample batch ({} PDFs), cold process, median of 7 (goal ≤ 0.3 s): {:.0} ms",
            documents.len(),
            median(samples).as_secs_f64() * 1e3
        );
    }

    // Memory over many documents in one process (the scheduled service's situation): each
    // document rendered as PDF and DOCX.
    let docx = render::DocxRenderer::new(&Templates::builtin()).expect("docx templates");
    println!("RSS over {renders} documents (PDF + DOCX) in one process (goal: flat, ≤ 100 MB):");
    let checkpoints = [1, renders / 10, renders / 2, renders];
    let t = Instant::now();
    for i in 1..=renders {
        let d = &documents[i % documents.len()];
        pdf.render(d).expect("render");
        docx.render(d).expect("render");
        if checkpoints.contains(&i) {
            println!("  after {i:>6} documents: {:>6} MiB", rss_kib() / 1024);
        }
    }
    println!(
        "  {:.2} ms per document (PDF + DOCX, one core)",
        t.elapsed().as_secs_f64() * 1e3 / renders as f64
    );
}
