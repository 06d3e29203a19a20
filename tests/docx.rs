//! DOCX output, end to end through the built binary and real consumers: the words of every DOCX
//! equal those of its PDF (pdftotext against python-docx), python-docx and LibreOffice open every
//! file, templates re-saved by LibreOffice or split into runs fill to the same words, hostile values
//! come out literally, and a clerk's edit to an exported template shows in the next render.
//! All but one need python-docx, LibreOffice or poppler: ignored by default, run by .ci/run.

use std::collections::BTreeMap;
use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const SAMPLE: &str = "samples/dam-ha-2024-h1.toml";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn vanban(args: &[&str]) -> Output {
    run(env!("CARGO_BIN_EXE_vanban"), args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    found.sort();
    found
}

fn words(text: &str) -> Vec<String> {
    text.replace('\u{FB01}', "fi")
        .replace('\u{FB02}', "fl")
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

/// The words of a PDF as pdftotext reads them in content order, without the page numbers that
/// head pages 2 and on (they are in the DOCX's header part, not its body). A word the PDF broke
/// after its own "/" or "-" ("đồng/" + "người/năm") is joined again.
fn pdf_words(pdf: &Path) -> Vec<String> {
    let out = run("pdftotext", &["-raw", "-enc", "UTF-8", s(pdf), "-"]);
    let text = String::from_utf8(out.stdout).unwrap();
    let mut all: Vec<String> = Vec::new();
    let mut glue = false;
    for (i, page) in text.split('\u{c}').enumerate() {
        let mut lines = page.lines().filter(|l| !l.trim().is_empty()).peekable();
        if i > 0
            && lines
                .peek()
                .is_some_and(|l| l.trim() == (i + 1).to_string())
        {
            lines.next();
        }
        for line in lines {
            for (n, word) in words(line).into_iter().enumerate() {
                match all.last_mut() {
                    Some(last) if n == 0 && glue => last.push_str(&word),
                    _ => all.push(word),
                }
            }
            glue = all
                .last()
                .is_some_and(|w| w.chars().count() > 1 && (w.ends_with('/') || w.ends_with('-')));
        }
    }
    all
}

/// The paragraphs of each DOCX (body and table cells, in order) as python-docx reads them.
fn docx_paragraphs(docx: &[PathBuf]) -> BTreeMap<PathBuf, Vec<String>> {
    let script = root().join("tests/support/docx_text.py");
    let mut args = vec![s(&script)];
    args.extend(docx.iter().map(|p| s(p)));
    let out = run("python3", &args);
    let map: BTreeMap<String, Vec<String>> = serde_json::from_slice(&out.stdout).unwrap();
    map.into_iter()
        .map(|(k, v)| (PathBuf::from(k), v))
        .collect()
}

/// The header rows of the report's tables, as repeated on a page a table runs onto.
fn repeated_headers() -> [Vec<String>; 2] {
    [
        "TT Chương trình Vốn giao (triệu đồng) Đã giải ngân (triệu đồng) Tỷ lệ giải ngân",
        "TT Chỉ tiêu Đơn vị tính Thực hiện Kế hoạch Tỷ lệ so với KH",
    ]
    .map(words)
}

fn docx_words(paragraphs: &[String]) -> Vec<String> {
    words(&paragraphs.join("\n"))
}

/// Fails with the first differing words and some context on both sides. pdftotext infers spaces
/// from gaps between glyphs and misses one where justification squeezed a line hard ("QuảngAn"),
/// so a word on one side may stand for two adjacent words on the other.
fn assert_same_words(what: &str, expected: &[String], actual: &[String]) {
    assert_same_words_but(what, expected, actual, &[]);
}

/// As [`assert_same_words`], where `actual` may also hold any of `extra` (word sequences) at points
/// where `expected` goes on with something else: table header rows repeated on a new page.
fn assert_same_words_but(
    what: &str,
    expected: &[String],
    actual: &[String],
    extra: &[Vec<String>],
) {
    let (mut i, mut j) = (0, 0);
    let glued = |one: &String, a: Option<&String>, b: Option<&String>| {
        a.zip(b).is_some_and(|(a, b)| *one == format!("{a}{b}"))
    };
    while i < expected.len() && j < actual.len() {
        if expected[i] == actual[j] {
            (i, j) = (i + 1, j + 1);
        } else if glued(&expected[i], actual.get(j), actual.get(j + 1)) {
            (i, j) = (i + 1, j + 2);
        } else if glued(&actual[j], expected.get(i), expected.get(i + 1)) {
            (i, j) = (i + 2, j + 1);
        } else if let Some(skip) = extra.iter().find(|x| actual[j..].starts_with(x)) {
            j += skip.len();
        } else {
            break;
        }
    }
    if i == expected.len() && j == actual.len() {
        return;
    }
    let show = |w: &[String], at: usize| {
        let from = at.saturating_sub(8);
        let to = (at + 8).min(w.len());
        format!(
            "{} [[{}]] {}",
            w[from..at.min(w.len())].join(" "),
            w.get(at).map_or("<end>", String::as_str),
            w.get(at + 1..to).map_or(String::new(), |r| r.join(" "))
        )
    };
    panic!(
        "{what}: words differ at word {i} of {} (expected) / {j} of {} (actual)\n  expected: {}\n  actual:   {}",
        expected.len(),
        actual.len(),
        show(expected, i),
        show(actual, j)
    );
}

/// Converts files with LibreOffice headless, in a private profile so parallel tests and a
/// running office do not interfere.
fn soffice(profile: &Path, convert_to: &str, out_dir: &Path, inputs: &[PathBuf]) {
    let profile_arg = format!("-env:UserInstallation=file://{}", s(profile));
    let mut args = vec![
        profile_arg.as_str(),
        "--headless",
        "--convert-to",
        convert_to,
        "--outdir",
        s(out_dir),
    ];
    args.extend(inputs.iter().map(|p| s(p)));
    run("soffice", &args);
}

fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            f.read_to_end(&mut data).unwrap();
            (f.name().to_string(), data)
        })
        .collect()
}

