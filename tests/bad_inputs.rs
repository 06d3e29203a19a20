//! The malformed-input corpus: every folder under tests/fixtures/bad/ holds a
//! hostile period file (TOML, JSON or the Excel form), directory, config or template and, in
//! `expected.txt`, the exact message vanban must give for it. A case passes only if the input is
//! refused with exactly that message: no panic, no abort, no hang, nothing rendered.
//!
//! The cases are written by tests/fixtures/bad/make_cases.py; `VANBAN_BLESS=1` rewrites the
//! expected messages from what vanban says now (then read the diff before committing).

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use vanban::model::DocumentKind;
use vanban::render::templates::Templates;
use vanban::render::worker::{ProcessLimits, WorkerProgram};
use vanban::render::{self, Backends, Formats, Limits, PdfFrom};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 25).unwrap()
}

/// Small limits, so the bombs in the corpus stay small files and a runaway template stops soon.
/// The render worker's address space is left large: the endless layout case must meet its
/// 3-second deadline before it has laid out enough pages to fill it (about 1 GB by then).
fn test_limits() -> Limits {
    Limits {
        process: ProcessLimits {
            max_memory_mb: 4096,
            max_cpu: std::time::Duration::from_secs(60),
        },
        ..Limits::from_config_units(1, 50, 5, 20, 3)
    }
}

/// What vanban says about one case's input, with the folder paths taken out.
fn verdict(dir: &Path) -> String {
    let sample_period = root().join("samples/dam-ha-2024-h1.toml");
    let sample_directory = root().join("samples/directory.toml");
    let config = dir.join("vanban.toml");
    let message = if dir.join("command.txt").exists() {
        return command_verdict(dir);
    } else if config.exists() {
        match vanban::input::config::load_without_secrets(&config) {
            Ok(_) => "(cấu hình được chấp nhận)".to_string(),
            Err(e) => e.to_string(),
        }
    } else {
        let period = ["period.toml", "period.json", "period.xlsx"]
            .iter()
            .map(|n| dir.join(n))
            .find(|p| p.exists())
            .unwrap_or(sample_period);
        let directory = Some(dir.join("directory.toml"))
            .filter(|p| p.exists())
            .unwrap_or(sample_directory);
        match vanban::input::load_period(&period, Some(&directory), today()) {
            Err(problems) => problems.to_string(),
            // `check` also measures what the built-in templates' fixed places can hold.
            Ok(period) if !render::fit::problems(&period).is_empty() => {
                let problems: Vec<String> = render::fit::problems(&period)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                problems.join("\n")
            }
            Ok(period) => render_with_templates(dir, &period),
        }
    };
    message
        .replace(&format!("{}/", dir.display()), "")
        .replace(&format!("{}/", root().display()), "")
}

/// A case whose bad input is given on the command line, or is only caught by a command (a
/// `--by` name, a register number, `check --config`): `command.txt` holds the arguments, one
/// per line, `\u{202E}` for a character that should not be in the file as itself and
/// `{samples}` for the samples folder. The binary runs in a copy of the case's folder (its
/// state database is made there, not in the repository); the verdict is what it says on
/// stderr, and it must exit with a failure.
fn command_verdict(dir: &Path) -> String {
    let work = tempfile::tempdir().unwrap();
    copy_folder(dir, work.path());
    let samples = root().join("samples");
    let args: Vec<String> = std::fs::read_to_string(dir.join("command.txt"))
        .unwrap()
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| unescape(&line.replace("{samples}", &samples.display().to_string())))
        .collect();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(&args)
        .current_dir(work.path())
        .output()
        .unwrap();
    if out.status.success() {
        return format!(
            "(lệnh được chấp nhận: {})",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    String::from_utf8_lossy(&out.stderr)
        .trim_end()
        .replace(&format!("{}/", work.path().display()), "")
        .replace(&format!("{}/", root().display()), "")
}

/// `\u{XXXX}` in a command line of the corpus, as the character.
fn unescape(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("\\u{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 3..];
        let end = after.find('}').expect("\\u{ without }");
        let code = u32::from_str_radix(&after[..end], 16).expect("hex after \\u{");
        out.push(char::from_u32(code).expect("a character"));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// Copies `from` into `to`, following links (a case's inputs are plain files).
fn copy_folder(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_folder(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Renders the conclusion notice with the case's template overrides, through a render worker as
/// every command does (a case that allocates without bound stops there, not in this process).
fn render_with_templates(dir: &Path, period: &vanban::model::Period) -> String {
    let templates = Templates::with_overrides(dir.join("templates"));
    let program = WorkerProgram::at(env!("CARGO_BIN_EXE_vanban"));
    let backends = match Backends::isolated(
        &templates,
        Formats::Both,
        test_limits(),
        PdfFrom::Typst,
        &program,
    ) {
        Ok(b) => b,
        Err(e) => return e.to_string(),
    };
    let documents = render::plan(period, Some(DocumentKind::ConclusionNotice), &|_, _| None);
    match render::render_all(&documents, &backends.renderers(), 1) {
        Ok(_) => "(đã tạo văn bản)".to_string(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn every_malformed_input_gives_its_message() {
    let corpus = root().join("tests/fixtures/bad");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&corpus)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    assert!(cases.len() >= 100, "only {} cases", cases.len());
    let bless = std::env::var_os("VANBAN_BLESS").is_some();
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let got = verdict(dir);
        let expected_path = dir.join("expected.txt");
        if bless {
            std::fs::write(&expected_path, format!("{got}\n")).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{name}: no expected.txt"));
        // Every case is a refusal: an accepted input in this corpus is a hole.
        assert!(
            !got.starts_with('('),
            "{name}: accepted, but it must be refused: {got}"
        );
        if expected.trim_end_matches('\n') != got {
            failures.push(format!(
                "--- {name}\nexpected:\n{}\ngot:\n{got}\n",
                expected.trim_end()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
