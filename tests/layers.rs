//! The layering rule as a test: every file under src/ uses only modules of the layers below its
//! own, as `layers.toml` at the repository's root orders them. A violation names the file, the
//! line and the two modules, so whoever adds the import sees at once which way the arrow points.
//!
//! The checker reads the source as tokens (comments and string literals skipped, so a doc
//! comment that mentions `crate::web` is not an import) and follows three ways a file reaches
//! another top-level module: `crate::x…`, `use crate::{x, …}` and a `super::` chain that climbs
//! past the file's own module; `vanban::x` counts too, for the binary's files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, serde::Deserialize)]
struct Table {
    layer: Vec<Layer>,
}

#[derive(Debug, serde::Deserialize)]
struct Layer {
    name: String,
    #[serde(default)]
    modules: Vec<String>,
    #[serde(default)]
    planned: Vec<String>,
}

/// Each module's layer: its index from the bottom (0) and the layer's name.
struct Layers {
    of: BTreeMap<String, (usize, String)>,
}

impl Layers {
    fn parse(text: &str) -> Result<Layers, String> {
        let table: Table = toml::from_str(text).map_err(|e| format!("layers.toml: {e}"))?;
        let mut of = BTreeMap::new();
        for (index, layer) in table.layer.iter().enumerate() {
            for module in layer.modules.iter().chain(&layer.planned) {
                if let Some((_, first)) = of.insert(module.clone(), (index, layer.name.clone())) {
                    return Err(format!(
                        "layers.toml: `{module}` is in two layers, «{first}» and «{}»",
                        layer.name
                    ));
                }
            }
        }
        Ok(Layers { of })
    }
}

/// One file's use of a module it may not use.
#[derive(Debug, PartialEq)]
struct Violation {
    file: String,
    line: usize,
    from: String,
    to: String,
}

#[derive(Debug, PartialEq)]
enum Problem {
    Uses {
        violation: Violation,
        from_layer: (usize, String),
        to_layer: (usize, String),
    },
    NotInTable {
        file: String,
        module: String,
    },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Uses {
                violation: v,
                from_layer,
                to_layer,
            } => {
                let place = if to_layer.0 == from_layer.0 {
                    format!("in its own layer «{}»", to_layer.1)
                } else {
                    format!(
                        "above it: `{}` is in layer {} «{}», `{}` in layer {} «{}»",
                        v.from,
                        from_layer.0 + 1,
                        from_layer.1,
                        v.to,
                        to_layer.0 + 1,
                        to_layer.1
                    )
                };
                write!(
                    f,
                    "{}:{}: `{}` uses `{}`, which is {place}; a module may use only the layers \
                     below its own (layers.toml)",
                    v.file, v.line, v.from, v.to
                )
            }
            Problem::NotInTable { file, module } => write!(
                f,
                "{file}: module `{module}` is in no layer of layers.toml; add it to the layer \
                 it belongs to"
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// The tokens of Rust source with their line numbers; comments, strings, character literals
/// and lifetimes leave nothing (or `Other`) behind.
fn tokens(src: &str) -> Vec<(Tok, usize)> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    // Skips a quoted literal starting at the opening quote `chars[at]`; returns the index after it.
    let skip_quoted = |mut at: usize, quote: char, line: &mut usize| -> usize {
        at += 1;
        while at < chars.len() && chars[at] != quote {
            if chars[at] == '\\' {
                at += 1;
            }
            if at < chars.len() && chars[at] == '\n' {
                *line += 1;
            }
            at += 1;
        }
        at + 1
    };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            // Block comments nest in Rust.
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if chars[i] == '\n' {
                        line += 1;
                    }
                    i += 1;
                }
            }
        } else if c == '"' {
            i = skip_quoted(i, '"', &mut line);
        } else if c == '\'' {
            // A character literal ('a', '\n', '\u{1F600}') or a lifetime ('a, 'static).
            if next == Some('\\') || chars.get(i + 2) == Some(&'\'') {
                i = skip_quoted(i, '\'', &mut line);
            } else {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let here = chars.get(i).copied();
            let prefix = matches!(word.as_str(), "b" | "c" | "r" | "br" | "cr");
            let raw = word.ends_with('r');
            if prefix && here == Some('"') && !raw {
                i = skip_quoted(i, '"', &mut line);
            } else if prefix && raw && matches!(here, Some('"' | '#')) {
                // r"…", r#"…"#: no escapes, ended by the quote and as many #.
                let mut hashes = 0;
                while chars.get(i + hashes) == Some(&'#') {
                    hashes += 1;
                }
                if chars.get(i + hashes) == Some(&'"') {
                    i += hashes + 1;
                    loop {
                        if i >= chars.len() {
                            break;
                        }
                        if chars[i] == '"'
                            && (0..hashes).all(|h| chars.get(i + 1 + h) == Some(&'#'))
                        {
                            i += 1 + hashes;
                            break;
                        }
                        if chars[i] == '\n' {
                            line += 1;
                        }
                        i += 1;
                    }
                } else {
                    // A raw identifier, r#type: the identifier after the #.
                    i += 1;
                    let start = i;
                    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                        i += 1;
                    }
                    out.push((Tok::Ident(chars[start..i].iter().collect()), line));
                }
            } else {
                out.push((Tok::Ident(word), line));
            }
        } else if c.is_ascii_digit() {
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push((Tok::Other, line));
        } else if c == ':' && next == Some(':') {
            out.push((Tok::PathSep, line));
            i += 2;
        } else {
            out.push((
                match c {
                    '{' => Tok::Open,
                    '}' => Tok::Close,
                    ',' => Tok::Comma,
                    _ => Tok::Other,
                },
                line,
            ));
            i += 1;
        }
    }
    out
}

