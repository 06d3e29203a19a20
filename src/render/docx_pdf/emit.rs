//! Writing the page model as Typst source. Every word of the document enters the source only
//! inside a Typst string literal (`"…"`, with `\` and `"` escaped): Typst never reads it as
//! markup or code, so `#`, `$`, `*`, `_`, `` ` ``, `<`, `@`, `[`, `]`, `/`, `~`, `=` and the
//! like print as themselves and no sentence of an office's file can run as a command.

use std::fmt::Write as _;

use super::read::{
    Align, Block, Cell, Inline, LineSpacing, Model, PageSetup, Paragraph, RunProps, Table, VAlign,
};

/// Word's single line pitch for Times New Roman (and Liberation Serif, metric-compatible): the
/// font's hhea ascender + line gap + descender (1825 + 87 + 443 of 2048 units), 1.149 em. Typst's
/// "ascender" edge reads the OS/2 typographic metrics instead (0.909 em in all), so the line box
/// is given as lengths: the gap above the ascender, as Word sets it, so the pitch between lines
/// of different sizes is never below single spacing.
const ASCENT: f64 = 0.933;
const DESCENT: f64 = 0.216;
const SINGLE: f64 = ASCENT + DESCENT;
const BOX: f64 = SINGLE;
/// Word's default tab stops: every half inch.
const TAB: f64 = 36.0;

/// A Typst string literal holding `text` exactly.
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn pt(v: f64) -> String {
    let v = if v.is_finite() { v } else { 0.0 };
    format!("{:.2}pt", v)
}

fn stroke(width: Option<f64>) -> String {
    width.map_or_else(|| "none".to_string(), pt)
}

/// The whole document as a Typst source.
pub fn document(model: &Model) -> String {
    let mut out = String::new();
    let PageSetup {
        width,
        height,
        top,
        bottom,
        left,
        right,
        header,
    } = model.page;
    out.push_str("// Converted from a DOCX by vanban (render/docx_pdf).\n");
    let _ = writeln!(
        out,
        "#set page(width: {}, height: {}, margin: (top: {}, bottom: {}, left: {}, right: {}), header-ascent: 0pt, header: context {{",
        pt(width),
        pt(height),
        pt(top),
        pt(bottom),
        pt(left),
        pt(right)
    );
    let header_blocks = |blocks: &[Block]| {
        let mut s = String::new();
        for b in blocks {
            block(&mut s, b, model.base_size, false);
        }
        s
    };
    // The header part's top sits at the header distance from the page's edge, as in Word.
    let _ = writeln!(
        out,
        "  let at(body) = block(width: 100%, height: 100%, {{ v({}); body }})",
        pt(header)
    );
    match &model.first_header {
        Some(first) => {
            let _ = writeln!(
                out,
                "  if counter(page).get().first() == 1 {{ at({{ {} }}) }} else {{ at({{ {} }}) }}",
                header_blocks(first),
                header_blocks(&model.header)
            );
        }
        None => {
            let _ = writeln!(out, "  at({{ {} }})", header_blocks(&model.header));
        }
    }
    out.push_str("})\n");
    let _ = writeln!(
        out,
        "#set text(font: \"Liberation Serif\", size: {}, lang: \"vi\", fallback: false, overhang: false, top-edge: {:.3}em, bottom-edge: {:.3}em, hyphenate: false)",
        pt(model.base_size),
        ASCENT,
        -DESCENT,
    );
    out.push_str(
        "#set par(spacing: 0pt, leading: 0pt, justify: false, first-line-indent: 0pt, hanging-indent: 0pt)\n#set block(spacing: 0pt)\n",
    );
    // Each block in a code block of its own: what follows a `;` in markup would be text.
    for b in &model.body {
        out.push_str("#{ ");
        block(&mut out, b, model.base_size, true);
        out.push_str(" }\n");
    }
    out
}

/// One block as Typst code statements, followed by `;`. `top`: in the page's flow, where a
/// page may break (not in a table cell or the header).
fn block(out: &mut String, b: &Block, base: f64, top: bool) {
    match b {
        Block::Paragraph(p) => paragraph(out, p, base, top),
        Block::Table(t) => table(out, t, base),
        Block::Signature(s) => signature(out, s),
    }
    out.push(';');
}

