//! Reads a filled form into the same positioned tree a TOML file gives, so the period is read
//! and validated by the same code. Each node's position is a cell; `Located` turns the tree
//! reader's problems back into "Sheet!E7" and adds the sheet reader's own.

use std::collections::HashSet;
use std::io::{Cursor, Read, Seek};
use std::ops::Range;

use calamine::{Data, ExcelDateTime, ExcelDateTimeType, Reader as _, Xlsx, XlsxError};
use chrono::NaiveDate;
use unicode_normalization::UnicodeNormalization;

use super::form::{self, Column, InfoRow, Kind, Role};
use super::guard::{self, WorkbookError};
use crate::input::diagnostics::{Problem, Problems, did_you_mean, visible};
use crate::input::tree::{Key, Node, Source, Value};

/// Where a node of the tree came from.
#[derive(Debug, Clone)]
enum Place {
    Book,
    Sheet(usize),
    /// A whole row of a table sheet (the row's table); 0-based row.
    Row(usize, u32),
    Cell(usize, u32, u32),
}

/// A sheet of the workbook as read: its name as the office spelt it and where its columns and
/// rows are, to place problems that name a key rather than a cell.
#[derive(Debug, Clone, Default)]
struct SheetMap {
    name: String,
    /// Table sheets: key → column.
    columns: Vec<(&'static str, u32)>,
    /// "Thông tin chung": key path → (row, value column).
    rows: Vec<(String, u32, u32)>,
}

/// The map from the tree's positions back to the workbook, and the sheet reader's problems.
#[derive(Debug, Default)]
pub struct Located {
    file: String,
    places: Vec<Place>,
    sheets: Vec<SheetMap>,
    own: Vec<(usize, String)>,
    /// Places the sheet reader already reported: the tree reader's message there would only
    /// repeat it less precisely.
    reported: HashSet<usize>,
    missing_sheets: Vec<&'static str>,
}

/// Column letters: 0 → A, 26 → AA. Any u32 (a crafted file's column) is named, none overflows.
pub fn column_name(col: u32) -> String {
    let mut n = u64::from(col) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// "XFD1048576" for 0-based (row, column).
fn cell_name(row: u32, col: u32) -> String {
    format!("{}{}", column_name(col), u64::from(row) + 1)
}

/// The form's sheets that are read, as the workbook names them (compared without case or
/// extra spaces): the sheets this reader lays out, and `guard` bounds. "Đơn vị" is only
/// written.
pub fn form_sheets<RS: Read + Seek>(book: &Xlsx<RS>) -> Vec<(&'static str, String)> {
    form_sheets_among(&book.sheet_names())
        .into_iter()
        .filter(|(wanted, _)| *wanted != form::UNITS)
        .collect()
}

/// Each form sheet found among `names`: (the form's name, the workbook's).
fn form_sheets_among(names: &[String]) -> Vec<(&'static str, String)> {
    let mut found = Vec::new();
    for wanted in form::SHEETS {
        if let Some(n) = names.iter().find(|n| same(n, wanted)) {
            found.push((*wanted, n.clone()));
        }
    }
    found
}

/// A cell as the sheet's XML gives it: a value, or a formula whose result the file does not
/// hold (written by a program that does not compute formulas, such as openpyxl). The formula's
/// text is None for a cell that shares another cell's formula.
#[derive(Debug, Clone)]
enum Streamed {
    Value(Data),
    Unsaved(Option<String>),
}

impl Default for Streamed {
    fn default() -> Self {
        Streamed::Value(Data::Empty)
    }
}

/// Why a form sheet's cells could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SheetError {
    /// A value beyond the form's bound: the workbook is refused whole.
    #[error(transparent)]
    Outside(WorkbookError),
    /// calamine's own error (the XML is damaged), reported at the sheet.
    #[error("{0}")]
    Unreadable(XlsxError),
}

/// Streams a sheet's cells through calamine's cell reader to `each`, refusing the first value
/// beyond `guard::MAX_ROWS` × `guard::MAX_COLUMNS` before anything is laid out. Empty cells are
/// skipped as calamine's own range skips them (a formatted empty cell far away is harmless); a
/// formula without its saved result is kept, to be named at its cell. Shared formulas are not
/// expanded (calamine sizes its table of them by an index the file gives).
fn stream_cells<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    file: &str,
    sheet: &str,
    mut each: impl FnMut(u32, u32, Streamed),
) -> Result<(), SheetError> {
    let mut reader = match book.worksheet_cells_reader(sheet) {
        Ok(reader) => reader,
        // A chart sheet named like a form sheet: calamine reads it as empty, so does the form.
        Err(XlsxError::NotAWorksheet(_)) => return Ok(()),
        Err(e) => return Err(SheetError::Unreadable(e)),
    };
    while let Some(record) = reader
        .next_cell_with_formula_metadata()
        .map_err(SheetError::Unreadable)?
    {
        let value = Data::from(record.value);
        let streamed = match (value, record.formula) {
            (Data::Empty, None) => continue,
            (Data::Empty, Some(formula)) => Streamed::Unsaved(match formula {
                calamine::XlsxFormulaMetadata::Normal { formula }
                | calamine::XlsxFormulaMetadata::Shared { formula, .. } => Some(formula),
                _ => None,
            }),
            (value, _) => Streamed::Value(value),
        };
        let (row, col) = record.pos;
        if row >= guard::MAX_ROWS || col >= guard::MAX_COLUMNS {
            return Err(SheetError::Outside(WorkbookError::CellOutsideForm {
                name: file.to_string(),
                sheet: visible(sheet),
                cell: cell_name(row, col),
            }));
        }
        each(row, col, streamed);
    }
    Ok(())
}

