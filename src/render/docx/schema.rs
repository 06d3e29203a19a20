//! Puts the WordprocessingML that docx-rs writes into the order the OOXML schema requires, and adds
//! what docx-rs cannot write: the document language (vi-VN) and repeating header rows.
//!
//! docx-rs 0.4.22 writes `w:rPr` first inside `w:pPr`, `w:rFonts` after `w:sz` inside `w:rPr`, the
//! header references after `w:pgMar` in `w:sectPr`, and `w:tblW`/`w:jc`/`w:tblBorders` in its own
//! order. LibreOffice and python-docx accept that; Word validates these children as schema
//! sequences (ECMA-376 Part 1, wml.xsd) and may call the file corrupt. [`normalize`] sorts the
//! children of every element listed in [`SEQUENCES`] by their place in the schema; [`violations`]
//! checks any part against the same table, for tests.

use std::io::{Cursor, Read, Write};
use std::ops::Range;

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// `any` in a sequence: every child not named elsewhere in it, at that position.
const ANY: &str = "*";

/// The child order of the elements vanban's templates contain, from wml.xsd (Transitional).
/// `a|b` is a choice (either, same place). Where the current schema makes the run properties a
/// choice, the first edition's sequence is used: Word writes it, and it satisfies both editions.
pub(crate) const SEQUENCES: &[(&str, &[&str])] = &[
    ("w:document", &["w:background", "w:body"]),
    ("w:body", &[ANY, "w:sectPr"]),
    ("w:p", &["w:pPr", ANY]),
    ("w:r", &["w:rPr", ANY]),
    ("w:tbl", &["w:tblPr", "w:tblGrid", ANY]),
    ("w:tr", &["w:tblPrEx", "w:trPr", ANY]),
    ("w:tc", &["w:tcPr", ANY]),
    // CT_PPrBase, then CT_PPr's own rPr, sectPr, pPrChange.
    (
        "w:pPr",
        &[
            "w:pStyle",
            "w:keepNext",
            "w:keepLines",
            "w:pageBreakBefore",
            "w:framePr",
            "w:widowControl",
            "w:numPr",
            "w:suppressLineNumbers",
            "w:pBdr",
            "w:shd",
            "w:tabs",
            "w:suppressAutoHyphens",
            "w:kinsoku",
            "w:wordWrap",
            "w:overflowPunct",
            "w:topLinePunct",
            "w:autoSpaceDE",
            "w:autoSpaceDN",
            "w:bidi",
            "w:adjustRightInd",
            "w:snapToGrid",
            "w:spacing",
            "w:ind",
            "w:contextualSpacing",
            "w:mirrorIndents",
            "w:suppressOverlap",
            "w:jc",
            "w:textDirection",
            "w:textAlignment",
            "w:textboxTightWrap",
            "w:outlineLvl",
            "w:divId",
            "w:cnfStyle",
            "w:rPr",
            "w:sectPr",
            "w:pPrChange",
        ],
    ),
    // CT_ParaRPr's track changes, EG_RPrBase, rPrChange.
    (
        "w:rPr",
        &[
            "w:ins",
            "w:del",
            "w:moveFrom",
            "w:moveTo",
            "w:rStyle",
            "w:rFonts",
            "w:b",
            "w:bCs",
            "w:i",
            "w:iCs",
            "w:caps",
            "w:smallCaps",
            "w:strike",
            "w:dstrike",
            "w:outline",
            "w:shadow",
            "w:emboss",
            "w:imprint",
            "w:noProof",
            "w:snapToGrid",
            "w:vanish",
            "w:webHidden",
            "w:color",
            "w:spacing",
            "w:w",
            "w:kern",
            "w:position",
            "w:sz",
            "w:szCs",
            "w:highlight",
            "w:u",
            "w:effect",
            "w:bdr",
            "w:shd",
            "w:fitText",
            "w:vertAlign",
            "w:rtl",
            "w:cs",
            "w:em",
            "w:lang",
            "w:eastAsianLayout",
            "w:specVanish",
            "w:oMath",
            "w:rPrChange",
        ],
    ),
    // EG_HdrFtrReferences (up to 6, either kind), EG_SectPrContents, sectPrChange.
    (
        "w:sectPr",
        &[
            "w:headerReference|w:footerReference",
            "w:footnotePr",
            "w:endnotePr",
            "w:type",
            "w:pgSz",
            "w:pgMar",
            "w:paperSrc",
            "w:pgBorders",
            "w:lnNumType",
            "w:pgNumType",
            "w:cols",
            "w:formProt",
            "w:vAlign",
            "w:noEndnote",
            "w:titlePg",
            "w:textDirection",
            "w:bidi",
            "w:rtlGutter",
            "w:docGrid",
            "w:printerSettings",
            "w:sectPrChange",
        ],
    ),
    // CT_TblPrBase, tblPrChange.
    (
        "w:tblPr",
        &[
            "w:tblStyle",
            "w:tblpPr",
            "w:tblOverlap",
            "w:bidiVisual",
            "w:tblStyleRowBandSize",
            "w:tblStyleColBandSize",
            "w:tblW",
            "w:jc",
            "w:tblCellSpacing",
            "w:tblInd",
            "w:tblBorders",
            "w:shd",
            "w:tblLayout",
            "w:tblCellMar",
            "w:tblLook",
            "w:tblCaption",
            "w:tblDescription",
            "w:tblPrChange",
        ],
    ),
    // CT_TrPrBase is a choice; its canonical order, then CT_TrPr's ins, del, trPrChange.
    (
        "w:trPr",
        &[
            "w:cnfStyle",
            "w:divId",
            "w:gridBefore",
            "w:gridAfter",
            "w:wBefore",
            "w:wAfter",
            "w:cantSplit",
            "w:trHeight",
            "w:tblHeader",
            "w:tblCellSpacing",
            "w:jc",
            "w:hidden",
            "w:ins",
            "w:del",
            "w:trPrChange",
        ],
    ),
    (
        "w:tcPr",
        &[
            "w:cnfStyle",
            "w:tcW",
            "w:gridSpan",
            "w:hMerge",
            "w:vMerge",
            "w:tcBorders",
            "w:shd",
            "w:noWrap",
            "w:tcMar",
            "w:textDirection",
            "w:tcFitText",
            "w:vAlign",
            "w:hideMark",
            "w:headers",
            "w:cellIns",
            "w:cellDel",
            "w:cellMerge",
            "w:tcPrChange",
        ],
    ),
    (
        "w:pBdr",
        &[
            "w:top",
            "w:left",
            "w:bottom",
            "w:right",
            "w:between",
            "w:bar",
        ],
    ),
    (
        "w:tblBorders",
        &[
            "w:top",
            "w:start",
            "w:left",
            "w:bottom",
            "w:end",
            "w:right",
            "w:insideH",
            "w:insideV",
        ],
    ),
    (
        "w:tcBorders",
        &[
            "w:top",
            "w:start",
            "w:left",
            "w:bottom",
            "w:end",
            "w:right",
            "w:insideH",
            "w:insideV",
            "w:tl2br",
            "w:tr2bl",
        ],
    ),
    (
        "w:tblCellMar",
        &["w:top", "w:start", "w:left", "w:bottom", "w:end", "w:right"],
    ),
    (
        "w:tcMar",
        &["w:top", "w:start", "w:left", "w:bottom", "w:end", "w:right"],
    ),
    // CT_Settings.
    (
        "w:settings",
        &[
            "w:writeProtection",
            "w:view",
            "w:zoom",
            "w:removePersonalInformation",
            "w:removeDateAndTime",
            "w:doNotDisplayPageBoundaries",
            "w:displayBackgroundShape",
            "w:printPostScriptOverText",
            "w:printFractionalCharacterWidth",
            "w:printFormsData",
            "w:embedTrueTypeFonts",
            "w:embedSystemFonts",
            "w:saveSubsetFonts",
            "w:saveFormsData",
            "w:mirrorMargins",
            "w:alignBordersAndEdges",
            "w:bordersDoNotSurroundHeader",
            "w:bordersDoNotSurroundFooter",
            "w:gutterAtTop",
            "w:hideSpellingErrors",
            "w:hideGrammaticalErrors",
            "w:activeWritingStyle",
            "w:proofState",
            "w:formsDesign",
            "w:attachedTemplate",
            "w:linkStyles",
            "w:stylePaneFormatFilter",
            "w:stylePaneSortMethod",
            "w:documentType",
            "w:mailMerge",
            "w:revisionView",
            "w:trackRevisions",
            "w:doNotTrackMoves",
            "w:doNotTrackFormatting",
            "w:documentProtection",
            "w:autoFormatOverride",
            "w:styleLockTheme",
            "w:styleLockQFSet",
            "w:defaultTabStop",
            "w:autoHyphenation",
            "w:consecutiveHyphenLimit",
            "w:hyphenationZone",
            "w:doNotHyphenateCaps",
            "w:showEnvelope",
            "w:summaryLength",
            "w:clickAndTypeStyle",
            "w:defaultTableStyle",
            "w:evenAndOddHeaders",
            "w:bookFoldRevPrinting",
            "w:bookFoldPrinting",
            "w:bookFoldPrintingSheets",
            "w:drawingGridHorizontalSpacing",
            "w:drawingGridVerticalSpacing",
            "w:displayHorizontalDrawingGridEvery",
            "w:displayVerticalDrawingGridEvery",
            "w:doNotUseMarginsForDrawingGridOrigin",
            "w:drawingGridHorizontalOrigin",
            "w:drawingGridVerticalOrigin",
            "w:doNotShadeFormData",
            "w:noPunctuationKerning",
            "w:characterSpacingControl",
            "w:printTwoOnOne",
            "w:strictFirstAndLastChars",
            "w:noLineBreaksAfter",
            "w:noLineBreaksBefore",
            "w:savePreviewPicture",
            "w:doNotValidateAgainstSchema",
            "w:saveInvalidXml",
            "w:ignoreMixedContent",
            "w:alwaysShowPlaceholderText",
            "w:doNotDemarcateInvalidXml",
            "w:saveXmlDataOnly",
            "w:useXSLTWhenSaving",
            "w:saveThroughXslt",
            "w:showXMLTags",
            "w:alwaysMergeEmptyNamespace",
            "w:updateFields",
            "w:hdrShapeDefaults",
            "w:footnotePr",
            "w:endnotePr",
            "w:compat",
            "w:docVars",
            "w:rsids",
            "m:mathPr",
            "w:attachedSchema",
            "w:themeFontLang",
            "w:clrSchemeMapping",
            "w:doNotIncludeSubdocsInStats",
            "w:doNotAutoCompressPictures",
            "w:forceUpgrade",
            "w:captions",
            "w:readModeInkLockDown",
            "w:smartTagType",
            "sl:schemaLibrary",
            "w:shapeDefaults",
            "w:doNotEmbedSmartTags",
            "w:decimalSymbol",
            "w:listSeparator",
        ],
    ),
    // CT_Compat: the legacy switches docx-rs writes, then compatSetting.
    (
        "w:compat",
        &[
            "w:useSingleBorderforContiguousCells",
            "w:wpJustification",
            "w:noTabHangInd",
            "w:noLeading",
            "w:spaceForUL",
            "w:noColumnBalance",
            "w:balanceSingleByteDoubleByteWidth",
            "w:noExtraLineSpacing",
            "w:doNotLeaveBackslashAlone",
            "w:ulTrailSpace",
            "w:doNotExpandShiftReturn",
            "w:spacingInWholePoints",
            "w:lineWrapLikeWord6",
            "w:printBodyTextBeforeHeader",
            "w:printColBlack",
            "w:wpSpaceWidth",
            "w:showBreaksInFrames",
            "w:subFontBySize",
            "w:suppressBottomSpacing",
            "w:suppressTopSpacing",
            "w:suppressSpacingAtTopOfPage",
            "w:suppressTopSpacingWP",
            "w:suppressSpBfAfterPgBrk",
            "w:swapBordersFacingPages",
            "w:convMailMergeEsc",
            "w:truncateFontHeightsLikeWP6",
            "w:mwSmallCaps",
            "w:usePrinterMetrics",
            "w:doNotSuppressParagraphBorders",
            "w:wrapTrailSpaces",
            "w:footnoteLayoutLikeWW8",
            "w:shapeLayoutLikeWW8",
            "w:alignTablesRowByRow",
            "w:forgetLastTabAlignment",
            "w:adjustLineHeightInTable",
            "w:autoSpaceLikeWord95",
            "w:noSpaceRaiseLower",
            "w:doNotUseHTMLParagraphAutoSpacing",
            "w:layoutRawTableWidth",
            "w:layoutTableRowsApart",
            "w:useWord97LineBreakRules",
            "w:doNotBreakWrappedTables",
            "w:doNotSnapToGridInCell",
            "w:selectFldWithFirstOrLastChar",
            "w:applyBreakingRules",
            "w:doNotWrapTextWithPunct",
            "w:doNotUseEastAsianBreakRules",
            "w:useWord2002TableStyleRules",
            "w:growAutofit",
            "w:useFELayout",
            "w:useNormalStyleForList",
            "w:doNotUseIndentAsNumberingTabStop",
            "w:useAltKinsokuLineBreakRules",
            "w:allowSpaceOfSameStyleInTable",
            "w:doNotSuppressIndentation",
            "w:doNotAutofitConstrainedTables",
            "w:autofitToFirstFixedWidthCell",
            "w:underlineTabInNumList",
            "w:displayHangulFixedWidth",
            "w:splitPgBreakAndParaMark",
            "w:doNotVertAlignCellWithSp",
            "w:doNotBreakConstrainedForcedTable",
            "w:doNotVertAlignInTxbx",
            "w:useAnsiKerningPairs",
            "w:cachedColBalance",
            "w:compatSetting",
        ],
    ),
    ("w:styles", &["w:docDefaults", "w:latentStyles", "w:style"]),
    ("w:docDefaults", &["w:rPrDefault", "w:pPrDefault"]),
    (
        "w:style",
        &[
            "w:name",
            "w:aliases",
            "w:basedOn",
            "w:next",
            "w:link",
            "w:autoRedefine",
            "w:hidden",
            "w:uiPriority",
            "w:semiHidden",
            "w:unhideWhenUsed",
            "w:qFormat",
            "w:locked",
            "w:personal",
            "w:personalCompose",
            "w:personalReply",
            "w:rsid",
            "w:pPr",
            "w:rPr",
            "w:tblPr",
            "w:trPr",
            "w:tcPr",
            "w:tblStylePr",
        ],
    ),
];

