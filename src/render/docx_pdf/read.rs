//! Reading a filled DOCX into the small page model the Typst writer knows: the subset of
//! WordprocessingML administrative templates use (paragraphs, runs, tables, section, header),
//! with paragraph, run and table styles resolved. Whatever else the file holds keeps its words
//! and is named in [`Model::ignored`], never dropped in silence.

use std::collections::{BTreeMap, HashMap};
use std::io::{Cursor, Read};

use quick_xml::events::{BytesStart, Event};

/// Twips (1/20 pt) to points.
fn twips(v: f64) -> f64 {
    v / 20.0
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("tệp DOCX không đọc được (không phải tệp zip hợp lệ): {0}")]
    Zip(String),
    #[error("tệp DOCX thiếu phần {0}")]
    MissingPart(String),
    #[error("phần {part} của tệp DOCX không phải XML hợp lệ: {detail}")]
    Xml { part: String, detail: String },
}

/// An XML element with its children; text nodes as [`Node::Text`].
#[derive(Debug, Clone, Default)]
pub(super) struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone)]
pub(super) enum Node {
    Element(Element),
    Text(String),
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn num(&self, name: &str) -> Option<f64> {
        self.attr(name).and_then(|v| v.trim().parse::<f64>().ok())
    }
    fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }
    fn child(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.name == name)
    }
    /// An on/off property (`<w:b/>`, `<w:b w:val="false"/>`).
    fn on(&self) -> bool {
        !matches!(self.attr("w:val"), Some("0" | "false" | "off" | "none"))
    }
    /// The text directly inside (w:t, w:instrText).
    fn text(&self) -> String {
        self.children
            .iter()
            .filter_map(|n| match n {
                Node::Text(t) => Some(t.as_str()),
                Node::Element(_) => None,
            })
            .collect()
    }
}

fn start(
    e: &BytesStart<'_>,
    decoder: quick_xml::encoding::Decoder,
    part: &str,
) -> Result<Element, ReadError> {
    let bad = |detail: String| ReadError::Xml {
        part: part.to_string(),
        detail,
    };
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(|x| bad(x.to_string()))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).into_owned();
        let value = a
            .decoded_and_normalized_value(quick_xml::XmlVersion::Implicit1_0, decoder)
            .map_err(|x| bad(x.to_string()))?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
        attrs,
        children: Vec::new(),
    })
}

