//! The pipeline end to end: the real binary renders real PDFs, which are read back in-process
//! (tests/support/pdf_text.rs) and, in the tests that need poppler's pdffonts/pdfinfo/pdftotext
//! or the shared layout checker (ignored by default: .ci/run), measured against Decree 30's page
//! rules.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/pdf_text.rs"]
mod pdf_text;
use pdf_text::pdf_words;

const SAMPLE: &str = "samples/dam-ha-2024-h1.toml";
const DIRECTORY: &str = "samples/directory.toml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn vanban(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run vanban")
}

fn text_of(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Renders `period` into a fresh folder and returns it (with the period's subfolder).
fn render(period: &Path, directory: &Path) -> (tempfile::TempDir, PathBuf) {
    let out = tempfile::tempdir().unwrap();
    let result = vanban(&[
        "render",
        period.to_str().unwrap(),
        "--directory",
        directory.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(
        result.status.success(),
        "render failed:\n{}",
        text_of(&result)
    );
    let dir = std::fs::read_dir(out.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    (out, dir)
}

fn render_sample() -> (tempfile::TempDir, PathBuf) {
    render(&root().join(SAMPLE), &root().join(DIRECTORY))
}

fn pdfs_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pdf"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_sample_yields_a_report_a_notice_and_a_letter_per_unit_with_tasks() {
    let (_out, dir) = render_sample();
    let names: Vec<String> = pdfs_in(&dir)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into())
        .collect();
    let mut expected = vec![
        "01-bao-cao-so-ket.pdf".to_string(),
        "02-thong-bao-ket-luan.pdf".into(),
    ];
    for unit in [
        "bqlda",
        "dai-binh",
        "duc-yen",
        "pnn",
        "ptnmt",
        "quang-an",
        "quang-lam",
        "quang-tan",
        "tan-binh",
        "tan-lap",
    ] {
        expected.push(format!("03-cong-van-{unit}.pdf"));
    }
    expected.sort();
    // "vp" (the Office) has no task, so no letter.
    assert_eq!(names, expected);
}

#[test]
fn the_report_prints_the_articles_figures_computed_not_typed() {
    let (_out, dir) = render_sample();
    let report = pdf_words(&dir.join("01-bao-cao-so-ket.pdf"));
    for expected in [
        "ỦY BAN NHÂN DÂN HUYỆN ĐẦM HÀ",
        "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "Độc lập - Tự do - Hạnh phúc",
        "/BC-UBND",
        "Đầm Hà, ngày 25 tháng 6 năm 2024",
        "BÁO CÁO",
        "Sơ kết 6 tháng đầu năm 2024 thực hiện các Chương trình mục tiêu quốc gia",
        "86.447",
        "61.864 32.479 52,5%",
        "đã giải ngân 32.479/61.864 triệu đồng, đạt 52,5% kế hoạch vốn",
        "148.311",
        "Một trăm bốn mươi tám nghìn ba trăm mười một triệu đồng",
        "14 (0,12%)",
        "165 (1,47%)",
        "6 (0,05%) 14 42,86%",
        "46 (0,41%)",
        "74,4",
        "triệu đồng/",
        "người/năm",
        "Cầu Thanh Y xã Quảng Lâm",
        "Bình Hồ 1",
        "I. CÔNG TÁC LÃNH ĐẠO, CHỈ ĐẠO, ĐIỀU HÀNH",
        "II. KẾT QUẢ THỰC HIỆN",
        "III. ĐÁNH GIÁ CHUNG",
        "IV. NHIỆM VỤ, GIẢI PHÁP TRỌNG TÂM 6 THÁNG CUỐI NĂM 2024",
        "TM. ỦY BAN NHÂN DÂN CHỦ TỊCH",
        "Hoàng Vĩnh Khuyến",
        "Nơi nhận:",
        "- Lưu: VT, TH.",
    ] {
        assert!(
            report.contains(expected),
            "report lacks {expected:?}:\n{report}"
        );
    }
    assert!(
        report.contains("Chương trình mục tiêu quốc gia của UBND huyện Đầm Hà./."),
        "{report}"
    );
}

#[test]
fn the_notice_groups_assignments_by_unit_and_closes_with_the_formula() {
    let (_out, dir) = render_sample();
    let notice = pdf_words(&dir.join("02-thong-bao-ket-luan.pdf"));
    for expected in [
        "THÔNG BÁO",
        "/TB-UBND",
        "Ngày 21/6/2024, Ban Chỉ đạo thực hiện các Chương trình mục tiêu quốc gia huyện tổ chức Hội nghị sơ kết",
        "kết luận như sau:",
        "2. Phân công nhiệm vụ",
        "2.3. Phòng Nông nghiệp và Phát triển nông thôn:",
        "2.5. Ban Quản lý dự án đầu tư xây dựng huyện:",
        "phối hợp với UBND xã Quảng Lâm và UBND xã Quảng An; hoàn thành trước ngày 30/9/2024.",
        "Ủy ban nhân dân huyện Đầm Hà thông báo để các cơ quan, đơn vị biết, thực hiện./.",
        "KT. CHỦ TỊCH PHÓ CHỦ TỊCH",
        "Tô Xuân Lợi",
    ] {
        assert!(
            notice.contains(expected),
            "notice lacks {expected:?}:\n{notice}"
        );
    }
}

#[test]
fn every_letter_holds_exactly_its_units_tasks() {
    let (_out, dir) = render_sample();
    let letter = |unit: &str| pdf_words(&dir.join(format!("03-cong-van-{unit}.pdf")));
    let bqlda = letter("bqlda");
    assert!(
        bqlda.contains("Kính gửi: Ban Quản lý dự án đầu tư xây dựng huyện"),
        "{bqlda}"
    );
    assert!(
        bqlda.contains("Số: /UBND-NLN") || bqlda.contains("/UBND-NLN"),
        "{bqlda}"
    );
    assert!(bqlda.contains("V/v triển khai nhiệm vụ"), "{bqlda}");
    assert!(bqlda.contains("1. Đẩy nhanh tiến độ xây dựng"), "{bqlda}");
    assert!(
        bqlda.contains("Đơn vị phối hợp: UBND xã Quảng Lâm và UBND xã Quảng An"),
        "{bqlda}"
    );
    assert!(
        bqlda.contains("Thời hạn hoàn thành: trước ngày 30/9/2024."),
        "{bqlda}"
    );
    assert!(
        bqlda.contains("(qua Phòng Nông nghiệp và Phát triển nông thôn)"),
        "{bqlda}"
    );
    assert!(
        !bqlda.contains("2. "),
        "the BQLDA has one task only:\n{bqlda}"
    );
    assert!(!bqlda.contains("OCOP"), "{bqlda}");

    // Quảng Tân: the communes' common task, two it coordinates on; not the NTM dossier (not in
    // that group) nor the water works (not named).
    let quang_tan = letter("quang-tan");
    assert!(
        quang_tan.contains("Kính gửi: Ủy ban nhân dân xã Quảng Tân"),
        "{quang_tan}"
    );
    assert!(
        quang_tan.contains("triển khai các giải pháp giảm nghèo (nhiệm vụ chung của UBND các xã)"),
        "{quang_tan}"
    );
    assert!(quang_tan.contains("Phối hợp với Phòng Nông nghiệp và Phát triển nông thôn thực hiện nhiệm vụ: hoàn thiện hồ sơ hỗ trợ phát triển sản xuất"), "{quang_tan}");
    assert!(
        quang_tan
            .contains("Phối hợp với Phòng Tài nguyên và Môi trường thực hiện nhiệm vụ: quy hoạch"),
        "{quang_tan}"
    );
    assert!(!quang_tan.contains("nông thôn mới kiểu mẫu"), "{quang_tan}");
    assert!(!quang_tan.contains("nước sạch"), "{quang_tan}");

    // Quảng Lâm coordinates on the water works; the NTM dossier is its group's.
    let quang_lam = letter("quang-lam");
    assert!(
        quang_lam
            .contains("Phối hợp với Ban Quản lý dự án đầu tư xây dựng huyện thực hiện nhiệm vụ: đẩy nhanh tiến độ"),
        "{quang_lam}"
    );
    assert!(
        quang_lam.contains("nông thôn mới kiểu mẫu (nhiệm vụ chung của UBND các xã Đại Bình"),
        "{quang_lam}"
    );
    // Its own letter does not list itself among the coordinators.
    assert!(
        !quang_lam.contains("Đơn vị phối hợp: UBND xã Quảng Lâm"),
        "{quang_lam}"
    );

    let pnn = letter("pnn");
    assert!(
        pnn.contains("1. Hoàn thiện hồ sơ đề nghị") || pnn.contains("Phối hợp với UBND các xã"),
        "{pnn}"
    );
    assert!(pnn.contains("OCOP") && pnn.contains("Quảng Tân"), "{pnn}");
    assert!(
        !pnn.contains("nước sạch") && !pnn.contains("đất ở"),
        "{pnn}"
    );
}

#[test]
#[ignore = "needs poppler's pdffonts: run .ci/run"]
fn fonts_are_embedded_and_only_the_shipped_ones() {
    let (_out, dir) = render_sample();
    for pdf in pdfs_in(&dir) {
        let output = Command::new("pdffonts")
            .arg(&pdf)
            .output()
            .expect("pdffonts (poppler-utils)");
        let listing = String::from_utf8_lossy(&output.stdout).into_owned();
        let fonts: Vec<&str> = listing.lines().skip(2).collect();
        assert!(!fonts.is_empty(), "{listing}");
        for line in fonts {
            assert!(
                line.contains("LiberationSerif"),
                "unexpected font in {}: {line}",
                pdf.display()
            );
            let columns: Vec<&str> = line.split_whitespace().collect();
            // name type encoding emb sub uni object ID: "emb" is the fourth column from the end.
            assert_eq!(
                columns[columns.len() - 5],
                "yes",
                "font not embedded in {}: {line}",
                pdf.display()
            );
        }
    }
}

#[test]
#[ignore = "needs poppler's pdfinfo and python3 with the shared layout checker: run .ci/run"]
fn pages_meet_decree_30_layout_rules() {
    let (_out, dir) = render_sample();
    let pdfs = pdfs_in(&dir);
    for pdf in &pdfs {
        let info = Command::new("pdfinfo")
            .arg(pdf)
            .output()
            .expect("pdfinfo (poppler-utils)");
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        assert!(info.contains("595.276 x 841.89 pts (A4)"), "{info}");
    }
    // The shared checker measures margins, the page numbers from page 2, the motto and "./.".
    // VANBAN_LAYOUT_CHECK names it where the checkout is not beside /work/shared.
    let checker = std::env::var_os("VANBAN_LAYOUT_CHECK")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/tools/nd30-layout-check.py"));
    assert!(
        checker.exists(),
        "the shared layout checker {} is absent (set VANBAN_LAYOUT_CHECK)",
        checker.display()
    );
    let output = Command::new("python3")
        .arg(&checker)
        .args(&pdfs)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text_of(&output));
    assert!(
        text_of(&output).contains("0 Decree-30 layout problems"),
        "{}",
        text_of(&output)
    );
}

#[test]
#[ignore = "needs poppler's pdftotext: run .ci/run"]
fn the_notice_text_does_not_drift() {
    let (_out, dir) = render_sample();
    let output = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-layout"])
        .arg(dir.join("02-thong-bao-ket-luan.pdf"))
        .arg("-")
        .output()
        .unwrap();
    let text: String = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("conclusion_notice_text", text);
}

/// Writes a period and directory made from the sample by `edit` into a temp folder.
fn edited_sample(
    edit_period: impl Fn(String) -> String,
    edit_directory: impl Fn(String) -> String,
) -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let period = dir.path().join("period.toml");
    let directory = dir.path().join("directory.toml");
    std::fs::write(
        &period,
        edit_period(std::fs::read_to_string(root().join(SAMPLE)).unwrap()),
    )
    .unwrap();
    std::fs::write(
        &directory,
        edit_directory(std::fs::read_to_string(root().join(DIRECTORY)).unwrap()),
    )
    .unwrap();
    (dir, period, directory)
}

/// Renders a sample edited by `edit_period` and `edit_directory`; returns the temp folders
/// (kept alive by the caller) and the folder of the rendered period.
fn render_edited(
    edit_period: impl Fn(String) -> String,
    edit_directory: impl Fn(String) -> String,
) -> ((tempfile::TempDir, tempfile::TempDir), PathBuf) {
    let (input, period, directory) = edited_sample(edit_period, edit_directory);
    let (out, dir) = render(&period, &directory);
    ((input, out), dir)
}

#[test]
fn markup_characters_in_data_print_literally() {
    let hostile = r#"Phòng #Kế *hoạch* _Đầu_ $tư$ ] <b> & @ban \\ `x`"#;
    let task = r#"Rà soát #chỉ tiêu *quan trọng* _ngay_ $100$ ] <script> & @all = [x](y)"#;
    let (_files, dir) = render_edited(
        |p| {
            p.replace(
                "text = \"Quy hoạch các vị trí hỗ trợ đất ở cho đồng bào dân tộc thiểu số\"",
                &format!("text = '''{task}'''"),
            )
        },
        |d| {
            d.replace(
                "name = \"Phòng Tài nguyên và Môi trường\"",
                &format!("name = '''{hostile}'''"),
            )
        },
    );
    let letter = pdf_words(&dir.join("03-cong-van-ptnmt.pdf"));
    let hostile_words = hostile.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        letter.contains(&format!("Kính gửi: {hostile_words}")),
        "{letter}"
    );
    let task_words = task.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(letter.contains(&task_words), "{letter}");
}