/// Attributes docx-rs writes that the schema does not have there (`w:type` on a grid column), or
/// that stop being true once a template is filled: a paragraph repeated by a loop would repeat its
/// `w14:paraId`, which Word expects to be unique. Both are dropped.
const DROPPED_ATTRIBUTES: &[(&str, &str)] = &[("w:gridCol", "w:type"), ("w:p", "w14:paraId")];

/// `tag` without the attribute `attr` (and the space before it).
fn without_attribute(tag: &str, attr: &str) -> Option<String> {
    let at = tag.find(&format!(" {attr}=\""))?;
    let value = at + attr.len() + 3;
    let end = value + tag[value..].find('"')? + 1;
    Some(format!("{}{}", &tag[..at], &tag[end..]))
}

/// A start tag with the [`DROPPED_ATTRIBUTES`] of its element removed.
fn clean_tag(name: &str, tag: &str) -> String {
    let mut tag = tag.to_string();
    for (_, attr) in DROPPED_ATTRIBUTES.iter().filter(|(e, _)| *e == name) {
        while let Some(shorter) = without_attribute(&tag, attr) {
            tag = shorter;
        }
    }
    tag
}

/// The language every run is tagged with, through the default run properties: Word's spelling
/// and hyphenation then treat the text as Vietnamese.
const LANG: &str = r#"<w:lang w:val="vi-VN" w:eastAsia="vi-VN" w:bidi="ar-SA"/>"#;

