//! Whether what goes into the built-in templates' fixed-width places fits them: every word of the
//! review report's figure tables in its column, the "Số:" line in the header's left column, the
//! signer's name on one line. Typst never breaks inside a word, so a unit such as
//! "{{ header.number }}", an amount such as "45.000.000.000" in the bold total row, or a rate of
//! "1.000.000%" wider than its column runs over the next column or the right margin, and a long
//! symbol or name wraps where Decree 30 wants one line; the page check would refuse the document
//! only at render. `check` asks here first, so what it accepts, `render` renders.
//!
//! The texts measured are the very strings the templates print ([`super::context`] builds them);
//! the column widths mirror `templates/typst/`, and a test reads the templates so the two cannot
//! drift apart unnoticed.

use std::fmt;

use super::context;
use crate::input::text as text_width;
use crate::model::Period;

/// The text width of an A4 page with Decree 30's 30 mm and 15 mm side margins.
const TEXT_WIDTH_PT: f64 = 165.0 / 25.4 * 72.0;
/// `inset: (x: 4pt, …)` on each side of a cell (templates/typst/nd30.typ, `figures-table`). A
/// word wider than the room between the insets spills into one of them (left or right aligned)
/// or both (centred); it crosses the cell's rule only when it is wider than the column less one
/// inset, and that is the defect refused.
const CELL_INSET_PT: f64 = 4.0;
/// The figure tables' type size (nd30.typ, `figures-table`).
const TABLE_SIZE_PT: f64 = 12.0;

/// The budget table's columns, as fractions of the text width (`1fr` is what the others leave).
const BUDGET_COLUMNS: [f64; 5] = [0.09, 0.41, 0.17, 0.18, 0.15];
/// The indicator table's columns.
const INDICATOR_COLUMNS: [f64; 6] = [0.09, 0.38, 0.14, 0.15, 0.12, 0.12];
/// The signature block's column (nd30.typ, `closing`: `columns: (45%, 1fr)`, a 4 mm gutter).
const SIGNER_COLUMN_PT: f64 = 0.55 * TEXT_WIDTH_PT - 4.0 / 25.4 * 72.0;
/// The widest number a register reaches in a year, for the "Số:" line.
const WIDEST_NUMBER: &str = "9999";

/// Where a text does not fit.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// A figure table's cell. `table`: "bảng vốn" or "bảng chỉ tiêu của chương trình «…»";
    /// `row`: the program's or indicator's name, or "Tổng cộng"; `column`: its heading.
    Cell {
        table: String,
        row: String,
        column: &'static str,
    },
    /// The "Số: …/…" line of a document (its Vietnamese name).
    NumberLine { document: &'static str },
    /// The signer's name under the signature.
    SignerName { document: &'static str },
}

/// A text wider than its place.
#[derive(Debug, Clone, PartialEq)]
pub struct FitProblem {
    pub place: Place,
    /// What does not fit: an unbreakable piece of a cell, or the whole line.
    pub word: String,
    pub width_pt: f64,
    pub room_pt: f64,
}

impl fmt::Display for FitProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mm = |pt: f64| pt / 72.0 * 25.4;
        let (width, room) = (mm(self.width_pt), mm(self.room_pt));
        match &self.place {
            Place::Cell { table, row, column } => write!(
                f,
                "{table}, dòng «{row}», cột «{column}»: «{}» rộng {width:.0} mm mà cột chỉ có \
                 {room:.0} mm, không xuống dòng được nên sẽ tràn sang cột bên cạnh hoặc ra ngoài \
                 lề; hãy viết ngắn lại, thêm dấu cách hoặc kiểm tra lại con số",
                self.word
            ),
            Place::NumberLine { document } => write!(
                f,
                "{document}: dòng «{}» rộng {width:.0} mm, quá cột bên trái của phần đầu văn bản \
                 ({room:.0} mm) nên bị xuống dòng; hãy rút ngắn chữ viết tắt trong ký hiệu \
                 (abbr của cơ quan, unit_abbr, filing)",
                self.word
            ),
            Place::SignerName { document } => write!(
                f,
                "{document}: họ tên người ký «{}» rộng {width:.0} mm, quá một dòng của khối chữ \
                 ký ({room:.0} mm); hãy kiểm tra lại họ tên",
                self.word
            ),
        }
    }
}

