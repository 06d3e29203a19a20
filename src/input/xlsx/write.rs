//! Writes the form: blank (with an example row per sheet) for `templates export`, or filled from
//! a period file's tree for `convert --to xlsx`. Headers are frozen, dates are date cells,
//! figures are number cells, program and unit codes have drop-down lists, and derived columns
//! carry formulas (with their values) for the office's convenience only.

use chrono::{Datelike, NaiveDate};
use rust_xlsxwriter::{
    Color, DataValidation, DataValidationErrorStyle, DocProperties, ExcelDateTime, Format,
    FormatAlign, FormatBorder, Formula, Workbook, Worksheet, XlsxError,
};

use super::form::{self, Column, Kind, Role};
use crate::input::tree::{Node, Value};
use crate::model::Directory;

/// Rows given drop-down lists and formulas beyond the data, for the office to add to.
const SPARE_ROWS: u32 = 60;

struct Formats {
    header: Format,
    heading: Format,
    text: Format,
    date: Format,
    hint: Format,
    example: Format,
    derived: Format,
}

impl Formats {
    fn new() -> Self {
        let border = |f: Format| f.set_border(FormatBorder::Thin);
        Formats {
            header: border(
                Format::new()
                    .set_bold()
                    .set_text_wrap()
                    .set_align(FormatAlign::Center)
                    .set_align(FormatAlign::VerticalCenter)
                    .set_background_color(Color::RGB(0xDDEBF7)),
            ),
            heading: Format::new()
                .set_bold()
                .set_background_color(Color::RGB(0xF2F2F2)),
            text: Format::new().set_text_wrap().set_align(FormatAlign::Top),
            date: Format::new()
                .set_num_format("dd/mm/yyyy")
                .set_align(FormatAlign::Top),
            hint: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x7F7F7F))
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            example: Format::new()
                .set_italic()
                .set_font_color(Color::RGB(0x7F7F7F))
                .set_text_wrap()
                .set_align(FormatAlign::Top),
            derived: Format::new()
                .set_background_color(Color::RGB(0xF2F2F2))
                .set_align(FormatAlign::Top),
        }
    }
}

/// The value at a dotted path of tables ("documents.review_report.signer").
fn get<'a>(node: &'a Node, path: &str) -> Option<&'a Node> {
    path.split('.').try_fold(node, |n, part| match &n.value {
        Value::Table(entries) => entries.iter().find(|(k, _)| k.name == part).map(|(_, v)| v),
        _ => None,
    })
}

fn items(node: Option<&Node>) -> Vec<&Node> {
    match node.map(|n| &n.value) {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(_) => node.into_iter().collect(),
        None => Vec::new(),
    }
}

fn text(node: Option<&Node>) -> Option<String> {
    match &node?.value {
        Value::String(s) | Value::Datetime(s) => Some(s.clone()),
        Value::Integer(i) => Some(i.to_string()),
        Value::Float(x) => Some(x.to_string()),
        Value::Array(list) => Some(
            list.iter()
                .filter_map(|n| text(Some(n)))
                .collect::<Vec<_>>()
                .join(", "),
        ),
        _ => None,
    }
}

fn number(node: Option<&Node>) -> Option<f64> {
    match node?.value {
        Value::Integer(i) => Some(i as f64),
        Value::Float(x) => Some(x),
        _ => None,
    }
}

fn date(node: Option<&Node>) -> Option<NaiveDate> {
    match &node?.value {
        Value::Datetime(s) | Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
        _ => None,
    }
}

fn excel_date(d: NaiveDate) -> Result<ExcelDateTime, XlsxError> {
    ExcelDateTime::from_ymd(d.year() as u16, d.month() as u8, d.day() as u8)
}

/// Writes a cell by kind; nothing for an absent value.
fn put(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    kind: Kind,
    node: Option<&Node>,
) -> Result<(), XlsxError> {
    match kind {
        Kind::Number | Kind::Integer => {
            if let Some(x) = number(node) {
                ws.write_number(row, col, x)?;
            }
        }
        Kind::Date => {
            if let Some(d) = date(node) {
                ws.write_datetime_with_format(row, col, excel_date(d)?, &f.date)?;
            }
        }
        _ => {
            if let Some(s) = text(node) {
                ws.write_string_with_format(row, col, s, &f.text)?;
            }
        }
    }
    Ok(())
}