fn leading(line: LineSpacing, size: f64) -> String {
    match line {
        LineSpacing::Multiple(m) => pt((m * SINGLE - BOX).max(0.0) * size),
        LineSpacing::Exact(p) => pt(p - BOX * size),
        LineSpacing::AtLeast(p) => pt((p - BOX * size).max((SINGLE - BOX) * size)),
    }
}

/// The room above the signer's name with the signature image centred in it, as tall as the
/// room, and the seal's centre on the middle of the signature's left third, 36 mm across (the
/// Typst templates' `signature-space`, nd30.typ).
fn signature(out: &mut String, s: &super::signature::SignatureSpace) {
    let height = pt(s.height);
    let _ = write!(
        out,
        "block(width: 100%, height: {height}, place(center + horizon, box({{ image({}, height: {height}, fit: \"contain\"); ",
        string(&s.images.signature)
    );
    if let Some(seal) = &s.images.seal {
        let _ = write!(
            out,
            "place(left + horizon, dx: 100% / 6 - 18mm, image({}, width: 36mm, height: 36mm, fit: \"contain\")); ",
            string(seal)
        );
    }
    out.push_str("})))");
}

/// The height of an empty paragraph's line, points.
pub fn empty_height(line: LineSpacing, size: f64) -> f64 {
    match line {
        LineSpacing::Multiple(m) => m * SINGLE * size,
        LineSpacing::Exact(p) => p,
        LineSpacing::AtLeast(p) => p.max(SINGLE * size),
    }
}

fn paragraph(out: &mut String, p: &Paragraph, _base: f64, top: bool) {
    let props = &p.props;
    let first_x = props.left - props.hanging;
    if props.page_break_before && top {
        out.push_str("pagebreak(weak: true); ");
    }
    let _ = write!(
        out,
        "block(width: 100%, sticky: {}, breakable: {}, inset: (top: {}, bottom: {}, left: {}, right: {}), {{ ",
        props.keep_next,
        !props.keep_lines,
        pt(props.before),
        pt(props.after),
        pt(first_x.min(props.left)),
        pt(props.right),
    );
    let align = match props.align {
        Align::Left => "left",
        Align::Center => "center",
        Align::Right => "right",
        Align::Justify => "left",
    };
    let first_line = if props.hanging > 0.0 {
        0.0
    } else {
        props.first_line
    };
    let _ = write!(
        out,
        "set text(size: {}); set align({align}); set par(justify: {}, leading: {}, first-line-indent: (amount: {}, all: true), hanging-indent: {}); ",
        pt(p.mark.size),
        props.align == Align::Justify,
        leading(props.line, p.mark.size),
        pt(first_line),
        pt(props.hanging),
    );
    if let Some(rule) = props.top {
        let _ = write!(
            out,
            "line(length: 100%, stroke: {}); v({}); ",
            pt(rule.width),
            pt(rule.space)
        );
    }
    let has_text = p.content.iter().any(|i| !matches!(i, Inline::PageBreak));
    if has_text {
        out.push_str("par({ ");
        for inline in &p.content {
            self::inline(out, inline);
        }
        out.push_str("}); ");
    } else {
        // An empty paragraph still takes its line (the size of its mark).
        let _ = write!(
            out,
            "block(height: {}); ",
            pt(empty_height(props.line, p.mark.size))
        );
    }
    if let Some(rule) = props.bottom {
        let _ = write!(
            out,
            "v({}); line(length: 100%, stroke: {}); ",
            pt(rule.space),
            pt(rule.width)
        );
    }
    out.push('}');
    out.push(')');
    // A page break inside a paragraph breaks the page after it (Typst breaks between blocks).
    if top && p.content.iter().any(|i| matches!(i, Inline::PageBreak)) {
        out.push_str("; pagebreak(weak: true)");
    }
}

fn styled(props: &RunProps, body: String) -> String {
    let mut args = format!("size: {}", pt(props.size));
    if props.bold {
        args.push_str(", weight: \"bold\"");
    }
    if props.italic {
        args.push_str(", style: \"italic\"");
    }
    let mut s = format!("text({args}, {body})");
    if props.underline {
        s = format!("underline({s})");
    }
    if props.strike {
        s = format!("strike({s})");
    }
    if props.superscript {
        s = format!("super({s})");
    }
    if props.subscript {
        s = format!("sub({s})");
    }
    s
}