/// Parses one XML part into a tree.
pub(super) fn parse(xml: &str, part: &str) -> Result<Element, ReadError> {
    let bad = |detail: String| ReadError::Xml {
        part: part.to_string(),
        detail,
    };
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut stack: Vec<Element> = vec![Element::default()];
    let push_text = |stack: &mut Vec<Element>, text: &str| {
        if let Some(top) = stack.last_mut() {
            match top.children.last_mut() {
                Some(Node::Text(t)) => t.push_str(text),
                _ => top.children.push(Node::Text(text.to_string())),
            }
        }
    };
    loop {
        match reader.read_event().map_err(|e| bad(e.to_string()))? {
            Event::Start(e) => stack.push(start(&e, reader.decoder(), part)?),
            Event::Empty(e) => {
                let element = start(&e, reader.decoder(), part)?;
                if let Some(top) = stack.last_mut() {
                    top.children.push(Node::Element(element));
                }
            }
            Event::End(_) => {
                let done = stack.pop().ok_or_else(|| bad("thẻ đóng thừa".into()))?;
                match stack.last_mut() {
                    Some(top) => top.children.push(Node::Element(done)),
                    None => return Err(bad("thẻ đóng thừa".into())),
                }
            }
            Event::Text(t) => {
                let text = t.decode().map_err(|e| bad(e.to_string()))?;
                push_text(&mut stack, &text);
            }
            Event::CData(t) => {
                let text = t.decode().map_err(|e| bad(e.to_string()))?;
                push_text(&mut stack, &text);
            }
            Event::GeneralRef(g) => {
                let c = match &g[..] {
                    b"lt" => '<',
                    b"gt" => '>',
                    b"amp" => '&',
                    b"quot" => '"',
                    b"apos" => '\'',
                    _ => g
                        .resolve_char_ref()
                        .map_err(|e| bad(e.to_string()))?
                        .ok_or_else(|| bad("thực thể XML không rõ".into()))?,
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(bad("thẻ chưa đóng".into()));
    }
    let root = stack.pop().unwrap_or_default();
    root.elements()
        .next()
        .cloned()
        .ok_or_else(|| bad("phần rỗng".into()))
}

// -------------------------------------------------------------------------------------------------
// The model

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Align {
    Left,
    Center,
    Right,
    Justify,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LineSpacing {
    /// A multiple of single spacing (`w:lineRule="auto"`).
    Multiple(f64),
    /// Exactly this pitch, in points.
    Exact(f64),
    /// At least this pitch, in points.
    AtLeast(f64),
}

/// A paragraph border drawn as a rule: stroke width and distance from the text, in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rule {
    pub width: f64,
    pub space: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ParaProps {
    pub align: Align,
    pub left: f64,
    pub right: f64,
    pub first_line: f64,
    pub hanging: f64,
    pub before: f64,
    pub after: f64,
    pub line: LineSpacing,
    pub keep_next: bool,
    pub keep_lines: bool,
    pub page_break_before: bool,
    pub top: Option<Rule>,
    pub bottom: Option<Rule>,
}

impl Default for ParaProps {
    fn default() -> Self {
        Self {
            align: Align::Left,
            left: 0.0,
            right: 0.0,
            first_line: 0.0,
            hanging: 0.0,
            before: 0.0,
            after: 0.0,
            line: LineSpacing::Multiple(1.0),
            keep_next: false,
            keep_lines: false,
            page_break_before: false,
            top: None,
            bottom: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunProps {
    /// Points.
    pub size: f64,
    pub bold: bool,
    pub italic: bool,
    pub underline: bool,
    pub strike: bool,
    pub superscript: bool,
    pub subscript: bool,
}

impl Default for RunProps {
    /// Word's own default when a file has no document defaults: 10 pt.
    fn default() -> Self {
        Self {
            size: 10.0,
            bold: false,
            italic: false,
            underline: false,
            strike: false,
            superscript: false,
            subscript: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String, RunProps),
    /// The current page's number (a PAGE field).
    PageNumber(RunProps),
    Tab,
    LineBreak,
    PageBreak,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Paragraph {
    pub props: ParaProps,
    /// The paragraph mark's run properties: the size of an empty paragraph's line.
    pub mark: RunProps,
    pub content: Vec<Inline>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Paragraph),
    Table(Table),
    /// Not read from the DOCX: the room above the signer's name, where the signature and seal
    /// images of a signed document go (`signature::place`).
    Signature(super::signature::SignatureSpace),
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct TableBorders {
    /// Stroke widths in points; None: no line.
    pub top: Option<f64>,
    pub bottom: Option<f64>,
    pub left: Option<f64>,
    pub right: Option<f64>,
    pub inside_h: Option<f64>,
    pub inside_v: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VAlign {
    Top,
    Center,
    Bottom,
}

/// A cell's own borders (`w:tcBorders`), over the table's: per side, None where the cell says
/// nothing, Some(None) for "no line".
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CellBorders {
    pub top: Option<Option<f64>>,
    pub bottom: Option<Option<f64>>,
    pub left: Option<Option<f64>>,
    pub right: Option<Option<f64>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub borders: CellBorders,
    /// The cell's own margins (`w:tcMar`: top, right, bottom, left), over the table's.
    pub margins: [Option<f64>; 4],
    /// Background (`w:shd` fill), as "RRGGBB".
    pub fill: Option<String>,
    pub colspan: usize,
    pub rowspan: usize,
    pub valign: VAlign,
    pub blocks: Vec<Block>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub header: bool,
    pub cant_split: bool,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Left edge from the text's left margin, points.
    pub indent: f64,
    /// Column widths from the grid, points.
    pub columns: Vec<f64>,
    pub borders: TableBorders,
    /// Cell margins (top, right, bottom, left), points.
    pub cell_margins: [f64; 4],
    /// The table's place between the margins (`w:jc`): left (after the indent), centre, right.
    pub align: Align,
    pub rows: Vec<Row>,
}

/// Page size, margins and header distance, in points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PageSetup {
    pub width: f64,
    pub height: f64,
    pub top: f64,
    pub bottom: f64,
    pub left: f64,
    pub right: f64,
    pub header: f64,
}

impl Default for PageSetup {
    /// A4 with Word's default margins, used only for what a file leaves out.
    fn default() -> Self {
        Self {
            width: 595.3,
            height: 841.9,
            top: 72.0,
            bottom: 72.0,
            left: 72.0,
            right: 72.0,
            header: 36.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    pub page: PageSetup,
    /// The document's default text size, points.
    pub base_size: f64,
    pub body: Vec<Block>,
    /// The header of pages after the first (or of every page without a title page).
    pub header: Vec<Block>,
    /// The first page's own header (`w:titlePg`); None: the first page shares `header`.
    pub first_header: Option<Vec<Block>>,
    /// Elements whose formatting (or meaning) the converter does not carry to the PDF, with how
    /// often they occur; their words are kept.
    pub ignored: BTreeMap<String, usize>,
}

// -------------------------------------------------------------------------------------------------
// Styles

#[derive(Debug, Default)]
struct Style {
    based_on: Option<String>,
    ppr: Option<Element>,
    rpr: Option<Element>,
    tblpr: Option<Element>,
}

#[derive(Debug, Default)]
struct Styles {
    default_ppr: Option<Element>,
    default_rpr: Option<Element>,
    by_id: HashMap<String, Style>,
    /// The style a paragraph without `w:pStyle` has (w:default="1").
    default_para: Option<String>,
    default_table: Option<String>,
}

impl Styles {
    fn read(root: &Element) -> Self {
        let mut styles = Styles::default();
        if let Some(defaults) = root.child("w:docDefaults") {
            styles.default_ppr = defaults
                .child("w:pPrDefault")
                .and_then(|d| d.child("w:pPr"))
                .cloned();
            styles.default_rpr = defaults
                .child("w:rPrDefault")
                .and_then(|d| d.child("w:rPr"))
                .cloned();
        }
        for style in root.elements().filter(|e| e.name == "w:style") {
            let Some(id) = style.attr("w:styleId") else {
                continue;
            };
            let is_default = matches!(style.attr("w:default"), Some("1" | "true"));
            match style.attr("w:type") {
                Some("paragraph") if is_default => styles.default_para = Some(id.to_string()),
                Some("table") if is_default => styles.default_table = Some(id.to_string()),
                _ => {}
            }
            styles.by_id.insert(
                id.to_string(),
                Style {
                    based_on: style
                        .child("w:basedOn")
                        .and_then(|b| b.attr("w:val"))
                        .map(str::to_string),
                    ppr: style.child("w:pPr").cloned(),
                    rpr: style.child("w:rPr").cloned(),
                    tblpr: style.child("w:tblPr").cloned(),
                },
            );
        }
        styles
    }

    /// The style and those it is based on, base first (at most 16 deep: a loop ends there).
    fn chain(&self, id: Option<&str>) -> Vec<&Style> {
        let mut chain = Vec::new();
        let mut next = id.map(str::to_string);
        while let Some(id) = next.take() {
            let Some(style) = self.by_id.get(&id) else {
                break;
            };
            chain.push(style);
            if chain.len() >= 16 {
                break;
            }
            next = style.based_on.clone();
        }
        chain.reverse();
        chain
    }
}

// -------------------------------------------------------------------------------------------------
// Reading

/// Elements that carry no formatting the PDF needs and no words: skipped without a note.
const SILENT: &[&str] = &[
    "w:bookmarkStart",
    "w:bookmarkEnd",
    "w:proofErr",
    "w:lastRenderedPageBreak",
    "w:permStart",
    "w:permEnd",
    "w:commentRangeStart",
    "w:commentRangeEnd",
    "w:softHyphen",
    // Property elements whose effect the PDF has by its own means or does not need.
    "w:rFonts",
    "w:szCs",
    "w:bCs",
    "w:iCs",
    "w:lang",
    "w:noProof",
    "w:widowControl",
    "w:snapToGrid",
    "w:kern",
    "w:autoSpaceDE",
    "w:autoSpaceDN",
    "w:adjustRightInd",
    "w:contextualSpacing",
    "w:rStyle",
    "w:pStyle",
    "w:tblStyle",
    "w:tblW",
    "w:tblLayout",
    "w:tblLook",
    "w:tcW",
    "w:trHeight",
    "w:gridAfter",
    "w:gridBefore",
    "w:cols",
    "w:docGrid",
    "w:pgNumType",
    "w:formProt",
    "w:textDirection",
    "w:headerReference",
    "w:footerReference",
    "w:titlePg",
    "w:bidi",
    "w:tblCellSpacing",
    "w:tblOverlap",
    "w:suppressAutoHyphens",
    "w:overflowPunct",
    "w:rtl",
    "w:cs",
    "w:outlineLvl",
    "w:webHidden",
    "w:tabs",
    // A section's start type (new page, continuous): one section is read.
    "w:type",
];

struct Reader<'a> {
    styles: &'a Styles,
    ignored: BTreeMap<String, usize>,
}

impl Reader<'_> {
    fn ignore(&mut self, name: &str) {
        if !SILENT.contains(&name) {
            *self.ignored.entry(name.to_string()).or_default() += 1;
        }
    }

    fn para_props(&mut self, style: Option<&str>, direct: Option<&Element>) -> ParaProps {
        let mut props = ParaProps::default();
        let styles = self.styles;
        let chain = styles.chain(style.or(styles.default_para.as_deref()));
        let layers = styles
            .default_ppr
            .iter()
            .chain(chain.iter().filter_map(|s| s.ppr.as_ref()))
            .chain(direct);
        for ppr in layers {
            self.apply_ppr(&mut props, ppr);
        }
        props
    }

    fn apply_ppr(&mut self, p: &mut ParaProps, ppr: &Element) {
        for e in ppr.elements() {
            match e.name.as_str() {
                "w:jc" => {
                    p.align = match e.attr("w:val") {
                        Some("center") => Align::Center,
                        Some("right" | "end") => Align::Right,
                        Some(
                            "both" | "distribute" | "lowKashida" | "mediumKashida" | "highKashida"
                            | "thaiDistribute",
                        ) => Align::Justify,
                        _ => Align::Left,
                    }
                }
                "w:ind" => {
                    if let Some(v) = e.num("w:left").or(e.num("w:start")) {
                        p.left = twips(v);
                    }
                    if let Some(v) = e.num("w:right").or(e.num("w:end")) {
                        p.right = twips(v);
                    }
                    if let Some(v) = e.num("w:firstLine") {
                        p.first_line = twips(v);
                        p.hanging = 0.0;
                    }
                    if let Some(v) = e.num("w:hanging") {
                        p.hanging = twips(v);
                        p.first_line = 0.0;
                    }
                }
                "w:spacing" => {
                    if let Some(v) = e.num("w:before") {
                        p.before = twips(v);
                    }
                    if let Some(v) = e.num("w:after") {
                        p.after = twips(v);
                    }
                    if let Some(v) = e.num("w:line") {
                        p.line = match e.attr("w:lineRule") {
                            Some("exact") => LineSpacing::Exact(twips(v)),
                            Some("atLeast") => LineSpacing::AtLeast(twips(v)),
                            _ => LineSpacing::Multiple(v / 240.0),
                        };
                    }
                    if e.attr("w:beforeAutospacing").is_some()
                        || e.attr("w:afterAutospacing").is_some()
                    {
                        self.ignore("w:spacing/@autospacing");
                    }
                }
                "w:keepNext" => p.keep_next = e.on(),
                "w:keepLines" => p.keep_lines = e.on(),
                "w:pageBreakBefore" => p.page_break_before = e.on(),
                "w:shd" => {
                    if fill(e).is_some() {
                        self.ignore("w:shd (nền của đoạn)");
                    }
                }
                "w:pBdr" => {
                    for side in e.elements() {
                        let rule = border(side);
                        match side.name.as_str() {
                            "w:top" => p.top = rule.map(|(width, space)| Rule { width, space }),
                            "w:bottom" => {
                                p.bottom = rule.map(|(width, space)| Rule { width, space })
                            }
                            other => self.ignore(&format!("w:pBdr/{other}")),
                        }
                    }
                }
                // The paragraph mark's run properties: read by the caller.
                "w:rPr" => {}
                other => self.ignore(other),
            }
        }
    }

    fn run_props(&mut self, para_style: Option<&str>, run_style: Option<&str>) -> RunProps {
        let mut props = RunProps::default();
        let styles = self.styles;
        let para_chain = styles.chain(para_style.or(styles.default_para.as_deref()));
        let run_chain = styles.chain(run_style);
        let layers: Vec<&Element> = styles
            .default_rpr
            .iter()
            .chain(para_chain.iter().filter_map(|s| s.rpr.as_ref()))
            .chain(run_chain.iter().filter_map(|s| s.rpr.as_ref()))
            .collect();
        for rpr in layers {
            self.apply_rpr(&mut props, rpr);
        }
        props
    }

    fn apply_rpr(&mut self, r: &mut RunProps, rpr: &Element) {
        for e in rpr.elements() {
            match e.name.as_str() {
                "w:b" => r.bold = e.on(),
                "w:i" => r.italic = e.on(),
                "w:u" => r.underline = !matches!(e.attr("w:val"), Some("none") | None),
                "w:strike" | "w:dstrike" => r.strike = e.on(),
                "w:sz" => {
                    if let Some(v) = e.num("w:val") {
                        r.size = v / 2.0;
                    }
                }
                "w:color" => {
                    if !matches!(e.attr("w:val"), None | Some("auto" | "000000")) {
                        self.ignore("w:color (chữ in màu đen)");
                    }
                }
                "w:shd" => {
                    if fill(e).is_some() {
                        self.ignore("w:shd (nền của chữ)");
                    }
                }
                "w:vertAlign" => {
                    r.superscript = e.attr("w:val") == Some("superscript");
                    r.subscript = e.attr("w:val") == Some("subscript");
                }
                "w:rFonts" => {
                    for (_, face) in e.attrs.iter().filter(|(k, _)| !k.ends_with("Theme")) {
                        if !matches!(
                            face.as_str(),
                            "Times New Roman" | "Liberation Serif" | "Tinos"
                        ) {
                            self.ignore(&format!("w:rFonts ({face}: in ra bằng Liberation Serif)"));
                        }
                    }
                }
                other => self.ignore(other),
            }
        }
    }

    fn blocks(&mut self, parent: &Element, out: &mut Vec<Block>) {
        for e in parent.elements() {
            match e.name.as_str() {
                "w:p" => out.push(Block::Paragraph(self.paragraph(e))),
                "w:tbl" => out.push(Block::Table(self.table(e))),
                "w:sectPr" | "w:tcPr" | "w:tblPr" | "w:tblGrid" | "w:trPr" => {}
                // Containers whose content is ordinary blocks.
                "w:sdt" | "w:customXml" | "w:sdtContent" => self.blocks(e, out),
                "w:sdtPr" | "w:sdtEndPr" => {}
                name if SILENT.contains(&name) => {}
                other => {
                    self.ignore(other);
                    // Unknown: its words still go into the PDF, as a plain paragraph.
                    let mut words = String::new();
                    all_text(e, &mut words);
                    if !words.trim().is_empty() {
                        out.push(Block::Paragraph(Paragraph {
                            props: ParaProps::default(),
                            mark: self.run_props(None, None),
                            content: vec![Inline::Text(words, self.run_props(None, None))],
                        }));
                    }
                }
            }
        }
    }

    fn paragraph(&mut self, p: &Element) -> Paragraph {
        let ppr = p.child("w:pPr");
        let style = ppr
            .and_then(|x| x.child("w:pStyle"))
            .and_then(|s| s.attr("w:val"))
            .map(str::to_string);
        let props = self.para_props(style.as_deref(), ppr);
        let mut mark = self.run_props(style.as_deref(), None);
        if let Some(rpr) = ppr.and_then(|x| x.child("w:rPr")) {
            self.apply_rpr(&mut mark, rpr);
        }
        let mut content = Vec::new();
        let mut field = FieldState::default();
        self.inlines(p, style.as_deref(), &mut content, &mut field);
        Paragraph {
            props,
            mark,
            content,
        }
    }

    fn inlines(
        &mut self,
        parent: &Element,
        style: Option<&str>,
        out: &mut Vec<Inline>,
        field: &mut FieldState,
    ) {
        for e in parent.elements() {
            match e.name.as_str() {
                "w:pPr" => {}
                "w:r" => self.run(e, style, out, field),
                "w:fldSimple" => {
                    let instr = e.attr("w:instr").unwrap_or_default().trim().to_string();
                    if is_page_field(&instr) {
                        let props = self.first_run_props(e, style);
                        out.push(Inline::PageNumber(props));
                    } else {
                        self.ignore(&format!("trường {instr} (giữ chữ đang hiện)"));
                        self.inlines(e, style, out, field);
                    }
                }
                // Containers of runs: their runs count as the paragraph's own.
                "w:hyperlink" | "w:ins" | "w:smartTag" | "w:customXml" | "w:sdt"
                | "w:sdtContent" | "w:moveTo" | "w:dir" | "w:bdo" => {
                    if e.name == "w:hyperlink" {
                        self.ignore("w:hyperlink (chỉ giữ chữ)");
                    }
                    self.inlines(e, style, out, field)
                }
                // Deleted text under change tracking is not shown by Word either.
                "w:del" | "w:moveFrom" | "w:sdtPr" | "w:sdtEndPr" => {}
                name if SILENT.contains(&name) => {}
                other => {
                    self.ignore(other);
                    let mut words = String::new();
                    all_text(e, &mut words);
                    if !words.is_empty() {
                        out.push(Inline::Text(words, self.run_props(style, None)));
                    }
                }
            }
        }
    }

    fn first_run_props(&mut self, parent: &Element, style: Option<&str>) -> RunProps {
        match parent.child("w:r") {
            Some(r) => self.direct_run_props(r, style),
            None => self.run_props(style, None),
        }
    }

    fn direct_run_props(&mut self, r: &Element, style: Option<&str>) -> RunProps {
        let rpr = r.child("w:rPr");
        let run_style = rpr
            .and_then(|x| x.child("w:rStyle"))
            .and_then(|s| s.attr("w:val"))
            .map(str::to_string);
        let mut props = self.run_props(style, run_style.as_deref());
        if let Some(rpr) = rpr {
            self.apply_rpr(&mut props, rpr);
        }
        props
    }

    fn run(
        &mut self,
        r: &Element,
        style: Option<&str>,
        out: &mut Vec<Inline>,
        field: &mut FieldState,
    ) {
        let props = self.direct_run_props(r, style);
        for e in r.elements() {
            match e.name.as_str() {
                "w:rPr" => {}
                "w:fldChar" => match e.attr("w:fldCharType") {
                    Some("begin") => {
                        *field = FieldState {
                            depth: field.depth + 1,
                            ..FieldState::default()
                        }
                    }
                    Some("separate") => {
                        field.showing = true;
                        if is_page_field(field.instr.trim()) {
                            out.push(Inline::PageNumber(props.clone()));
                            field.replaced = true;
                        } else if !field.instr.trim().is_empty() {
                            self.ignore(&format!(
                                "trường {} (giữ chữ đang hiện)",
                                field.instr.trim()
                            ));
                        }
                    }
                    Some("end") => {
                        // A field without a shown result (no "separate"): a PAGE still counts.
                        if !field.showing && is_page_field(field.instr.trim()) {
                            out.push(Inline::PageNumber(props.clone()));
                        }
                        *field = FieldState::default();
                    }
                    _ => {}
                },
                "w:instrText" => field.instr.push_str(&e.text()),
                "w:t" => {
                    // The cached number of a PAGE field is replaced by the live one.
                    if !field.replaced && (field.depth == 0 || field.showing) {
                        push_text(out, &e.text(), &props);
                    }
                }
                "w:tab" | "w:ptab" => out.push(Inline::Tab),
                "w:br" => match e.attr("w:type") {
                    Some("page") => out.push(Inline::PageBreak),
                    Some("column") => {
                        self.ignore("w:br (ngắt cột)");
                        out.push(Inline::LineBreak)
                    }
                    _ => out.push(Inline::LineBreak),
                },
                "w:cr" => out.push(Inline::LineBreak),
                "w:noBreakHyphen" => push_text(out, "\u{2011}", &props),
                "w:sym" => {
                    self.ignore("w:sym");
                    let c = e
                        .attr("w:char")
                        .and_then(|c| u32::from_str_radix(c, 16).ok())
                        .and_then(char::from_u32)
                        .filter(|c| !('\u{F000}'..='\u{F0FF}').contains(c));
                    if let Some(c) = c {
                        push_text(out, c.encode_utf8(&mut [0; 4]), &props);
                    }
                }
                "w:delText" | "w:delInstrText" => {}
                name if SILENT.contains(&name) => {}
                other => {
                    self.ignore(other);
                    let mut words = String::new();
                    all_text(e, &mut words);
                    if !words.is_empty() {
                        push_text(out, &words, &props);
                    }
                }
            }
        }
    }

    fn table(&mut self, tbl: &Element) -> Table {
        let tblpr = tbl.child("w:tblPr");
        let style = tblpr
            .and_then(|x| x.child("w:tblStyle"))
            .and_then(|s| s.attr("w:val"))
            .map(str::to_string);
        let styles = self.styles;
        let chain = styles.chain(style.as_deref().or(styles.default_table.as_deref()));
        let mut table = Table {
            indent: 0.0,
            columns: Vec::new(),
            borders: TableBorders::default(),
            // Word's defaults: 0.19 cm left and right, nothing above and below.
            cell_margins: [0.0, 5.4, 0.0, 5.4],
            align: Align::Left,
            rows: Vec::new(),
        };
        for pr in chain.iter().filter_map(|s| s.tblpr.as_ref()).chain(tblpr) {
            for e in pr.elements() {
                match e.name.as_str() {
                    "w:tblInd" => table.indent = twips(e.num("w:w").unwrap_or(0.0)),
                    "w:jc" => {
                        table.align = match e.attr("w:val") {
                            Some("center") => Align::Center,
                            Some("right" | "end") => Align::Right,
                            _ => Align::Left,
                        }
                    }
                    "w:tblBorders" => {
                        for side in e.elements() {
                            let width = border(side).map(|(w, _)| w);
                            let b = &mut table.borders;
                            match side.name.as_str() {
                                "w:top" => b.top = width,
                                "w:bottom" => b.bottom = width,
                                "w:left" | "w:start" => b.left = width,
                                "w:right" | "w:end" => b.right = width,
                                "w:insideH" => b.inside_h = width,
                                "w:insideV" => b.inside_v = width,
                                other => self.ignore(&format!("w:tblBorders/{other}")),
                            }
                        }
                    }
                    "w:tblCellMar" => {
                        for side in e.elements() {
                            let v = twips(side.num("w:w").unwrap_or(0.0));
                            match side.name.as_str() {
                                "w:top" => table.cell_margins[0] = v,
                                "w:right" | "w:end" => table.cell_margins[1] = v,
                                "w:bottom" => table.cell_margins[2] = v,
                                "w:left" | "w:start" => table.cell_margins[3] = v,
                                other => self.ignore(&format!("w:tblCellMar/{other}")),
                            }
                        }
                    }
                    other => self.ignore(other),
                }
            }
        }
        if let Some(grid) = tbl.child("w:tblGrid") {
            table.columns = grid
                .elements()
                .filter(|c| c.name == "w:gridCol")
                .map(|c| twips(c.num("w:w").unwrap_or(0.0)))
                .collect();
        }
        // Cells by grid column, so a vertical merge finds the cell it continues.
        let mut merges: Vec<(usize, usize, usize)> = Vec::new(); // (row, cell, grid column) of a restart
        let mut continued: Vec<(usize, usize)> = Vec::new(); // (row, grid column) of a continuation
        for (ri, tr) in tbl.elements().filter(|e| e.name == "w:tr").enumerate() {
            let mut row = Row {
                header: false,
                cant_split: false,
                cells: Vec::new(),
            };
            if let Some(trpr) = tr.child("w:trPr") {
                for e in trpr.elements() {
                    match e.name.as_str() {
                        "w:tblHeader" => row.header = e.on(),
                        "w:cantSplit" => row.cant_split = e.on(),
                        other => self.ignore(other),
                    }
                }
            }
            let mut column = 0;
            for tc in tr.elements() {
                if tc.name != "w:tc" {
                    if !matches!(tc.name.as_str(), "w:trPr" | "w:tblPrEx") {
                        self.ignore(&tc.name);
                    }
                    continue;
                }
                let mut cell = Cell {
                    borders: CellBorders::default(),
                    margins: [None; 4],
                    fill: None,
                    colspan: 1,
                    rowspan: 1,
                    valign: VAlign::Top,
                    blocks: Vec::new(),
                };
                let mut merge = None;
                if let Some(tcpr) = tc.child("w:tcPr") {
                    for e in tcpr.elements() {
                        match e.name.as_str() {
                            "w:gridSpan" => {
                                cell.colspan = e.num("w:val").map_or(1, |v| v.max(1.0) as usize)
                            }
                            "w:tcBorders" => {
                                for side in e.elements() {
                                    let width = Some(border(side).map(|(w, _)| w));
                                    let b = &mut cell.borders;
                                    match side.name.as_str() {
                                        "w:top" => b.top = width,
                                        "w:bottom" => b.bottom = width,
                                        "w:left" | "w:start" => b.left = width,
                                        "w:right" | "w:end" => b.right = width,
                                        other => self.ignore(&format!("w:tcBorders/{other}")),
                                    }
                                }
                            }
                            "w:vMerge" => {
                                merge = Some(e.attr("w:val") == Some("restart"));
                            }
                            "w:tcMar" => {
                                for side in e.elements() {
                                    let v = Some(twips(side.num("w:w").unwrap_or(0.0)));
                                    match side.name.as_str() {
                                        "w:top" => cell.margins[0] = v,
                                        "w:right" | "w:end" => cell.margins[1] = v,
                                        "w:bottom" => cell.margins[2] = v,
                                        "w:left" | "w:start" => cell.margins[3] = v,
                                        other => self.ignore(&format!("w:tcMar/{other}")),
                                    }
                                }
                            }
                            "w:shd" => cell.fill = fill(e),
                            "w:vAlign" => {
                                cell.valign = match e.attr("w:val") {
                                    Some("center") => VAlign::Center,
                                    Some("bottom") => VAlign::Bottom,
                                    _ => VAlign::Top,
                                }
                            }
                            other => self.ignore(other),
                        }
                    }
                }
                self.blocks(tc, &mut cell.blocks);
                match merge {
                    Some(false) => {
                        continued.push((ri, column));
                        // Its words (Word shows none, but never lose any) join the merged cell.
                        if cell.blocks.iter().any(has_words) {
                            self.ignore("w:vMerge (chữ trong ô bị gộp)");
                            row.cells.push(cell.clone());
                        }
                    }
                    Some(true) => {
                        merges.push((ri, row.cells.len(), column));
                        row.cells.push(cell.clone());
                    }
                    None => row.cells.push(cell.clone()),
                }
                column += cell.colspan;
            }
            table.rows.push(row);
        }
        for (ri, ci, column) in merges {
            let mut span = 1;
            while continued.contains(&(ri + span, column)) {
                span += 1;
            }
            if let Some(cell) = table.rows[ri].cells.get_mut(ci) {
                cell.rowspan = span;
            }
        }
        table
    }
}

fn has_words(block: &Block) -> bool {
    match block {
        Block::Paragraph(p) => p
            .content
            .iter()
            .any(|i| matches!(i, Inline::Text(t, _) if !t.trim().is_empty())),
        Block::Table(t) => t
            .rows
            .iter()
            .any(|r| r.cells.iter().any(|c| c.blocks.iter().any(has_words))),
        Block::Signature(_) => false,
    }
}

#[derive(Debug, Default)]
struct FieldState {
    depth: usize,
    instr: String,
    showing: bool,
    replaced: bool,
}

fn is_page_field(instr: &str) -> bool {
    instr.split_whitespace().next() == Some("PAGE")
}

fn push_text(out: &mut Vec<Inline>, text: &str, props: &RunProps) {
    if let Some(Inline::Text(t, p)) = out.last_mut()
        && p == props
    {
        t.push_str(text);
        return;
    }
    out.push(Inline::Text(text.to_string(), props.clone()));
}

/// Every w:t under an element, for the words of an element the converter does not know.
fn all_text(e: &Element, out: &mut String) {
    if e.name == "mc:AlternateContent" {
        // The same content twice (a modern choice and a fallback): its words once.
        if let Some(choice) = e.elements().next() {
            all_text(choice, out);
        }
        return;
    }
    for child in e.elements() {
        if child.name == "w:t" {
            out.push_str(&child.text());
        } else if child.name == "w:p" && !out.is_empty() {
            out.push(' ');
            all_text(child, out);
        } else {
            all_text(child, out);
        }
    }
}

/// A shading's fill colour ("RRGGBB"), or None for none, auto or white.
fn fill(shd: &Element) -> Option<String> {
    let colour = shd.attr("w:fill")?;
    let valid = colour.len() == 6 && colour.chars().all(|c| c.is_ascii_hexdigit());
    (valid && !colour.eq_ignore_ascii_case("FFFFFF")).then(|| colour.to_ascii_uppercase())
}

/// A border side's (stroke width, distance) in points, or None for no line.
fn border(side: &Element) -> Option<(f64, f64)> {
    match side.attr("w:val") {
        None | Some("nil" | "none") => None,
        Some(_) => {
            // w:sz is in eighths of a point; Word draws at least a quarter point.
            let width = side.num("w:sz").map_or(0.5, |v| (v / 8.0).max(0.25));
            Some((width, side.num("w:space").unwrap_or(0.0)))
        }
    }
}

// -------------------------------------------------------------------------------------------------
// The package

fn part(archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<String, ReadError> {
    let mut file = archive
        .by_name(name)
        .map_err(|_| ReadError::MissingPart(name.to_string()))?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(|e| ReadError::Xml {
        part: name.to_string(),
        detail: e.to_string(),
    })?;
    Ok(text)
}

/// Reads a DOCX (already filled: no Tera tags are interpreted here).
pub fn read(docx: &[u8]) -> Result<Model, ReadError> {
    let mut archive =
        zip::ZipArchive::new(Cursor::new(docx)).map_err(|e| ReadError::Zip(e.to_string()))?;
    let document = parse(
        &part(&mut archive, "word/document.xml")?,
        "word/document.xml",
    )?;
    let styles = match part(&mut archive, "word/styles.xml") {
        Ok(xml) => Styles::read(&parse(&xml, "word/styles.xml")?),
        Err(_) => Styles::default(),
    };
    let rels = match part(&mut archive, "word/_rels/document.xml.rels") {
        Ok(xml) => parse(&xml, "word/_rels/document.xml.rels")?,
        Err(_) => Element::default(),
    };
    let body = document
        .child("w:body")
        .ok_or_else(|| ReadError::MissingPart("w:body".into()))?;
    let mut reader = Reader {
        styles: &styles,
        ignored: BTreeMap::new(),
    };
    let mut blocks = Vec::new();
    reader.blocks(body, &mut blocks);
    // The last section's properties set the pages (one section: the templates have one; other
    // sections' own settings are noted and not applied).
    let sections = count(body, "w:sectPr");
    if sections > 1 {
        *reader
            .ignored
            .entry("w:sectPr (các phần sau phần cuối)".into())
            .or_default() += sections - 1;
    }
    let sect = body.child("w:sectPr");
    let mut page = PageSetup::default();
    let mut title_page = false;
    let (mut header_default, mut header_first) = (None, None);
    if let Some(sect) = sect {
        for e in sect.elements() {
            match e.name.as_str() {
                "w:pgSz" => {
                    page.width = twips(e.num("w:w").unwrap_or(11906.0));
                    page.height = twips(e.num("w:h").unwrap_or(16838.0));
                    if e.attr("w:orient") == Some("landscape") && page.width < page.height {
                        std::mem::swap(&mut page.width, &mut page.height);
                    }
                }
                "w:pgMar" => {
                    page.top = twips(e.num("w:top").unwrap_or(1440.0).abs());
                    page.bottom = twips(e.num("w:bottom").unwrap_or(1440.0).abs());
                    page.left = twips(e.num("w:left").unwrap_or(1440.0));
                    page.right = twips(e.num("w:right").unwrap_or(1440.0));
                    page.header = twips(e.num("w:header").unwrap_or(720.0));
                    if e.num("w:gutter").unwrap_or(0.0) != 0.0 {
                        reader.ignore("w:pgMar/@gutter");
                    }
                }
                "w:titlePg" => title_page = e.on(),
                "w:headerReference" => {
                    let target = e.attr("r:id").and_then(|id| {
                        rels.elements()
                            .find(|r| r.attr("Id") == Some(id))
                            .and_then(|r| r.attr("Target"))
                            .map(|t| format!("word/{}", t.trim_start_matches('/')))
                    });
                    match e.attr("w:type") {
                        Some("first") => header_first = target,
                        Some("even") => reader.ignore("w:headerReference (trang chẵn)"),
                        _ => header_default = target,
                    }
                }
                "w:footerReference" => reader.ignore("w:footerReference (chân trang)"),
                name if SILENT.contains(&name) => {}
                other => reader.ignore(other),
            }
        }
    }
    let mut header_blocks = |name: Option<String>| -> Result<Vec<Block>, ReadError> {
        let Some(name) = name else {
            return Ok(Vec::new());
        };
        let xml = part(&mut archive, &name)?;
        let root = parse(&xml, &name)?;
        let mut blocks = Vec::new();
        reader.blocks(&root, &mut blocks);
        Ok(blocks)
    };
    let header = header_blocks(header_default)?;
    let first_header = if title_page {
        Some(header_blocks(header_first)?)
    } else {
        None
    };
    let base_size = styles
        .default_rpr
        .as_ref()
        .and_then(|r| r.child("w:sz"))
        .and_then(|s| s.num("w:val"))
        .map_or(10.0, |v| v / 2.0);
    let ignored = reader.ignored;
    Ok(Model {
        page,
        base_size,
        body: blocks,
        header,
        first_header,
        ignored,
    })
}

fn count(e: &Element, name: &str) -> usize {
    e.elements()
        .map(|c| usize::from(c.name == name) + count(c, name))
        .sum()
}
