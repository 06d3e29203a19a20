//! Reads the word boxes `pdftotext -bbox` writes for a PDF (e.g. one LibreOffice made from a
//! DOCX) into the check's neutral [`Layout`]. Word boxes carry no typeface, size or drawn
//! rules, so the rules that need them are left out for such a layout; positions, text, page
//! numbers, forms and the closing are checked as for Typst's own pages.

use super::{Layout, Page, TextRun};

/// Share of a word box's height below the baseline (Times New Roman: descender 0.216 of an
/// ascender + descender of 1.107 em).
const DESCENT_SHARE: f64 = 0.216 / 1.107;

fn attr(tag: &str, name: &str) -> Option<f64> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    let end = tag[start..].find('"')? + start;
    tag[start..end].parse().ok()
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The layout of `pdftotext -bbox` output (XHTML with `<page>` and `<word>` elements).
pub fn layout(xhtml: &str) -> Layout {
    let mut pages = Vec::new();
    for chunk in xhtml.split("<page ").skip(1) {
        let Some((tag, body)) = chunk.split_once('>') else {
            continue;
        };
        let mut page = Page {
            width: attr(tag, "width").unwrap_or(0.0),
            height: attr(tag, "height").unwrap_or(0.0),
            runs: Vec::new(),
            strokes: None,
        };
        let body = body.split("</page>").next().unwrap_or("");
        for word in body.split("<word ").skip(1) {
            let Some((tag, rest)) = word.split_once('>') else {
                continue;
            };
            let text = rest.split("</word>").next().unwrap_or("");
            let (Some(x0), Some(y0), Some(x1), Some(y1)) = (
                attr(tag, "xMin"),
                attr(tag, "yMin"),
                attr(tag, "xMax"),
                attr(tag, "yMax"),
            ) else {
                continue;
            };
            page.runs.push(TextRun {
                text: unescape(text),
                x0,
                x1,
                baseline: y1 - (y1 - y0) * DESCENT_SHARE,
                size: None,
                face: None,
            });
        }
        pages.push(page);
    }
    Layout { pages }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_read_with_their_boxes() {
        let xhtml = r#"<doc><page width="595.3" height="841.9">
<word xMin="85.0" yMin="60.0" xMax="110.5" yMax="73.0">Số:</word>
<word xMin="150.0" yMin="60.0" xMax="200.0" yMax="73.0">/TB-UBND</word>
</page><page width="595.3" height="841.9"><word xMin="300" yMin="30" xMax="307" yMax="45">2</word></page></doc>"#;
        let layout = layout(xhtml);
        assert_eq!(layout.pages.len(), 2);
        assert_eq!(layout.pages[0].runs.len(), 2);
        assert_eq!(layout.pages[0].runs[1].text, "/TB-UBND");
        assert!((layout.pages[0].runs[0].baseline - 70.46).abs() < 0.1);
        assert_eq!(layout.pages[1].runs[0].text, "2");
        assert!(layout.pages[0].strokes.is_none());
    }
}
