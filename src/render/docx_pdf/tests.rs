use super::emit::string;
use super::read::{Align, Block, Inline, LineSpacing, read};
use super::*;

/// A minimal DOCX holding `body` (WordprocessingML) and, optionally, a styles part.
fn docx(body: &str, styles: Option<&str>) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    let ns = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships""#;
    zip.start_file("word/document.xml", options).unwrap();
    write!(
        zip,
        r#"<?xml version="1.0"?><w:document {ns}><w:body>{body}</w:body></w:document>"#
    )
    .unwrap();
    if let Some(styles) = styles {
        zip.start_file("word/styles.xml", options).unwrap();
        write!(zip, r#"<w:styles {ns}>{styles}</w:styles>"#).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn typst_strings_escape_only_what_a_string_needs() {
    assert_eq!(string(r#"a"b\c"#), r#""a\"b\\c""#);
    assert_eq!(
        string("#panic(\"x\") $ ] [ * _ ` < @ / ~"),
        "\"#panic(\\\"x\\\") $ ] [ * _ ` < @ / ~\""
    );
    assert_eq!(string("dòng\nhai\u{7}"), "\"dòng\\nhai\\u{7}\"");
}

#[test]
fn paragraph_and_run_properties_come_from_defaults_styles_and_direct_formatting() {
    let styles = r#"<w:docDefaults><w:rPrDefault><w:rPr><w:sz w:val="28"/></w:rPr></w:rPrDefault></w:docDefaults>
        <w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:pPr><w:spacing w:after="120"/></w:pPr></w:style>
        <w:style w:type="paragraph" w:styleId="Tieude"><w:basedOn w:val="Normal"/><w:pPr><w:jc w:val="center"/><w:keepNext/></w:pPr><w:rPr><w:b/></w:rPr></w:style>"#;
    let body = r#"<w:p><w:pPr><w:pStyle w:val="Tieude"/><w:ind w:left="567" w:hanging="283"/><w:spacing w:line="360" w:lineRule="auto"/></w:pPr>
        <w:r><w:t>Tiêu </w:t></w:r><w:r><w:rPr><w:i/><w:b w:val="0"/><w:sz w:val="26"/></w:rPr><w:t>đề</w:t></w:r></w:p>"#;
    let model = read(&docx(body, Some(styles))).unwrap();
    assert_eq!(model.base_size, 14.0);
    let Block::Paragraph(p) = &model.body[0] else {
        panic!("{:?}", model.body)
    };
    assert_eq!(p.props.align, Align::Center);
    assert!(p.props.keep_next);
    assert_eq!(p.props.after, 6.0, "from Normal, the style's base");
    assert_eq!((p.props.left, p.props.hanging), (28.35, 14.15));
    assert_eq!(p.props.line, LineSpacing::Multiple(1.5));
    let [Inline::Text(a, ra), Inline::Text(b, rb)] = &p.content[..] else {
        panic!("{:?}", p.content)
    };
    assert_eq!(
        (a.as_str(), ra.bold, ra.italic, ra.size),
        ("Tiêu ", true, false, 14.0)
    );
    assert_eq!(
        (b.as_str(), rb.bold, rb.italic, rb.size),
        ("đề", false, true, 13.0)
    );
}

#[test]
fn unknown_elements_keep_their_words_and_are_named() {
    let body = r#"<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/></w:numPr></w:pPr>
        <w:r><w:t>Trước </w:t></w:r>
        <w:hyperlink r:id="x"><w:r><w:t>liên kết</w:t></w:r></w:hyperlink>
        <w:r><w:rPr><w:highlight w:val="yellow"/></w:rPr><w:t> tô</w:t></w:r>
        <w:lạ><w:r><w:t> lạ</w:t></w:r></w:lạ>
        <w:del><w:r><w:delText>đã xoá</w:delText></w:r></w:del>
        <w:r><mc:AlternateContent xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"><mc:Choice Requires="wps"><w:drawing><w:txbxContent><w:p><w:r><w:t> hộp</w:t></w:r></w:p></w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent><w:p><w:r><w:t> hộp</w:t></w:r></w:p></w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r></w:p>
        <w:altChunk r:id="y"/>"#;
    let conversion = convert(&docx(body, None)).unwrap();
    for name in [
        "w:numPr",
        "w:hyperlink (chỉ giữ chữ)",
        "w:highlight",
        "w:lạ",
        "w:altChunk",
    ] {
        assert!(
            conversion.ignored.contains_key(name),
            "{name}: {:?}",
            conversion.ignored
        );
    }
    let model = read(&docx(body, None)).unwrap();
    let Block::Paragraph(p) = &model.body[0] else {
        panic!()
    };
    let text: String = p
        .content
        .iter()
        .map(|i| match i {
            Inline::Text(t, _) => t.as_str(),
            _ => "",
        })
        .collect();
    assert_eq!(
        text, "Trước liên kết tô lạ hộp",
        "deleted text stays out, the rest stays in, a text box's words once"
    );
}

#[test]
fn tables_keep_grid_widths_borders_and_merged_cells() {
    let body = r#"<w:tbl><w:tblPr><w:jc w:val="center"/><w:tblInd w:w="-108" w:type="dxa"/><w:tblBorders><w:top w:val="single" w:sz="4"/><w:insideH w:val="single" w:sz="8"/><w:insideV w:val="nil"/></w:tblBorders></w:tblPr>
        <w:tblGrid><w:gridCol w:w="2000"/><w:gridCol w:w="3000"/><w:gridCol w:w="1000"/></w:tblGrid>
        <w:tr><w:trPr><w:tblHeader/></w:trPr><w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>AB</w:t></w:r></w:p></w:tc><w:tc><w:tcPr><w:vMerge w:val="restart"/><w:vAlign w:val="center"/></w:tcPr><w:p><w:r><w:t>C</w:t></w:r></w:p></w:tc></w:tr>
        <w:tr><w:tc><w:tcPr><w:tcMar><w:left w:w="40" w:type="dxa"/></w:tcMar><w:shd w:val="clear" w:fill="d9d9d9"/></w:tcPr><w:p><w:r><w:rPr><w:color w:val="FF0000"/></w:rPr><w:t>1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>2</w:t></w:r></w:p></w:tc><w:tc><w:tcPr><w:vMerge/></w:tcPr><w:p/></w:tc></w:tr></w:tbl>"#;
    let model = read(&docx(body, None)).unwrap();
    let Block::Table(t) = &model.body[0] else {
        panic!()
    };
    assert_eq!(t.indent, -5.4);
    assert_eq!(t.columns, vec![100.0, 150.0, 50.0]);
    assert_eq!(
        (
            t.borders.top,
            t.borders.inside_h,
            t.borders.inside_v,
            t.borders.bottom
        ),
        (Some(0.5), Some(1.0), None, None)
    );
    assert!(t.rows[0].header);
    assert_eq!(t.rows[0].cells[0].colspan, 2);
    assert_eq!(t.rows[0].cells[1].rowspan, 2);
    assert_eq!(
        t.rows[1].cells.len(),
        2,
        "the continuation cell is the merged one"
    );
    let source = emit::document(&model);
    assert!(source.contains("table.header(repeat: true, "), "{source}");
    assert!(source.contains("colspan: 2"), "{source}");
    assert!(source.contains("rowspan: 2, align: horizon"), "{source}");
    assert!(source.contains("align(center, table("), "{source}");
    assert!(
        source.contains("inset: (left: 2.00pt), fill: rgb(\"#D9D9D9\")"),
        "{source}"
    );
    assert!(
        model.ignored.contains_key("w:color (chữ in màu đen)"),
        "{:?}",
        model.ignored
    );
    // And it compiles (the page check is off: a bare table is no Decree-30 page).
    let mut engine = PdfEngine::new(&crate::render::templates::Templates::builtin()).unwrap();
    engine.set_page_check(false);
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
    engine
        .render_source(source, today)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_page_field_becomes_the_live_page_number_and_other_fields_keep_their_text() {
    let body = r#"<w:p><w:r><w:fldChar w:fldCharType="begin"/><w:instrText> PAGE </w:instrText><w:fldChar w:fldCharType="separate"/><w:t>1</w:t><w:fldChar w:fldCharType="end"/></w:r>
        <w:r><w:fldChar w:fldCharType="begin"/></w:r><w:r><w:instrText>DATE</w:instrText></w:r><w:r><w:fldChar w:fldCharType="separate"/></w:r><w:r><w:t>25/6/2024</w:t></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>
        <w:fldSimple w:instr="PAGE"><w:r><w:t>9</w:t></w:r></w:fldSimple></w:p>"#;
    let model = read(&docx(body, None)).unwrap();
    let Block::Paragraph(p) = &model.body[0] else {
        panic!()
    };
    assert!(
        matches!(p.content[0], Inline::PageNumber(_)),
        "{:?}",
        p.content
    );
    assert!(
        matches!(&p.content[1], Inline::Text(t, _) if t == "25/6/2024"),
        "{:?}",
        p.content
    );
    assert!(
        matches!(p.content[2], Inline::PageNumber(_)),
        "{:?}",
        p.content
    );
    assert_eq!(p.content.len(), 3);
    assert!(
        model
            .ignored
            .contains_key("trường DATE (giữ chữ đang hiện)")
    );
}

#[test]
fn a_file_that_is_not_a_docx_is_a_clear_error() {
    let error = convert(b"not a zip").unwrap_err().to_string();
    assert!(error.contains("không phải tệp zip"), "{error}");
    let error = convert(&docx("<w:p><w:r><w:t>x</w:t></w:p>", None))
        .unwrap_err()
        .to_string();
    assert!(error.contains("word/document.xml"), "{error}");
}

#[test]
fn every_kind_of_run_and_paragraph_compiles() {
    let body = r#"<w:p><w:pPr><w:pageBreakBefore/><w:pBdr><w:top w:val="single" w:sz="6" w:space="1"/><w:bottom w:val="double" w:sz="4" w:space="2"/><w:left w:val="single"/></w:pBdr><w:spacing w:line="300" w:lineRule="exact"/><w:ind w:left="100" w:hanging="400"/><w:jc w:val="right"/><w:keepLines/></w:pPr>
        <w:r><w:rPr><w:u w:val="single"/><w:strike/></w:rPr><w:t>gạch</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="superscript"/></w:rPr><w:t>2</w:t></w:r><w:r><w:rPr><w:vertAlign w:val="subscript"/></w:rPr><w:t>x</w:t></w:r>
        <w:r><w:tab/><w:t>sau tab</w:t><w:br/><w:t>dòng mới</w:t><w:br w:type="page"/><w:t>trang mới</w:t><w:noBreakHyphen/><w:sym w:font="Symbol" w:char="2022"/></w:r></w:p>
        <w:p><w:pPr><w:spacing w:line="200" w:lineRule="atLeast"/></w:pPr></w:p>"#;
    let conversion = convert(&docx(body, None)).unwrap();
    assert!(
        conversion.ignored.contains_key("w:pBdr/w:left"),
        "{:?}",
        conversion.ignored
    );
    for piece in [
        "strike(underline(text(",
        "super(text(",
        "sub(text(",
        "linebreak()",
        "pagebreak(weak: true)",
        "h(36.00pt)",
    ] {
        assert!(
            conversion.source.contains(piece),
            "{piece}: {}",
            conversion.source
        );
    }
    // No statement leaks into the markup as text: every block line is a code block.
    for line in conversion
        .source
        .lines()
        .filter(|l| l.starts_with('#') && !l.starts_with("#set"))
    {
        assert!(line.starts_with("#{ ") && line.ends_with(" }"), "{line}");
    }
    let mut engine = PdfEngine::new(&crate::render::templates::Templates::builtin()).unwrap();
    engine.set_page_check(false);
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
    engine
        .render_source(conversion.source, today)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn the_signature_room_is_the_empty_paragraphs_above_the_last_paragraph_naming_the_signer() {
    let empty =
        r#"<w:p><w:pPr><w:spacing w:before="120" w:line="400" w:lineRule="exact"/></w:pPr></w:p>"#;
    let body = format!(
        r#"<w:p><w:r><w:t>Tô Xuân Lợi</w:t></w:r></w:p>
        <w:p><w:r><w:t>PHÓ CHỦ TỊCH</w:t></w:r></w:p>{empty}{empty}
        <w:p><w:r><w:t xml:space="preserve">  Tô  Xuân Lợi </w:t></w:r></w:p>"#
    );
    let mut model = read(&docx(&body, None)).unwrap();
    let images = signature::SignatureImages {
        signature: "/chu-ky.png".into(),
        seal: None,
    };
    signature::place(&mut model, "Tô Xuân Lợi", images.clone()).unwrap();
    // The name in the body text stays; the two empty paragraphs (6 pt before, 20 pt exact
    // line each) become one room of their height, above the last naming paragraph.
    assert_eq!(model.body.len(), 4);
    let Block::Signature(room) = &model.body[2] else {
        panic!("{:?}", model.body[2]);
    };
    assert!((room.height - 52.0).abs() < 1e-9, "{}", room.height);
    assert_eq!(room.images, images);
    let source = emit::document(&model);
    assert!(
        source.contains(r#"image("/chu-ky.png", height: 52.00pt"#),
        "{source}"
    );
    assert!(!source.contains("con-dau"), "no seal asked for: {source}");
}
