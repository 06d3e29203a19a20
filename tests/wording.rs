//! One wording for both formats (so an edit to one can never make the two differ): the fixed
//! sentences come from loi-van.toml, an office's reworded file reaches the PDF and the DOCX alike,
//! a bad file is refused with its line, and the guard before sending finds an office template of
//! one format that says other words (a DOCX reworded in Word, a Typst file edited by hand). Needs
//! nothing but Rust: the PDF's words come from Typst's layout, the DOCX's from its document part.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use vanban::input;
use vanban::model::{DocumentKind, Period};
use vanban::render::parity::{self, ParityError};
use vanban::render::templates::Templates;
use vanban::render::{self, Backends, Formats, PlannedDocument};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 10).unwrap()
}

fn sample() -> Period {
    input::load_period(
        &root().join("samples/dam-ha-2024-h1.toml"),
        Some(&root().join("samples/directory.toml")),
        today(),
    )
    .unwrap()
}

/// Every fixture period that renders (tests/fixtures/<case>/period.toml), and the sample.
fn periods() -> Vec<(String, Period)> {
    let mut out = vec![("sample".to_string(), sample())];
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/fixtures"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("period.toml").exists())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let period = input::load_period(
            &dir.join("period.toml"),
            Some(&dir.join("directory.toml")),
            today(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, period));
    }
    assert!(out.len() >= 4);
    out
}

fn documents(period: &Period) -> Vec<PlannedDocument> {
    render::plan(period, None, &|_, _| None)
}

fn check(templates: &Templates, period: &Period) -> Result<(), ParityError> {
    let backends = Backends::new(templates, Formats::Both).unwrap();
    let documents = documents(period);
    let ids: Vec<(DocumentKind, Option<String>)> =
        documents.iter().map(|d| (d.kind, d.unit.clone())).collect();
    parity::check_documents(&documents, &ids, &backends.renderers(), templates)
}

/// The exported templates (`vanban templates export`) in a fresh folder.
fn exported() -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mau");
    let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(["templates", "export", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listing = String::from_utf8(out.stdout).unwrap();
    assert!(listing.contains("loi-van.toml"), "{listing}");
    assert_eq!(
        std::fs::read_to_string(dir.join("loi-van.toml")).unwrap(),
        render::wording::BUILTIN
    );
    (tmp, dir)
}

/// Rewrites one part of a .docx, as Word would after an edit.
fn edit_docx(path: &Path, part: &str, edit: impl Fn(String) -> String) {
    let bytes = std::fs::read(path).unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..zip.len() {
        let mut file = zip.by_index(i).unwrap();
        let name = file.name().to_string();
        let mut data = Vec::new();
        file.read_to_end(&mut data).unwrap();
        if name == part {
            data = edit(String::from_utf8(data).unwrap()).into_bytes();
        }
        out.start_file(name, zip::write::SimpleFileOptions::default())
            .unwrap();
        out.write_all(&data).unwrap();
    }
    std::fs::write(path, out.finish().unwrap().into_inner()).unwrap();
}

fn remove_all_but(dir: &Path, keep: &[&str]) {
    for sub in ["typst", "docx", "email"] {
        for entry in std::fs::read_dir(dir.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_str()
                .unwrap()
                .to_string();
            if !keep.contains(&rel.as_str()) {
                std::fs::remove_file(path).unwrap();
            }
        }
    }
    if !keep.contains(&"loi-van.toml") {
        std::fs::remove_file(dir.join("loi-van.toml")).unwrap();
    }
}

#[test]
fn the_builtin_templates_say_the_same_words_in_both_formats_for_every_period() {
    for (name, period) in periods() {
        check(&Templates::builtin(), &period).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // The exported set, used as an office's own, is the built-in one.
    let (_tmp, dir) = exported();
    check(&Templates::with_overrides(&dir), &sample()).unwrap();
}

#[test]
fn a_reworded_wording_file_reaches_the_pdf_and_the_docx() {
    let (_tmp, dir) = exported();
    remove_all_but(&dir, &["loi-van.toml"]);
    let wording = std::fs::read_to_string(dir.join("loi-van.toml"))
        .unwrap()
        .replace(
            "nghiêm túc triển khai thực hiện./.",
            "khẩn trương, nghiêm túc triển khai thực hiện./.",
        )
        .replace(
            "muc_ket_qua = \"KẾT QUẢ THỰC HIỆN\"",
            "muc_ket_qua = \"KẾT QUẢ THỰC HIỆN CÁC CHƯƠNG TRÌNH\"",
        )
        .replace(
            "cot_chi_tieu = \"Chỉ tiêu\"",
            "cot_chi_tieu = \"Tên chỉ tiêu\"",
        );
    std::fs::write(dir.join("loi-van.toml"), wording).unwrap();
    let templates = Templates::with_overrides(&dir);
    let backends = Backends::new(&templates, Formats::Both).unwrap();
    let period = sample();
    let docs = documents(&period);
    let letter = docs
        .iter()
        .find(|d| d.kind == DocumentKind::AssignmentLetter)
        .unwrap();
    let unit = &letter.context.letter.as_ref().unwrap().unit.name;
    let sentence = format!("Yêu cầu {unit} khẩn trương, nghiêm túc triển khai thực hiện./.");
    for renderer in backends.renderers() {
        let text = renderer.text(letter).unwrap().unwrap();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(&sentence), "{}: {text}", renderer.name());
    }
    // The report's heading, numbered as before.
    let report = &docs[0];
    for renderer in backends.renderers() {
        let text = renderer.text(report).unwrap().unwrap();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            text.contains("II. KẾT QUẢ THỰC HIỆN CÁC CHƯƠNG TRÌNH"),
            "{}: {text}",
            renderer.name()
        );
        // A table's header row too.
        assert!(
            text.contains("TT Tên chỉ tiêu Đơn vị tính"),
            "{}: {text}",
            renderer.name()
        );
    }
    check(&templates, &period).unwrap();
}