/// Checks that a form sheet holds nothing beyond the form's bound, keeping nothing.
pub fn check_sheet<RS: Read + Seek>(
    book: &mut Xlsx<RS>,
    file: &str,
    sheet: &str,
) -> Result<(), SheetError> {
    stream_cells(book, file, sheet, |_, _, _| ())
}

/// A form sheet laid out for reading: row by row, each row as long as its last cell, so at most
/// `MAX_ROWS` × `MAX_COLUMNS` cells; the last cell written at a position wins, as in calamine's
/// own range. `get_value`, `start` and `end` answer as calamine's range does (the first and
/// last row and column holding a cell).
#[derive(Debug, Default)]
struct Sheet {
    rows: Vec<Vec<Streamed>>,
    bounds: Option<((u32, u32), (u32, u32))>,
}

impl Sheet {
    fn read<RS: Read + Seek>(
        book: &mut Xlsx<RS>,
        file: &str,
        sheet: &str,
    ) -> Result<Sheet, SheetError> {
        let mut out = Sheet::default();
        stream_cells(book, file, sheet, |row, col, cell| out.put(row, col, cell))?;
        Ok(out)
    }

    fn put(&mut self, row: u32, col: u32, cell: Streamed) {
        let (r, c) = (row as usize, col as usize);
        if self.rows.len() <= r {
            self.rows.resize_with(r + 1, Vec::new);
        }
        let line = &mut self.rows[r];
        if line.len() <= c {
            line.resize_with(c + 1, Streamed::default);
        }
        line[c] = cell;
        self.bounds = Some(match self.bounds {
            None => ((row, col), (row, col)),
            Some(((r0, c0), (r1, c1))) => ((r0.min(row), c0.min(col)), (r1.max(row), c1.max(col))),
        });
    }

    fn cell(&self, row: u32, col: u32) -> Option<&Streamed> {
        self.rows.get(row as usize)?.get(col as usize)
    }

    fn get_value(&self, (row, col): (u32, u32)) -> Option<&Data> {
        match self.cell(row, col)? {
            Streamed::Value(data) => Some(data),
            Streamed::Unsaved(_) => None,
        }
    }

    /// The formula of a cell that has one but no saved result (its text, if the file gives it).
    fn unsaved(&self, row: u32, col: u32) -> Option<Option<&str>> {
        match self.cell(row, col)? {
            Streamed::Unsaved(formula) => Some(formula.as_deref()),
            Streamed::Value(_) => None,
        }
    }

    fn start(&self) -> Option<(u32, u32)> {
        self.bounds.map(|(start, _)| start)
    }

    fn end(&self) -> Option<(u32, u32)> {
        self.bounds.map(|(_, end)| end)
    }

    /// Nothing in the cell: no value and no formula waiting for one.
    fn is_blank(&self, row: u32, col: u32) -> bool {
        self.unsaved(row, col).is_none() && is_empty(self.get_value((row, col)))
    }
}

/// A formula whose result the file does not hold: without it there is no figure to read, and
/// "thiếu khóa bắt buộc" would send the clerk looking for a cell that is not empty.
fn unsaved_formula_message(formula: Option<&str>) -> String {
    let formula = match formula {
        Some(f) => {
            let short: String = f.chars().take(60).collect();
            let more = if f.chars().count() > 60 { "…" } else { "" };
            format!(" «={short}{more}»")
        }
        None => String::new(),
    };
    format!(
        "ô có công thức{formula} nhưng tệp không lưu kết quả của công thức (tệp được ghi bằng chương trình không tính công thức); hãy mở tệp trong Excel hoặc LibreOffice Calc, lưu lại rồi dùng tệp vừa lưu, hoặc gõ thẳng giá trị vào ô"
    )
}

/// A workbook refused whole: a cell beyond the form's bound at its sheet and cell, as every
/// cell problem is named; the rest about the whole file.
fn refused(file: &str, error: WorkbookError) -> Problem {
    match &error {
        WorkbookError::CellOutsideForm { sheet, cell, .. } => Problem {
            file: file.to_string(),
            line: 0,
            column: 0,
            path: format!("{sheet}!{cell}"),
            message: format!("ô {}", guard::cell_outside_message()),
        },
        _ => whole_file(file, error.to_string()),
    }
}

fn whole_file(file: &str, message: String) -> Problem {
    Problem {
        file: file.to_string(),
        line: 1,
        column: 1,
        path: String::new(),
        message,
    }
}

impl Located {
    fn label(&self, place: &Place) -> String {
        match place {
            Place::Book => String::new(),
            Place::Sheet(s) => self.sheets[*s].name.clone(),
            Place::Row(s, r) => format!("{}!{}:{}", self.sheets[*s].name, r + 1, r + 1),
            Place::Cell(s, r, c) => {
                format!("{}!{}{}", self.sheets[*s].name, column_name(*c), r + 1)
            }
        }
    }

    fn problem(&self, index: usize, message: String) -> Problem {
        Problem {
            file: self.file.clone(),
            // Line 0: a workbook has no lines; `path` names the sheet and cell.
            line: 0,
            column: index + 1,
            path: self.label(&self.places[index]),
            message,
        }
    }

    /// The sheet reader's own problems.
    pub fn own_problems(&self) -> Problems {
        Problems(
            self.own
                .iter()
                .map(|(i, m)| self.problem(*i, m.clone()))
                .collect(),
        )
    }

    fn find_cell(&self, sheet: usize, row: u32, col: u32) -> Option<usize> {
        self.places.iter().position(
            |p| matches!(p, Place::Cell(s, r, c) if *s == sheet && *r == row && *c == col),
        )
    }