/// Rewrites one part of a .docx, the way a clerk's editor would save it.
fn edit_part(path: &Path, part: &str, edit: impl Fn(&str) -> String) {
    let entries = zip_entries(&std::fs::read(path).unwrap());
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut found = false;
    for (name, data) in entries {
        let data = if name == part {
            found = true;
            edit(std::str::from_utf8(&data).unwrap()).into_bytes()
        } else {
            data
        };
        out.start_file(name, options).unwrap();
        out.write_all(&data).unwrap();
    }
    assert!(found, "{} has no {part}", path.display());
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

fn part_text(path: &Path, part: &str) -> String {
    let entries = zip_entries(&std::fs::read(path).unwrap());
    let (_, data) = entries.into_iter().find(|(n, _)| n == part).unwrap();
    String::from_utf8(data).unwrap()
}

/// Cuts the text of every run holding a tag into runs of 3 characters, with proofing marks
/// between them, as Word does to a tag it thinks misspelt. Entities stay whole.
fn split_tag_runs(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len() * 3);
    let mut rest = xml;
    while let Some(start) = rest.find("<w:r>") {
        out.push_str(&rest[..start]);
        let run_end = start + rest[start..].find("</w:r>").unwrap() + "</w:r>".len();
        let run = &rest[start..run_end];
        rest = &rest[run_end..];
        let (Some(t_open), Some(t_close)) = (run.find("<w:t"), run.find("</w:t>")) else {
            out.push_str(run);
            continue;
        };
        let text_start = t_open + run[t_open..].find('>').unwrap() + 1;
        let text = &run[text_start..t_close];
        if !text.contains('{') || run[t_close..].contains("<w:t") {
            out.push_str(run);
            continue;
        }
        let props = match (run.find("<w:rPr"), run.find("</w:rPr>")) {
            (Some(a), Some(b)) => &run[a..b + "</w:rPr>".len()],
            _ => "",
        };
        let mut units: Vec<&str> = Vec::new();
        let mut i = 0;
        while i < text.len() {
            let len = if text[i..].starts_with('&') {
                text[i..].find(';').unwrap() + 1
            } else {
                text[i..].chars().next().unwrap().len_utf8()
            };
            units.push(&text[i..i + len]);
            i += len;
        }
        for (n, chunk) in units.chunks(3).enumerate() {
            if n > 0 {
                let kind = if n % 2 == 1 { "spellStart" } else { "spellEnd" };
                out.push_str(&format!("<w:proofErr w:type=\"{kind}\"/>"));
            }
            out.push_str(&format!(
                "<w:r>{props}<w:t xml:space=\"preserve\">{}</w:t></w:r>",
                chunk.concat()
            ));
        }
    }
    out.push_str(rest);
    out
}