/// Row height for wrapped text: Calc and Excel do not grow a row written by a program, so a
/// long name would hide under the next row.
fn fit(ws: &mut Worksheet, row: u32, texts: &[(f64, Option<String>)]) -> Result<(), XlsxError> {
    let lines = texts
        .iter()
        .filter_map(|(width, text)| {
            let chars = text.as_ref()?.chars().count() as f64;
            Some((chars / (width * 1.1)).ceil().max(1.0))
        })
        .fold(1.0, f64::max);
    if lines > 1.0 {
        ws.set_row_height(row, 15.0 * lines)?;
    }
    Ok(())
}

fn header_row(ws: &mut Worksheet, f: &Formats, headers: &[&str]) -> Result<(), XlsxError> {
    for (c, h) in headers.iter().enumerate() {
        ws.write_string_with_format(0, c as u16, *h, &f.header)?;
    }
    ws.set_row_height(0, 32)?;
    ws.set_freeze_panes(1, 0)?;
    Ok(())
}

fn heading_for(path: &str) -> Option<&'static str> {
    Some(match path {
        "period.year" => "KỲ BÁO CÁO",
        "issuer.name" => "CƠ QUAN BAN HÀNH",
        "committee.name" => "BAN CHỈ ĐẠO",
        "meeting.date" => "HỘI NGHỊ",
        "documents.date" => "VĂN BẢN",
        "documents.review_report.signer.authority" => "BÁO CÁO",
        "documents.conclusion_notice.signer.authority" => "THÔNG BÁO KẾT LUẬN",
        "documents.assignment_letter.unit_abbr" => "CÔNG VĂN GIAO NHIỆM VỤ",
        _ => return None,
    })
}

fn write_info(ws: &mut Worksheet, f: &Formats, period: Option<&Node>) -> Result<(), XlsxError> {
    ws.set_name(form::INFO)?;
    header_row(ws, f, &form::INFO_HEADERS)?;
    ws.set_freeze_panes(1, 1)?;
    for (c, w) in [(0, 56.0), (1, 60.0), (2, 36.0), (3, 48.0)] {
        ws.set_column_width(c, w)?;
    }
    let mut r = 1;
    for row in form::info_rows() {
        if let Some(h) = heading_for(&row.path) {
            ws.write_string_with_format(r, 0, h, &f.heading)?;
            r += 1;
        }
        let node = period.and_then(|p| get(p, &row.path));
        let values: Vec<Option<&Node>> = match row.kind {
            Kind::Texts | Kind::Persons => {
                let list = items(node);
                if list.is_empty() {
                    vec![None]
                } else {
                    list.into_iter().map(Some).collect()
                }
            }
            _ => vec![node],
        };
        for value in values {
            ws.write_string(r, 0, &row.label)?;
            match row.kind {
                Kind::Person | Kind::Persons => {
                    put(ws, f, r, 1, Kind::Text, value.and_then(|v| get(v, "name")))?;
                    put(ws, f, r, 2, Kind::Text, value.and_then(|v| get(v, "title")))?;
                }
                Kind::Texts => put(ws, f, r, 1, Kind::Text, value)?,
                kind => put(ws, f, r, 1, kind, value)?,
            }
            if !row.hint.is_empty() {
                ws.write_string_with_format(r, 3, row.hint, &f.hint)?;
            }
            let shown = match row.kind {
                Kind::Person | Kind::Persons => text(value.and_then(|v| get(v, "name"))),
                _ => text(value),
            };
            fit(ws, r, &[(60.0, shown), (48.0, Some(row.hint.to_string()))])?;
            r += 1;
        }
    }
    Ok(())
}