    /// Turns the tree reader's problems about this workbook into sheet-and-cell problems.
    pub fn locate(&self, problems: Problems) -> Problems {
        let mut out = Problems::default();
        for p in problems.0 {
            if p.file != self.file || p.line == 0 {
                out.push(p);
                continue;
            }
            let index = p.line - 1;
            let Some(place) = self.places.get(index) else {
                out.push(p);
                continue;
            };
            let last_key = p
                .path
                .rsplit('.')
                .next()
                .unwrap_or("")
                .split('[')
                .next()
                .unwrap_or("");
            match place {
                Place::Cell(..) => {
                    if !self.reported.contains(&index) {
                        out.push(self.problem(index, p.message));
                    }
                }
                Place::Row(s, r) => {
                    let column = self.sheets[*s]
                        .columns
                        .iter()
                        .find(|(k, _)| *k == last_key)
                        .map(|(_, c)| *c);
                    match column {
                        Some(c) => match self.find_cell(*s, *r, c) {
                            Some(i) if self.reported.contains(&i) => {}
                            Some(i) => out.push(self.problem(i, p.message)),
                            None => out.push(Problem {
                                path: format!(
                                    "{}!{}{}",
                                    self.sheets[*s].name,
                                    column_name(c),
                                    r + 1
                                ),
                                ..self.problem(index, p.message)
                            }),
                        },
                        None => {
                            let header = self.header_of(*s, last_key);
                            let message = match header {
                                Some(h) => format!("thiếu cột «{h}» ({})", p.message),
                                None => format!("{} ({})", p.message, p.path),
                            };
                            out.push(Problem {
                                path: self.sheets[*s].name.clone(),
                                ..self.problem(index, message)
                            });
                        }
                    }
                }
                Place::Sheet(s) => out.0.extend(self.locate_in_info(*s, index, &p)),
                Place::Book => {
                    let sheet = sheet_of_top_key(&p.path);
                    if !self.missing_sheets.contains(&sheet) {
                        out.push(Problem {
                            path: sheet.to_string(),
                            ..self.problem(index, format!("{} ({})", p.message, p.path))
                        });
                    }
                }
            }
        }
        out.extend(self.own_problems());
        out
    }

    fn header_of(&self, sheet: usize, key: &str) -> Option<&'static str> {
        let name = &self.sheets[sheet].name;
        form::SHEETS
            .iter()
            .find(|f| same(f, name))
            .and_then(|f| form::columns(f))
            .and_then(|cols| {
                cols.iter()
                    .find(|c| matches!(c.role, Role::Key(k, _) if k == key))
                    .map(|c| c.header)
            })
    }

    /// A problem placed on a whole sheet: in "Thông tin chung" the key path names the row.
    fn locate_in_info(&self, s: usize, index: usize, p: &Problem) -> Option<Problem> {
        let sheet = &self.sheets[s];
        let rows = form::info_rows();
        let schema = rows
            .iter()
            .find(|r| r.path == p.path || p.path.starts_with(&format!("{}.", r.path)))
            .or_else(|| {
                rows.iter()
                    .find(|r| r.path.starts_with(&format!("{}.", p.path)))
            });
        let Some(schema) = schema else {
            return Some(Problem {
                path: sheet.name.clone(),
                ..self.problem(index, format!("{} ({})", p.message, p.path))
            });
        };
        match sheet.rows.iter().find(|(path, _, _)| *path == schema.path) {
            Some((_, row, col)) => {
                let at = self.find_cell(s, *row, *col).unwrap_or(index);
                if self.reported.contains(&at) {
                    return None;
                }
                Some(Problem {
                    path: format!("{}!{}{}", sheet.name, column_name(*col), row + 1),
                    ..self.problem(at, format!("{} (dòng «{}»)", p.message, schema.label))
                })
            }
            None => Some(Problem {
                path: sheet.name.clone(),
                ..self.problem(
                    index,
                    format!("thiếu dòng «{}» ({})", schema.label, p.message),
                )
            }),
        }
    }
}

/// The sheet that holds a top-level key of the period file.
fn sheet_of_top_key(path: &str) -> &'static str {
    match path.split(['.', '[']).next().unwrap_or("") {
        "programs" => form::FUNDS,
        "tasks" => form::TASKS,
        "report" => form::RESULTS,
        "conclusions" => form::NEXT,
        _ => form::INFO,
    }
}

/// Header and label comparison: NFC, spaces and line breaks collapsed, case ignored.
pub fn normalize(s: &str) -> String {
    let s: String = s.nfc().collect();
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The form's name closest to what the office typed (compared without case or extra spaces).
fn closest<'a>(typed: &str, names: &[&'a str]) -> Option<&'a str> {
    let normalized: Vec<String> = names.iter().map(|n| normalize(n)).collect();
    let close = did_you_mean(&normalize(typed), normalized.iter().map(String::as_str))?;
    let at = normalized.iter().position(|n| n == close)?;
    Some(names[at])
}

fn same(a: &str, b: &str) -> bool {
    normalize(a) == normalize(b)
}

/// A number typed as text, Vietnamese style: "74,4" is 74.4 and "61.864" is 61864; a point
/// that does not group thousands ("74.4") is a decimal point.
pub fn parse_number(text: &str) -> Option<f64> {
    let t: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{202f}')
        .collect();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, t.strip_prefix('+').unwrap_or(&t)),
    };
    if digits.is_empty()
        || !digits
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    let plain = if digits.contains(',') {
        let (int, frac) = digits.rsplit_once(',')?;
        if frac.contains('.') || int.contains(',') {
            return None;
        }
        format!("{}.{frac}", group_free(int)?)
    } else if digits.contains('.') {
        match group_free(digits) {
            Some(n) if digits.split('.').count() > 1 && is_grouped(digits) => n,
            _ => digits.to_string(),
        }
    } else {
        digits.to_string()
    };
    plain
        .parse::<f64>()
        .ok()
        .filter(|x| x.is_finite())
        .map(|x| sign * x)
}

