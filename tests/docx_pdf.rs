//! `pdf_from = "docx"`: the PDF made from the office's filled DOCX through Typst
//! (src/render/docx_pdf). The built-in templates of all three documents, filled from the sample
//! and converted, pass the Decree-30 page check and keep every word of their DOCX; hostile text
//! in a DOCX prints literally; an office's edit to a DOCX template (by hand here, by LibreOffice
//! in the ignored test) shows in the PDF. The PDFs are read back in-process
//! (tests/support/pdf_text.rs); the shared layout checker, pdftotext and LibreOffice tests are
//! ignored by default and run by .ci/run.

use std::io::{Cursor, Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use vanban::render::docx::DocxRenderer;
use vanban::render::docx_pdf::{DocxPdfRenderer, convert};
use vanban::render::pdf::PdfEngine;
use vanban::render::templates::Templates;
use vanban::render::{self, Backends, Formats, Limits, PdfFrom, PlannedDocument, Renderer};

#[path = "support/pdf_text.rs"]
mod pdf_text;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 6, 25).unwrap()
}

fn sample() -> Vec<PlannedDocument> {
    let period =
        vanban::input::load_period(&root().join("samples/dam-ha-2024-h1.toml"), None, today())
            .unwrap();
    render::plan(&period, None, &|_, _| None)
}

fn zip_entries(bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut file = zip.by_index(i).unwrap();
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            (file.name().to_string(), data)
        })
        .collect()
}

/// The DOCX with one part rewritten.
fn edit_part(docx: &[u8], part: &str, edit: impl Fn(&str) -> String) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    let mut found = false;
    for (name, data) in zip_entries(docx) {
        let data = if name == part {
            found = true;
            edit(std::str::from_utf8(&data).unwrap()).into_bytes()
        } else {
            data
        };
        out.start_file(name, options).unwrap();
        out.write_all(&data).unwrap();
    }
    assert!(found, "no {part}");
    out.finish().unwrap().into_inner()
}

/// The words of a DOCX's body, read from its XML here (not by the converter): every `w:t` in
/// document order, paragraphs and table cells separated.
fn docx_words(docx: &[u8]) -> Vec<String> {
    let (_, xml) = zip_entries(docx)
        .into_iter()
        .find(|(n, _)| n == "word/document.xml")
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut text = String::new();
    let mut in_t = false;
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) if e.name().as_ref() == b"w:t" => in_t = true,
            quick_xml::events::Event::End(e) if e.name().as_ref() == b"w:t" => in_t = false,
            quick_xml::events::Event::End(e) if matches!(e.name().as_ref(), b"w:p" | b"w:tc") => {
                text.push('\n')
            }
            quick_xml::events::Event::Text(t) if in_t => text.push_str(&t.decode().unwrap()),
            quick_xml::events::Event::GeneralRef(g) if in_t => text.push(match &g[..] {
                b"lt" => '<',
                b"gt" => '>',
                b"amp" => '&',
                b"quot" => '"',
                b"apos" => '\'',
                _ => g.resolve_char_ref().unwrap().unwrap(),
            }),
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    text.split_whitespace().map(str::to_string).collect()
}

/// The table header rows of a DOCX (`w:tblHeader`), as word sequences: a PDF repeats them on
/// each page a table runs onto.
fn header_rows(docx: &[u8]) -> Vec<Vec<String>> {
    let (_, xml) = zip_entries(docx)
        .into_iter()
        .find(|(n, _)| n == "word/document.xml")
        .unwrap();
    let xml = String::from_utf8(xml).unwrap();
    xml.split("<w:tr>")
        .filter(|row| row.contains("<w:tblHeader"))
        .map(|row| {
            let row = &row[..row.find("</w:tr>").unwrap_or(row.len())];
            let fake = format!(
                "<w:document><w:body><w:tbl><w:tr>{row}</w:tr></w:tbl></w:body></w:document>"
            );
            let mut words = Vec::new();
            let mut reader = quick_xml::Reader::from_str(&fake);
            let mut in_t = false;
            loop {
                match reader.read_event().unwrap() {
                    quick_xml::events::Event::Start(e) if e.name().as_ref() == b"w:t" => {
                        in_t = true
                    }
                    quick_xml::events::Event::End(e) if e.name().as_ref() == b"w:t" => in_t = false,
                    quick_xml::events::Event::Text(t) if in_t => {
                        words.extend(t.decode().unwrap().split_whitespace().map(str::to_string))
                    }
                    quick_xml::events::Event::Eof => break,
                    _ => {}
                }
            }
            words
        })
        .collect()
}