/// Elements whose `w:pPr` is CT_PPrGeneral: paragraph properties without the paragraph mark's
/// `w:rPr` (and without `w:sectPr`), which docx-rs nevertheless writes there.
const GENERAL_PPR_PARENTS: &[&str] = &["w:pPrDefault", "w:style", "w:lvl", "w:tblStylePr"];
const NOT_IN_GENERAL_PPR: &[&str] = &["w:rPr", "w:sectPr"];

fn sequence(name: &str) -> Option<&'static [&'static str]> {
    SEQUENCES
        .iter()
        .find(|(p, _)| *p == name)
        .map(|(_, seq)| *seq)
}

/// A child's place under `node` (whose own parent is `parent`); None if not allowed there.
fn rank_in(seq: &[&str], parent: &str, node: &str, child: &str) -> Option<usize> {
    if node == "w:pPr"
        && GENERAL_PPR_PARENTS.contains(&parent)
        && NOT_IN_GENERAL_PPR.contains(&child)
    {
        return None;
    }
    rank(seq, child)
}

/// A child's place in its parent's sequence; None if the schema does not allow it there.
fn rank(seq: &[&str], child: &str) -> Option<usize> {
    seq.iter()
        .position(|s| s.split('|').any(|alt| alt == child))
        .or_else(|| seq.iter().position(|s| *s == ANY))
}

