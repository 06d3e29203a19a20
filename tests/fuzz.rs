//! A mutation fuzzer (proptest, stable Rust) over the period reader and the DOCX filler, with the
//! promise that no file a clerk or an office supplies can stop vanban: whatever `check` accepts,
//! `render` renders: no panic, no hang, no error.
//!
//! Each case mutates a real input (the sample period as TOML, a period as JSON, the directory,
//! a built-in DOCX template, the sample Excel form's sheets and shared strings) with edits an
//! adversary or a slip would make: tokens that break numbers, dates, strings and tables, control
//! and bidi characters, letters the fonts lack, long runs, deleted and duplicated lines; in a
//! workbook, cells far away, formulas without results, shared formulas, declared counts. Bounded by time: `VANBAN_FUZZ_SECONDS` (default 3 per
//! target) so `cargo test --release` stays quick; set it to 600 for a real run. The number of
//! cases run is printed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestCaseError, TestRunner};
use vanban::render::docx::fill::DocxTemplate;
use vanban::render::templates::Templates;
use vanban::render::{self, Backends, Formats};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn budget() -> Duration {
    let seconds = std::env::var("VANBAN_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    Duration::from_secs(seconds)
}

/// Pieces that make an input interesting: every one was a way in when vanban was attacked with
/// hostile files.
const TOKENS: &[&str] = &[
    "\"",
    "\"\"\"",
    "'",
    "\n",
    "\r\n",
    "=",
    "[",
    "]",
    "[[",
    "{",
    "}",
    ",",
    ".",
    "-",
    "#",
    "\\",
    "\\n",
    "\\u0000",
    "\\u202E",
    "\\u001B",
    "\\uD800",
    "0",
    "1",
    "12.500",
    "74,4",
    "\"12.500\"",
    "\"74,4\"",
    "1e-300",
    "1e-320",
    "1.7e308",
    "9223372036854775807",
    "-1",
    "nan",
    "inf",
    "2024-13-01",
    "9999-12-31",
    "2024-06-21",
    "\"2024-06-21\"",
    "true",
    "[]",
    "{}",
    "黃",
    "☺",
    "😀",
    "\u{202e}",
    "\u{200b}",
    "\u{0}",
    "\u{1b}",
    "\u{feff}",
    "Đ",
    "ạ",
    "a\u{300}",
    "&",
    "<",
    ">",
    "</w:t>",
    "{{",
    "}}",
    "{%",
    "%}",
    "{%p ",
    "{%tr ",
    "{{ header.number }}",
    "{% for x in letter.tasks %}",
    "{% endfor %}",
    "{% if true %}",
    "{% endif %}",
    "{{ 1/0 }}",
    "{{ x | upper }}",
    "to = [\"cac-xa\"]",
    "with = [\"pnn\"]",
    "id = \"x\"",
    "share_of = 0",
    "plan = 0",
    "decimals = 7",
    "value = 1",
    "allocated = 5",
    "disbursed = 9",
];

/// Pieces of a workbook's XML that made or could make calamine misbehave: a cell at the last
/// position a sheet has (a 512 GiB dense range), counts it reserves room for, shared formulas
/// indexed by the file, formulas without results, escapes of control characters.
const XML_TOKENS: &[&str] = &[
    "<row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row>",
    "<c r=\"XFD1048576\"><v>1</v></c>",
    "<c r=\"GR10000\"><v>1</v></c>",
    "<c r=\"GS2\"><v>1</v></c>",
    "<c r=\"A10001\"><v>1</v></c>",
    "<c r=\"XFD1048576\" s=\"1\"/>",
    "<c r=\"A4294967295\"><v>1</v></c>",
    "<c r=\"ZZZZZZZZ1\"><v>1</v></c>",
    "<row r=\"4294967296\">",
    "<row r=\"0\">",
    "<c>",
    "<c r=\"D2\"><f>80000+6447</f><v></v></c>",
    "<f>1+1</f>",
    "<f t=\"shared\" ref=\"A1:XFD1048576\" si=\"4294967295\">A1</f>",
    "<f t=\"shared\" si=\"18446744073709551615\"/>",
    "<v></v>",
    "<v>61864.00000000001</v>",
    "<v>1e308</v>",
    "<v>-0</v>",
    "<v>NaN</v>",
    "<v>99999999</v>",
    " t=\"s\"",
    " t=\"str\"",
    " t=\"b\"",
    " t=\"e\"",
    " t=\"d\"",
    " t=\"inlineStr\"",
    "<is><t>74,4</t></is>",
    "<is><t>_x001B_[31m</t></is>",
    "_x001B_",
    "_x000A_",
    "_x0000_",
    "_xD800_",
    "&#x1B;",
    "&amp;",
    "&bogus;",
    "<![CDATA[",
    "uniqueCount=\"99999999999\" ",
    "count=\"4294967296\" ",
    "<dimension ref=\"A1:XFD1048576\"/>",
    "<si><t>Ví dụ</t></si>",
    "<si><t>Mã chương trình</t></si>",
    "<sheet name=\"Chỉ tiêu\" sheetId=\"9\" r:id=\"rId3\"/>",
    "r=\"",
    "\"",
    "<",
    ">",
    "/>",
    "</c>",
    "</row>",
    "</sheetData>",
    "1",
    "-",
    "9",
];

#[derive(Debug, Clone)]
enum Edit {
    Insert { at: usize, token: usize },
    InsertRun { at: usize, ch: char, len: usize },
    Delete { at: usize, len: usize },
    DuplicateLine { line: usize },
    DeleteLine { line: usize },
    Char { at: usize, ch: char },
}

fn edit() -> impl Strategy<Value = Edit> {
    edit_from(TOKENS)
}

/// An edit whose inserted tokens come from `tokens`.
fn edit_from(tokens: &'static [&'static str]) -> impl Strategy<Value = Edit> {
    prop_oneof![
        4 => (any::<usize>(), 0..tokens.len()).prop_map(|(at, token)| Edit::Insert { at, token }),
        1 => (any::<usize>(), prop_oneof![Just('Đ'), Just('a'), Just(' '), Just('9')], 1..40_000usize)
            .prop_map(|(at, ch, len)| Edit::InsertRun { at, ch, len }),
        2 => (any::<usize>(), 1..40usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        1 => any::<usize>().prop_map(|line| Edit::DuplicateLine { line }),
        2 => any::<usize>().prop_map(|line| Edit::DeleteLine { line }),
        2 => (any::<usize>(), any::<char>()).prop_map(|(at, ch)| Edit::Char { at, ch }),
    ]
}

fn boundary(text: &str, at: usize) -> usize {
    let mut i = at % (text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn apply(text: &str, edits: &[Edit]) -> String {
    apply_tokens(text, edits, TOKENS, false)
}

/// `edits` with their tokens from `tokens`; with `at_tags`, a token that is an element goes in
/// before the tag it lands in, where it keeps the XML well formed often enough to reach the
/// reader behind the parser.
fn apply_tokens(text: &str, edits: &[Edit], tokens: &[&str], at_tags: bool) -> String {
    let mut text = text.to_string();
    for e in edits {
        match *e {
            Edit::Insert { at, token } => {
                let mut i = boundary(&text, at);
                if at_tags
                    && tokens[token].starts_with('<')
                    && let Some(tag) = text[..i].rfind('<')
                {
                    i = tag;
                }
                text.insert_str(i, tokens[token]);
            }
            Edit::InsertRun { at, ch, len } => {
                let i = boundary(&text, at);
                text.insert_str(i, &ch.to_string().repeat(len));
            }
            Edit::Delete { at, len } => {
                let i = boundary(&text, at);
                let j = boundary(&text, i + len.min(text.len() - i));
                text.replace_range(i..j.max(i), "");
            }
            Edit::DuplicateLine { line } | Edit::DeleteLine { line } => {
                let mut lines: Vec<&str> = text.split('\n').collect();
                let n = line % lines.len();
                if matches!(e, Edit::DuplicateLine { .. }) {
                    lines.insert(n, lines[n]);
                } else {
                    lines.remove(n);
                }
                text = lines.join("\n");
            }
            Edit::Char { at, ch } => {
                let i = boundary(&text, at);
                text.insert(i, ch);
            }
        }
    }
    text
}

/// Runs `test` on fresh mutations until the time budget is spent; returns how many cases ran.
fn run_for(name: &str, test: impl Fn(Vec<Edit>) -> Result<(), TestCaseError>) -> u64 {
    run_strategy_for(name, prop::collection::vec(edit(), 1..6), test)
}

/// [`run_for`] with cases drawn from `strategy`.
fn run_strategy_for<S: Strategy<Value: std::fmt::Debug>>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) -> u64 {
    let deadline = Instant::now() + budget();
    let mut cases = 0u64;
    // The bounded run of `cargo test` walks a fixed sequence of seeds, so a red CI is a case
    // anyone can replay; a longer run (VANBAN_FUZZ_SECONDS) draws random seeds to explore.
    let explore = std::env::var_os("VANBAN_FUZZ_SECONDS").is_some();
    let mut round = 0u64;
    while Instant::now() < deadline {
        // A fresh runner each round: one runner counts its cases and stops at `cases`.
        let mut runner = TestRunner::new(RunnerConfig {
            cases: 16,
            failure_persistence: None,
            rng_seed: if explore {
                proptest::test_runner::RngSeed::Random
            } else {
                proptest::test_runner::RngSeed::Fixed(round)
            },
            ..RunnerConfig::default()
        });
        round += 1;
        let result = runner.run(&strategy, &test);
        if let Err(e) = result {
            panic!("{name}: {e}");
        }
        cases += 16;
    }
    eprintln!("fuzz {name}: {cases} cases in {:?}", budget());
    cases
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 25).unwrap()
}

/// check, then render: an accepted period must render every document in both formats.
fn check_then_render(
    backends: &Backends,
    period: &Path,
    directory: &Path,
) -> Result<(), TestCaseError> {
    let period_path = period;
    let Ok(period) = vanban::input::load_period(period, Some(directory), today()) else {
        return Ok(());
    };
    // `check` also refuses a table cell holding a word its column cannot (render::fit).
    if !render::fit::problems(&period).is_empty() {
        return Ok(());
    }
    let documents = render::plan(&period, None, &|_, _| None);
    match render::render_all(&documents, &backends.renderers(), 1) {
        Ok(_) => Ok(()),
        Err(e) => {
            // Kept for replay: the failing input, beside the build.
            let extension = period_path
                .extension()
                .map_or("toml".into(), |e| e.to_string_lossy());
            let kept = root().join(format!("target/fuzz-failure.{extension}"));
            let _ = std::fs::copy(period_path, &kept);
            Err(TestCaseError::fail(format!(
                "check accepted it, render failed: {e} (the input: {})",
                kept.display()
            )))
        }
    }
}

#[test]
fn whatever_check_accepts_render_renders() {
    let backends = Backends::new(&Templates::builtin(), Formats::Both).unwrap();
    let period = std::fs::read_to_string(root().join("samples/dam-ha-2024-h1.toml")).unwrap();
    let directory = root().join("samples/directory.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("period.toml");
    run_for("period (TOML)", |edits| {
        std::fs::write(&path, apply(&period, &edits)).unwrap();
        check_then_render(&backends, &path, &directory)
    });
}

#[test]
fn whatever_check_accepts_render_renders_json_and_directory() {
    let backends = Backends::new(&Templates::builtin(), Formats::Both).unwrap();
    let json = std::fs::read_to_string(root().join("tests/fixtures/fuzz/period.json")).unwrap();
    let directory_text = std::fs::read_to_string(root().join("samples/directory.toml")).unwrap();
    let sample = root().join("samples/dam-ha-2024-h1.toml");
    let dir = tempfile::tempdir().unwrap();
    let (period_path, directory_path) = (
        dir.path().join("period.json"),
        dir.path().join("directory.toml"),
    );
    std::fs::write(&directory_path, &directory_text).unwrap();
    run_for("period (JSON)", |edits| {
        std::fs::write(&period_path, apply(&json, &edits)).unwrap();
        check_then_render(&backends, &period_path, &directory_path)
    });
    run_for("directory", |edits| {
        std::fs::write(&directory_path, apply(&directory_text, &edits)).unwrap();
        check_then_render(&backends, &sample, &directory_path)
    });
}

/// The DOCX filler on mutated templates: a template that parses either fills into a valid
/// .docx or gives a typed error; it never panics.
#[test]
fn the_docx_filler_never_panics_on_a_mutated_template() {
    let period = vanban::input::load_period(
        &root().join("samples/dam-ha-2024-h1.toml"),
        Some(&root().join("samples/directory.toml")),
        today(),
    )
    .unwrap();
    let document = render::plan(
        &period,
        Some(vanban::model::DocumentKind::ConclusionNotice),
        &|_, _| None,
    )
    .remove(0);
    let context = serde_json::to_value(&document.context).unwrap();
    let (name, template) = vanban::render::docx::builtin_templates()
        .unwrap()
        .into_iter()
        .find(|(n, _)| n.contains("conclusion"))
        .unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(template.clone())).unwrap();
    let mut parts = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        parts.push((f.name().to_string(), data));
    }
    let body = String::from_utf8(
        parts
            .iter()
            .find(|(n, _)| n == "word/document.xml")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    run_for("docx filler", |edits| {
        let mutated = apply(&body, &edits);
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, data) in &parts {
            out.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            let data = if n == "word/document.xml" {
                mutated.as_bytes()
            } else {
                data
            };
            std::io::Write::write_all(&mut out, data).unwrap();
        }
        let bytes = out.finish().unwrap().into_inner();
        if let Ok(t) = DocxTemplate::parse(name, &bytes)
            && let Ok(filled) = t.render(&context)
        {
            prop_assert!(zip::ZipArchive::new(std::io::Cursor::new(filled)).is_ok());
        }
        Ok(())
    });
}