/// The words of a PDF read in-process, without the page number heading pages 2 and on (the
/// DOCX holds it in its header part, not its body).
fn pdf_words(pdf: &[u8], dir: &Path, name: &str) -> Vec<String> {
    let path = dir.join(name);
    std::fs::write(&path, pdf).unwrap();
    let text = pdf_text::pdf_text(&path);
    let mut words = Vec::new();
    for (i, page) in text.split('\u{c}').enumerate() {
        let mut lines = page.lines().filter(|l| !l.trim().is_empty()).peekable();
        if i > 0 {
            let first = lines.next().unwrap_or_default();
            assert_eq!(
                first.trim(),
                (i + 1).to_string(),
                "{name}: page {} number",
                i + 1
            );
        }
        for line in lines {
            words.extend(line.split_whitespace().map(str::to_string));
        }
    }
    words
}

/// The PDF's words are the DOCX's, in order, except for table header rows repeated on a new
/// page, or a word broken across lines after its own "/" or "-". A justified line squeezed hard can lose the gap the text reader needs to see a space,
/// so one PDF word may stand for two adjacent DOCX words.
fn assert_same_words(name: &str, docx: &[String], pdf: &[String], repeated: &[Vec<String>]) {
    let (mut i, mut j) = (0, 0);
    while i < docx.len() && j < pdf.len() {
        if docx[i] == pdf[j] {
            (i, j) = (i + 1, j + 1);
        } else if docx
            .get(i + 1)
            .is_some_and(|next| pdf[j] == format!("{}{next}", docx[i]))
        {
            (i, j) = (i + 2, j + 1);
        } else if (pdf[j].ends_with('/') || pdf[j].ends_with('-'))
            && pdf
                .get(j + 1)
                .is_some_and(|next| docx[i] == format!("{}{next}", pdf[j]))
        {
            // A line broken after the word's own "/" or "-" ("đồng/" + "người/năm").
            (i, j) = (i + 1, j + 2);
        } else if let Some(row) = repeated
            .iter()
            .find(|row| !row.is_empty() && pdf[j..].starts_with(row))
        {
            j += row.len();
        } else {
            panic!(
                "{name}: word {i} differs: DOCX {:?} … PDF {:?}",
                &docx[i..(i + 8).min(docx.len())],
                &pdf[j..(j + 8).min(pdf.len())]
            );
        }
    }
    assert_eq!(
        (i, j),
        (docx.len(), pdf.len()),
        "{name}: one side has words left: DOCX {:?} PDF {:?}",
        &docx[i..],
        &pdf[j..]
    );
}

fn renderer(templates: &Templates) -> DocxPdfRenderer {
    DocxPdfRenderer::new(
        DocxRenderer::new(templates).unwrap(),
        PdfEngine::new(templates).unwrap(),
    )
}