// -------------------------------------------------------------------------------------------------
// A minimal element tree over the original text: every byte not rewritten is copied as it was.

#[derive(Debug)]
enum Item {
    Node(Node),
    /// Text, comments, whitespace: copied unchanged.
    Raw(Range<usize>),
    /// An element added here, with its name for ordering.
    Added {
        name: &'static str,
        xml: String,
    },
}

#[derive(Debug)]
struct Node {
    name: String,
    /// The start tag, or the whole empty-element tag.
    start: Range<usize>,
    empty: bool,
    children: Vec<Item>,
}

impl Node {
    fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.children.iter_mut().find_map(|c| match c {
            Item::Node(n) if n.name == name => Some(n),
            _ => None,
        })
    }

    fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find_map(|c| match c {
            Item::Node(n) if n.name == name => Some(n),
            _ => None,
        })
    }

    fn has_child(&self, name: &str) -> bool {
        self.children.iter().any(|c| match c {
            Item::Node(n) => n.name == name,
            Item::Added { name: n, .. } => *n == name,
            Item::Raw(_) => false,
        })
    }
}

/// The part as a prolog (XML declaration, comments) and its root element.
struct Tree {
    prolog: Vec<Item>,
    root: Node,
}

fn parse(xml: &str) -> Result<Tree, String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<Node> = Vec::new();
    let mut prolog = Vec::new();
    let mut root = None;
    loop {
        let from = usize::try_from(reader.buffer_position()).map_err(|e| e.to_string())?;
        let event = reader
            .read_event()
            .map_err(|e| format!("{e} (byte {})", reader.error_position()))?;
        let to = usize::try_from(reader.buffer_position()).map_err(|e| e.to_string())?;
        let item = match event {
            Event::Start(e) | Event::Empty(e) if root.is_some() => {
                return Err(format!(
                    "content after the root element: <{}>",
                    String::from_utf8_lossy(e.name().as_ref())
                ));
            }
            Event::Start(e) => {
                stack.push(Node {
                    name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                    start: from..to,
                    empty: false,
                    children: Vec::new(),
                });
                continue;
            }
            Event::Empty(e) => Item::Node(Node {
                name: String::from_utf8_lossy(e.name().as_ref()).into_owned(),
                start: from..to,
                empty: true,
                children: Vec::new(),
            }),
            Event::End(_) => {
                let Some(node) = stack.pop() else {
                    return Err("end tag without start".into());
                };
                Item::Node(node)
            }
            Event::Eof => break,
            _ => Item::Raw(from..to),
        };
        match stack.last_mut() {
            Some(parent) => parent.children.push(item),
            None => match item {
                Item::Node(n) => root = Some(n),
                other => prolog.push(other),
            },
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element at end of part".into());
    }
    let root = root.ok_or("no root element")?;
    Ok(Tree { prolog, root })
}

