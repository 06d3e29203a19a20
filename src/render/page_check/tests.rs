//! Each rule on a hand-built page: a conforming one-page letter passes, and each defect a clerk
//! found on rendered documents (a signature block alone on a page, text outside the text area,
//! a short motto rule, a wrong number or date form…) breaks exactly the rule that names it.

use super::*;

fn run(text: &str, x0: f64, baseline: f64, size: f64, bold: bool, italic: bool) -> TextRun {
    // Liberation Serif averages about half an em per character.
    let width = text.chars().count() as f64 * size * 0.5;
    TextRun {
        text: text.into(),
        x0,
        x1: x0 + width,
        baseline,
        size: Some(size),
        face: Some(Face {
            family: "Liberation Serif".into(),
            bold,
            italic,
        }),
    }
}

fn centred(text: &str, centre: f64, baseline: f64, size: f64, bold: bool, italic: bool) -> TextRun {
    let width = text.chars().count() as f64 * size * 0.5;
    run(text, centre - width / 2.0, baseline, size, bold, italic)
}

fn hrule(centre: f64, length: f64, y: f64) -> Stroke {
    Stroke {
        x0: centre - length / 2.0,
        y0: y,
        x1: centre + length / 2.0,
        y1: y,
    }
}

const LEFT: f64 = 30.0 * MM;
const RIGHT: f64 = 195.0 * MM;
const ISSUER_CENTRE: f64 = LEFT + 33.0 * MM;
const MOTTO_CENTRE: f64 = LEFT + 115.0 * MM;

/// A one-page công văn as the built-in template lays it out.
fn letter() -> Layout {
    let mut runs = vec![
        centred("ỦY BAN NHÂN DÂN", ISSUER_CENTRE, 70.0, 12.0, true, false),
        centred("XÃ QUẢNG TÂN", ISSUER_CENTRE, 86.0, 12.0, true, false),
        centred(MOTTO, MOTTO_CENTRE, 70.0, 12.0, true, false),
        centred(SLOGAN, MOTTO_CENTRE, 86.0, 13.0, true, false),
        centred("Số: 05/UBND-VP", ISSUER_CENTRE, 110.0, 13.0, false, false),
        centred(
            "Quảng Tân, ngày 05 tháng 02 năm 2026",
            MOTTO_CENTRE,
            110.0,
            13.0,
            false,
            true,
        ),
        centred(
            "V/v triển khai nhiệm vụ",
            ISSUER_CENTRE,
            132.0,
            12.0,
            false,
            false,
        ),
        run(
            "Kính gửi: Phòng Kinh tế",
            LEFT + 40.0,
            170.0,
            14.0,
            false,
            false,
        ),
    ];
    let mut y = 200.0;
    for _ in 0..5 {
        runs.push(run(
            &"nội dung ".repeat(6),
            LEFT + 28.0,
            y,
            14.0,
            false,
            false,
        ));
        y += 17.0;
        runs.push(run(&"văn bản ".repeat(8), LEFT, y, 14.0, false, false));
        y += 23.0;
    }
    runs.push(run("thực hiện./.", LEFT + 28.0, y, 14.0, false, false));
    let closing = y + 30.0;
    runs.push(run(RECIPIENTS_LABEL, LEFT, closing, 12.0, true, true));
    runs.push(run("- Như trên;", LEFT, closing + 14.0, 11.0, false, false));
    runs.push(run(
        "- Lưu: VT, VP.",
        LEFT,
        closing + 28.0,
        11.0,
        false,
        false,
    ));
    let sign = LEFT + 120.0 * MM;
    runs.push(centred("KT. CHỦ TỊCH", sign, closing, 14.0, true, false));
    runs.push(centred(
        "PHÓ CHỦ TỊCH",
        sign,
        closing + 17.0,
        14.0,
        true,
        false,
    ));
    runs.push(centred(
        "Trần Văn B",
        sign,
        closing + 110.0,
        14.0,
        true,
        false,
    ));
    let issuer_width = "ỦY BAN NHÂN DÂN".chars().count() as f64 * 6.0;
    let slogan_width = SLOGAN.chars().count() as f64 * 6.5;
    Layout {
        pages: vec![Page {
            width: A4.0,
            height: A4.1,
            runs,
            strokes: Some(vec![
                hrule(ISSUER_CENTRE, issuer_width * 0.4, 91.0),
                hrule(MOTTO_CENTRE, slogan_width, 91.0),
            ]),
        }],
    }
}

fn rules_broken(layout: &Layout) -> Vec<Rule> {
    match check(layout) {
        Ok(()) => Vec::new(),
        Err(e) => {
            let mut rules: Vec<Rule> = e.problems.iter().map(|p| p.rule).collect();
            rules.dedup();
            rules
        }
    }
}

fn edit(mut layout: Layout, f: impl FnOnce(&mut Layout)) -> Layout {
    f(&mut layout);
    layout
}