#[test]
fn every_sample_document_from_its_docx_passes_the_page_check_and_keeps_the_docx_words() {
    let templates = Templates::builtin();
    let docx = DocxRenderer::new(&templates).unwrap();
    let pdf = renderer(&templates);
    let tmp = tempfile::tempdir().unwrap();
    let documents = sample();
    assert_eq!(documents.len(), 12, "report, notice and ten letters");
    for document in &documents {
        let filled = docx.render(document).unwrap();
        let conversion = convert(&filled).unwrap();
        // The built-in templates use only what the converter carries.
        assert!(
            conversion.ignored.is_empty(),
            "{}: {:?}",
            document.file_stem,
            conversion.ignored
        );
        // Err here would be the Decree-30 page check (or Typst) refusing the converted page.
        let bytes = pdf
            .render(document)
            .unwrap_or_else(|e| panic!("{}: {e}", document.file_stem));
        assert!(bytes.starts_with(b"%PDF-"));
        let text = String::from_utf8_lossy(&bytes);
        // PDF/A-2b, as the Typst templates' PDFs: typst-pdf writes and checks the profile.
        assert!(
            text.contains("<pdfaid:part>2</pdfaid:part>")
                && text.contains("<pdfaid:conformance>B</pdfaid:conformance>"),
            "{}: not PDF/A-2b",
            document.file_stem
        );
        // The title in the metadata, as the Typst templates set it (the XMP packet is stored
        // uncompressed; the page text is not, so only the metadata can match here).
        assert!(
            text.contains(&document.context.excerpt),
            "{}: no title",
            document.file_stem
        );
        let name = format!("{}.pdf", document.file_stem);
        assert_same_words(
            &document.file_stem,
            &docx_words(&filled),
            &pdf_words(&bytes, tmp.path(), &name),
            &header_rows(&filled),
        );
    }
}

#[test]
fn backends_choose_the_pdf_source_from_the_config() {
    let documents = sample();
    let notice = &documents[1];
    let typst = Backends::with_pdf_from(
        &Templates::builtin(),
        Formats::Pdf,
        Limits::default(),
        PdfFrom::Typst,
    )
    .unwrap();
    let docx = Backends::with_pdf_from(
        &Templates::builtin(),
        Formats::Pdf,
        Limits::default(),
        PdfFrom::Docx,
    )
    .unwrap();
    let a = typst.renderers()[0].render(notice).unwrap();
    let b = docx.renderers()[0].render(notice).unwrap();
    assert_eq!(docx.renderers()[0].name(), "pdf");
    // Two different layouts of the same words.
    assert_ne!(a, b);
    let tmp = tempfile::tempdir().unwrap();
    let words =
        |bytes: &[u8], name: &str| -> String { pdf_words(bytes, tmp.path(), name).join(" ") };
    let (a, b) = (words(&a, "typst.pdf"), words(&b, "docx.pdf"));
    assert!(a.starts_with("ỦY BAN NHÂN DÂN HUYỆN ĐẦM HÀ"), "{a}");
    assert!(b.starts_with("ỦY BAN NHÂN DÂN HUYỆN ĐẦM HÀ"), "{b}");
}

#[test]
fn the_config_key_pdf_from_is_read_and_a_wrong_value_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let base = std::fs::read_to_string(root().join("samples/vanban.toml")).unwrap();
    let path = dir.path().join("vanban.toml");
    let config = vanban::input::config::load_without_secrets_from(&path, &base).unwrap();
    assert_eq!(config.pdf_from, PdfFrom::Typst, "the default");
    let with = format!("pdf_from = \"docx\"\n{base}");
    let config = vanban::input::config::load_without_secrets_from(&path, &with).unwrap();
    assert_eq!(config.pdf_from, PdfFrom::Docx);
    let wrong = format!("pdf_from = \"word\"\n{base}");
    let error = vanban::input::config::load_without_secrets_from(&path, &wrong)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("vanban.toml:1:")
            && error.contains("pdf_from")
            && error.contains("typst, docx"),
        "{error}"
    );
}

/// Text no DOCX value should be able to turn into Typst markup or code.
const HOSTILE: &str = r#"#panic("x") $x^2$ ] [ *đậm* _nghiêng_ `mã` <nhãn> @tham-chiếu // chú \ thích /* ~ = Tiêu đề - mục + số 1. một / thuật ngữ: "ngoặc" 'đơn' -- --- ... http://vi.du/a_b #let x = 1 {khối} \u{41}"#;