fn emit(xml: &str, parent: &str, item: &Item, out: &mut String) {
    match item {
        Item::Raw(r) => out.push_str(&xml[r.clone()]),
        Item::Added { xml: added, .. } => out.push_str(added),
        Item::Node(node) => emit_node(xml, parent, node, out),
    }
}

fn emit_node(xml: &str, parent: &str, node: &Node, out: &mut String) {
    let tag = &clean_tag(&node.name, &xml[node.start.clone()]);
    if node.empty {
        if node.children.is_empty() {
            out.push_str(tag);
            return;
        }
        // An empty element that gained children: open it instead.
        out.push_str(tag.trim_end_matches('>').trim_end_matches('/').trim_end());
        out.push('>');
    } else {
        out.push_str(tag);
    }
    let mut order: Vec<&Item> = node.children.iter().collect();
    if let Some(seq) = sequence(&node.name) {
        // Whitespace between properties carries nothing; dropping it lets the sort move elements.
        order.retain(|c| !matches!(c, Item::Raw(r) if xml[r.clone()].trim().is_empty()));
        order.sort_by_key(|c| match c {
            Item::Node(n) => rank_in(seq, parent, &node.name, &n.name).unwrap_or(usize::MAX),
            Item::Added { name, .. } => {
                rank_in(seq, parent, &node.name, name).unwrap_or(usize::MAX)
            }
            Item::Raw(_) => usize::MAX,
        });
    }
    for child in order {
        emit(xml, &node.name, child, out);
    }
    out.push_str("</");
    out.push_str(&node.name);
    out.push('>');
}