#[test]
fn a_docx_template_reworded_in_word_only_is_caught_with_both_sentences_and_the_file() {
    let (_tmp, dir) = exported();
    remove_all_but(&dir, &["docx/assignment-letter.docx"]);
    let letter = dir.join("docx/assignment-letter.docx");
    edit_docx(&letter, "word/document.xml", |xml| {
        assert!(xml.contains("nghiêm túc triển khai thực hiện./."));
        xml.replace(
            "nghiêm túc triển khai thực hiện./.",
            "khẩn trương, nghiêm túc triển khai thực hiện./.",
        )
    });
    let error = check(&Templates::with_overrides(&dir), &sample()).unwrap_err();
    let ParityError::Mismatch(mismatch) = &error else {
        panic!("{error}");
    };
    assert!(
        mismatch.document.starts_with("Công văn giao nhiệm vụ – "),
        "{error}"
    );
    assert!(
        mismatch.docx.starts_with("Yêu cầu ")
            && mismatch
                .docx
                .ends_with("khẩn trương, nghiêm túc triển khai thực hiện./."),
        "{error}"
    );
    assert!(
        mismatch.pdf.starts_with("Yêu cầu ")
            && mismatch
                .pdf
                .ends_with(" nghiêm túc triển khai thực hiện./.")
            && !mismatch.pdf.contains("khẩn trương"),
        "{error}"
    );
    let text = error.to_string();
    assert!(text.contains(letter.to_str().unwrap()), "{text}");
    assert!(text.contains("loi-van.toml có sẵn"), "{text}");
    assert!(text.contains("Chưa cấp số, chưa gửi gì."), "{text}");
}

