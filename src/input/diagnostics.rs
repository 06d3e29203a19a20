//! Problems found in input files, each with file, line, column and key path, in Vietnamese.

use std::fmt;

/// One problem in one input file. `line` and `column` are 1-based; `column` counts characters.
/// A workbook has no lines: its problems have `line` 0, `path` the sheet and cell ("Chỉ tiêu!F7")
/// and `column` their order in the workbook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: usize,
    pub column: usize,
    /// Where in the document, e.g. `programs[2].budget.disbursed` (empty for the whole file).
    pub path: String,
    pub message: String,
}

/// A problem's file, place and message never carry a control or direction character raw, even
/// when they quote what the input holds (a cell's text, a misspelt key): on a terminal an
/// ESCAPE would be obeyed, a line break would forge a problem line of its own, a right-to-left
/// override would turn the message around. Each is shown as `<U+001B>`.
impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: ", visible(&self.file))?;
        } else {
            write!(f, "{}:{}:{}: ", visible(&self.file), self.line, self.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", visible(&human_path(&self.path)))?;
        }
        f.write_str(&visible(&self.message))
    }
}

/// `text` with every control character (line breaks and tabs too) and every invisible
/// direction or format mark written as `<U+XXXX>`, so a message quoting input shows what is
/// there instead of obeying it.
pub fn visible(text: &str) -> String {
    let hidden = |ch: char| ch.is_control() || super::text::is_invisible_control(ch);
    if !text.chars().any(hidden) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if hidden(ch) {
            out.push_str(&format!("<U+{:04X}>", ch as u32));
        } else {
            out.push(ch);
        }
    }
    out
}

/// A key path as people count: `programs[0].budget` (the first program) is shown as
/// `programs[1].budget`. Paths are kept 0-based inside, where they index the tree.
pub fn human_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut rest = path;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let close = rest.find(']').unwrap_or(rest.len());
        match rest[..close].parse::<usize>() {
            Ok(index) => out.push_str(&(index + 1).to_string()),
            Err(_) => out.push_str(&rest[..close]),
        }
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

/// Every problem found in a set of input files. Validation never stops at the first one:
/// office staff fix a file in one pass, not one error per run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub fn extend(&mut self, other: Problems) {
        self.0.extend(other.0);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter()
    }

    /// Problems in file order, so the list reads top to bottom like the file.
    pub fn sorted(mut self) -> Self {
        self.0
            .sort_by(|a, b| (&a.file, a.line, a.column).cmp(&(&b.file, b.line, b.column)));
        self.0.dedup();
        self
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for problem in &self.0 {
            writeln!(f, "{problem}")?;
        }
        write!(
            f,
            "Có {} lỗi trong dữ liệu đầu vào; chưa tạo văn bản nào.",
            self.0.len()
        )
    }
}

impl std::error::Error for Problems {}

/// Edit distance for "did you mean" hints on misspelt keys and ids. Swapping two neighbouring
/// letters ("yaer") counts as one edit, the commonest typing slip.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

/// The closest candidate, if it is close enough to be a plausible typo.
pub fn did_you_mean<'a>(
    wrong: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (wrong.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|c| (edit_distance(wrong, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_in_key_paths_count_from_one() {
        assert_eq!(human_path("programs[0].budget"), "programs[1].budget");
        assert_eq!(
            human_path("programs[2].indicators[10].value"),
            "programs[3].indicators[11].value"
        );
        assert_eq!(human_path("documents.date"), "documents.date");
        assert_eq!(human_path("odd[x]"), "odd[x]");
        let problem = Problem {
            file: "k.toml".into(),
            line: 3,
            column: 7,
            path: "tasks[0].to".into(),
            message: "thiếu".into(),
        };
        assert_eq!(problem.to_string(), "k.toml:3:7: tasks[1].to: thiếu");
    }

    #[test]
    fn controls_quoted_from_the_input_are_shown_not_obeyed() {
        let problem = Problem {
            file: "bieu-mau.xlsx".into(),
            line: 0,
            column: 3,
            path: "Chỉ\u{202e} tiêu!F4".into(),
            message: "giá trị phải là số, không phải «12\u{1b}[31m\nbieu-mau.xlsx: giả»".into(),
        };
        assert_eq!(
            problem.to_string(),
            "bieu-mau.xlsx: Chỉ<U+202E> tiêu!F4: giá trị phải là số, không phải «12<U+001B>[31m<U+000A>bieu-mau.xlsx: giả»"
        );
        assert_eq!(visible("Đầm Hà"), "Đầm Hà");
    }

    #[test]
    fn distance_counts_edits() {
        assert_eq!(edit_distance("yaer", "year"), 1);
        assert_eq!(edit_distance("disbursd", "disbursed"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("Quảng", "Quang"), 1);
    }

    #[test]
    fn suggests_only_close_candidates() {
        let keys = ["year", "half"];
        assert_eq!(did_you_mean("yeat", keys), Some("year"));
        assert_eq!(did_you_mean("budget", keys), None);
    }

    #[test]
    fn display_lists_every_problem_and_a_summary() {
        let problems = Problems(vec![Problem {
            file: "p.toml".into(),
            line: 3,
            column: 1,
            path: "period.half".into(),
            message: "phải là 1 hoặc 2".into(),
        }]);
        assert_eq!(
            problems.to_string(),
            "p.toml:3:1: period.half: phải là 1 hoặc 2\nCó 1 lỗi trong dữ liệu đầu vào; chưa tạo văn bản nào."
        );
    }
}