/// Adds what docx-rs cannot write, before sorting puts it in place.
fn amend(xml: &str, node: &mut Node) {
    match node.name.as_str() {
        "w:rPrDefault" => {
            if let Some(rpr) = node.child_mut("w:rPr")
                && !rpr.has_child("w:lang")
            {
                rpr.children.push(Item::Added {
                    name: "w:lang",
                    xml: LANG.into(),
                });
            }
        }
        "w:tbl" if is_ruled(xml, node) => repeat_first_row(node),
        name if GENERAL_PPR_PARENTS.contains(&name) => {
            if let Some(ppr) = node.child_mut("w:pPr") {
                ppr.children.retain(|c| {
                    !matches!(c, Item::Node(n) if NOT_IN_GENERAL_PPR.contains(&n.name.as_str()))
                });
            }
        }
        _ => {}
    }
    for child in &mut node.children {
        if let Item::Node(n) = child {
            amend(xml, n);
        }
    }
}

/// A table of figures (a visible top border) rather than a layout table (header, signature).
fn is_ruled(xml: &str, tbl: &Node) -> bool {
    tbl.child("w:tblPr")
        .and_then(|p| p.child("w:tblBorders"))
        .and_then(|b| b.child("w:top"))
        .is_some_and(|top| {
            let tag = &xml[top.start.clone()];
            !(tag.contains("w:val=\"none\"") || tag.contains("w:val=\"nil\""))
        })
}

/// Marks the first row of a table as its header, repeated on every page it spans.
fn repeat_first_row(tbl: &mut Node) {
    let Some(tr) = tbl.children.iter_mut().find_map(|c| match c {
        Item::Node(n) if n.name == "w:tr" => Some(n),
        _ => None,
    }) else {
        return;
    };
    match tr.child_mut("w:trPr") {
        Some(trpr) if trpr.has_child("w:tblHeader") => {}
        Some(trpr) => trpr.children.push(Item::Added {
            name: "w:tblHeader",
            xml: "<w:tblHeader/>".into(),
        }),
        None => tr.children.push(Item::Added {
            name: "w:trPr",
            xml: "<w:trPr><w:tblHeader/></w:trPr>".into(),
        }),
    }
}

/// One WordprocessingML part in schema order, with the language and header-row additions.
pub(crate) fn normalize(xml: &str) -> Result<String, String> {
    let mut tree = parse(xml)?;
    amend(xml, &mut tree.root);
    let mut out = String::with_capacity(xml.len() + 256);
    for item in &tree.prolog {
        emit(xml, "", item, &mut out);
    }
    emit_node(xml, "", &tree.root, &mut out);
    Ok(out)
}

/// Where a part breaks the child order of [`SEQUENCES`]: "w:pPr: w:spacing before w:pBdr",
/// or a child the sequence does not allow at all.
#[cfg(test)]
pub(crate) fn violations(xml: &str) -> Result<Vec<String>, String> {
    fn walk(xml: &str, parent: &str, node: &Node, found: &mut Vec<String>) {
        let tag = &xml[node.start.clone()];
        for (_, attr) in DROPPED_ATTRIBUTES.iter().filter(|(e, _)| *e == node.name) {
            if without_attribute(tag, attr).is_some() {
                found.push(format!("{}: attribute {attr}", node.name));
            }
        }
        if let Some(seq) = sequence(&node.name) {
            let mut last: Option<(usize, &str)> = None;
            for child in &node.children {
                let Item::Node(c) = child else { continue };
                match rank_in(seq, parent, &node.name, &c.name) {
                    None => found.push(format!("{}: {} is not allowed here", node.name, c.name)),
                    Some(r) => {
                        if let Some((prev, prev_name)) = last
                            && r < prev
                        {
                            found.push(format!("{}: {} after {prev_name}", node.name, c.name));
                        }
                        if last.is_none_or(|(p, _)| r >= p) {
                            last = Some((r, &c.name));
                        }
                    }
                }
            }
        }
        for child in &node.children {
            if let Item::Node(c) = child {
                walk(xml, &node.name, c, found);
            }
        }
    }
    let tree = parse(xml)?;
    let mut found = Vec::new();
    walk(xml, "", &tree.root, &mut found);
    Ok(found)
}

/// Whether a zip entry is a WordprocessingML part this module knows how to order.
fn is_wordml(name: &str) -> bool {
    name.starts_with("word/") && name.ends_with(".xml") && !name.contains("/_rels/")
}

/// Parts docx-rs writes whether or not the document uses them, each with the markup in
/// `word/document.xml` that would use it. Unused ones are left out of the package, with their
/// relationship and content type: fewer parts for Word to check, and no empty comments part
/// that would make it show the comments pane.
const OPTIONAL_PARTS: &[(&str, &str)] = &[
    ("word/comments.xml", "<w:commentReference"),
    ("word/commentsExtended.xml", "<w:commentReference"),
    ("word/numbering.xml", "<w:numPr"),
    ("word/footnotes.xml", "<w:footnoteReference"),
];