#[test]
fn a_typst_template_edited_alone_is_caught_too() {
    let (_tmp, dir) = exported();
    remove_all_but(&dir, &["typst/conclusion-notice.typ"]);
    let path = dir.join("typst/conclusion-notice.typ");
    let typst = std::fs::read_to_string(&path).unwrap();
    assert!(typst.contains("#para(w.ket_luan)"));
    std::fs::write(
        &path,
        typst.replace(
            "#para(w.ket_luan)",
            "#para(w.ket_luan)\n#para[Hội nghị thống nhất các nội dung sau.]",
        ),
    )
    .unwrap();
    let error = check(&Templates::with_overrides(&dir), &sample()).unwrap_err();
    let ParityError::Mismatch(mismatch) = &error else {
        panic!("{error}");
    };
    assert_eq!(mismatch.document, "Thông báo kết luận", "{error}");
    assert_eq!(
        mismatch.pdf, "Hội nghị thống nhất các nội dung sau.",
        "{error}"
    );
    assert!(
        error.to_string().contains(path.to_str().unwrap()),
        "{error}"
    );
}

#[test]
fn check_templates_refuses_a_bad_wording_file_with_its_line() {
    let (_tmp, dir) = exported();
    remove_all_but(&dir, &["loi-van.toml"]);
    let good = std::fs::read_to_string(dir.join("loi-van.toml")).unwrap();
    let line_of = |needle: &str| good[..good.find(needle).unwrap()].matches('\n').count() + 1;
    let cases = [
        (
            good.replace("muc_de_xuat =", "muc_de_xuatt ="),
            format!(
                "dòng {}: khóa lạ «muc_de_xuatt» trong [bao_cao]",
                line_of("muc_de_xuat =")
            ),
        ),
        (
            good.replace(
                "Yêu cầu {{ letter.unit.name }}",
                "Yêu cầu {{ letter.unit.ten }}",
            ),
            format!(
                "dòng {}: «cong_van.ket_thuc» dùng giá trị «letter.unit.ten»",
                line_of("Yêu cầu {{")
            ),
        ),
        (
            good.replace("ket_luan = ", "# ket_luan = "),
            format!(
                "dòng {}: [thong_bao] thiếu khóa «ket_luan»",
                line_of("[thong_bao]")
            ),
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(dir.join("loi-van.toml"), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
            .current_dir(root())
            .args([
                "check",
                "samples/dam-ha-2024-h1.toml",
                "--templates",
                dir.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{expected}: {err}");
        let file = dir.join("loi-van.toml");
        assert!(
            err.contains(&format!("{}, {expected}", file.display())),
            "{expected}:\n{err}"
        );
    }
}

#[test]
fn the_builtin_wording_prints_each_letter_line_as_the_context_composes_it() {
    let wording = render::wording::Wording::builtin();
    let mut lines = 0;
    let mut roles = std::collections::BTreeSet::new();
    for (name, period) in periods() {
        for document in documents(&period)
            .iter()
            .filter(|d| d.kind == DocumentKind::AssignmentLetter)
        {
            let mut data = serde_json::to_value(&document.context).unwrap();
            wording.apply(document.kind, &mut data).unwrap();
            let letter = &data["letter"];
            assert_eq!(
                data["wording"]["dong_bao_cao"], letter["report_line"],
                "{name}"
            );
            for task in letter["tasks"].as_array().unwrap() {
                assert_eq!(task["wording"]["dong_nhiem_vu"], task["line"], "{name}");
                roles.insert(task["role"].as_str().unwrap().to_string());
                lines += 1;
            }
        }
    }
    // Lead, group and coordinating lines, with and without partners and deadlines.
    assert!(lines > 30, "{lines}");
    // The notice's assignment lines too.
    let (mut notice_lines, mut with_partners, mut with_deadline) = (0, 0, 0);
    for (name, period) in periods() {
        for document in documents(&period)
            .iter()
            .filter(|d| d.kind == DocumentKind::ConclusionNotice)
        {
            let mut data = serde_json::to_value(&document.context).unwrap();
            wording.apply(document.kind, &mut data).unwrap();
            for assignment in data["notice"]["assignments"].as_array().unwrap() {
                for task in assignment["tasks"].as_array().unwrap() {
                    assert_eq!(task["wording"]["dong_nhiem_vu"], task["line"], "{name}");
                    notice_lines += 1;
                    with_partners += usize::from(!task["with"].is_null());
                    with_deadline += usize::from(!task["due"].is_null());
                }
            }
        }
    }
    assert!(notice_lines > 10, "{notice_lines}");
    assert!(with_partners > 0 && with_deadline > 0);
    assert_eq!(roles.len(), 3, "{roles:?}");
}

#[test]
fn the_dumped_context_carries_the_sentences_the_typst_templates_read() {
    // bench/compare.py feeds it to the typst CLI as data.json: without `wording` the exported
    // templates would not compile there.
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .current_dir(root())
        .args([
            "render",
            "samples/dam-ha-2024-h1.toml",
            "--only",
            "assignment-letter",
            "--format",
            "docx",
            "--out",
            tmp.path().join("out").to_str().unwrap(),
            "--dump-context",
            tmp.path().join("ctx").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = tmp.path().join("ctx/03-cong-van-bqlda.json");
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let unit = data["letter"]["unit"]["name"].as_str().unwrap();
    assert_eq!(
        data["wording"]["ket_thuc"],
        format!("Yêu cầu {unit} nghiêm túc triển khai thực hiện./.")
    );
    let task = &data["letter"]["tasks"][0];
    assert_eq!(task["wording"]["dong_nhiem_vu"], task["line"]);
}

/// After an upgrade: a folder exported by an older vanban, whose stamp records other built-ins
/// than today's. `check --templates` names the file the office never edited but that is now
/// outdated, and the one it edited from a built-in that has changed since; a fresh export says
/// nothing.
#[test]
fn check_names_the_templates_an_upgrade_left_behind() {
    let (_tmp, dir) = exported();
    let check = || {
        let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
            .arg("check")
            .arg(root().join("samples/dam-ha-2024-h1.toml"))
            .arg("--templates")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(!check().contains("thư mục mẫu"), "{}", check());

    // The older export: its nd30.typ (kept as it was) and its email body (since edited by the
    // office) differ from today's built-ins.
    let sha = |bytes: &[u8]| {
        use sha2::Digest;
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let nd30 = dir.join("typst/nd30.typ");
    let older_nd30 = format!(
        "{}\n// bản của phiên bản trước\n",
        std::fs::read_to_string(&nd30).unwrap()
    );
    std::fs::write(&nd30, &older_nd30).unwrap();
    let body = dir.join("email/review-report.body.txt");
    let older_body = "Bản thân thư của phiên bản trước.\n";
    std::fs::write(&body, format!("{older_body}Cơ quan sửa thêm dòng này.\n")).unwrap();
    let stamp_path = dir.join(render::template_versions::STAMP_FILE);
    let mut stamp = std::fs::read_to_string(&stamp_path).unwrap();
    for (file, old) in [
        ("typst/nd30.typ", sha(older_nd30.as_bytes())),
        ("email/review-report.body.txt", sha(older_body.as_bytes())),
    ] {
        let at = stamp.find(&format!("\"{file}\" = \"")).unwrap() + file.len() + 6;
        stamp.replace_range(at..at + 64, &old);
    }
    std::fs::write(
        &stamp_path,
        stamp.replace(
            &format!("vanban = \"{}\"", render::template_versions::VERSION),
            "vanban = \"0.0.9\"",
        ),
    )
    .unwrap();
    let said = check();
    assert!(
        said.contains("mẫu «typst/nd30.typ» là mẫu có sẵn xuất lúc")
            && said.contains("(vanban 0.0.9), cơ quan chưa sửa")
            && said.contains("xóa tệp để dùng mẫu mới"),
        "{said}"
    );
    assert!(
        said.contains("mẫu «email/review-report.body.txt» đã được cơ quan sửa")
            && said.contains("so sánh và chép phần cơ quan đã sửa sang mẫu mới"),
        "{said}"
    );
    assert_eq!(said.matches("thư mục mẫu").count(), 2, "{said}");
}