#[test]
fn decomposed_input_is_printed_composed() {
    // "Đầm Hà" typed with combining marks, as some keyboards do.
    let decomposed = "Đa\u{0302}\u{0300}m Ha\u{0300}";
    let (_files, dir) = render_edited(
        |p| p.replace("place = \"Đầm Hà\"", &format!("place = \"{decomposed}\"")),
        |d| d,
    );
    let report = pdf_words(&dir.join("01-bao-cao-so-ket.pdf"));
    assert!(
        report.contains("Đầm Hà, ngày 25 tháng 6 năm 2024"),
        "{report}"
    );
    assert!(!report.contains('\u{0300}'), "NFD text reached the PDF");
}

#[test]
fn a_commune_issuer_renders_without_any_district_wording() {
    // After the 2025 reform: a commune issues the same documents. Nothing in the templates may
    // say "huyện" when the data does not.
    let to_commune = |s: String| {
        s.replace("huyện", "xã")
            .replace("Huyện", "Xã")
            .replace("HĐND và UBND xã", "HĐND và UBND xã Đầm Hà")
    };
    let (_files, dir) = render_edited(to_commune, to_commune);
    for pdf in pdfs_in(&dir) {
        let words = pdf_words(&pdf);
        assert!(
            !words.to_lowercase().contains("huyện"),
            "{} mentions huyện:\n{words}",
            pdf.display()
        );
    }
    let report = pdf_words(&dir.join("01-bao-cao-so-ket.pdf"));
    assert!(report.contains("ỦY BAN NHÂN DÂN XÃ ĐẦM HÀ"), "{report}");
    assert!(
        report.contains("UBND xã Đầm Hà báo cáo kết quả"),
        "{report}"
    );
}