fn find<'a>(layout: &'a mut Layout, text: &str) -> &'a mut TextRun {
    layout.pages[0]
        .runs
        .iter_mut()
        .find(|r| r.text == text)
        .expect("run")
}

#[test]
fn a_conforming_letter_passes() {
    assert_eq!(check(&letter()), Ok(()));
}

#[test]
fn the_signature_block_alone_on_a_page_is_refused() {
    // Item 1: page 1 ends with the body; page 2 holds only "Nơi nhận" and the signer.
    let layout = edit(letter(), |l| {
        let mut page2 = Page {
            width: A4.0,
            height: A4.1,
            runs: vec![centred("2", (LEFT + RIGHT) / 2.0, 40.0, 14.0, false, false)],
            strokes: Some(Vec::new()),
        };
        let moved: Vec<TextRun> = l.pages[0]
            .runs
            .iter()
            .filter(|r| r.baseline > 420.0)
            .cloned()
            .map(|mut r| {
                r.baseline -= 330.0;
                r
            })
            .collect();
        l.pages[0].runs.retain(|r| r.baseline <= 420.0);
        page2.runs.extend(moved);
        l.pages.push(page2);
    });
    let broken = rules_broken(&layout);
    assert!(broken.contains(&Rule::SignatureAlone), "{broken:?}");
    let message = check(&layout).unwrap_err().to_string();
    assert!(message.contains("trang 2: trang chữ ký"), "{message}");
}

#[test]
fn page_numbers_from_page_two_only() {
    let numbered_first = edit(letter(), |l| {
        l.pages[0]
            .runs
            .push(centred("1", (LEFT + RIGHT) / 2.0, 40.0, 14.0, false, false));
    });
    assert_eq!(rules_broken(&numbered_first), vec![Rule::PageNumber]);
    // A second page without its number (and the closing moved there with text above it).
    let unnumbered = edit(letter(), |l| {
        let moved: Vec<TextRun> = l.pages[0]
            .runs
            .iter()
            .filter(|r| r.baseline > 300.0)
            .cloned()
            .map(|mut r| {
                r.baseline -= 220.0;
                r
            })
            .collect();
        l.pages[0].runs.retain(|r| r.baseline <= 300.0);
        l.pages.push(Page {
            width: A4.0,
            height: A4.1,
            runs: moved,
            strokes: Some(Vec::new()),
        });
    });
    assert_eq!(rules_broken(&unnumbered), vec![Rule::PageNumber]);
}

#[test]
fn text_outside_the_text_area_is_refused() {
    let layout = edit(letter(), |l| {
        let r = find(l, "Kính gửi: Phòng Kinh tế");
        r.x0 = 20.0 * MM;
        r.x1 = r.x0 + 100.0;
    });
    assert_eq!(rules_broken(&layout), vec![Rule::Margins]);
    let low = edit(letter(), |l| find(l, "Trần Văn B").baseline = 290.0 * MM);
    assert!(rules_broken(&low).contains(&Rule::Margins));
}

#[test]
fn the_issuers_rule_must_be_a_third_to_a_half() {
    for ratio in [0.25, 0.6] {
        let layout = edit(letter(), |l| {
            let width = "ỦY BAN NHÂN DÂN".chars().count() as f64 * 6.0;
            l.pages[0].strokes = Some(vec![
                hrule(ISSUER_CENTRE, width * ratio, 91.0),
                hrule(MOTTO_CENTRE, SLOGAN.chars().count() as f64 * 6.5, 91.0),
            ]);
        });
        assert_eq!(rules_broken(&layout), vec![Rule::IssuerRule], "{ratio}");
    }
}

#[test]
fn the_motto_rule_runs_the_full_length() {
    let layout = edit(letter(), |l| {
        let strokes = l.pages[0].strokes.as_mut().expect("strokes");
        strokes[1] = hrule(MOTTO_CENTRE, 60.0, 91.0);
    });
    assert_eq!(rules_broken(&layout), vec![Rule::MottoRule]);
}

#[test]
fn number_and_date_forms() {
    assert_eq!(number_form("Số: 05/TB-UBND"), Ok(()));
    assert_eq!(number_form("Số:      /TB-UBND"), Ok(()));
    assert_eq!(number_form("Số: 125/UBND-NLN"), Ok(()));
    assert!(number_form("Số: 5/TB-UBND").is_err());
    assert!(number_form("Số 05/TB-UBND").is_err());
    assert!(number_form("Số: 05/TB - UBND").is_err());
    assert!(number_form("Số: 05/TBUBND").is_err());
    assert_eq!(date_form("Đầm Hà, ngày 05 tháng 02 năm 2024"), Ok(()));
    assert_eq!(date_form("Quảng Ninh, ngày 29 tháng 6 năm 2019"), Ok(()));
    assert_eq!(date_form("Đầm Hà, ngày      tháng 7 năm 2026"), Ok(()));
    assert!(date_form("Đầm Hà, ngày 5 tháng 6 năm 2024").is_err());
    assert!(date_form("Đầm Hà, ngày 05 tháng 2 năm 2024").is_err());
    assert!(date_form("Đầm Hà, ngày 05 tháng 06 năm 2024").is_err());
    assert!(date_form("đầm hà, ngày 05 tháng 6 năm 2024").is_err());
    // The decree's own example: the kind of unit keeps its second syllable lower case.
    assert_eq!(
        date_form("Thành phố Hồ Chí Minh, ngày 29 tháng 6 năm 2019"),
        Ok(())
    );
    assert!(date_form("Thành phố hồ Chí Minh, ngày 29 tháng 6 năm 2019").is_err());
    assert!(date_form("Đầm Hà ngày 05 tháng 6 năm 2024").is_err());
    let layout = edit(letter(), |l| {
        find(l, "Số: 05/UBND-VP").text = "Số: 5/UBND-VP".into()
    });
    assert_eq!(rules_broken(&layout), vec![Rule::Number]);
}