/// How deep a file's module sits below the crate root: src/x.rs and src/x/mod.rs are 1,
/// src/x/y.rs is 2, src/lib.rs and src/main.rs are 0.
fn file_depth(relative: &Path) -> usize {
    let parts: Vec<_> = relative.components().collect();
    let last = relative.file_name().and_then(|n| n.to_str()).unwrap_or("");
    match (parts.len(), last) {
        (1, "lib.rs" | "main.rs") => 0,
        (n, "mod.rs") => n - 1,
        (n, _) => n,
    }
}

/// The top-level module a file belongs to: `render` for src/render/docx/fill.rs.
fn owner(relative: &Path) -> String {
    let first = relative
        .components()
        .next()
        .and_then(|c| c.as_os_str().to_str())
        .unwrap_or("");
    first.strip_suffix(".rs").unwrap_or(first).to_owned()
}

/// The top-level modules one file reaches, each with the line where it does.
fn uses(relative: &Path, src: &str) -> Vec<(String, usize)> {
    let toks = tokens(src);
    let depth = file_depth(relative);
    let mut found = Vec::new();
    // Inline `mod name { … }` blocks deepen the module, so `super::` climbs one more level.
    let mut braces: Vec<bool> = Vec::new();
    let mut inline_mods = 0;
    let mut i = 0;
    let ident = |at: usize| match toks.get(at) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let is = |at: usize, t: Tok| toks.get(at).map(|(x, _)| x) == Some(&t);
    while i < toks.len() {
        let tok = &toks[i].0;
        let path_start = i == 0 || !is(i - 1, Tok::PathSep);
        match tok {
            Tok::Open => {
                let opens_mod = i >= 2 && ident(i - 2) == Some("mod") && ident(i - 1).is_some();
                braces.push(opens_mod);
                if opens_mod {
                    inline_mods += 1;
                }
            }
            Tok::Close => inline_mods -= usize::from(braces.pop() == Some(true)),
            Tok::Ident(word) if path_start => {
                // Where the path lands at the crate root: the index of the token after `::`.
                let at_root = match word.as_str() {
                    "crate" | "vanban" if is(i + 1, Tok::PathSep) => Some(i + 2),
                    "super" => {
                        let mut climbs = 0;
                        let mut at = i;
                        while ident(at) == Some("super") && is(at + 1, Tok::PathSep) {
                            climbs += 1;
                            at += 2;
                        }
                        (climbs > 0 && climbs >= depth + inline_mods).then_some(at)
                    }
                    _ => None,
                };
                if let Some(at) = at_root {
                    match toks.get(at) {
                        Some((Tok::Ident(m), l)) => found.push((m.clone(), *l)),
                        Some((Tok::Open, _)) => {
                            // A group: the first name of each item at its top level.
                            let mut level = 0;
                            let mut item_start = true;
                            for (t, l) in &toks[at..] {
                                match t {
                                    Tok::Open => {
                                        level += 1;
                                        item_start = level == 1;
                                        continue;
                                    }
                                    Tok::Close => {
                                        level -= 1;
                                        if level == 0 {
                                            break;
                                        }
                                    }
                                    Tok::Comma if level == 1 => {
                                        item_start = true;
                                        continue;
                                    }
                                    Tok::Ident(m) if item_start && level == 1 => {
                                        found.push((m.clone(), *l));
                                    }
                                    _ => {}
                                }
                                item_start = false;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// Every problem in a set of files (paths relative to src/) against the table.
fn check(files: &[(PathBuf, String)], layers: &Layers) -> Vec<Problem> {
    let top_level: BTreeSet<String> = files.iter().map(|(p, _)| owner(p)).collect();
    let mut problems = Vec::new();
    for module in &top_level {
        if module != "lib" && !layers.of.contains_key(module) {
            let file = files
                .iter()
                .find(|(p, _)| &owner(p) == module)
                .map(|(p, _)| format!("src/{}", p.display()))
                .unwrap_or_default();
            problems.push(Problem::NotInTable {
                file,
                module: module.clone(),
            });
        }
    }
    for (path, text) in files {
        let from = owner(path);
        let Some(from_layer) = layers.of.get(&from) else {
            continue;
        };
        let mut seen = BTreeSet::new();
        for (to, line) in uses(path, text) {
            if to == from || !(top_level.contains(&to) || layers.of.contains_key(&to)) {
                continue;
            }
            let Some(to_layer) = layers.of.get(&to) else {
                continue;
            };
            // Once per file, line and module: a `use` naming three items of one module is one use.
            if to_layer.0 >= from_layer.0 && seen.insert((line, to.clone())) {
                problems.push(Problem::Uses {
                    violation: Violation {
                        file: format!("src/{}", path.display()),
                        line,
                        from: from.clone(),
                        to,
                    },
                    from_layer: from_layer.clone(),
                    to_layer: to_layer.clone(),
                });
            }
        }
    }
    problems.sort_by_key(|p| match p {
        Problem::NotInTable { file, .. } => (0, file.clone(), 0),
        Problem::Uses { violation: v, .. } => (1, v.file.clone(), v.line),
    });
    problems
}

fn read_tree(dir: &Path, root: &Path, out: &mut Vec<(PathBuf, String)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            read_tree(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let relative = path.strip_prefix(root).expect("under src").to_path_buf();
            out.push((relative, text));
        }
    }
}

#[test]
fn no_module_uses_one_of_its_own_layer_or_above() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let table = std::fs::read_to_string(root.join("layers.toml")).expect("layers.toml");
    let layers = Layers::parse(&table).unwrap_or_else(|e| panic!("{e}"));
    let mut files = Vec::new();
    read_tree(&root.join("src"), &root.join("src"), &mut files);
    assert!(files.len() > 50, "src/ read: {} files", files.len());
    // The checker reads real imports: input and render are built on the model.
    let seen: BTreeSet<(String, String)> = files
        .iter()
        .flat_map(|(p, t)| uses(p, t).into_iter().map(move |(to, _)| (owner(p), to)))
        .collect();
    for edge in [("input", "model"), ("render", "model")] {
        let edge = (edge.0.to_owned(), edge.1.to_owned());
        assert!(
            seen.contains(&edge),
            "no use of {} by {} found: {seen:?}",
            edge.1,
            edge.0
        );
    }
    let problems = check(&files, &layers);
    assert!(
        problems.is_empty(),
        "the layering rule is broken:\n{}",
        problems
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// The checker itself, on small made-up sources: it must find what breaks the rule and
// nothing else.

const TABLE: &str = r#"
[[layer]]
name = "bottom"
modules = ["model", "vi"]
[[layer]]
name = "middle"
modules = ["render"]
[[layer]]
name = "top"
modules = ["web"]
planned = ["cli"]
"#;

fn run(files: &[(&str, &str)]) -> Vec<String> {
    let layers = Layers::parse(TABLE).expect("table");
    let files: Vec<_> = files
        .iter()
        .map(|(p, t)| (PathBuf::from(p), t.to_string()))
        .collect();
    check(&files, &layers)
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn a_use_of_a_higher_layer_is_named_by_file_line_and_both_modules() {
    let found = run(&[
        (
            "model.rs",
            "//! The model.\n\nuse crate::render::Context;\n",
        ),
        ("render/mod.rs", "use crate::model::Period;\n"),
    ]);
    assert_eq!(
        found,
        [
            "src/model.rs:3: `model` uses `render`, which is above it: `model` is in layer 1 \
          «bottom», `render` in layer 2 «middle»; a module may use only the layers below its \
          own (layers.toml)"
        ]
    );
}

#[test]
fn groups_paths_in_code_and_super_chains_are_all_followed() {
    let found = run(&[
        (
            "render/docx/fill.rs",
            "use crate::{\n    model::Period,\n    web::{self, Page},\n};\nfn f() { super::super::super::web::go(); }\n",
        ),
        ("render/pdf.rs", "fn g() -> u8 { crate::web::answer() }\n"),
        // src/vi/mod.rs is one level down: `super::` there is the crate root.
        ("vi/mod.rs", "use super::model;\nuse super::render as r;\n"),
        // An inline module climbs one level more.
        (
            "model.rs",
            "#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::web;\n}\n",
        ),
        ("web/mod.rs", "use crate::render;\n"),
    ]);
    let lines: Vec<_> = found
        .iter()
        .map(|m| m.split(": `").next().unwrap_or_default())
        .collect();
    assert_eq!(
        lines,
        [
            "src/model.rs:4",
            "src/render/docx/fill.rs:3",
            "src/render/docx/fill.rs:5",
            "src/render/pdf.rs:1",
            "src/vi/mod.rs:1",
            "src/vi/mod.rs:2",
        ],
        "{found:#?}"
    );
    assert!(found[4].contains("`vi` uses `model`, which is in its own layer «bottom»"));
}

#[test]
fn comments_strings_and_paths_inside_the_module_are_not_uses() {
    let found = run(&[
        (
            "model.rs",
            "//! See [`crate::web`].\n/* crate::render /* nested */ crate::web */\n\
             const A: &str = \"crate::web\";\nconst B: &str = r#\"crate::render \"quoted\"\"#;\n\
             const C: char = '\"'; fn life<'a>(x: &'a str) -> &'a str { x }\n\
             use crate::model::Half; use self::inner::X;\n",
        ),
        // Three levels down (render::docx::fill), two `super::` stay inside render.
        (
            "render/docx/fill.rs",
            "use super::super::pdf;\nuse super::xml;\n",
        ),
        ("web/routes.rs", "use crate::{model, render::Renderer};\n"),
    ]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_module_in_no_layer_is_reported() {
    let found = run(&[
        ("lib.rs", "pub mod model;\npub mod mail;\n"),
        ("model.rs", ""),
        ("mail/mod.rs", "use crate::model;\n"),
    ]);
    assert_eq!(
        found,
        [
            "src/mail/mod.rs: module `mail` is in no layer of layers.toml; add it to the layer it \
          belongs to"
        ]
    );
}

#[test]
fn a_module_in_two_layers_is_refused() {
    let err = Layers::parse(
        "[[layer]]\nname = \"a\"\nmodules = [\"x\"]\n[[layer]]\nname = \"b\"\nplanned = [\"x\"]\n",
    )
    .err()
    .expect("refused");
    assert_eq!(err, "layers.toml: `x` is in two layers, «a» and «b»");
}
