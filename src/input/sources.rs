//! Where each figure of a period file came from: the key, the value as written, and its line in
//! the TOML/JSON file or its sheet and cell in the Excel form. The approver checks a number in
//! a draft against its source without opening the file.

use std::path::Path;

use super::diagnostics::{Problem, Problems, human_path};
use super::tree::{Node, Source, Value};

/// One figure as the office typed it, and where.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FigureSource {
    /// The key path as people count, from 1: `programs[2].budget.allocated`.
    pub path: String,
    /// The value as written in the file ("86447", "52.5").
    pub value: String,
    /// "dam-ha-2024-h1.toml, dòng 52", or the Excel form's sheet and cell.
    pub place: String,
}

/// Every number in the period file at `path`, in the file's order, with where it is. `shown`
/// is the file's name as the reader knows it (the web page stores uploads under its own names).
/// A file that does not parse gives its syntax problem.
pub fn figure_sources(path: &Path, shown: &str) -> Result<Vec<FigureSource>, Problem> {
    let (source, node, located) = super::parse_period_file(path)?;
    let mut found: Vec<(String, String, Problem)> = Vec::new();
    // The Excel form's tree is built from a text of cell references, so its values are
    // written out from the cells' numbers; a TOML/JSON value is shown as the office typed it.
    let as_typed = located.is_none();
    walk(&source, &node, String::new(), as_typed, &mut found);
    let file = source.name.clone();
    let places: Vec<Problem> = found.iter().map(|(_, _, p)| p.clone()).collect();
    // The Excel form's tree is a TOML text made from the sheets; its lines map back to cells.
    let places = match &located {
        Some(located) => located.locate(Problems(places)).0,
        None => places,
    };
    Ok(found
        .into_iter()
        .zip(places)
        .map(|((path, value, _), place)| FigureSource {
            path,
            value,
            place: describe(&place, &file, shown),
        })
        .collect())
}

fn walk(
    source: &Source,
    node: &Node,
    path: String,
    as_typed: bool,
    out: &mut Vec<(String, String, Problem)>,
) {
    match &node.value {
        Value::Table(entries) => {
            for (key, child) in entries {
                let child_path = if path.is_empty() {
                    key.name.clone()
                } else {
                    format!("{path}.{}", key.name)
                };
                walk(source, child, child_path, as_typed, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                walk(source, child, format!("{path}[{i}]"), as_typed, out);
            }
        }
        Value::Integer(_) | Value::Float(_) => {
            let written = match (&node.value, as_typed) {
                (_, true) => source
                    .text
                    .get(node.span.clone())
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
                (Value::Integer(n), false) => n.to_string(),
                (Value::Float(x), _) => x.to_string(),
                _ => String::new(),
            };
            let place = source.problem(&node.span, &path, "");
            out.push((human_path(&path), written, place));
        }
        _ => {}
    }
}

/// A located place in words: a line of the text file, or (line 0) the Excel form's sheet and
/// cell, which the locator writes where a key path would be.
fn describe(place: &Problem, file: &str, shown: &str) -> String {
    let name = if place.file == file {
        shown.to_owned()
    } else {
        place.file.clone()
    };
    if place.line == 0 {
        format!("{name}, {}", place.path)
    } else {
        format!("{name}, dòng {}", place.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

    #[test]
    fn every_figure_of_the_sample_is_found_at_its_line() {
        let path = Path::new(SAMPLES).join("dam-ha-2024-h1.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let sources = figure_sources(&path, "ky.toml").unwrap();
        assert!(sources.len() > 10, "{sources:#?}");
        // `budget = { allocated = 86447 }` is on line 52 of the sample.
        let allocated = sources
            .iter()
            .find(|s| s.value == "86447")
            .expect("the first program's allocation");
        assert!(
            allocated.path.ends_with("budget.allocated"),
            "{allocated:?}"
        );
        assert!(
            allocated.path.contains("[1]"),
            "counted from 1: {allocated:?}"
        );
        assert_eq!(allocated.place, "ky.toml, dòng 52");
        // Each place names the line that really holds the value.
        for s in &sources {
            let line: usize = s.place.rsplit(' ').next().unwrap().parse().unwrap();
            let held = text.lines().nth(line - 1).unwrap();
            assert!(held.contains(&s.value), "{s:?}: {held}");
        }
    }

    #[test]
    fn the_excel_forms_figures_are_found_at_their_cells() {
        let path = Path::new(SAMPLES).join("dam-ha-2024-h1.xlsx");
        let sources = figure_sources(&path, "ky.xlsx").unwrap();
        let allocated = sources
            .iter()
            .find(|s| s.value == "86447")
            .expect("the first program's allocation");
        assert!(allocated.place.starts_with("ky.xlsx, "), "{allocated:?}");
        assert_eq!(allocated.place, "ky.xlsx, Nguồn vốn!D2");
    }

    #[test]
    fn a_broken_file_gives_its_syntax_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hong.toml");
        std::fs::write(&path, "[period\n").unwrap();
        let problem = figure_sources(&path, "hong.toml").unwrap_err();
        assert_eq!(problem.line, 1);
    }
}