#[test]
fn the_body_ends_with_the_closing_mark() {
    let layout = edit(letter(), |l| {
        find(l, "thực hiện./.").text = "thực hiện.".into()
    });
    assert_eq!(rules_broken(&layout), vec![Rule::Ending]);
}

#[test]
fn recipients_form() {
    let no_filing = edit(letter(), |l| {
        find(l, "- Lưu: VT, VP.").text = "- Như trên.".into()
    });
    assert_eq!(rules_broken(&no_filing), vec![Rule::Recipients]);
    let not_bold = edit(letter(), |l| {
        find(l, RECIPIENTS_LABEL).face.as_mut().expect("face").bold = false
    });
    assert_eq!(rules_broken(&not_bold), vec![Rule::Recipients]);
    // A wrapped item continuing under its dash.
    let hanging = edit(letter(), |l| {
        find(l, "- Như trên;").text = "- Ủy ban nhân dân các xã,".into();
        l.pages[0]
            .runs
            .push(run("phường;", LEFT, 720.0 + 7.0, 11.0, false, false));
    });
    let broken = rules_broken(&hanging);
    assert!(broken.contains(&Rule::Recipients), "{broken:?}");
}

#[test]
fn typefaces_sizes_and_line_pitch() {
    let face = edit(letter(), |l| {
        find(l, "Kính gửi: Phòng Kinh tế")
            .face
            .as_mut()
            .expect("face")
            .family = "DejaVu Sans".into();
    });
    assert_eq!(rules_broken(&face), vec![Rule::Typeface]);
    let small = edit(letter(), |l| {
        find(l, "Kính gửi: Phòng Kinh tế").size = Some(12.0)
    });
    assert_eq!(rules_broken(&small), vec![Rule::TypeSize]);
    // Item 7: "Nơi nhận" items at 10.5 pt pitch for 11 pt type.
    let crowded = edit(letter(), |l| find(l, "- Lưu: VT, VP.").baseline -= 3.5);
    assert_eq!(rules_broken(&crowded), vec![Rule::LineSpacing]);
}

#[test]
fn a_missing_motto_or_signer_is_named() {
    let layout = edit(letter(), |l| l.pages[0].runs.retain(|r| r.text != SLOGAN));
    assert!(rules_broken(&layout).contains(&Rule::Motto));
    let layout = edit(letter(), |l| {
        l.pages[0]
            .runs
            .retain(|r| r.text != "Trần Văn B" && r.text != "PHÓ CHỦ TỊCH")
    });
    assert_eq!(rules_broken(&layout), vec![Rule::Signature]);
}

#[test]
fn a_word_run_over_its_neighbour_is_text_on_text() {
    // A figure too wide for its cell, drawn over the next cell's "xã" (a 12 pt table row on the
    // same baseline, as the fuzzer's 123.456.789.012.345 was).
    let lowest = letter().pages[0]
        .runs
        .iter()
        .map(|r| r.baseline)
        .fold(0.0, f64::max);
    let row = lowest + 20.0;
    let overlapping = edit(letter(), |l| {
        l.pages[0]
            .runs
            .push(run("xã", LEFT + 60.0 * MM, row, 12.0, false, false));
        l.pages[0].runs.push(run(
            "123.456.789.012.345",
            LEFT + 58.0 * MM,
            row,
            12.0,
            false,
            false,
        ));
    });
    // (The extra row also breaks the body's size and pitch rules; only the overlap is at issue.)
    assert!(rules_broken(&overlapping).contains(&Rule::Overlap));
    // The same two a cell apart do not touch.
    let apart = edit(letter(), |l| {
        l.pages[0]
            .runs
            .push(run("xã", LEFT + 40.0 * MM, row, 12.0, false, false));
        l.pages[0].runs.push(run(
            "123.456.789.012.345",
            LEFT + 58.0 * MM,
            row,
            12.0,
            false,
            false,
        ));
    });
    assert!(!rules_broken(&apart).contains(&Rule::Overlap));
}