/// "61.864" → "61864" when the points group thousands; None if they are misplaced.
fn group_free(int: &str) -> Option<String> {
    if !int.contains('.') {
        return Some(int.to_string());
    }
    is_grouped(int).then(|| int.replace('.', ""))
}

fn is_grouped(int: &str) -> bool {
    let mut parts = int.split('.');
    let first = parts.next().unwrap_or("");
    (1..=3).contains(&first.len()) && parts.all(|p| p.len() == 3)
}

/// A date typed as text: "21/6/2024", "21-06-2024", "21.6.2024" or "2024-06-21".
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    let t = text.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = t.split(['/', '-', '.']).map(str::trim).collect();
    if parts.len() != 3 || parts[2].len() != 4 {
        return None;
    }
    let n = |s: &str| s.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(n(parts[2])? as i32, n(parts[1])?, n(parts[0])?)
}

fn serial_date(serial: f64, is_1904: bool) -> Option<NaiveDate> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let (y, m, d, ..) =
        ExcelDateTime::new(serial, ExcelDateTimeType::DateTime, is_1904).to_ymd_hms_milli();
    NaiveDate::from_ymd_opt(y.into(), m.into(), d.into())
}

fn number_text(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 9e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn cell_text(data: &Data) -> String {
    match data {
        Data::String(s) => s.nfc().collect::<String>().trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(x) => number_text(*x),
        Data::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_string(),
        Data::DateTime(d) => {
            let (y, m, day, ..) = d.to_ymd_hms_milli();
            format!("{day}/{m}/{y}")
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("{e}"),
        Data::Empty => String::new(),
    }
}

fn is_empty(data: Option<&Data>) -> bool {
    match data {
        None | Some(Data::Empty) => true,
        Some(Data::String(s)) => s.trim().is_empty(),
        _ => false,
    }
}

/// Converts a cell to a tree value by the column's kind; Err is the problem, in Vietnamese.
fn convert(data: &Data, kind: Kind, is_1904: bool) -> Result<Value, String> {
    if let Data::Error(e) = data {
        return Err(format!("ô có lỗi công thức ({e})"));
    }
    let text = cell_text(data);
    match kind {
        Kind::Text | Kind::Person | Kind::Texts | Kind::Persons => Ok(Value::String(text)),
        Kind::Codes => Ok(Value::String(text)),
        Kind::Number | Kind::Integer => {
            let x = match data {
                Data::Int(i) => *i as f64,
                Data::Float(x) => *x,
                Data::String(s) => parse_number(s)
                    .ok_or_else(|| format!("giá trị phải là số, không phải «{}»", text))?,
                Data::DateTime(_) | Data::DateTimeIso(_) => {
                    return Err(format!("giá trị phải là số, không phải ngày {text}"));
                }
                _ => return Err(format!("giá trị phải là số, không phải «{text}»")),
            };
            if kind == Kind::Integer {
                if x.fract() != 0.0 || x.abs() >= 9e15 {
                    return Err(format!("giá trị phải là số nguyên, không phải «{text}»"));
                }
                return Ok(Value::Integer(x as i64));
            }
            Ok(if x.fract() == 0.0 && x.abs() < 9e15 {
                Value::Integer(x as i64)
            } else {
                Value::Float(x)
            })
        }
        Kind::Date => {
            let date = match data {
                Data::DateTime(d) => {
                    let (y, m, day, ..) = d.to_ymd_hms_milli();
                    NaiveDate::from_ymd_opt(y.into(), m.into(), day.into())
                }
                Data::Float(x) => serial_date(*x, is_1904),
                Data::Int(i) => serial_date(*i as f64, is_1904),
                Data::DateTimeIso(s) => s.get(..10).and_then(parse_date),
                _ => parse_date(&text),
            };
            date.map(|d| Value::Datetime(d.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| {
                    format!("ngày không hợp lệ «{text}» (cần dạng ngày/tháng/năm, ví dụ 21/6/2024)")
                })
        }
    }
}

/// Builds the tree and its map of places together.
struct Builder {
    text: String,
    located: Located,
    is_1904: bool,
    /// Where each place's line starts in `text`, in order.
    starts: Vec<usize>,
}

impl Builder {
    fn place(&mut self, place: Place) -> Range<usize> {
        // One line per place: the tree reader's line numbers index `places`, so a line break
        // in a sheet's name (matched to the form ignoring spaces) must not add a line.
        let label = self.located.label(&place).replace(['\n', '\r'], " ");
        let start = self.text.len();
        self.text.push_str(&label);
        self.text.push('\n');
        self.located.places.push(place);
        self.starts.push(start);
        start..start + label.len()
    }

    /// The place whose line `span` is on: found by halving, so reporting stays linear in the
    /// cells of a sheet full of problems.
    fn index_of(&self, span: &Range<usize>) -> usize {
        self.starts
            .partition_point(|&start| start <= span.start)
            .saturating_sub(1)
    }

    fn report(&mut self, span: &Range<usize>, message: String) {
        let index = self.index_of(span);
        self.located.reported.insert(index);
        self.located.own.push((index, message));
    }

    fn add_sheet(&mut self, name: &str) -> usize {
        self.located.sheets.push(SheetMap {
            name: name.to_string(),
            ..SheetMap::default()
        });
        self.located.sheets.len() - 1
    }

    /// A cell's node by kind, or None (empty, or reported).
    fn cell(
        &mut self,
        sheet: usize,
        range: &Sheet,
        row: u32,
        col: u32,
        kind: Kind,
    ) -> Option<Node> {
        let data = range.get_value((row, col));
        let span = self.place(Place::Cell(sheet, row, col));
        if let Some(formula) = range.unsaved(row, col) {
            self.report(&span, unsaved_formula_message(formula));
            return None;
        }
        if is_empty(data) {
            return None;
        }
        let data = data?;
        match convert(data, kind, self.is_1904) {
            Ok(Value::String(s)) if kind == Kind::Codes => {
                let items = s
                    .split([',', ';', '\n'])
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Node {
                        value: Value::String(c.to_string()),
                        span: span.clone(),
                    })
                    .collect();
                Some(Node {
                    value: Value::Array(items),
                    span,
                })
            }
            Ok(value) => Some(Node { value, span }),
            Err(message) => {
                self.report(&span, message);
                None
            }
        }
    }
}

fn key(name: &str, span: &Range<usize>) -> Key {
    Key {
        name: name.to_string(),
        span: span.clone(),
    }
}

fn entry<'a>(
    table: &'a mut Vec<(Key, Node)>,
    name: &str,
    span: &Range<usize>,
    empty: Value,
) -> &'a mut Node {
    let at = match table.iter().position(|(k, _)| k.name == name) {
        Some(i) => i,
        None => {
            table.push((
                key(name, span),
                Node {
                    value: empty,
                    span: span.clone(),
                },
            ));
            table.len() - 1
        }
    };
    &mut table[at].1
}