#[test]
fn a_json_period_file_is_read_like_the_toml_one() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("period.json");
    // The same data as JSON, dates as "YYYY-MM-DD" strings.
    fn to_json(value: toml::Value) -> serde_json::Value {
        match value {
            toml::Value::String(s) => s.into(),
            toml::Value::Integer(i) => i.into(),
            toml::Value::Float(f) => f.into(),
            toml::Value::Boolean(b) => b.into(),
            toml::Value::Datetime(d) => d.to_string().into(),
            toml::Value::Array(a) => a.into_iter().map(to_json).collect(),
            toml::Value::Table(t) => t.into_iter().map(|(k, v)| (k, to_json(v))).collect(),
        }
    }
    let text = std::fs::read_to_string(root().join(SAMPLE)).unwrap();
    let data = to_json(toml::from_str(&text).unwrap());
    std::fs::write(&json, serde_json::to_string_pretty(&data).unwrap()).unwrap();
    let (_out, out_dir) = render(&json, &root().join(DIRECTORY));
    let (_out2, toml_dir) = render_sample();
    for name in [
        "01-bao-cao-so-ket.pdf",
        "02-thong-bao-ket-luan.pdf",
        "03-cong-van-quang-tan.pdf",
    ] {
        assert_eq!(
            pdf_words(&out_dir.join(name)),
            pdf_words(&toml_dir.join(name)),
            "{name}"
        );
    }
}

