//! The stamp of an organisation's digital signature on an electronic copy or a separate-file
//! attachment (Decree 30/2020 Phụ lục I, box 14): its lines typeset as a one-page PDF the size
//! of the text, which signing makes the signature's visible appearance top right of page 1.

use chrono::NaiveDate;

use super::docx_pdf::emit::string;
use super::pdf::{PdfEngine, PdfError};

/// The stamp's type: Times New Roman (the shipped Liberation Serif has its metrics), 10 pt,
/// upright, black (Phụ lục I: "phông chữ Times New Roman, chữ in thường, kiểu chữ đứng, cỡ chữ
/// 10, màu chữ đen").
const SIZE_PT: f32 = 10.0;

/// Lines longer than this wrap (a long body name): the stamp must stay in the page's right part.
pub const MAX_WIDTH_PT: f32 = 255.0;

/// The Typst source of a stamp of `lines`: a page exactly as large as the text, its edges at the
/// glyphs' ascenders and descenders so nothing drawn falls outside the appearance's box.
pub fn source(lines: &[String]) -> String {
    let body = lines
        .iter()
        .map(|line| format!("#{}", string(line)))
        .collect::<Vec<_>>()
        .join(" \\\n");
    format!(
        "#set page(width: auto, height: auto, margin: 0pt, fill: none)\n\
         #set text(font: \"Liberation Serif\", size: {SIZE_PT}pt, lang: \"vi\", fallback: false, \
         fill: black, top-edge: \"ascender\", bottom-edge: \"descender\", hyphenate: false)\n\
         #set par(leading: 0.15em, spacing: 0pt, justify: false)\n\
         #let body = [{body}]\n\
         #context block(width: calc.min(measure(body).width, {MAX_WIDTH_PT}pt), body)\n"
    )
}

/// The stamp of `lines` as a one-page PDF/A-2b with its font embedded. `today` only fills the
/// file's creation date.
pub fn stamp_pdf(
    engine: &PdfEngine,
    lines: &[String],
    today: NaiveDate,
) -> Result<Vec<u8>, PdfError> {
    engine.render_piece(source(lines), today)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_go_in_as_string_literals_one_per_line() {
        let source = source(&["Sao y".into(), "Ủy ban \"nhân dân\" #x".into()]);
        assert!(source.contains("#let body = [#\"Sao y\" \\\n#\"Ủy ban \\\"nhân dân\\\" #x\"]"));
        assert!(source.contains("size: 10pt"));
        assert!(source.contains("font: \"Liberation Serif\""));
    }
}