/// The pieces of `text` a line can never split: what lies between two line-break
/// opportunities of Unicode's line-breaking algorithm (UAX #14), with Typst's own segmenter, so a
/// unit such as "đồng/người/năm" may break after a slash as it does on the page.
fn unbreakable_pieces(text: &str) -> Vec<&str> {
    use icu_segmenter::LineSegmenter;
    use icu_segmenter::options::LineBreakOptions;
    let segmenter = LineSegmenter::new_lstm(LineBreakOptions::default());
    let mut pieces = Vec::new();
    let mut start = 0;
    for at in segmenter.segment_str(text) {
        if at > start {
            let piece = text[start..at].trim_end();
            if !piece.is_empty() {
                pieces.push(piece);
            }
        }
        start = at;
    }
    pieces
}

/// Everything that does not fit its place in the built-in templates.
pub fn problems(period: &Period) -> Vec<FitProblem> {
    let mut found = table_problems(period);
    // Every document's header and signature block; letters share them, said once.
    for document in super::plan(period, None, &|_, _| None) {
        let context = &document.context;
        let name = document.kind.name_vi();
        let line = context
            .header
            .number
            .replace(crate::vi::dates::BLANK_DAY, &format!(" {WIDEST_NUMBER}"));
        let width = text_width::regular_width_pt(&line, 13.0);
        let room = context::issuer_column_pt(context.header.wide_date);
        let mut add = |problem: FitProblem| {
            if !found.contains(&problem) {
                found.push(problem);
            }
        };
        if width > room {
            add(FitProblem {
                place: Place::NumberLine { document: name },
                word: line,
                width_pt: width,
                room_pt: room,
            });
        }
        let width = text_width::bold_width_pt(&context.signer.name, 14.0);
        if width > SIGNER_COLUMN_PT {
            add(FitProblem {
                place: Place::SignerName { document: name },
                word: context.signer.name.clone(),
                width_pt: width,
                room_pt: SIGNER_COLUMN_PT,
            });
        }
    }
    found
}