#[test]
fn a_broken_period_reports_every_problem_at_once_and_writes_nothing() {
    let (dir, period, directory) = edited_sample(
        |p| {
            p.replace("half = 1", "half = 3")
                .replace("disbursed = 32479", "disbursed = 70000")
                .replace("to = [\"bqlda\"]", "to = [\"bqlda-x\"]")
                .replace("id = \"gnbv\"", "id = \"dtts\"")
                .replace("value = 46", "value = -46")
                .replace("plan = 14 ", "plan = 0 ")
                .replace("due = 2024-09-30", "due = 2023-11-01")
                .replace("date = 2024-06-21", "date = 2023-12-01")
                .replace(
                    "head = { name = \"Hoàng Vĩnh Khuyến\", title",
                    "head = { nam = \"Hoàng Vĩnh Khuyến\", title",
                )
        },
        |d| {
            d.replace(
                "email = \"tanlap.damha@example.vn\"",
                "email = \"tanlap.damha@@example\"",
            )
        },
    );
    let out = dir.path().join("out");
    let result = vanban(&[
        "check",
        period.to_str().unwrap(),
        "--directory",
        directory.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", text_of(&result));
    let report = text_of(&result).replace(dir.path().to_str().unwrap(), "DIR");
    insta::assert_snapshot!("broken_period_problems", report);

    let rendered = vanban(&[
        "render",
        period.to_str().unwrap(),
        "--directory",
        directory.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(rendered.status.code(), Some(1));
    assert!(
        !out.exists(),
        "a refused period must not create the output folder"
    );
}

#[test]
fn a_typst_error_names_the_template_and_line() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(templates.path().join("typst")).unwrap();
    let broken = std::fs::read_to_string(root().join("templates/typst/review-report.typ"))
        .unwrap()
        .replace(
            "#let r = d.report",
            "#let r = d.report\n#let oops = 1 + \"a\"",
        );
    std::fs::write(templates.path().join("typst/review-report.typ"), broken).unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = vanban(&[
        "render",
        SAMPLE,
        "--templates",
        templates.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(!result.status.success());
    let message = text_of(&result);
    assert!(message.contains("typst/review-report.typ:5:"), "{message}");
    assert!(
        message.contains("cannot add integer and string"),
        "{message}"
    );
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        0,
        "nothing may be written"
    );
}

#[test]
fn the_offices_templates_are_checked_each_mistake_said_once_and_nothing_left_behind() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(templates.path().join("typst")).unwrap();
    let broken = std::fs::read_to_string(root().join("templates/typst/review-report.typ"))
        .unwrap()
        .replace(
            "#let r = d.report",
            "#let r = d.report\n#let oops = 1 + \"a\"",
        );
    std::fs::write(templates.path().join("typst/review-report.typ"), broken).unwrap();
    let dir = templates.path().to_str().unwrap();

    // `check --templates` fills the office's templates (no --render needed).
    let checked = vanban(&["check", SAMPLE, "--templates", dir]);
    assert!(!checked.status.success());
    let message = text_of(&checked);
    assert_eq!(
        message.matches("typst/review-report.typ:5:").count(),
        1,
        "{message}"
    );
    let fine = vanban(&[
        "check",
        SAMPLE,
        "--templates",
        root().join("templates").to_str().unwrap(),
    ]);
    assert!(fine.status.success(), "{}", text_of(&fine));

    // A failed render into a folder that did not exist leaves no folder behind, and says the
    // template's mistake once.
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("ra").join("moi");
    let rendered = vanban(&[
        "render",
        SAMPLE,
        "--templates",
        dir,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(!rendered.status.success());
    let message = text_of(&rendered);
    assert_eq!(
        message.matches("cannot add integer and string").count(),
        1,
        "{message}"
    );
    assert!(!work.path().join("ra").exists(), "{message}");
}

#[test]
fn render_tells_each_file_as_it_is_made() {
    let out = tempfile::tempdir().unwrap();
    let result = vanban(&[
        "render",
        SAMPLE,
        "--format",
        "pdf",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", text_of(&result));
    let err = String::from_utf8_lossy(&result.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("đã tạo ")).collect();
    let files = pdfs_in(&out.path().join("2024-h1"));
    assert_eq!(lines.len(), files.len(), "{err}");
    for (i, line) in lines.iter().enumerate() {
        assert!(
            line.starts_with(&format!("đã tạo {}/{}: ", i + 1, files.len())),
            "{err}"
        );
    }
    for file in &files {
        let name = file.file_name().unwrap().to_str().unwrap();
        assert!(lines.iter().any(|l| l.ends_with(name)), "{name}\n{err}");
    }
}

#[test]
fn a_number_from_the_period_file_is_printed_with_its_leading_zero() {
    let (_files, dir) = render_edited(
        |p| {
            p.replace(
                "conclusion_notice = { signer",
                "conclusion_notice = { number = 5, signer",
            )
        },
        |d| d,
    );
    let notice = pdf_words(&dir.join("02-thong-bao-ket-luan.pdf"));
    assert!(notice.contains("Số: 05/TB-UBND"), "{notice}");
    // The letters cite the notice by its number.
    let letter = pdf_words(&dir.join("03-cong-van-bqlda.pdf"));
    assert!(
        letter.contains("Thực hiện Thông báo số 05/TB-UBND ngày 25/6/2024"),
        "{letter}"
    );
}

#[test]
fn a_template_asking_for_a_font_that_is_not_shipped_is_refused() {
    let templates = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(templates.path().join("typst")).unwrap();
    let other_font = std::fs::read_to_string(root().join("templates/typst/conclusion-notice.typ"))
        .unwrap()
        .replace(
            "#show: official-document.with(d)",
            "#show: official-document.with(d)\n#set text(font: \"Comic Sans MS\")",
        );
    std::fs::write(
        templates.path().join("typst/conclusion-notice.typ"),
        other_font,
    )
    .unwrap();
    let out = tempfile::tempdir().unwrap();
    let result = vanban(&[
        "render",
        SAMPLE,
        "--only",
        "conclusion-notice",
        "--templates",
        templates.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(
        !result.status.success(),
        "a silent font fallback must not pass"
    );
    let message = text_of(&result);
    assert!(
        message.contains("unknown font family: comic sans ms"),
        "{message}"
    );
    assert!(message.contains("conclusion-notice.typ:"), "{message}");
}

#[test]
fn without_an_issue_date_the_documents_are_dated_today_in_vietnam() {
    #[allow(clippy::disallowed_methods)] // the test's own reading of the real clock
    fn today_in_vietnam() -> String {
        let today = chrono::Utc::now()
            .with_timezone(&vanban::clock::VIETNAM)
            .date_naive();
        vanban::vi::date_line("Đầm Hà", today)
    }
    let before = today_in_vietnam();
    let (_files, dir) = render_edited(|p| p.replace("date = 2024-06-25\n", ""), |d| d);
    let after = today_in_vietnam();
    let notice = pdf_words(&dir.join("02-thong-bao-ket-luan.pdf"));
    assert!(
        notice.contains(&before) || notice.contains(&after),
        "{notice}\nexpected {before}"
    );
}

#[test]
fn a_year_end_review_meeting_in_january_is_a_tong_ket_of_the_year() {
    let (_files, dir) = render_edited(
        |p| {
            p.replace("half = 1 ", "half = 2 ")
                .replace("date = 2024-06-21", "date = 2025-01-10")
                .replace("date = 2024-06-25", "date = 2025-01-15")
                .replace("due = 2024-09-30", "due = 2025-03-31")
        },
        |d| d,
    );
    assert!(dir.ends_with("2024-h2"), "{}", dir.display());
    let report = pdf_words(&dir.join("01-bao-cao-tong-ket.pdf"));
    assert!(report.contains("Tổng kết năm 2024 thực hiện các Chương trình mục tiêu quốc gia; nhiệm vụ, giải pháp trọng tâm năm 2025"), "{report}");
    assert!(
        report.contains("IV. NHIỆM VỤ, GIẢI PHÁP TRỌNG TÂM NĂM 2025"),
        "{report}"
    );
    assert!(
        report.contains("Đầm Hà, ngày 15 tháng 01 năm 2025"),
        "{report}"
    );
    let notice = pdf_words(&dir.join("02-thong-bao-ket-luan.pdf"));
    assert!(notice.contains("Ngày 10/01/2025, Ban Chỉ đạo thực hiện các Chương trình mục tiêu quốc gia huyện tổ chức Hội nghị tổng kết năm 2024, triển khai nhiệm vụ năm 2025"), "{notice}");
}

#[test]
fn the_office_can_issue_the_notice_under_its_own_symbol() {
    let (_files, dir) = render_edited(
        |p| {
            p.replace(
                "conclusion_notice = { signer = { authority = \"KT. Chủ tịch\", title = \"Phó Chủ tịch\", name = \"Tô Xuân Lợi\" }",
                "conclusion_notice = { issuer = { name = \"Văn phòng HĐND và UBND\", abbr = \"VP\", parent = \"UBND huyện Đầm Hà\" }, signer = { authority = \"KT. Chánh Văn phòng\", title = \"Phó Chánh Văn phòng\", name = \"Nguyễn Thị Hoa\" }",
            )
        },
        |d| d,
    );
    let notice = pdf_words(&dir.join("02-thong-bao-ket-luan.pdf"));
    assert!(
        notice.starts_with("UBND HUYỆN ĐẦM HÀ VĂN PHÒNG HĐND VÀ UBND"),
        "{notice}"
    );
    assert!(notice.contains("/TB-VP"), "{notice}");
    assert!(
        notice.contains("KT. CHÁNH VĂN PHÒNG PHÓ CHÁNH VĂN PHÒNG"),
        "{notice}"
    );
    assert!(
        notice
            .contains("Văn phòng HĐND và UBND thông báo để các cơ quan, đơn vị biết, thực hiện./."),
        "{notice}"
    );
    // The letters cite the notice under the Office's symbol.
    let letter = pdf_words(&dir.join("03-cong-van-bqlda.pdf"));
    assert!(
        letter.contains("/TB-VP ngày 25/6/2024 của Văn phòng HĐND và UBND"),
        "{letter}"
    );
}

#[test]
fn more_mistakes_are_refused_with_their_lines() {
    let (_dir, period, directory) = edited_sample(
        |p| {
            p.replace("assignment_letter = { unit_abbr = \"NLN\"", "assignment_letter = { number = 15, report_due = 2024-05-01, unit_abbr = \"N LN/x\"")
                .replace("to = [\"bqlda\"]", "to = [\"bqlda\", \"bqlda\"]")
                .replace("to = [\"cac-xa\"]", "to = [\"cac-xa\"]\nwith = [\"quang-an\"]")
                .replace("allocated = 86447 }", "allocated = 1e30 }")
        },
        |d| {
            d.replace(
                "members = [\"vp\", \"pnn\", \"ptnmt\", \"bqlda\"]",
                "members = [\"vp\", \"pnn\", \"ptnmt\", \"bqlda\", \"vp\"]",
            )
        },
    );
    let result = vanban(&[
        "check",
        period.to_str().unwrap(),
        "--directory",
        directory.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1), "{}", text_of(&result));
    let report = text_of(&result);
    for expected in [
        "documents.assignment_letter.number: mỗi công văn giao nhiệm vụ có số riêng",
        "documents.assignment_letter.report_due: hạn báo cáo 01/05/2024 trước ngày họp 21/06/2024",
        "documents.assignment_letter.unit_abbr: chữ viết tắt \"N LN/x\" chỉ được gồm chữ và số",
        "tasks[6].to: mã \"bqlda\" được nêu hai lần trong nhiệm vụ này",
        "tasks[2].with: đơn vị \"quang-an\" vừa chủ trì (to) vừa phối hợp (with) trong nhiệm vụ này",
        "programs[1].budget.allocated: số tiền 1000000000000000000000000000000 triệu đồng quá lớn",
        "groups[3].members: đơn vị \"vp\" được nêu hai lần trong nhóm",
    ] {
        assert!(
            report.contains(expected),
            "missing {expected:?} in:\n{report}"
        );
    }
    assert!(report.contains("Có 7 lỗi"), "{report}");
}

#[test]
fn a_period_without_budgets_has_no_funds_clause_and_words_match_fractional_amounts() {
    let (_files, dir) = render_edited(
        |p| {
            p.replace("budget = { allocated = 86447 }", "")
                .replace("budget = { allocated = 61864, disbursed = 32479 }", "")
        },
        |d| d,
    );
    let report = pdf_words(&dir.join("01-bao-cao-so-ket.pdf"));
    assert!(
        !report.contains("Nguồn vốn") && !report.contains("Tổng cộng"),
        "{report}"
    );
    assert!(
        report.contains("II. KẾT QUẢ THỰC HIỆN 1. Chương trình Xây dựng nông thôn mới"),
        "{report}"
    );

    let (_files, dir) = render_edited(
        |p| p.replace("allocated = 86447 }", "allocated = 86447.6 }"),
        |d| d,
    );
    let report = pdf_words(&dir.join("01-bao-cao-so-ket.pdf"));
    // 148.311,6 triệu đồng is spelled out in đồng, not rounded to whole millions.
    assert!(report.contains("148.311,6 triệu đồng (Bằng chữ: Một trăm bốn mươi tám tỷ ba trăm mười một triệu sáu trăm nghìn đồng)"), "{report}");
}

#[test]
fn the_notice_sends_no_copy_to_a_unit_its_group_already_covers() {
    let (_out, dir) = render_sample();
    let notice = pdf_words(&dir.join("02-thong-bao-ket-luan.pdf"));
    let copies = &notice[notice.find("Nơi nhận:").unwrap()..];
    assert!(copies.contains("- UBND các xã;"), "{copies}");
    assert!(!copies.contains("- UBND xã Quảng An;"), "{copies}");
    assert!(!copies.contains("UBND các xã Đại Bình"), "{copies}");
    assert!(copies.contains("- Ban QLDA ĐTXD huyện;"), "{copies}");
    assert!(notice.contains("ý kiến phát biểu của đồng chí Trần Anh Cường, Phó Chủ tịch UBND huyện, đồng chí Tô Xuân Lợi, Phó Chủ tịch UBND huyện và các đại biểu dự họp, đồng chí Hoàng Vĩnh Khuyến kết luận như sau:"), "{notice}");
}