/// Removes the children of the root whose start tag names one of `parts` in `attr`.
fn drop_references(xml: &str, attr: &str, parts: &[String]) -> Result<String, String> {
    let mut tree = parse(xml)?;
    tree.root.children.retain(|c| match c {
        Item::Node(n) => {
            let tag = &xml[n.start.clone()];
            !parts
                .iter()
                .any(|p| tag.contains(&format!("{attr}=\"{p}\"")))
        }
        _ => true,
    });
    let mut out = String::with_capacity(xml.len());
    for item in &tree.prolog {
        emit(xml, "", item, &mut out);
    }
    emit_node(xml, "", &tree.root, &mut out);
    Ok(out)
}

/// Rewrites a docx-rs package: WordprocessingML parts normalized, unused parts left out, every
/// entry deflated (docx-rs stores them uncompressed), directory entries dropped, and the dates
/// left at docx-rs's fixed 1980 value so the result is reproducible.
pub(crate) fn normalize_package(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|e| e.to_string())?;
    let mut entries = Vec::with_capacity(archive.len());
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(|e| e.to_string())?;
        if file.is_dir() {
            continue;
        }
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(|e| e.to_string())?;
        entries.push((file.name().to_string(), data, file.last_modified()));
    }
    let text =
        |data: Vec<u8>, name: &str| String::from_utf8(data).map_err(|e| format!("{name}: {e}"));
    let document = entries
        .iter()
        .find(|(n, _, _)| n == "word/document.xml")
        .map(|(_, d, _)| String::from_utf8_lossy(d).into_owned())
        .ok_or("no word/document.xml")?;
    let unused: Vec<&str> = OPTIONAL_PARTS
        .iter()
        .filter(|(_, used_by)| !document.contains(used_by))
        .map(|(part, _)| *part)
        .collect();
    let by_target: Vec<String> = unused
        .iter()
        .map(|p| p.trim_start_matches("word/").to_string())
        .collect();
    let by_part_name: Vec<String> = unused.iter().map(|p| format!("/{p}")).collect();

    let mut out = ZipWriter::new(Cursor::new(Vec::with_capacity(bytes.len() / 3)));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Deflated)
        .compression_level(Some(6));
    for (name, mut data, modified) in entries {
        if unused.contains(&name.as_str()) {
            continue;
        }
        let fix = |r: Result<String, String>| r.map_err(|e| format!("{name}: {e}"));
        if name == "[Content_Types].xml" {
            data = fix(drop_references(
                &text(data, &name)?,
                "PartName",
                &by_part_name,
            ))?
            .into_bytes();
        } else if name == "word/_rels/document.xml.rels" {
            data = fix(drop_references(&text(data, &name)?, "Target", &by_target))?.into_bytes();
        } else if is_wordml(&name) {
            data = fix(normalize(&text(data, &name)?))?.into_bytes();
        }
        let options = match modified {
            Some(t) => options.last_modified_time(t),
            None => options,
        };
        out.start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        out.write_all(&data).map_err(|e| e.to_string())?;
    }
    Ok(out.finish().map_err(|e| e.to_string())?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    #[test]
    fn children_are_sorted_into_schema_order() {
        let xml = format!(
            r#"<?xml version="1.0"?><w:document {W}><w:body><w:p><w:pPr><w:rPr><w:sz w:val="28"/><w:b/><w:rFonts w:ascii="X"/></w:rPr><w:jc w:val="both"/><w:ind w:left="1"/><w:spacing w:after="120"/><w:pBdr><w:bottom w:val="single"/></w:pBdr></w:pPr><w:r><w:t xml:space="preserve"> a &amp; b </w:t></w:r></w:p><w:sectPr><w:pgSz w:w="1"/><w:pgMar w:top="1"/><w:headerReference w:type="default"/><w:titlePg/><w:footerReference w:type="first"/></w:sectPr></w:body></w:document>"#
        );
        assert!(!violations(&xml).unwrap().is_empty());
        let fixed = normalize(&xml).unwrap();
        assert_eq!(violations(&fixed).unwrap(), Vec::<String>::new());
        assert!(fixed.contains(
            r#"<w:pPr><w:pBdr><w:bottom w:val="single"/></w:pBdr><w:spacing w:after="120"/><w:ind w:left="1"/><w:jc w:val="both"/><w:rPr><w:rFonts w:ascii="X"/><w:b/><w:sz w:val="28"/></w:rPr></w:pPr>"#
        ), "{fixed}");
        // Header and footer references keep their own relative order, before everything else.
        assert!(fixed.contains(
            r#"<w:sectPr><w:headerReference w:type="default"/><w:footerReference w:type="first"/><w:pgSz w:w="1"/><w:pgMar w:top="1"/><w:titlePg/></w:sectPr>"#
        ), "{fixed}");
        // Text and the declaration are copied byte for byte.
        assert!(fixed.starts_with(r#"<?xml version="1.0"?>"#));
        assert!(fixed.contains(r#"<w:t xml:space="preserve"> a &amp; b </w:t>"#));
    }

    #[test]
    fn unknown_children_and_reversals_are_reported() {
        let xml = format!(
            r#"<w:tbl {W}><w:tblPr><w:tblLayout w:type="fixed"/><w:tblW w:w="1"/><w:bogus/></w:tblPr></w:tbl>"#
        );
        let found = violations(&xml).unwrap();
        assert_eq!(
            found,
            vec![
                "w:tblPr: w:tblW after w:tblLayout".to_string(),
                "w:tblPr: w:bogus is not allowed here".to_string()
            ]
        );
    }

    #[test]
    fn default_language_is_vietnamese_and_ruled_tables_repeat_their_header() {
        let styles = format!(
            r#"<w:styles {W}><w:docDefaults><w:pPrDefault><w:pPr/></w:pPrDefault><w:rPrDefault><w:rPr><w:sz w:val="28"/><w:rFonts w:ascii="T"/></w:rPr></w:rPrDefault></w:docDefaults></w:styles>"#
        );
        let fixed = normalize(&styles).unwrap();
        assert!(fixed.contains(
            r#"<w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="T"/><w:sz w:val="28"/><w:lang w:val="vi-VN" w:eastAsia="vi-VN" w:bidi="ar-SA"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr/></w:pPrDefault></w:docDefaults>"#
        ), "{fixed}");
        // Idempotent: a second pass adds nothing.
        assert_eq!(normalize(&fixed).unwrap(), fixed);

        let tables = format!(
            r#"<w:body {W}><w:tbl><w:tblPr><w:tblBorders><w:top w:val="single"/></w:tblBorders></w:tblPr><w:tr><w:trPr><w:cantSplit/></w:trPr></w:tr><w:tr/></w:tbl><w:tbl><w:tblPr><w:tblBorders><w:top w:val="none"/></w:tblBorders></w:tblPr><w:tr/></w:tbl><w:tbl><w:tblPr><w:tblBorders><w:top w:val="single"/></w:tblBorders></w:tblPr><w:tr/></w:tbl></w:body>"#
        );
        let fixed = normalize(&tables).unwrap();
        assert_eq!(
            fixed,
            format!(
                r#"<w:body {W}><w:tbl><w:tblPr><w:tblBorders><w:top w:val="single"/></w:tblBorders></w:tblPr><w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr></w:tr><w:tr/></w:tbl><w:tbl><w:tblPr><w:tblBorders><w:top w:val="none"/></w:tblBorders></w:tblPr><w:tr/></w:tbl><w:tbl><w:tblPr><w:tblBorders><w:top w:val="single"/></w:tblBorders></w:tblPr><w:tr><w:trPr><w:tblHeader/></w:trPr></w:tr></w:tbl></w:body>"#
            )
        );
    }

    #[test]
    fn attributes_outside_the_schema_or_repeated_by_loops_are_dropped() {
        let xml = format!(
            r#"<w:document {W} xmlns:w14="x"><w:body><w:p w14:paraId="0000000e" w:rsidR="1"><w:r><w:t>a</w:t></w:r></w:p><w:tbl><w:tblPr/><w:tblGrid><w:gridCol w:w="842" w:type="dxa" /></w:tblGrid></w:tbl></w:body></w:document>"#
        );
        assert_eq!(
            violations(&xml).unwrap(),
            vec!["w:p: attribute w14:paraId", "w:gridCol: attribute w:type"]
        );
        let fixed = normalize(&xml).unwrap();
        assert!(fixed.contains(r#"<w:p w:rsidR="1">"#), "{fixed}");
        assert!(fixed.contains(r#"<w:gridCol w:w="842" />"#), "{fixed}");
        assert_eq!(violations(&fixed).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn malformed_parts_are_refused() {
        assert!(normalize("<a><b></a>").is_err());
        assert!(normalize("<a/><b/>").is_err());
        assert!(normalize("").is_err());
    }
}