#[test]
fn hostile_text_in_a_docx_comes_out_literally() {
    let templates = Templates::builtin();
    let docx = DocxRenderer::new(&templates).unwrap();
    let documents = sample();
    let notice = &documents[1];
    let filled = docx.render(notice).unwrap();
    let escaped = HOSTILE
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let hostile = edit_part(&filled, "word/document.xml", |xml| {
        assert!(xml.contains("Ngày 21/6/2024,"));
        xml.replacen("Ngày 21/6/2024,", &format!("{escaped} Ngày 21/6/2024,"), 1)
    });
    let conversion = convert(&hostile).unwrap();
    let engine = PdfEngine::new(&templates).unwrap();
    let bytes = engine
        .render_source(conversion.source, today())
        .unwrap_or_else(|e| panic!("{e}"));
    let tmp = tempfile::tempdir().unwrap();
    // Compared without spaces: a line may break inside the text (after the URL's "/").
    let words: String = pdf_words(&bytes, tmp.path(), "hostile.pdf").concat();
    let expected: String = format!("{HOSTILE} Ngày 21/6/2024,")
        .split_whitespace()
        .collect();
    assert!(words.contains(&expected), "{words}");
}

#[test]
fn an_office_edit_to_a_docx_template_shows_in_the_pdf_made_from_it() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("docx")).unwrap();
    let builtin = vanban::render::docx::builtin::template(
        vanban::model::DocumentKind::ConclusionNotice,
        &vanban::render::wording::Wording::builtin(),
    )
    .unwrap();
    let edited = office_edit(&builtin);
    std::fs::write(tmp.path().join("docx/conclusion-notice.docx"), edited).unwrap();
    let templates = Templates::with_overrides(tmp.path());
    let documents = sample();
    let pdf = renderer(&templates).render(&documents[1]).unwrap();
    let words = pdf_words(&pdf, tmp.path(), "notice.pdf").join(" ");
    assert!(words.contains(EDITED_SENTENCE), "{words}");
    // The same template without the edit: the sentence is not there.
    let plain = renderer(&Templates::builtin())
        .render(&documents[1])
        .unwrap();
    let words = pdf_words(&plain, tmp.path(), "plain.pdf").join(" ");
    assert!(!words.contains(EDITED_SENTENCE), "{words}");
    // The centring the office chose is what the Typst source lays out for that paragraph.
    let filled = DocxRenderer::new(&templates)
        .unwrap()
        .render(&documents[1])
        .unwrap();
    let source = convert(&filled).unwrap().source;
    let line = source
        .lines()
        .find(|l| l.contains(EDITED_SENTENCE))
        .unwrap();
    assert!(line.contains("set align(center)"), "{line}");
}

const EDITED_SENTENCE: &str = "Văn phòng thêm câu này trong Word, căn giữa.";

/// An office's edit in Word: a new sentence in its own centred paragraph before the closing
/// paragraph (the one ending "./.", which Decree 30 wants last).
fn office_edit(template: &[u8]) -> Vec<u8> {
    edit_part(template, "word/document.xml", |xml| {
        let end = xml.rfind("./.").unwrap();
        let at = xml[..end].rfind("<w:p>").unwrap();
        let paragraph = format!(
            "<w:p><w:pPr><w:spacing w:before=\"0\" w:after=\"120\" w:line=\"264\" w:lineRule=\"auto\" /><w:jc w:val=\"center\" /></w:pPr><w:r><w:t xml:space=\"preserve\">{EDITED_SENTENCE}</w:t></w:r></w:p>"
        );
        format!("{}{paragraph}{}", &xml[..at], &xml[at..])
    })
}