fn render(out: &Path, extra: &[&str]) -> PathBuf {
    let mut args = vec!["render", SAMPLE, "--out", s(out)];
    args.extend(extra);
    vanban(&args);
    out.join("2024-h1")
}

#[test]
#[ignore = "needs python-docx, LibreOffice and poppler: run .ci/run"]
fn sample_docx_has_the_words_of_its_pdf_and_opens_in_python_docx_and_libreoffice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = render(tmp.path(), &["--format", "both"]);
    let pdfs = files(&dir, "pdf");
    let docxs = files(&dir, "docx");
    assert_eq!(pdfs.len(), 12, "{pdfs:?}");
    assert_eq!(
        docxs,
        pdfs.iter()
            .map(|p| p.with_extension("docx"))
            .collect::<Vec<_>>(),
        "a DOCX beside every PDF"
    );
    let paragraphs = docx_paragraphs(&docxs);
    // The PDF's words are the DOCX's, but for the header row of a table that runs onto a new
    // page, which both formats repeat there (Typst's table.header, Word's w:tblHeader).
    let repeated_headers = repeated_headers();
    for docx in &docxs {
        let pdf = docx.with_extension("pdf");
        assert_same_words_but(
            &format!("{} vs its PDF", docx.display()),
            &docx_words(&paragraphs[docx]),
            &pdf_words(&pdf),
            &repeated_headers,
        );
    }

    // LibreOffice converts every DOCX, and the pages it makes hold the same words again.
    let converted = tmp.path().join("lo");
    soffice(&tmp.path().join("profile"), "pdf", &converted, &docxs);
    for docx in &docxs {
        let pdf = converted.join(docx.with_extension("pdf").file_name().unwrap());
        assert!(
            pdf.exists(),
            "LibreOffice made no PDF of {}",
            docx.display()
        );
        assert_same_words_but(
            &format!("LibreOffice's PDF of {}", docx.display()),
            &pdf_words(&docx.with_extension("pdf")),
            &pdf_words(&pdf),
            &repeated_headers,
        );
    }
    let info = run("pdfinfo", &[s(&converted.join("01-bao-cao-so-ket.pdf"))]);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(info.contains("(A4)"), "{info}");
}

#[test]
fn format_flag_picks_the_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = render(
        &tmp.path().join("docx"),
        &["--format", "docx", "--only", "review-report"],
    );
    assert_eq!(files(&dir, "docx").len(), 1);
    assert!(files(&dir, "pdf").is_empty());
    let dir = render(
        &tmp.path().join("pdf"),
        &["--format", "pdf", "--only", "review-report"],
    );
    assert!(files(&dir, "docx").is_empty());
    assert_eq!(files(&dir, "pdf").len(), 1);
}

