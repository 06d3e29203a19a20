//! The guard before sending: each document's PDF and DOCX must say the same words. Both are
//! worded from one file (loi-van.toml), but an office can still override one format's template
//! only (a DOCX reworded in Word, a Typst file edited by hand); then the emailed PDF would carry
//! other sentences than the Word file the office keeps. The PDF's words come from Typst's own
//! layout (no PDF parsing), the DOCX's from its document part.

use std::io::Read;

use quick_xml::events::Event;

use super::page_check::Layout;
use super::templates::Templates;
use super::{PlannedDocument, RenderError, Renderer};
use crate::model::DocumentKind;

/// Decree 30's top margin (20 mm) in points: the page number sits above it, the body below.
const TOP_MARGIN_PT: f64 = 20.0 * 72.0 / 25.4;

/// The text of laid-out pages, run by run in layout order, without what stands in the top
/// margin (the page numbers, which the DOCX keeps in its header part).
pub fn layout_text(layout: &Layout) -> String {
    let mut text = String::new();
    for page in &layout.pages {
        for run in page.runs.iter().filter(|r| r.baseline > TOP_MARGIN_PT) {
            text.push_str(&run.text);
            text.push(' ');
        }
    }
    text
}

/// The text of each paragraph of a DOCX's body (table cells included), in document order.
pub fn docx_paragraphs(docx: &[u8]) -> Result<Vec<String>, String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(docx)).map_err(|e| e.to_string())?;
    let mut xml = String::new();
    zip.by_name("word/document.xml")
        .map_err(|e| e.to_string())?
        .read_to_string(&mut xml)
        .map_err(|e| e.to_string())?;
    let mut reader = quick_xml::Reader::from_str(&xml);
    let mut out: Vec<String> = Vec::new();
    let mut in_t = false;
    loop {
        let event = reader.read_event().map_err(|e| e.to_string())?;
        let mut push = |s: &str| {
            if let Some(last) = out.last_mut() {
                last.push_str(s);
            }
        };
        match event {
            Event::Start(e) | Event::Empty(e) if e.name().as_ref() == b"w:p" => {
                out.push(String::new());
                in_t = false;
            }
            Event::Start(e) if e.name().as_ref() == b"w:t" => in_t = true,
            Event::End(e) if e.name().as_ref() == b"w:t" => in_t = false,
            Event::Empty(e) if matches!(e.name().as_ref(), b"w:br" | b"w:cr" | b"w:tab") => {
                push(" ")
            }
            Event::Text(t) if in_t => push(&t.decode().map_err(|e| e.to_string())?),
            Event::GeneralRef(g) if in_t => {
                let c = match &g[..] {
                    b"lt" => Some('<'),
                    b"gt" => Some('>'),
                    b"amp" => Some('&'),
                    b"quot" => Some('"'),
                    b"apos" => Some('\''),
                    _ => g.resolve_char_ref().ok().flatten(),
                };
                if let Some(c) = c {
                    push(&c.to_string());
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The first place the two formats say different things.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The sentence as the Word file has it ("" when the PDF has a sentence the DOCX lacks).
    pub docx: String,
    /// The same place in the PDF ("" when the DOCX has a sentence the PDF lacks).
    pub pdf: String,
}

/// Characters without whitespace, each with its byte offset in the text: line breaks and
/// justification change spaces, never characters.
fn dense(text: &str) -> (String, Vec<usize>) {
    let mut chars = String::with_capacity(text.len());
    let mut at = Vec::with_capacity(text.len());
    for (i, c) in text.char_indices().filter(|(_, c)| !c.is_whitespace()) {
        chars.push(c);
        at.extend(std::iter::repeat_n(i, c.len_utf8()));
    }
    (chars, at)
}

fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The sentence of `text` starting at byte `from`: up to its end ("./.", ".", ";" or ":" before a
/// space) or `len` bytes and a little more, whichever comes first.
fn sentence_at(text: &str, from: usize, len: usize) -> String {
    let rest = text.get(from..).unwrap_or("");
    let limit = len + 60;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        if i > limit {
            end = i;
            break;
        }
        let at_end = matches!(c, '.' | ';' | ':')
            && rest[i + 1..].starts_with(|n: char| n.is_whitespace())
            && i + 1 >= len.min(limit) / 2;
        if at_end {
            end = i + 1;
            break;
        }
    }
    let mut out = squeeze(&rest[..end]);
    if end < rest.len() && !out.ends_with(['.', ';', ':']) {
        out.push('…');
    }
    out
}

/// Where the PDF's text (in layout order) and the DOCX's paragraphs part: each paragraph must
/// come next in the PDF, whitespace aside. Between two, the PDF may only repeat what it said
/// before (a table's header row on a new page).
pub fn first_difference(pdf_text: &str, docx: &[String]) -> Option<Difference> {
    let (pdf, pdf_at) = dense(pdf_text);
    let offset = |i: usize| pdf_at.get(i).copied().unwrap_or(pdf_text.len());
    let mut cursor = 0;
    let repeated = |from: usize, to: usize| {
        let gap = &pdf[from..to];
        gap.is_empty() || pdf[..from].contains(gap)
    };
    for paragraph in docx {
        let (wanted, _) = dense(paragraph);
        if wanted.is_empty() {
            continue;
        }
        match pdf[cursor..].find(&wanted).map(|i| cursor + i) {
            Some(at) if repeated(cursor, at) => cursor = at + wanted.len(),
            Some(at) => {
                return Some(Difference {
                    docx: String::new(),
                    pdf: sentence_at(pdf_text, offset(cursor), at - cursor),
                });
            }
            None => {
                return Some(Difference {
                    docx: squeeze(paragraph),
                    pdf: sentence_at(pdf_text, offset(cursor), paragraph.len()),
                });
            }
        }
    }
    (!repeated(cursor, pdf.len())).then(|| Difference {
        docx: String::new(),
        pdf: sentence_at(pdf_text, offset(cursor), pdf.len() - cursor),
    })
}

/// Each document's PDF and DOCX said different things.
#[derive(Debug, thiserror::Error)]
#[error(
    "{document}: bản PDF và bản Word khác lời nhau — bản Word: «{docx}»; bản PDF: «{pdf}». \
     Lời văn chung của hai bản ở {wording}; mẫu riêng của cơ quan ({overrides}) phải cùng lời \
     với tệp này: sửa mẫu đó cho khớp, hoặc xóa nó để dùng mẫu dựng từ lời văn. Chưa cấp số, \
     chưa gửi gì."
)]
pub struct Mismatch {
    /// "Công văn giao nhiệm vụ — Phòng Kinh tế".
    pub document: String,
    pub docx: String,
    pub pdf: String,
    /// The wording file in use.
    pub wording: String,
    /// The office's templates of this document that could differ from it.
    pub overrides: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ParityError {
    #[error(transparent)]
    Mismatch(Box<Mismatch>),
    #[error(transparent)]
    Render(#[from] RenderError),
}

/// Compares the words of each document's PDF and DOCX, where both formats are rendered; the first
/// document whose two files differ stops the caller. `wording` names the wording file and
/// `overrides(kind)` the office's own templates of a kind, for the message.
pub fn check(
    documents: &[&PlannedDocument],
    renderers: &[&dyn Renderer],
    wording: &str,
    overrides: &dyn Fn(DocumentKind) -> Vec<String>,
) -> Result<(), ParityError> {
    let pdf = renderers.iter().find(|r| r.name() == "pdf");
    let docx = renderers.iter().find(|r| r.name() == "docx");
    let (Some(pdf), Some(docx)) = (pdf, docx) else {
        return Ok(());
    };
    for document in documents {
        let (Some(pdf_text), Some(docx_text)) = (pdf.text(document)?, docx.text(document)?) else {
            continue;
        };
        let paragraphs: Vec<String> = docx_text.split('\n').map(str::to_string).collect();
        if let Some(difference) = first_difference(&pdf_text, &paragraphs) {
            let overrides = overrides(document.kind);
            return Err(ParityError::Mismatch(Box::new(Mismatch {
                document: document.label_vi(),
                docx: if difference.docx.is_empty() {
                    "(không có câu này)".into()
                } else {
                    difference.docx
                },
                pdf: if difference.pdf.is_empty() {
                    "(không có câu này)".into()
                } else {
                    difference.pdf
                },
                wording: wording.to_string(),
                overrides: if overrides.is_empty() {
                    "không có".into()
                } else {
                    overrides.join(", ")
                },
            })));
        }
    }
    Ok(())
}

/// The office's own template files of a kind (either format's), as paths: what could say other
/// words than the wording file.
pub fn office_files(templates: &Templates, kind: DocumentKind) -> Vec<String> {
    let Some(dir) = &templates.override_dir else {
        return Vec::new();
    };
    [
        dir.join("typst").join(super::pdf::template_name(kind)),
        dir.join("typst").join("nd30.typ"),
        dir.join(super::docx::SUBDIR)
            .join(super::docx::builtin::file_name(kind)),
    ]
    .into_iter()
    .filter(|p| p.is_file())
    .map(|p| p.display().to_string())
    .collect()
}

/// The wording file in use, as a clerk finds it.
pub fn wording_file(templates: &Templates) -> String {
    match &templates.override_dir {
        Some(dir) if dir.join(super::wording::FILE).is_file() => {
            dir.join(super::wording::FILE).display().to_string()
        }
        _ => format!(
            "{} có sẵn (vanban templates export ghi ra để sửa)",
            super::wording::FILE
        ),
    }
}

/// [`check`] for the documents `ids` of a period (kind and unit), with the office's templates
/// named in the message.
pub fn check_documents(
    documents: &[PlannedDocument],
    ids: &[(DocumentKind, Option<String>)],
    renderers: &[&dyn Renderer],
    templates: &Templates,
) -> Result<(), ParityError> {
    let chosen: Vec<&PlannedDocument> = documents
        .iter()
        .filter(|d| {
            ids.iter()
                .any(|(kind, unit)| *kind == d.kind && *unit == d.unit)
        })
        .collect();
    check(&chosen, renderers, &wording_file(templates), &|kind| {
        office_files(templates, kind)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ps(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_same_words_broken_differently_match() {
        let pdf =
            "Số: 12/UBND Yêu cầu Phòng Kinh tế nghiêm túc triển khai \n thực hiện./. Nơi nhận:";
        let docx = ps(&[
            "Số: 12/UBND",
            "",
            "Yêu cầu Phòng Kinh tế nghiêm túc triển khai thực hiện./.",
            "Nơi nhận:",
        ]);
        assert_eq!(first_difference(pdf, &docx), None);
    }

    #[test]
    fn a_reworded_sentence_is_shown_in_both_versions() {
        let pdf = "Kính gửi: A Yêu cầu A nghiêm túc triển khai thực hiện./. Nơi nhận: - Như trên;";
        let docx = ps(&[
            "Kính gửi: A",
            "Yêu cầu A khẩn trương, nghiêm túc triển khai thực hiện./.",
            "Nơi nhận:",
        ]);
        assert_eq!(
            first_difference(pdf, &docx),
            Some(Difference {
                docx: "Yêu cầu A khẩn trương, nghiêm túc triển khai thực hiện./.".into(),
                pdf: "Yêu cầu A nghiêm túc triển khai thực hiện./.".into(),
            })
        );
    }

    #[test]
    fn a_sentence_only_the_pdf_has_is_found_and_a_repeated_table_header_is_not_one() {
        let pdf = "TT Chỉ tiêu 1 Hộ 2 Xã TT Chỉ tiêu 3 Đường Thêm một câu. Kết thúc./.";
        let docx = ps(&[
            "TT",
            "Chỉ tiêu",
            "1",
            "Hộ",
            "2",
            "Xã",
            "3",
            "Đường",
            "Kết thúc./.",
        ]);
        assert_eq!(
            first_difference(pdf, &docx),
            Some(Difference {
                docx: String::new(),
                pdf: "Thêm một câu.".into(),
            })
        );
        let pdf = "TT Chỉ tiêu 1 Hộ 2 Xã TT Chỉ tiêu 3 Đường Kết thúc./.";
        assert_eq!(first_difference(pdf, &docx), None);
        // Text at the end of the PDF only.
        let docx = ps(&["TT", "Chỉ tiêu", "1", "Hộ", "2", "Xã", "3", "Đường"]);
        assert!(first_difference(pdf, &docx).is_some());
    }
}