fn layout_checker() -> PathBuf {
    let checker = std::env::var_os("VANBAN_LAYOUT_CHECK")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/tools/nd30-layout-check.py"));
    assert!(
        checker.exists(),
        "the shared layout checker {} is absent (set VANBAN_LAYOUT_CHECK)",
        checker.display()
    );
    checker
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{program} {args:?}: {text}");
    text
}

#[test]
#[ignore = "needs python3 and poppler (shared layout checker, pdftotext): run .ci/run"]
fn sample_pdfs_from_docx_pass_the_shared_layout_checker_and_pdftotext_reads_the_docx_words() {
    let templates = Templates::builtin();
    let docx = DocxRenderer::new(&templates).unwrap();
    let pdf = renderer(&templates);
    let tmp = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for document in sample() {
        let filled = docx.render(&document).unwrap();
        let path = tmp.path().join(format!("{}.pdf", document.file_stem));
        std::fs::write(&path, pdf.render(&document).unwrap()).unwrap();
        // pdftotext: a second, independent reader of the same words.
        let text = run(
            "pdftotext",
            &["-raw", "-enc", "UTF-8", path.to_str().unwrap(), "-"],
        );
        let mut words = Vec::new();
        for (i, page) in text.split('\u{c}').enumerate() {
            let mut lines = page.lines().filter(|l| !l.trim().is_empty());
            if i > 0 {
                lines.next();
            }
            words.extend(lines.flat_map(|l| l.split_whitespace().map(str::to_string)));
        }
        assert_same_words(
            &document.file_stem,
            &docx_words(&filled),
            &words,
            &header_rows(&filled),
        );
        files.push(path);
    }
    let checker = layout_checker();
    let mut args = vec![checker.to_str().unwrap()];
    args.extend(files.iter().map(|p| p.to_str().unwrap()));
    let out = run("python3", &args);
    assert!(
        out.contains("12 PDFs, 0 Decree-30 layout problems"),
        "{out}"
    );
}