/// A table sheet's header, widths and the drop-down lists of its code columns.
fn table_sheet(
    ws: &mut Worksheet,
    f: &Formats,
    name: &str,
    columns: &[Column],
    headers: &[&str],
    rows: u32,
) -> Result<(), XlsxError> {
    ws.set_name(name)?;
    header_row(ws, f, headers)?;
    let last = rows + SPARE_ROWS;
    for (c, column) in columns.iter().enumerate() {
        let c = c as u16;
        let width = match column.role {
            Role::Number => 6.0,
            Role::Key("name" | "text", _) => 60.0,
            Role::Key(_, Kind::Codes) => 24.0,
            Role::Note => 24.0,
            _ => 14.0,
        };
        ws.set_column_width(c, width)?;
        let list = match (name, column.role) {
            (_, Role::Key("program", _)) => Some((
                format!("='{}'!$B$2:$B$200", form::FUNDS),
                "Mã chương trình ở trang «Nguồn vốn».",
            )),
            (_, Role::Key(_, Kind::Codes)) => Some((
                format!("='{}'!$A$2:$A$500", form::UNITS),
                "Mã đơn vị hoặc nhóm ở trang «Đơn vị»; nhiều mã cách nhau bằng dấu phẩy.",
            )),
            (form::RESULTS, Role::Key("part", _)) => Some((
                list_of(form::RESULT_PARTS, Some(form::PROGRAM_RESULT_PART)),
                "Phần của báo cáo.",
            )),
            (form::NEXT, Role::Key("part", _)) => Some((
                list_of(form::NEXT_PARTS, None),
                "Phần của báo cáo, thông báo.",
            )),
            _ => None,
        };
        if let Some((formula, message)) = list {
            let formula = if formula.starts_with('=') {
                Formula::new(formula)
            } else {
                Formula::new(format!("\"{formula}\""))
            };
            // Warning, not stop: a cell may hold several codes ("bqlda, quang-lam").
            let validation = DataValidation::new()
                .allow_list_formula(formula)
                .set_error_style(DataValidationErrorStyle::Warning)
                .set_error_message(message)?;
            ws.add_data_validation(1, c, last, c, &validation)?;
        }
        if let Role::Key(_, Kind::Date) = column.role {
            ws.set_column_format(c, &f.date)?;
        }
    }
    Ok(())
}

fn list_of(parts: &[(&str, &str)], extra: Option<&str>) -> String {
    parts
        .iter()
        .map(|(l, _)| *l)
        .chain(extra)
        .collect::<Vec<_>>()
        .join(",")
}

fn ratio(part: Option<f64>, whole: Option<f64>, digits: i32) -> Option<f64> {
    let (p, w) = (part?, whole?);
    (w > 0.0).then(|| {
        let scale = 10f64.powi(digits);
        (p / w * 100.0 * scale).round() / scale
    })
}

/// A derived column: the formula, and its value computed here so a reader that does not
/// recalculate shows the same figure.
fn derived(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    col: u16,
    formula: String,
    value: Option<f64>,
) -> Result<(), XlsxError> {
    ws.write_formula_with_format(row, col, Formula::new(formula), &f.derived)?;
    ws.set_formula_result(row, col, value.map(|v| v.to_string()).unwrap_or_default());
    Ok(())
}

fn example(
    ws: &mut Worksheet,
    f: &Formats,
    row: u32,
    cells: &[(u16, &str)],
) -> Result<(), XlsxError> {
    ws.write_string_with_format(row, 0, form::EXAMPLE_MARK, &f.example)?;
    for (c, s) in cells {
        ws.write_string_with_format(row, *c, *s, &f.example)?;
    }
    Ok(())
}

