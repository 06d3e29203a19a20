//! Input: the period file (TOML, JSON or the Excel form) and the directory, parsed,
//! NFC-normalised and validated with every problem reported at once (file and line, or sheet
//! and cell, in Vietnamese).

pub mod config;
pub mod diagnostics;
pub mod directory;
pub mod figures;
pub mod period;
pub mod reader;
pub mod sources;
pub mod text;
pub mod to_toml;
pub mod tree;
pub mod xlsx;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use diagnostics::{Problem, Problems};
use reader::Reader;
use tree::{Node, Source};

use crate::model::{Directory, Period};

/// Where the directory is when not given: `directory.toml` beside the period file.
pub fn default_directory_path(period_path: &Path) -> PathBuf {
    period_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("directory.toml")
}

/// A file that could not be read at all: named, with why in Vietnamese, and no position (there
/// is no line to point at).
fn unreadable_file(path: &Path, error: &std::io::Error) -> Problem {
    Problem {
        file: path.display().to_string(),
        line: 0,
        column: 0,
        path: String::new(),
        message: format!("không đọc được tệp: {}", crate::vi::errors::io_error(error)),
    }
}

/// Reads a TOML or JSON file (by extension) into a tree.
fn parse_file(path: &Path) -> Result<(Source, Node), Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| unreadable_file(path, &e))?;
    let source = Source::new(path.display().to_string(), text);
    let is_json = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("json"));
    let node = if is_json {
        tree::parse_json(&source)
    } else {
        tree::parse_toml(&source)
    }?;
    Ok((source, node))
}

fn is_xlsx(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"))
}

/// Reads a period file into a tree: TOML or JSON, or the Excel form, whose positions are cells
/// (`Located` maps them back).
fn parse_period_file(path: &Path) -> Result<(Source, Node, Option<xlsx::Located>), Problem> {
    if !is_xlsx(path) {
        return parse_file(path).map(|(source, node)| (source, node, None));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable_file(path, &e))?;
    xlsx::read::read(&path.display().to_string(), bytes)
        .map(|(source, node, located)| (source, node, Some(located)))
}

pub fn load_directory(path: &Path) -> Result<Directory, Problems> {
    let (directory, problems) = read_directory_file(path);
    match directory {
        Some(directory) if problems.is_empty() => Ok(directory),
        _ => Err(problems.sorted()),
    }
}

/// Reads the directory as far as it goes: a unit with a bad address is still a unit, so the
/// period's ids can be checked against it. None only if the file cannot be parsed at all.
fn read_directory_file(path: &Path) -> (Option<Directory>, Problems) {
    match parse_file(path) {
        Ok((source, node)) => {
            let mut reader = Reader::new(&source);
            let directory = directory::read_directory(&mut reader, &node);
            (Some(directory), reader.problems)
        }
        Err(problem) => (None, Problems(vec![problem])),
    }
}

/// Loads and validates a period and its directory. `today` (in Asia/Ho_Chi_Minh) is the issue
/// date when the period file gives none.
pub fn load_period(
    path: &Path,
    directory_path: Option<&Path>,
    today: NaiveDate,
) -> Result<Period, Problems> {
    let directory_path = directory_path
        .map(Path::to_path_buf)
        .unwrap_or_else(|| default_directory_path(path));
    // The directory's problems are reported together with the period's: one pass fixes both.
    let (directory, mut problems) = read_directory_file(&directory_path);
    let directory_parsed = directory.is_some();
    let directory = directory.unwrap_or_default();
    let (source, node, located) = match parse_period_file(path) {
        Ok(parsed) => parsed,
        Err(p) => {
            problems.push(p);
            return Err(problems.sorted());
        }
    };
    let mut reader = Reader::new(&source);
    let period = period::read_period(&mut reader, &node, &directory, today);
    let mut period_problems = match &located {
        Some(located) => located.locate(reader.problems),
        None => reader.problems,
    };
    if !directory_parsed {
        // Unknown-id errors against a directory that could not be read would only be noise.
        period_problems
            .0
            .retain(|p| !p.message.contains("trong danh bạ"));
    }
    problems.extend(period_problems);
    match period {
        Some(period) if problems.is_empty() => Ok(period),
        _ => Err(problems.sorted()),
    }
}

/// The formats a period file can be converted to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Xlsx,
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("{0}")]
    Period(Problems),
    #[error("không tạo được bảng tính: {0}")]
    Xlsx(String),
}

/// Converts a period file (TOML, JSON or the Excel form) to `to`. Only a period that loads
/// without problems is converted, so the result is as good as its source. `today` is the
/// default issue date and the workbook's creation date.
pub fn convert_period(
    path: &Path,
    directory_path: Option<&Path>,
    today: NaiveDate,
    to: Format,
) -> Result<Vec<u8>, ConvertError> {
    let period = load_period(path, directory_path, today).map_err(ConvertError::Period)?;
    let (_, node, _) =
        parse_period_file(path).map_err(|p| ConvertError::Period(Problems(vec![p])))?;
    match to {
        Format::Toml => Ok(to_toml::to_toml(&node).into_bytes()),
        Format::Xlsx => xlsx::write::write(Some(&node), &period.directory, today)
            .map_err(|e| ConvertError::Xlsx(e.to_string())),
    }
}

/// The blank form for `templates export`, listing `directory`'s units for the drop-down lists.
pub fn blank_form(directory: &Directory, today: NaiveDate) -> Result<Vec<u8>, ConvertError> {
    xlsx::write::write(None, directory, today).map_err(|e| ConvertError::Xlsx(e.to_string()))
}