#[test]
#[ignore = "needs LibreOffice, python-docx and poppler: run .ci/run"]
fn templates_resaved_by_libreoffice_or_split_into_runs_fill_to_the_same_words() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = tmp.path().join("exported");
    vanban(&["templates", "export", s(&exported)]);
    let templates = files(&exported.join("docx"), "docx");
    assert_eq!(templates.len(), 3, "{templates:?}");
    let reference = render(&tmp.path().join("pdf"), &["--format", "pdf"]);

    // LibreOffice's own XML: runs merged its way, its styles, settings and rsids.
    let resaved = tmp.path().join("resaved");
    soffice(
        &tmp.path().join("profile"),
        "docx:MS Word 2007 XML",
        &resaved.join("docx"),
        &templates,
    );
    // Every tag cut into 3-character runs with proofing marks between them.
    let split = tmp.path().join("split");
    std::fs::create_dir_all(split.join("docx")).unwrap();
    for t in &templates {
        let copy = split.join("docx").join(t.file_name().unwrap());
        std::fs::copy(t, &copy).unwrap();
        edit_part(&copy, "word/document.xml", split_tag_runs);
        let xml = part_text(&copy, "word/document.xml");
        assert!(
            !xml.contains("{{ header.number }}") && xml.contains("{{ "),
            "{}: tags were not split",
            copy.display()
        );
    }

    for (label, dir) in [
        ("re-saved by LibreOffice", &resaved),
        ("split into runs", &split),
    ] {
        assert_eq!(files(&dir.join("docx"), "docx").len(), 3, "{label}");
        let out = render(
            &tmp.path().join(format!(
                "out-{}",
                dir.file_name().unwrap().to_str().unwrap()
            )),
            &["--format", "docx", "--templates", s(dir)],
        );
        let docxs = files(&out, "docx");
        assert_eq!(docxs.len(), 12, "{label}");
        let paragraphs = docx_paragraphs(&docxs);
        for docx in &docxs {
            let pdf = reference.join(docx.with_extension("pdf").file_name().unwrap());
            assert_same_words_but(
                &format!("{} (template {label})", docx.display()),
                &docx_words(&paragraphs[docx]),
                &pdf_words(&pdf),
                &repeated_headers(),
            );
        }
    }
}

const HOSTILE_UNIT: &str =
    r#"Phòng "Văn hóa" & <Thông tin> {{ x }} #1 *đậm* _nghiêng_ $m$ ]x @y 'q'"#;
const HOSTILE_TASK: &str = r#"Rà soát {{ unit.name }} {% if x %} & <b>đậm</b> "trích dẫn" 'đơn' #tiêu-đề *sao* _gạch_ $100$ ]ngoặc @nhắc [liên kết](http://x.vn) `mã` \n hết"#;