/// The workbook: filled from `period` (a period file's tree), or blank with example rows.
/// `created` is the workbook's creation date (the document properties), injected so the same
/// input gives the same file.
pub fn write(
    period: Option<&Node>,
    directory: &Directory,
    created: NaiveDate,
) -> Result<Vec<u8>, XlsxError> {
    let f = Formats::new();
    let mut book = Workbook::new();
    book.set_properties(
        &DocProperties::new()
            .set_title("Biểu mẫu số liệu sơ kết, tổng kết (vanban)")
            .set_creation_datetime(&excel_date(created)?),
    );
    write_info(book.add_worksheet(), &f, period)?;

    let programs: Vec<&Node> = items(period.and_then(|p| get(p, "programs")));
    // Nguồn vốn
    {
        let ws = book.add_worksheet();
        let headers: Vec<&str> = form::FUND_COLUMNS.iter().map(|c| c.header).collect();
        table_sheet(
            ws,
            &f,
            form::FUNDS,
            form::FUND_COLUMNS,
            &headers,
            programs.len() as u32,
        )?;
        for (i, p) in programs.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number(r, 0, r as f64)?;
            put(ws, &f, r, 1, Kind::Text, get(p, "id"))?;
            put(ws, &f, r, 2, Kind::Text, get(p, "name"))?;
            fit(ws, r, &[(60.0, text(get(p, "name")))])?;
            put(ws, &f, r, 3, Kind::Number, get(p, "budget.allocated"))?;
            put(ws, &f, r, 4, Kind::Number, get(p, "budget.disbursed"))?;
        }
        let rows = if period.is_none() {
            example(
                ws,
                &f,
                1,
                &[
                    (1, "dtts"),
                    (
                        2,
                        "Phát triển kinh tế - xã hội vùng đồng bào dân tộc thiểu số và miền núi",
                    ),
                ],
            )?;
            ws.write_number(1, 3, 61864)?;
            ws.write_number(1, 4, 32479)?;
            1
        } else {
            programs.len() as u32
        };
        for r in 1..=rows + SPARE_ROWS {
            let value = programs.get(r as usize - 1).and_then(|p| {
                ratio(
                    number(get(p, "budget.disbursed")),
                    number(get(p, "budget.allocated")),
                    1,
                )
            });
            let value = if period.is_none() && r == 1 {
                ratio(Some(32479.0), Some(61864.0), 1)
            } else {
                value
            };
            let n = r + 1;
            derived(
                ws,
                &f,
                r,
                5,
                format!(
                    "=IF(AND(ISNUMBER(D{n}),ISNUMBER(E{n}),D{n}>0),ROUND(E{n}/D{n}*100,1),\"\")"
                ),
                value,
            )?;
        }
    }
    // Chỉ tiêu
    {
        let ws = book.add_worksheet();
        let whole_year = period
            .and_then(|p| get(p, "period.half"))
            .is_some_and(|h| h.value == Value::Integer(2));
        let headers: Vec<&str> = form::INDICATOR_COLUMNS
            .iter()
            .map(|c| match (c.role, whole_year) {
                (Role::Key("value", _), true) => "Thực hiện cả năm",
                _ => c.header,
            })
            .collect();
        let indicators: Vec<(&Node, &Node)> = programs
            .iter()
            .flat_map(|p| {
                items(get(p, "indicators"))
                    .into_iter()
                    .map(move |i| (*p, i))
            })
            .collect();
        table_sheet(
            ws,
            &f,
            form::INDICATORS,
            form::INDICATOR_COLUMNS,
            &headers,
            indicators.len() as u32,
        )?;
        for (i, (p, ind)) in indicators.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number(r, 0, r as f64)?;
            put(ws, &f, r, 1, Kind::Text, get(p, "id"))?;
            for (c, k, kind) in [
                (2, "name", Kind::Text),
                (3, "unit", Kind::Text),
                (4, "plan", Kind::Number),
                (5, "value", Kind::Number),
                (6, "share_of", Kind::Number),
                (7, "decimals", Kind::Integer),
            ] {
                put(ws, &f, r, c, kind, get(ind, k))?;
            }
            fit(
                ws,
                r,
                &[
                    (60.0, text(get(ind, "name"))),
                    (14.0, text(get(ind, "unit"))),
                ],
            )?;
        }
        let rows = if period.is_none() {
            example(
                ws,
                &f,
                1,
                &[
                    (1, "dtts"),
                    (2, "Thu nhập bình quân đầu người khu vực nông thôn"),
                    (3, "triệu đồng/người/năm"),
                ],
            )?;
            ws.write_number(1, 4, 75)?;
            ws.write_number(1, 5, 74.4)?;
            1
        } else {
            indicators.len() as u32
        };
        for r in 1..=rows + SPARE_ROWS {
            let ind = indicators.get(r as usize - 1).map(|(_, i)| *i);
            let (value, plan, share) = match ind {
                Some(i) => (
                    number(get(i, "value")),
                    number(get(i, "plan")),
                    number(get(i, "share_of")),
                ),
                None if period.is_none() && r == 1 => (Some(74.4), Some(75.0), None),
                None => (None, None, None),
            };
            let n = r + 1;
            derived(
                ws,
                &f,
                r,
                8,
                format!(
                    "=IF(AND(ISNUMBER(E{n}),ISNUMBER(F{n}),E{n}>0),ROUND(F{n}/E{n}*100,2),\"\")"
                ),
                ratio(value, plan, 2),
            )?;
            derived(
                ws,
                &f,
                r,
                9,
                format!(
                    "=IF(AND(ISNUMBER(G{n}),ISNUMBER(F{n}),G{n}>0),ROUND(F{n}/G{n}*100,2),\"\")"
                ),
                ratio(value, share, 2),
            )?;
        }
    }
    // Kết quả
    {
        let ws = book.add_worksheet();
        let mut rows: Vec<(String, Option<&Node>, &Node)> = Vec::new();
        for (label, path) in form::RESULT_PARTS {
            for item in items(period.and_then(|p| get(p, path))) {
                rows.push((label.to_string(), None, item));
            }
        }
        for p in &programs {
            for item in items(get(p, "results")) {
                rows.push((form::PROGRAM_RESULT_PART.to_string(), get(p, "id"), item));
            }
        }
        let headers: Vec<&str> = form::RESULT_COLUMNS.iter().map(|c| c.header).collect();
        table_sheet(
            ws,
            &f,
            form::RESULTS,
            form::RESULT_COLUMNS,
            &headers,
            rows.len() as u32,
        )?;
        ws.set_column_width(1, 28)?;
        for (i, (part, program, item)) in rows.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number(r, 0, r as f64)?;
            ws.write_string_with_format(r, 1, part, &f.text)?;
            put(ws, &f, r, 2, Kind::Text, *program)?;
            put(ws, &f, r, 3, Kind::Text, Some(*item))?;
            fit(ws, r, &[(60.0, text(Some(*item)))])?;
        }
        if period.is_none() {
            example(
                ws,
                &f,
                1,
                &[
                    (1, form::PROGRAM_RESULT_PART),
                    (2, "dtts"),
                    (3, "Khởi công mới Cầu Thanh Y xã Quảng Lâm"),
                ],
            )?;
        }
    }
    // Nhiệm vụ tiếp theo
    {
        let ws = book.add_worksheet();
        let mut rows: Vec<(&str, &Node)> = Vec::new();
        for (label, path) in form::NEXT_PARTS {
            for item in items(period.and_then(|p| get(p, path))) {
                rows.push((label, item));
            }
        }
        let headers: Vec<&str> = form::NEXT_COLUMNS.iter().map(|c| c.header).collect();
        table_sheet(
            ws,
            &f,
            form::NEXT,
            form::NEXT_COLUMNS,
            &headers,
            rows.len() as u32,
        )?;
        ws.set_column_width(1, 28)?;
        for (i, (part, item)) in rows.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number(r, 0, r as f64)?;
            ws.write_string_with_format(r, 1, *part, &f.text)?;
            put(ws, &f, r, 2, Kind::Text, Some(*item))?;
            fit(ws, r, &[(60.0, text(Some(*item)))])?;
        }
        if period.is_none() {
            example(
                ws,
                &f,
                1,
                &[
                    (1, "Kết luận: chỉ đạo chung"),
                    (
                        2,
                        "Các cơ quan, đơn vị bám sát nhiệm vụ, phấn đấu hoàn thành chỉ tiêu kế hoạch năm",
                    ),
                ],
            )?;
        }
    }
    // Kết luận
    {
        let ws = book.add_worksheet();
        let tasks = items(period.and_then(|p| get(p, "tasks")));
        let headers: Vec<&str> = form::TASK_COLUMNS.iter().map(|c| c.header).collect();
        table_sheet(
            ws,
            &f,
            form::TASKS,
            form::TASK_COLUMNS,
            &headers,
            tasks.len() as u32,
        )?;
        for (i, t) in tasks.iter().enumerate() {
            let r = i as u32 + 1;
            ws.write_number(r, 0, r as f64)?;
            put(ws, &f, r, 1, Kind::Codes, get(t, "to"))?;
            put(ws, &f, r, 2, Kind::Codes, get(t, "with"))?;
            put(ws, &f, r, 3, Kind::Text, get(t, "text"))?;
            fit(
                ws,
                r,
                &[(60.0, text(get(t, "text"))), (24.0, text(get(t, "with")))],
            )?;
            put(ws, &f, r, 4, Kind::Date, get(t, "due"))?;
        }
        if period.is_none() {
            example(
                ws,
                &f,
                1,
                &[
                    (1, "bqlda"),
                    (2, "quang-lam, quang-an"),
                    (3, "Đẩy nhanh tiến độ xây dựng 2 công trình nước sạch"),
                ],
            )?;
            ws.write_datetime_with_format(
                1,
                4,
                excel_date(NaiveDate::from_ymd_opt(2024, 9, 30).unwrap_or_default())?,
                &f.date,
            )?;
        }
    }
    // Đơn vị
    {
        let ws = book.add_worksheet();
        ws.set_name(form::UNITS)?;
        header_row(ws, &f, &form::UNIT_HEADERS)?;
        ws.set_column_width(0, 16)?;
        ws.set_column_width(1, 60)?;
        ws.set_column_width(2, 10)?;
        let rows = directory
            .units
            .iter()
            .map(|u| (&u.id, &u.name, "đơn vị"))
            .chain(directory.groups.iter().map(|g| (&g.id, &g.name, "nhóm")));
        for (i, (id, name, kind)) in rows.enumerate() {
            let r = i as u32 + 1;
            ws.write_string(r, 0, id)?;
            ws.write_string(r, 1, name)?;
            ws.write_string(r, 2, kind)?;
        }
    }
    book.save_to_buffer()
}