/// The sample form's zip entries that mutations edit: the six sheets read, the shared strings,
/// the workbook (sheet names) and the styles (number formats decide dates).
const WORKBOOK_ENTRIES: &[&str] = &[
    "xl/worksheets/sheet1.xml",
    "xl/worksheets/sheet2.xml",
    "xl/worksheets/sheet3.xml",
    "xl/worksheets/sheet4.xml",
    "xl/worksheets/sheet5.xml",
    "xl/worksheets/sheet6.xml",
    "xl/sharedStrings.xml",
    "xl/workbook.xml",
    "xl/styles.xml",
];

/// A letter only Vietnamese writes among the messages' languages: every refusal says what is
/// wrong in Vietnamese, whatever else (a cell's text, calamine's words) it quotes.
fn has_vietnamese(text: &str) -> bool {
    text.chars().any(|c| {
        "ăâđêôơưĂÂĐÊÔƠƯ".contains(c)
            || ('\u{1ea0}'..='\u{1ef9}').contains(&c)
            || "àáảãạèéẻẽẹìíỉĩịòóỏõọùúủũụỳýỷỹỵ".contains(c)
    })
}

/// The Excel form, mutated: the upload's guard and the reader never panic or abort (an abort
/// takes the whole test binary down, so it cannot pass unnoticed); a refused workbook is named
/// with a Vietnamese message on lines of its own, no control character raw; an accepted one
/// renders like any period `check` accepts.
#[test]
fn a_mutated_workbook_is_read_or_refused_in_vietnamese_and_what_check_accepts_renders() {
    let backends = Backends::new(&Templates::builtin(), Formats::Both).unwrap();
    let sample = std::fs::read(root().join("samples/dam-ha-2024-h1.xlsx")).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(sample)).unwrap();
    let mut parts = Vec::new();
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        f.read_to_end(&mut data).unwrap();
        parts.push((f.name().to_string(), data));
    }
    let directory = root().join("samples/directory.toml");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bieu-mau.xlsx");
    let file = path.display().to_string();
    let limits = vanban::config::TemplateLimits::default();
    let strategy = (
        0..WORKBOOK_ENTRIES.len(),
        prop::collection::vec(edit_from(XML_TOKENS), 1..6),
    );
    run_strategy_for("Excel form", strategy, |(entry, edits)| {
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (n, data) in &parts {
            out.start_file(n.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            let mutated;
            let data = if n == WORKBOOK_ENTRIES[entry] {
                mutated = apply_tokens(&String::from_utf8_lossy(data), &edits, XML_TOKENS, true);
                mutated.as_bytes()
            } else {
                data
            };
            std::io::Write::write_all(&mut out, data).unwrap();
        }
        let bytes = out.finish().unwrap().into_inner();
        if let Err(e) = vanban::input::xlsx::guard::check("bieu-mau.xlsx", &bytes, &limits) {
            prop_assert!(has_vietnamese(&e.to_string()), "{e}");
        }
        std::fs::write(&path, &bytes).unwrap();
        match vanban::input::load_period(&path, Some(&directory), today()) {
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for problem in problems.iter() {
                    let line = problem.to_string();
                    prop_assert!(has_vietnamese(&problem.message), "{line}");
                    prop_assert!(line.starts_with(&file), "{line}");
                    prop_assert!(!line.chars().any(char::is_control), "{line:?}");
                }
                Ok(())
            }
            Ok(_) => check_then_render(&backends, &path, &directory),
        }
    });
}