/// Puts `node` at `path` ("documents.review_report.signer.name"), making tables on the way;
/// a list path gets the node appended.
fn insert(root: &mut Vec<(Key, Node)>, path: &str, node: Node, region: &Range<usize>, list: bool) {
    let parts: Vec<&str> = path.split('.').collect();
    let mut table = root;
    for part in &parts[..parts.len() - 1] {
        let child = entry(table, part, region, Value::Table(Vec::new()));
        let Value::Table(entries) = &mut child.value else {
            return;
        };
        table = entries;
    }
    let last = parts[parts.len() - 1];
    if list {
        let span = node.span.clone();
        let child = entry(table, last, &span, Value::Array(Vec::new()));
        if let Value::Array(items) = &mut child.value {
            items.push(node);
        }
    } else {
        table.push((key(last, &node.span), node));
    }
}

/// Reads the workbook's bytes. Err only if the file is not a workbook at all, or is refused
/// whole before it is read (see `guard`): the problem names the file, and the sheet and cell
/// where there is one.
pub fn read(name: &str, bytes: Vec<u8>) -> Result<(Source, Node, Located), Problem> {
    // Bounded before calamine inflates anything or lays a sheet out (the web page checks with
    // the config's `[limits]` before storing; the command line with their defaults).
    super::guard::check(name, &bytes, &crate::config::TemplateLimits::default())
        .map_err(|e| refused(name, e))?;
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e| whole_file(name, format!("không đọc được bảng tính Excel (.xlsx): {e}")))?;
    let mut b = Builder {
        text: String::new(),
        located: Located {
            file: name.to_string(),
            ..Located::default()
        },
        is_1904: book.has_1904_epoch(),
        starts: Vec::new(),
    };
    let root_span = b.place(Place::Book);
    let names = book.sheet_names();
    let found = form_sheets_among(&names);
    let missing: Vec<&'static str> = form::SHEETS
        .iter()
        .copied()
        .filter(|w| !found.iter().any(|(f, _)| f == w))
        .collect();
    for n in &names {
        if found.iter().any(|(_, f)| f == n) {
            continue;
        }
        // A sheet the office added for itself is its own business; one that looks like a
        // misspelt form sheet is the form sheet the reader cannot find.
        if let Some(close) = closest(n, &missing) {
            let s = b.add_sheet(n);
            let span = b.place(Place::Sheet(s));
            b.report(
                &span,
                format!("trang tính «{n}» không có trong biểu mẫu (có phải là «{close}»?)"),
            );
            b.located.missing_sheets.push(close);
        }
    }
    for required in [form::INFO, form::FUNDS, form::TASKS] {
        if missing.contains(&required) && !b.located.missing_sheets.contains(&required) {
            b.report(
                &root_span,
                format!("thiếu trang tính «{required}» của biểu mẫu"),
            );
            b.located.missing_sheets.push(required);
        }
    }

    let mut root: Vec<(Key, Node)> = Vec::new();
    let sheet = |wanted: &str| {
        found
            .iter()
            .find(|(f, _)| *f == wanted)
            .map(|(_, n)| n.clone())
    };
    let mut range_of = |sheet: &str, b: &mut Builder| match Sheet::read(&mut book, name, sheet) {
        Ok(sheet) => Some(sheet),
        Err(e) => {
            let s = b.add_sheet(sheet);
            let span = b.place(Place::Sheet(s));
            b.report(&span, format!("không đọc được trang tính: {e}"));
            None
        }
    };

    if let Some(name) = sheet(form::INFO)
        && let Some(range) = range_of(&name, &mut b)
    {
        read_info(&mut b, &name, &range, &mut root);
    }
    let mut programs: Vec<(Option<String>, Node)> = Vec::new();
    let funds = sheet(form::FUNDS).and_then(|n| range_of(&n, &mut b).map(|r| (n, r)));
    let programs_span = match &funds {
        Some((name, range)) => {
            read_table(&mut b, name, range, form::FUND_COLUMNS, |_, row, cells| {
                let mut t = Vec::new();
                let mut id = None;
                let mut budget = Vec::new();
                for (k, node) in cells {
                    match k {
                        "allocated" | "disbursed" => budget.push((key(k, &node.span), node)),
                        _ => {
                            if k == "id"
                                && let Value::String(s) = &node.value
                            {
                                id = Some(s.clone());
                            }
                            t.push((key(k, &node.span), node));
                        }
                    }
                }
                if !budget.is_empty() {
                    t.push((
                        key("budget", &row),
                        Node {
                            value: Value::Table(budget),
                            span: row.clone(),
                        },
                    ));
                }
                programs.push((
                    id,
                    Node {
                        value: Value::Table(t),
                        span: row,
                    },
                ));
            })
        }
        None => root_span.clone(),
    };
    let program_ids: Vec<String> = programs.iter().filter_map(|(id, _)| id.clone()).collect();
    let find_program = |b: &mut Builder, node: &Node| -> Option<usize> {
        let Value::String(id) = &node.value else {
            return None;
        };
        match programs
            .iter()
            .position(|(p, _)| p.as_deref() == Some(id.as_str()))
        {
            Some(i) => Some(i),
            None => {
                let hint = match did_you_mean(id, program_ids.iter().map(String::as_str)) {
                    Some(close) => format!(" (có phải là «{close}»?)"),
                    None => format!(
                        " (các mã trong trang «{}»: {})",
                        form::FUNDS,
                        program_ids.join(", ")
                    ),
                };
                b.report(
                    &node.span,
                    format!(
                        "không có chương trình mã «{id}» trong trang «{}»{hint}",
                        form::FUNDS
                    ),
                );
                None
            }
        }
    };
    let mut additions: Vec<(usize, &'static str, Node)> = Vec::new();
    if let Some(name) = sheet(form::INDICATORS)
        && let Some(range) = range_of(&name, &mut b)
    {
        read_table(
            &mut b,
            &name,
            &range,
            form::INDICATOR_COLUMNS,
            |b, row, cells| {
                let mut t = Vec::new();
                let mut program = None;
                let mut named = false;
                for (k, node) in cells {
                    if k == "program" {
                        named = true;
                        program = find_program(b, &node);
                    } else {
                        t.push((key(k, &node.span), node));
                    }
                }
                match program {
                    Some(p) => additions.push((
                        p,
                        "indicators",
                        Node {
                            value: Value::Table(t),
                            span: row,
                        },
                    )),
                    // An unknown code was reported at its cell already.
                    None if named => {}
                    None => b.report(
                        &row,
                        "chỉ tiêu không ghi mã chương trình (cột «Chương trình»)".to_string(),
                    ),
                }
            },
        );
    }
    let mut report: Vec<(Key, Node)> = Vec::new();
    let mut conclusions: Vec<(Key, Node)> = Vec::new();
    let mut results_span = root_span.clone();
    if let Some(name) = sheet(form::RESULTS)
        && let Some(range) = range_of(&name, &mut b)
    {
        results_span = read_table(
            &mut b,
            &name,
            &range,
            form::RESULT_COLUMNS,
            |b, row, cells| {
                let get = |k: &str| cells.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
                let Some(text) = get("text") else {
                    b.report(&row, "dòng không có «Nội dung»".to_string());
                    return;
                };
                if let Some(program) = get("program") {
                    if let Some(p) = find_program(b, &program) {
                        additions.push((p, "results", text));
                    }
                    return;
                }
                match get("part") {
                    Some(part) => {
                        let Value::String(label) = &part.value else {
                            return;
                        };
                        match form::RESULT_PARTS.iter().find(|(l, _)| same(l, label)) {
                            Some((_, path)) => {
                                let key_name = path.rsplit('.').next().unwrap_or(path);
                                insert(&mut report, key_name, text, &part.span, true);
                            }
                            None => report_part(b, &part, label, form::RESULT_PARTS, true),
                        }
                    }
                    None => b.report(
                        &row,
                        format!(
                            "cần ghi «Phần» hoặc mã «Chương trình» (các phần: {})",
                            parts_list(form::RESULT_PARTS)
                        ),
                    ),
                }
            },
        );
    }
    if let Some(name) = sheet(form::NEXT)
        && let Some(range) = range_of(&name, &mut b)
    {
        read_table(
            &mut b,
            &name,
            &range,
            form::NEXT_COLUMNS,
            |b, row, cells| {
                let get = |k: &str| cells.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
                let Some(text) = get("text") else {
                    b.report(&row, "dòng không có «Nội dung»".to_string());
                    return;
                };
                let Some(part) = get("part") else {
                    b.report(
                        &row,
                        format!(
                            "cần ghi «Phần» (một trong: {})",
                            parts_list(form::NEXT_PARTS)
                        ),
                    );
                    return;
                };
                let Value::String(label) = &part.value else {
                    return;
                };
                match form::NEXT_PARTS.iter().find(|(l, _)| same(l, label)) {
                    Some((_, path)) => {
                        let (top, key_name) = path.split_once('.').unwrap_or(("report", path));
                        let target = if top == "report" {
                            &mut report
                        } else {
                            &mut conclusions
                        };
                        insert(target, key_name, text, &part.span, true);
                    }
                    None => report_part(b, &part, label, form::NEXT_PARTS, false),
                }
            },
        );
    }
    let mut tasks = Vec::new();
    let tasks_span = match sheet(form::TASKS).and_then(|n| range_of(&n, &mut b).map(|r| (n, r))) {
        Some((name, range)) => read_table(
            &mut b,
            &name,
            &range,
            form::TASK_COLUMNS,
            |_, row, cells| {
                let t = cells
                    .into_iter()
                    .map(|(k, n)| (key(k, &n.span), n))
                    .collect();
                tasks.push(Node {
                    value: Value::Table(t),
                    span: row,
                });
            },
        ),
        None => root_span.clone(),
    };

    for (p, list, node) in additions {
        let (_, program) = &mut programs[p];
        let span = program.span.clone();
        if let Value::Table(t) = &mut program.value {
            insert(t, list, node, &span, true);
        }
    }
    if !report.is_empty() {
        root.push((
            key("report", &results_span),
            Node {
                value: Value::Table(report),
                span: results_span.clone(),
            },
        ));
    }
    if !conclusions.is_empty() {
        root.push((
            key("conclusions", &results_span),
            Node {
                value: Value::Table(conclusions),
                span: results_span,
            },
        ));
    }
    root.push((
        key("programs", &programs_span),
        Node {
            value: Value::Array(programs.into_iter().map(|(_, n)| n).collect()),
            span: programs_span,
        },
    ));
    root.push((
        key("tasks", &tasks_span),
        Node {
            value: Value::Array(tasks),
            span: tasks_span,
        },
    ));
    let node = Node {
        value: Value::Table(root),
        span: root_span,
    };
    let source = Source::new(name, b.text);
    Ok((source, node, b.located))
}