/// Every word of the review report's figure tables that its column cannot hold.
fn table_problems(period: &Period) -> Vec<FitProblem> {
    let report = context::report_context(period);
    let mut found = Vec::new();
    let mut measure =
        |table: &str, row: &str, column: &'static str, fraction: f64, cell: &str, bold: bool| {
            let room = fraction * TEXT_WIDTH_PT - CELL_INSET_PT;
            for word in unbreakable_pieces(cell) {
                let width = if bold {
                    text_width::bold_width_pt(word, TABLE_SIZE_PT)
                } else {
                    text_width::regular_width_pt(word, TABLE_SIZE_PT)
                };
                if width > room {
                    found.push(FitProblem {
                        place: Place::Cell {
                            table: table.to_owned(),
                            row: row.to_owned(),
                            column,
                        },
                        word: word.to_owned(),
                        width_pt: width,
                        room_pt: room,
                    });
                    // One word per cell is enough to send the clerk to it.
                    break;
                }
            }
        };
    let budget_rows = report
        .budget_rows
        .iter()
        .map(|r| (r, false))
        .chain(report.budget_total.iter().map(|r| (r, true)));
    for (row, bold) in budget_rows {
        let cells = [
            ("Chương trình", BUDGET_COLUMNS[1], &row.name),
            ("Vốn giao (triệu đồng)", BUDGET_COLUMNS[2], &row.allocated),
            (
                "Đã giải ngân (triệu đồng)",
                BUDGET_COLUMNS[3],
                &row.disbursed,
            ),
            ("Tỷ lệ giải ngân", BUDGET_COLUMNS[4], &row.rate),
        ];
        for (column, fraction, cell) in cells {
            measure("bảng vốn", &row.name, column, fraction, cell, bold);
        }
    }
    for program in &report.programs {
        let table = format!("bảng chỉ tiêu của chương trình «{}»", program.name);
        for indicator in &program.indicators {
            let cells = [
                ("Chỉ tiêu", INDICATOR_COLUMNS[1], &indicator.name),
                ("Đơn vị tính", INDICATOR_COLUMNS[2], &indicator.unit),
                ("Thực hiện", INDICATOR_COLUMNS[3], &indicator.value_cell),
                ("Kế hoạch", INDICATOR_COLUMNS[4], &indicator.plan_cell),
                (
                    "Tỷ lệ so với KH",
                    INDICATOR_COLUMNS[5],
                    &indicator.plan_rate_cell,
                ),
            ];
            for (column, fraction, cell) in cells {
                measure(&table, &indicator.name, column, fraction, cell, false);
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentKind;

    /// The `columns: (…)` list of the table whose rows are `rows`, as fractions.
    fn template_columns(rows: &str) -> Vec<f64> {
        let template = include_str!("../../templates/typst/review-report.typ");
        let at = template
            .find(rows)
            .expect("the table's rows in the template");
        let before = &template[..at];
        let start = before.rfind("columns: (").expect("its columns") + "columns: (".len();
        let end = start + template[start..].find(')').expect("closing parenthesis");
        let parts: Vec<&str> = template[start..end].split(',').map(str::trim).collect();
        let fixed: f64 = parts
            .iter()
            .filter_map(|p| p.strip_suffix('%'))
            .map(|p| p.parse::<f64>().expect("a percentage") / 100.0)
            .sum();
        parts
            .iter()
            .map(|p| match p.strip_suffix('%') {
                Some(p) => p.parse::<f64>().expect("a percentage") / 100.0,
                None => {
                    assert_eq!(*p, "1fr", "one flexible column");
                    1.0 - fixed
                }
            })
            .collect()
    }

    #[test]
    fn pieces_break_where_a_line_may_break() {
        assert_eq!(
            unbreakable_pieces("đồng/người/năm"),
            ["đồng/", "người/", "năm"]
        );
        assert_eq!(
            unbreakable_pieces("triệu đồng/người/năm"),
            ["triệu", "đồng/", "người/", "năm"]
        );
        assert_eq!(
            unbreakable_pieces("45.000.000.000 (12,5%)"),
            ["45.000.000.000", "(12,5%)"]
        );
    }

    #[test]
    fn the_columns_measured_are_the_templates_columns() {
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-9);
        let budget = template_columns("rows: r.budget_rows");
        assert!(close(&budget, &BUDGET_COLUMNS), "{budget:?}");
        let indicators = template_columns("rows: p.indicators");
        assert!(close(&indicators, &INDICATOR_COLUMNS), "{indicators:?}");
    }

    #[test]
    fn the_sample_fits_and_a_word_wider_than_its_column_is_named() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
        let mut period =
            crate::input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
                .unwrap();
        assert_eq!(problems(&period), []);
        period.programs[0].indicators[0].unit = "{{ header.number }}xã".into();
        let found = problems(&period);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            matches!(&found[0].place, Place::Cell { column, .. } if *column == "Đơn vị tính"),
            "{found:?}"
        );
        // UAX #14 allows no break after "{" or before "}", even at a space: Typst keeps it whole.
        assert_eq!(found[0].word, "{{ header.number }}");
        let text = found[0].to_string();
        assert!(text.contains(&period.programs[0].name), "{text}");
        assert!(
            text.contains(&period.programs[0].indicators[0].name),
            "{text}"
        );
        // A figure its column cannot hold; the largest amounts fit even in the bold total row.
        let mut period =
            crate::input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
                .unwrap();
        for program in &mut period.programs {
            if let Some(budget) = &mut program.budget {
                budget.allocated = 1e10;
                budget.disbursed = Some(1e10);
            }
        }
        assert_eq!(problems(&period), []);
        period.programs[0].indicators[0].value = 123_456_789_012_345.0;
        let found = problems(&period);
        assert!(
            found
                .iter()
                .any(|p| matches!(&p.place, Place::Cell { column, .. }
                    if *column == "Thực hiện")),
            "{found:?}"
        );
    }

    #[test]
    fn a_symbol_or_a_signer_name_that_cannot_stay_on_one_line_is_named() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
        let mut period =
            crate::input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
                .unwrap();
        let documents = &mut period.documents;
        if let Some(letter) = &mut documents
            .settings_mut(DocumentKind::AssignmentLetter)
            .letter
        {
            letter.unit_abbr = "N9223372036854775807LN".into();
        }
        documents
            .settings_mut(DocumentKind::ReviewReport)
            .signer
            .name = "Ho{% for x in letter.tasks %}àng Vĩnh Khuyến".into();
        let found = problems(&period);
        let text: Vec<String> = found.iter().map(ToString::to_string).collect();
        // The letters share one symbol: said once.
        assert_eq!(found.len(), 2, "{text:?}");
        assert!(
            text.iter()
                .any(|t| t.contains("UBND-N9223372036854775807LN") && t.contains("unit_abbr")),
            "{text:?}"
        );
        assert!(
            text.iter()
                .any(|t| t.contains("họ tên người ký") && t.contains("Khuyến")),
            "{text:?}"
        );
    }

    #[test]
    fn the_signature_column_is_the_templates() {
        let template = include_str!("../../templates/typst/nd30.typ");
        let closing = &template[template.find("#let closing").expect("closing")..];
        assert!(closing.contains("columns: (45%, 1fr),"), "nd30.typ changed");
        assert!(closing.contains("column-gutter: 4mm,"), "nd30.typ changed");
    }
}