#[test]
#[ignore = "needs LibreOffice and poppler: run .ci/run"]
fn a_docx_template_edited_and_saved_by_libreoffice_renders_with_the_edit() {
    let tmp = tempfile::tempdir().unwrap();
    // The template exported by vanban, edited, then opened and saved again by LibreOffice, as an
    // office's Word or Writer would leave it (its own styles, rsids, settings).
    let exported = tmp.path().join("templates");
    run(
        env!("CARGO_BIN_EXE_vanban"),
        &["templates", "export", exported.to_str().unwrap()],
    );
    let notice = exported.join("docx/conclusion-notice.docx");
    let edited = office_edit(&std::fs::read(&notice).unwrap());
    std::fs::write(&notice, edited).unwrap();
    // All three resaved: LibreOffice moves table borders into every cell and adds styles and
    // section settings of its own.
    let resaved = tmp.path().join("resaved");
    let profile = format!("-env:UserInstallation=file://{}/lo", tmp.path().display());
    let names = [
        "review-report.docx",
        "conclusion-notice.docx",
        "assignment-letter.docx",
    ];
    let inputs: Vec<String> = names
        .iter()
        .map(|n| exported.join("docx").join(n).to_str().unwrap().to_string())
        .collect();
    let mut args = vec![
        profile.as_str(),
        "--headless",
        "--convert-to",
        "docx:MS Word 2007 XML",
        "--outdir",
        resaved.to_str().unwrap(),
    ];
    args.extend(inputs.iter().map(String::as_str));
    run("soffice", &args);
    for name in names {
        let again = std::fs::read(resaved.join(name)).unwrap();
        assert_ne!(
            again,
            std::fs::read(exported.join("docx").join(name)).unwrap()
        );
        std::fs::write(exported.join("docx").join(name), again).unwrap();
    }
    // Rendered by the binary with pdf_from = "docx" in vanban.toml.
    let config = docx_config(tmp.path());
    let out = run(
        env!("CARGO_BIN_EXE_vanban"),
        &[
            "render",
            root().join("samples/dam-ha-2024-h1.toml").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--templates",
            exported.to_str().unwrap(),
            "--format",
            "pdf",
        ],
    );
    let pdf = tmp.path().join("out/2024-h1/02-thong-bao-ket-luan.pdf");
    assert!(pdf.exists(), "{out}");
    // Everything LibreOffice wrote is understood: no note of formatting left out.
    assert!(!out.contains("chưa thể hiện được"), "{out}");
    let words = pdf_words(&std::fs::read(&pdf).unwrap(), tmp.path(), "check.pdf").join(" ");
    assert!(words.contains(EDITED_SENTENCE), "{words}");
    // Centred: the line's middle is the text area's middle (30 mm and 15 mm margins).
    let bbox = run("pdftotext", &["-bbox-layout", pdf.to_str().unwrap(), "-"]);
    let line = bbox
        .split("<line ")
        .find(|l| l.contains(">Văn<") && l.contains(">căn<"))
        .unwrap_or_else(|| panic!("no line of the sentence in {bbox}"));
    let attr = |name: &str| -> f64 {
        let at = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[at..line[at..].find('"').unwrap() + at]
            .parse()
            .unwrap()
    };
    let middle = (attr("xMin") + attr("xMax")) / 2.0;
    let text_middle = (30.0 + (210.0 - 15.0)) / 2.0 * 72.0 / 25.4;
    assert!(
        (middle - text_middle).abs() < 3.0,
        "{middle} vs {text_middle}"
    );
    let checker = layout_checker();
    let mut args = vec![checker.to_str().unwrap().to_string()];
    for entry in std::fs::read_dir(tmp.path().join("out/2024-h1")).unwrap() {
        args.push(entry.unwrap().path().to_str().unwrap().to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run("python3", &args);
    assert!(
        out.contains("12 PDFs, 0 Decree-30 layout problems"),
        "{out}"
    );
}

/// The notice as issued with signing on: the context names the images, the document holds them
/// (the test fixtures' signature and seal).
fn signed(mut document: PlannedDocument) -> PlannedDocument {
    let fixtures = root().join("tests/fixtures/sign");
    for (path, file) in [
        ("/chu-ky.png", "chu-ky.png"),
        ("/con-dau.png", "con-dau.png"),
    ] {
        document.images.push(vanban::render::TemplateImage {
            path: path.into(),
            bytes: std::fs::read(fixtures.join(file)).unwrap().into(),
        });
    }
    document.context.signer.signature_image = Some("/chu-ky.png".into());
    document.context.signer.seal_image = Some("/con-dau.png".into());
    document
}

/// The image XObjects each page of `pdf` draws, page by page.
fn page_images(pdf: &[u8]) -> Vec<usize> {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    doc.get_pages()
        .values()
        .map(|&page| {
            let (resources, ids) = doc.get_page_resources(page).unwrap();
            let mut dicts: Vec<&lopdf::Dictionary> = resources.into_iter().collect();
            dicts.extend(ids.iter().filter_map(|id| doc.get_dictionary(*id).ok()));
            dicts
                .iter()
                .filter_map(|r| r.get(b"XObject").ok())
                .filter_map(|x| doc.dereference(x).ok()?.1.as_dict().ok())
                .flat_map(|x| x.iter().map(|(_, v)| v.clone()).collect::<Vec<_>>())
                .filter(|v| {
                    doc.dereference(v)
                        .ok()
                        .and_then(|(_, o)| o.as_stream().ok())
                        .is_some_and(|s| {
                            s.dict.get(b"Subtype").and_then(|t| t.as_name()).ok() == Some(b"Image")
                        })
                })
                .count()
        })
        .collect()
}

#[test]
fn a_signed_document_from_its_docx_shows_the_signature_and_seal_in_the_room_above_the_name() {
    let documents = sample();
    let notice = documents[1].clone();
    let renderer = renderer(&Templates::builtin());
    let plain = renderer.render(&notice).unwrap();
    let with_images = renderer.render(&signed(notice)).unwrap();
    // The signature and the seal, on the last page (the signature block's), nowhere else.
    let images = page_images(&with_images);
    assert_eq!(page_images(&plain).iter().sum::<usize>(), 0);
    assert_eq!(images.last(), Some(&2), "{images:?}");
    assert_eq!(images.iter().sum::<usize>(), 2, "{images:?}");
    // The room keeps its height: the same pages and words as the draft.
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        pdf_words(&with_images, dir.path(), "signed.pdf"),
        pdf_words(&plain, dir.path(), "plain.pdf")
    );
}

#[test]
fn a_signed_document_whose_docx_has_no_room_or_no_name_for_the_signature_is_named_and_refused() {
    let mut documents = sample();
    let notice = signed(documents.remove(1));
    let name = notice.context.signer.name.clone();
    let filled = DocxRenderer::new(&Templates::builtin())
        .unwrap()
        .render(&notice)
        .unwrap();
    let images = || vanban::render::docx_pdf::signature::SignatureImages {
        signature: "/chu-ky.png".into(),
        seal: Some("/con-dau.png".into()),
    };
    // The built-in template leaves the room: converted.
    assert!(vanban::render::docx_pdf::convert_signed(&filled, &name, images()).is_ok());
    // An office template that puts the name right under the title leaves none.
    let no_room = edit_part(&filled, "word/document.xml", |xml| {
        let at = xml.rfind(&name).unwrap();
        let paragraph = xml[..at]
            .rfind("<w:p>")
            .or_else(|| xml[..at].rfind("<w:p "))
            .unwrap();
        let before = &xml[..paragraph];
        let gap_end = paragraph;
        let gap_start = before
            .rfind("<w:p>")
            .or_else(|| before.rfind("<w:p "))
            .unwrap();
        format!("{}{}", &xml[..gap_start], &xml[gap_end..])
    });
    let error = vanban::render::docx_pdf::convert_signed(&no_room, &name, images())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("không có chỗ trống phía trên tên người ký"),
        "{error}"
    );
    assert!(error.contains(&name), "{error}");
    // A template without the signer's name in a paragraph of its own.
    let error = vanban::render::docx_pdf::convert_signed(&filled, "Nguyễn Văn Không Có", images())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("không thấy tên người ký «Nguyễn Văn Không Có»"),
        "{error}"
    );
}