fn inline(out: &mut String, i: &Inline) {
    match i {
        Inline::Text(text, props) => {
            out.push_str(&styled(props, string(text)));
            out.push_str("; ");
        }
        Inline::PageNumber(props) => {
            out.push_str(&styled(props, "counter(page).display()".into()));
            out.push_str("; ");
        }
        Inline::Tab => {
            let _ = write!(out, "h({}); ", pt(TAB));
        }
        Inline::LineBreak => out.push_str("linebreak(); "),
        // Handled at the paragraph (Typst breaks pages between blocks).
        Inline::PageBreak => {}
    }
}

fn table(out: &mut String, t: &Table, base: f64) {
    let columns: Vec<String> = t.columns.iter().map(|w| pt(*w)).collect();
    let columns = if columns.is_empty() {
        "1".to_string()
    } else {
        format!("({},)", columns.join(", "))
    };
    let b = t.borders;
    let [mt, mr, mb, ml] = t.cell_margins;
    let place = match t.align {
        Align::Left | Align::Justify => "left",
        Align::Center => "center",
        Align::Right => "right",
    };
    let _ = write!(
        out,
        "block(width: 100%, inset: (left: {}), align({place}, table(columns: {columns}, inset: (top: {}, right: {}, bottom: {}, left: {}), stroke: (x, y) => (left: if x == 0 {{ {} }} else {{ {} }}, top: if y == 0 {{ {} }} else {{ {} }}), ",
        pt(t.indent),
        pt(mt),
        pt(mr),
        pt(mb),
        pt(ml),
        stroke(b.left),
        stroke(b.inside_v),
        stroke(b.top),
        stroke(b.inside_h),
    );
    let headers = t.rows.iter().take_while(|r| r.header).count();
    if headers > 0 {
        out.push_str("table.header(repeat: true, ");
        for row in &t.rows[..headers] {
            for c in &row.cells {
                cell(out, c, row.cant_split, base);
            }
        }
        out.push_str("), ");
    }
    for row in &t.rows[headers..] {
        for c in &row.cells {
            cell(out, c, row.cant_split, base);
        }
    }
    // The outer bottom and right lines; where the table has none, the cells' own may draw them.
    if let Some(width) = b.bottom {
        let _ = write!(
            out,
            "table.hline(y: {}, stroke: {}), ",
            t.rows.len(),
            pt(width)
        );
    }
    if let Some(width) = b.right {
        let _ = write!(
            out,
            "table.vline(x: {}, stroke: {}), ",
            t.columns.len().max(1),
            pt(width)
        );
    }
    out.push_str(")))");
}

fn cell(out: &mut String, c: &Cell, cant_split: bool, base: f64) {
    let valign = match c.valign {
        VAlign::Top => "top",
        VAlign::Center => "horizon",
        VAlign::Bottom => "bottom",
    };
    let sides: Vec<String> = [
        ("top", c.borders.top),
        ("bottom", c.borders.bottom),
        ("left", c.borders.left),
        ("right", c.borders.right),
    ]
    .into_iter()
    .filter_map(|(side, width)| width.map(|w| format!("{side}: {}", stroke(w))))
    .collect();
    let cell_stroke = if sides.is_empty() {
        String::new()
    } else {
        format!("stroke: ({}), ", sides.join(", "))
    };
    let mut extra = cell_stroke;
    if c.margins.iter().any(Option::is_some) {
        let [top, right, bottom, left] = c.margins;
        let sides: Vec<String> = [
            ("top", top),
            ("right", right),
            ("bottom", bottom),
            ("left", left),
        ]
        .into_iter()
        .filter_map(|(side, v)| v.map(|v| format!("{side}: {}", pt(v))))
        .collect();
        let _ = write!(extra, "inset: ({}), ", sides.join(", "));
    }
    if let Some(fill) = &c.fill {
        // Six hex digits, checked when read.
        let _ = write!(extra, "fill: rgb(\"#{fill}\"), ");
    }
    let _ = write!(
        out,
        "table.cell(colspan: {}, rowspan: {}, align: {valign}, breakable: {}, {extra}{{ ",
        c.colspan, c.rowspan, !cant_split
    );
    for b in &c.blocks {
        block(out, b, base, false);
        out.push(' ');
    }
    out.push_str("}), ");
}