#[test]
#[ignore = "needs python-docx and poppler's pdftotext: run .ci/run"]
fn hostile_values_come_out_literally() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(
        dir.join("directory.toml"),
        format!(
            r#"[[units]]
id = "vh"
name = '''{HOSTILE_UNIT}'''
short = '''VH&TT <"1">'''
email = "vh@example.vn"
"#
        ),
    )
    .unwrap();
    std::fs::write(
        dir.join("period.toml"),
        format!(
            r##"[period]
year = 2024
half = 1
[issuer]
name = "Ủy ban nhân dân xã Đầm Hà"
abbr = "UBND"
place = "Đầm Hà"
[committee]
name = '''Ban Chỉ đạo "#CTMTQG" & <xã>'''
head = {{ name = "Nguyễn Văn An", title = "Chủ tịch UBND xã" }}
[meeting]
date = 2024-06-21
[documents]
date = 2024-06-25
review_report = {{ signer = {{ authority = "TM. Ủy ban nhân dân", title = "Chủ tịch", name = "Nguyễn Văn An" }} }}
conclusion_notice = {{ signer = {{ authority = "KT. Chủ tịch", title = "Phó Chủ tịch", name = "Lê Thị Bình" }} }}
assignment_letter = {{ unit_abbr = "VX", signer = {{ authority = "KT. Chủ tịch", title = "Phó Chủ tịch", name = "Lê Thị Bình" }} }}
[report]
leadership = ['''Lãnh đạo *chỉ đạo* _sát sao_ #1 & {{{{ không phải thẻ }}}} <ok>''']
[[programs]]
id = "p1"
name = '''Chương trình "A&B" <1> {{% raw %}}'''
budget = {{ allocated = 1000, disbursed = 500 }}
results = ['''Kết quả ]]> [[ & <![CDATA[ x ]]>''']
[[tasks]]
to = ["vh"]
text = '''{HOSTILE_TASK}'''
"##
        ),
    )
    .unwrap();
    let out = dir.join("out");
    vanban(&[
        "render",
        s(&dir.join("period.toml")),
        "--out",
        s(&out),
        "--format",
        "both",
    ]);
    let docs = out.join("2024-h1");
    let docxs = files(&docs, "docx");
    assert_eq!(docxs.len(), 3, "{docxs:?}");
    let paragraphs = docx_paragraphs(&docxs);
    let all: Vec<&String> = paragraphs.values().flatten().collect();
    let has = |needle: &str| all.iter().any(|p| p.contains(needle));
    for literal in [
        HOSTILE_UNIT,
        r#"Rà soát {{ unit.name }} {% if x %} & <b>đậm</b> "trích dẫn" 'đơn' #tiêu-đề *sao* _gạch_ $100$ ]ngoặc @nhắc [liên kết](http://x.vn) `mã` \n hết"#,
        r##"Ban Chỉ đạo "#CTMTQG" & <xã>"##,
        "Lãnh đạo *chỉ đạo* _sát sao_ #1 & {{ không phải thẻ }} <ok>",
        r#"Chương trình "A&B" <1> {% raw %}"#,
        "Kết quả ]]> [[ & <![CDATA[ x ]]>",
        r#"VH&TT <"1">"#,
    ] {
        assert!(
            has(literal),
            "{literal:?} is not in the DOCX text:\n{all:#?}"
        );
    }
    for docx in &docxs {
        assert_same_words(
            &format!("{} vs its PDF", docx.display()),
            &pdf_words(&docx.with_extension("pdf")),
            &docx_words(&paragraphs[docx]),
        );
    }
}

#[test]
#[ignore = "needs python-docx: run .ci/run"]
fn a_clerk_rewords_an_exported_template_and_the_next_render_shows_it() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = tmp.path().join("templates");
    let listing = vanban(&["templates", "export", s(&exported)]);
    let listing = String::from_utf8(listing.stdout).unwrap();
    for name in [
        "review-report.docx",
        "conclusion-notice.docx",
        "assignment-letter.docx",
        "review-report.typ",
    ] {
        assert!(listing.contains(name), "{name} not exported:\n{listing}");
    }
    let letter = exported.join("docx/assignment-letter.docx");
    edit_part(&letter, "word/document.xml", |xml| {
        assert!(
            xml.contains("nghiêm túc triển khai thực hiện./."),
            "sentence not found"
        );
        xml.replace(
            "nghiêm túc triển khai thực hiện./.",
            "khẩn trương, nghiêm túc triển khai thực hiện./.",
        )
    });
    let out = render(
        &tmp.path().join("out"),
        &[
            "--format",
            "docx",
            "--only",
            "assignment-letter",
            "--templates",
            s(&exported),
        ],
    );
    let docxs = files(&out, "docx");
    assert_eq!(docxs.len(), 10);
    let paragraphs = docx_paragraphs(&docxs);
    for docx in &docxs {
        let last = paragraphs[docx]
            .iter()
            .rfind(|p| p.starts_with("Yêu cầu"))
            .unwrap_or_else(|| panic!("{}: no closing sentence", docx.display()));
        assert!(
            last.ends_with("khẩn trương, nghiêm túc triển khai thực hiện./."),
            "{}: {last}",
            docx.display()
        );
    }
    // Without --templates the built-in wording is back.
    let out = render(
        &tmp.path().join("builtin"),
        &["--format", "docx", "--only", "assignment-letter"],
    );
    let paragraphs = docx_paragraphs(&files(&out, "docx"));
    assert!(
        paragraphs
            .values()
            .flatten()
            .all(|p| !p.contains("khẩn trương")),
        "the override leaked into the built-in template"
    );
}