/// A vanban.toml for the sample with `pdf_from = "docx"`, in `dir`.
fn docx_config(dir: &Path) -> PathBuf {
    let config = dir.join("vanban.toml");
    let base = std::fs::read_to_string(root().join("samples/vanban.toml")).unwrap();
    std::fs::write(
        &config,
        format!(
            "pdf_from = \"docx\"\n{}",
            base.replace(
                "directory.toml",
                root().join("samples/directory.toml").to_str().unwrap()
            )
            .replace("\"../out\"", "\"out\"")
        ),
    )
    .unwrap();
    config
}

#[test]
fn render_names_the_word_formatting_the_pdf_could_not_carry_and_keeps_its_words() {
    let tmp = tempfile::tempdir().unwrap();
    let exported = tmp.path().join("templates");
    run(
        env!("CARGO_BIN_EXE_vanban"),
        &["templates", "export", exported.to_str().unwrap()],
    );
    let notice = exported.join("docx/conclusion-notice.docx");
    let edited = edit_part(
        &std::fs::read(&notice).unwrap(),
        "word/document.xml",
        |xml| {
            let end = xml.rfind("./.").unwrap();
            let at = xml[..end].rfind("<w:p>").unwrap();
            let numbered = "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr></w:pPr><w:r><w:rPr><w:highlight w:val=\"yellow\"/></w:rPr><w:t>Câu đánh số tự động, tô vàng.</w:t></w:r></w:p>";
            format!("{}{numbered}{}", &xml[..at], &xml[at..])
        },
    );
    std::fs::write(&notice, edited).unwrap();
    let config = docx_config(tmp.path());
    let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args([
            "render",
            root().join("samples/dam-ha-2024-h1.toml").to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--templates",
            exported.to_str().unwrap(),
            "--only",
            "conclusion-notice",
            "--format",
            "pdf",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("Lưu ý: ")
            && stderr.contains("conclusion-notice.docx: PDF làm từ DOCX chưa thể hiện được")
            && stderr.contains("w:highlight ×1, w:numPr ×1"),
        "{stderr}"
    );
    let pdf = std::fs::read(tmp.path().join("out/2024-h1/02-thong-bao-ket-luan.pdf")).unwrap();
    let words = pdf_words(&pdf, tmp.path(), "check.pdf").join(" ");
    assert!(words.contains("Câu đánh số tự động, tô vàng."), "{words}");
    // `check --render` with the same config checks the PDF render would make, and says the same.
    let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args([
            "check",
            root().join("samples/dam-ha-2024-h1.toml").to_str().unwrap(),
            "--render",
            "--config",
            config.to_str().unwrap(),
            "--templates",
            exported.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("12 văn bản đúng thể thức Nghị định 30/2020/NĐ-CP.")
            && text.contains("w:highlight ×1, w:numPr ×1"),
        "{text}"
    );
}

/// `check --config` with `[signing]` and `pdf_from = "docx"`: an office DOCX template that
/// leaves no room above the signer's name is named now, not at the send that would have taken
/// the numbers; the built-in templates pass.
#[test]
fn check_with_signing_on_the_docx_route_names_a_template_without_room_for_the_signature() {
    let tmp = tempfile::tempdir().unwrap();
    let config = docx_config(tmp.path());
    let fixtures = root().join("tests/fixtures/sign");
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!(
        "[signing]\norganisation = {{ pkcs12 = \"{0}/organisation.p12\", password_env = \"X\", \
         seal_image = \"{0}/con-dau.png\" }}\n",
        fixtures.display()
    ));
    for name in ["Hoàng Vĩnh Khuyến", "Tô Xuân Lợi", "Trần Anh Cường"] {
        text.push_str(&format!(
            "[[signing.signers]]\nname = \"{name}\"\npkcs12 = \"{0}/person.p12\"\n\
             password_env = \"X\"\nsignature_image = \"{0}/chu-ky.png\"\n",
            fixtures.display()
        ));
    }
    std::fs::write(&config, text).unwrap();
    let check = |templates: Option<&Path>| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vanban"));
        command
            .arg("check")
            .arg(root().join("samples/dam-ha-2024-h1.toml"))
            .arg("--config")
            .arg(&config);
        if let Some(dir) = templates {
            command.arg("--templates").arg(dir);
        }
        let out = command.output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, err) = check(None);
    assert!(ok, "{err}");

    let mau = tmp.path().join("mau");
    std::fs::create_dir_all(mau.join("docx")).unwrap();
    let builtin = vanban::render::docx::builtin::template(
        vanban::model::DocumentKind::ConclusionNotice,
        &vanban::render::wording::Wording::builtin(),
    )
    .unwrap();
    let no_room = edit_part(&builtin, "word/document.xml", |xml| {
        let name = xml.find("{{ signer.name }}").unwrap();
        let paragraph = xml[..name].rfind("<w:p>").unwrap();
        let gap = xml[..paragraph].rfind("<w:p>").unwrap();
        format!("{}{}", &xml[..gap], &xml[paragraph..])
    });
    std::fs::write(mau.join("docx/conclusion-notice.docx"), no_room).unwrap();
    let (ok, err) = check(Some(&mau));
    assert!(!ok, "{err}");
    assert!(
        err.contains("Thông báo kết luận")
            && err.contains("không có chỗ trống phía trên tên người ký «Tô Xuân Lợi»"),
        "{err}"
    );
}