fn parts_list(parts: &[(&str, &str)]) -> String {
    parts
        .iter()
        .map(|(l, _)| format!("«{l}»"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn report_part(b: &mut Builder, part: &Node, label: &str, parts: &[(&str, &str)], program: bool) {
    let names: Vec<&str> = parts.iter().map(|(l, _)| *l).collect();
    let hint = match closest(label, &names) {
        Some(close) => format!(" (có phải là «{close}»?)"),
        None => format!(" (các phần: {})", parts_list(parts)),
    };
    let extra = if program && same(label, form::PROGRAM_RESULT_PART) {
        " — kết quả của chương trình cần ghi mã ở cột «Chương trình»".to_string()
    } else {
        String::new()
    };
    b.report(
        &part.span,
        format!("phần «{label}» không có trong biểu mẫu{hint}{extra}"),
    );
}

/// Finds the header row: the one (among the first rows) naming most of the form's columns.
/// Header cells merged over two rows leave the lower one empty; such a column takes the text
/// above it.
fn headers(range: &Sheet, columns: &[Column]) -> Option<(u32, Vec<(u32, String)>)> {
    let (start_row, start_col) = range.start()?;
    let (end_row, end_col) = range.end()?;
    let known = |text: &str| {
        columns
            .iter()
            .any(|c| same(c.header, text) || c.aliases.iter().any(|a| same(a, text)))
    };
    let mut best: Option<(usize, u32)> = None;
    for row in start_row..=end_row.min(start_row + 9) {
        let count = (start_col..=end_col)
            .filter(|&c| known(&range.get_value((row, c)).map(cell_text).unwrap_or_default()))
            .count();
        if count > 0 && best.is_none_or(|(n, _)| count > n) {
            best = Some((count, row));
        }
    }
    let (_, header_row) = best?;
    let mut out = Vec::new();
    for c in start_col..=end_col {
        let text = (start_row..=header_row)
            .rev()
            .map(|r| range.get_value((r, c)).map(cell_text).unwrap_or_default())
            .find(|t| !t.is_empty());
        if let Some(text) = text {
            out.push((c, text));
        }
    }
    Some((header_row, out))
}

/// Reads a table sheet: matches its headers to the form's columns, then hands each data row's
/// cells (key, node) to `row`. Returns the sheet's span.
fn read_table(
    b: &mut Builder,
    name: &str,
    range: &Sheet,
    columns: &'static [Column],
    mut row: impl FnMut(&mut Builder, Range<usize>, Vec<(&'static str, Node)>),
) -> Range<usize> {
    let s = b.add_sheet(name);
    let sheet_span = b.place(Place::Sheet(s));
    let Some((header_row, found)) = headers(range, columns) else {
        if range.start().is_some() {
            let expected: Vec<&str> = columns.iter().map(|c| c.header).collect();
            b.report(
                &sheet_span,
                format!(
                    "không tìm thấy dòng tiêu đề (cần các cột: {})",
                    expected.join(" | ")
                ),
            );
        }
        return sheet_span;
    };
    let mut keyed: Vec<(u32, Column)> = Vec::new();
    let mut number_col = None;
    for (c, text) in found {
        let column = columns
            .iter()
            .find(|col| same(col.header, &text) || col.aliases.iter().any(|a| same(a, &text)));
        match column {
            Some(col) => {
                if keyed.iter().any(|(_, k)| k.header == col.header) {
                    let span = b.place(Place::Cell(s, header_row, c));
                    b.report(&span, format!("cột «{}» bị lặp", col.header));
                    continue;
                }
                if col.role == Role::Number {
                    number_col = Some(c);
                }
                if let Role::Key(k, _) = col.role {
                    b.located.sheets[s].columns.push((k, c));
                }
                keyed.push((c, *col));
            }
            None => {
                let names: Vec<&str> = columns.iter().map(|c| c.header).collect();
                let hint = match closest(&text, &names) {
                    Some(close) => format!("có phải là «{close}»?"),
                    None => format!("các cột của biểu mẫu: {}", names.join(" | ")),
                };
                let span = b.place(Place::Cell(s, header_row, c));
                b.report(
                    &span,
                    format!("cột «{text}» không có trong biểu mẫu ({hint})"),
                );
            }
        }
    }
    let Some((end_row, _)) = range.end() else {
        return sheet_span;
    };
    for r in header_row + 1..=end_row {
        if let Some(c) = number_col
            && same(
                &range.get_value((r, c)).map(cell_text).unwrap_or_default(),
                form::EXAMPLE_MARK,
            )
        {
            continue;
        }
        let data_cols: Vec<(u32, &'static str, Kind)> = keyed
            .iter()
            .filter_map(|(c, col)| match col.role {
                Role::Key(k, kind) => Some((*c, k, kind)),
                _ => None,
            })
            .collect();
        if data_cols.iter().all(|(c, _, _)| range.is_blank(r, *c)) {
            continue;
        }
        let row_span = b.place(Place::Row(s, r));
        let mut cells = Vec::new();
        for (c, k, kind) in data_cols {
            if let Some(node) = b.cell(s, range, r, c, kind) {
                cells.push((k, node));
            }
        }
        row(b, row_span, cells);
    }
    sheet_span
}

/// Reads "Thông tin chung": each row's label names a key path of the period file.
fn read_info(b: &mut Builder, name: &str, range: &Sheet, root: &mut Vec<(Key, Node)>) {
    let s = b.add_sheet(name);
    let region = b.place(Place::Sheet(s));
    let Some(((start_row, _), (end_row, end_col))) = range.start().zip(range.end()) else {
        return;
    };
    // Columns: where the header says, else A, B, C.
    let (mut label_col, mut value_col, mut title_col) = (0, 1, 2);
    let mut first = start_row;
    for r in start_row..=end_row.min(start_row + 4) {
        let find = |h: &str| {
            (0..=end_col).find(|&c| {
                same(
                    &range.get_value((r, c)).map(cell_text).unwrap_or_default(),
                    h,
                )
            })
        };
        if let Some(c) = find(form::INFO_HEADERS[0]) {
            label_col = c;
            value_col = find(form::INFO_HEADERS[1]).unwrap_or(c + 1);
            title_col = find(form::INFO_HEADERS[2]).unwrap_or(value_col + 1);
            first = r + 1;
            break;
        }
    }
    let schema: Vec<InfoRow> = form::info_rows();
    let mut seen: Vec<String> = Vec::new();
    for r in first..=end_row {
        let label = range
            .get_value((r, label_col))
            .map(cell_text)
            .unwrap_or_default();
        if label.is_empty() {
            continue;
        }
        let value_empty = range.is_blank(r, value_col);
        let title_empty = range.is_blank(r, title_col);
        let Some(row) = schema.iter().find(|x| same(&x.label, &label)) else {
            // Section headings and notes have no value; a value under an unknown label is data
            // the reader would drop.
            if !(value_empty && title_empty) {
                let labels: Vec<&str> = schema.iter().map(|x| x.label.as_str()).collect();
                let hint = match closest(&label, &labels) {
                    Some(close) => format!(" (có phải là «{close}»?)"),
                    None => String::new(),
                };
                let span = b.place(Place::Cell(s, r, label_col));
                b.report(
                    &span,
                    format!("dòng «{label}» không có trong biểu mẫu{hint}"),
                );
            }
            continue;
        };
        let repeatable = matches!(row.kind, Kind::Texts | Kind::Persons);
        b.located.sheets[s]
            .rows
            .push((row.path.clone(), r, value_col));
        // The part a row belongs to exists once its row does, so a blank required value is
        // reported at its cell rather than as a whole missing part.
        if let Some((top, _)) = row.path.split_once('.') {
            entry(root, top, &region, Value::Table(Vec::new()));
        }
        if !repeatable && seen.contains(&row.path) {
            let span = b.place(Place::Cell(s, r, label_col));
            b.report(&span, format!("dòng «{}» bị lặp", row.label));
            continue;
        }
        seen.push(row.path.clone());
        match row.kind {
            Kind::Person | Kind::Persons => {
                if value_empty && title_empty {
                    continue;
                }
                let row_span = b.place(Place::Row(s, r));
                let mut person = Vec::new();
                for (k, c) in [("name", value_col), ("title", title_col)] {
                    if let Some(node) = b.cell(s, range, r, c, Kind::Text) {
                        person.push((key(k, &node.span), node));
                    }
                }
                b.located.sheets[s].columns = vec![("name", value_col), ("title", title_col)];
                let node = Node {
                    value: Value::Table(person),
                    span: row_span,
                };
                if row.kind == Kind::Persons {
                    insert(root, &row.path, node, &region, true);
                } else {
                    // A signer's authority is its own row: merge the name and title into it.
                    let Value::Table(entries) = node.value else {
                        continue;
                    };
                    for (k, n) in entries {
                        insert(root, &format!("{}.{}", row.path, k.name), n, &region, false);
                    }
                }
            }
            kind => {
                let Some(node) = b.cell(s, range, r, value_col, kind) else {
                    continue;
                };
                insert(root, &row.path, node, &region, repeatable);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_typed_as_text_read_the_vietnamese_way() {
        for (text, value) in [
            ("74,4", Some(74.4)),
            ("61.864", Some(61864.0)),
            ("1.234.567,5", Some(1234567.5)),
            ("74.4", Some(74.4)),
            (" 32 479 ", Some(32479.0)),
            ("-3", Some(-3.0)),
            ("mười hai", None),
            ("1,2,3", None),
            ("12.34.5", None),
            ("", None),
        ] {
            assert_eq!(parse_number(text), value, "{text}");
        }
    }

    #[test]
    fn dates_typed_as_text_and_serials() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
        assert_eq!(parse_date("21/6/2024"), d(2024, 6, 21));
        assert_eq!(parse_date("21-06-2024"), d(2024, 6, 21));
        assert_eq!(parse_date("2024-06-21"), d(2024, 6, 21));
        assert_eq!(parse_date("31/6/2024"), None);
        assert_eq!(parse_date("21/6/24"), None);
        assert_eq!(serial_date(45565.0, false), d(2024, 9, 30));
    }

    #[test]
    fn columns_are_named_like_the_sheet() {
        assert_eq!(column_name(0), "A");
        assert_eq!(column_name(25), "Z");
        assert_eq!(column_name(26), "AA");
    }
}
