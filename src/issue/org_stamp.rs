//! The organisation's digital signature as Decree 30/2020 shows it on a separate-file attachment
//! of a document and on an electronic copy (Phụ lục I, box 14): no image, only lines of text top
//! right of page 1, Times New Roman 10 pt upright black, ending with the signing time in ISO 8601
//! and Vietnam time. What the lines say, where they go, and the appearance signing draws.

use chrono::{DateTime, NaiveDate, Utc};

use super::sign::{Appearance, PdfError as SignPdfError, Placement};
use crate::clock::VIETNAM;
use crate::render::pdf::{PdfEngine, PdfError};
use crate::render::stamp;

/// Millimetres to points.
pub fn mm(v: f32) -> f32 {
    v * 72.0 / 25.4
}

/// Where the stamp goes: flush with the 15 mm right margin of the Decree 30 page, its last line
/// just above the 20 mm top margin (so it never covers the national title on page 1), and never
/// nearer the sheet's top edge than 4 mm.
pub fn placement() -> Placement {
    Placement {
        right: mm(15.0),
        bottom_from_top: mm(19.0),
        min_top: mm(4.0),
    }
}

/// The signing time as the stamp shows it: "2026-11-30T09:15:30+07:00".
pub fn iso_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&VIETNAM)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// An attachment's stamp: the number and symbol of the document it goes with, as box 3 writes
/// them ("Số: 02/TB-UBND"), and the signing time.
pub fn attachment_lines(number_and_symbol: &str, at: DateTime<Utc>) -> Vec<String> {
    vec![format!("Số: {number_and_symbol}"), iso_time(at)]
}

/// A copy's stamp: the form of copy, the copying body, and the signing time.
pub fn copy_lines(body: &str, at: DateTime<Utc>) -> Vec<String> {
    vec!["Sao y".to_owned(), body.to_owned(), iso_time(at)]
}

#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error("không tạo được dòng chữ ký số của cơ quan: {0}")]
    Render(#[from] PdfError),
    #[error("không tạo được dòng chữ ký số của cơ quan: {0}")]
    Appearance(#[from] SignPdfError),
}

/// The signature appearance showing `lines`, typeset with the engine's shipped fonts.
pub fn appearance(
    engine: &PdfEngine,
    lines: &[String],
    at: DateTime<Utc>,
) -> Result<Appearance, StampError> {
    let today: NaiveDate = at.with_timezone(&VIETNAM).date_naive();
    let pdf = stamp::stamp_pdf(engine, lines, today)?;
    Ok(Appearance::from_pdf(&pdf, placement())?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::templates::Templates;
    use chrono::TimeZone;

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 2, 15, 30).unwrap()
    }

    #[test]
    fn the_lines_name_what_box_14_asks_and_the_time_in_vietnam_iso_8601() {
        assert_eq!(
            copy_lines("Ủy ban nhân dân huyện Đầm Hà", at()),
            [
                "Sao y",
                "Ủy ban nhân dân huyện Đầm Hà",
                "2026-11-30T09:15:30+07:00"
            ]
        );
        assert_eq!(
            attachment_lines("02/TB-UBND", at()),
            ["Số: 02/TB-UBND", "2026-11-30T09:15:30+07:00"]
        );
    }

    #[test]
    fn the_stamp_sits_right_of_the_page_above_the_top_margin() {
        let engine = PdfEngine::new(&Templates::builtin()).unwrap();
        let a4 = [0.0, 0.0, 595.276, 841.89];
        let appearance = appearance(
            &engine,
            &copy_lines("Ủy ban nhân dân huyện Đầm Hà", at()),
            at(),
        )
        .unwrap();
        let (width, height) = appearance.size();
        // Three lines of 10 pt: about 11.5 pt each from ascender to descender, plus leading.
        assert!((30.0..45.0).contains(&height), "{height}");
        assert!((100.0..stamp::MAX_WIDTH_PT).contains(&width), "{width}");
        let [x0, y0, x1, y1] = appearance.rect(a4, 0);
        assert!(
            (a4[2] - x1 - mm(15.0)).abs() < 0.01,
            "right edge on the 15 mm margin"
        );
        assert!(x0 > a4[2] / 2.0, "in the page's right half");
        assert!(y0 > a4[3] - mm(20.0), "above the 20 mm top margin: {y0}");
        assert!(y1 <= a4[3] - mm(4.0) + 0.01);
        assert!(((y1 - y0) - height).abs() < 0.01 && ((x1 - x0) - width).abs() < 0.01);

        // A landscape page (a table exported from a spreadsheet): still its top right corner.
        let landscape = [0.0, 0.0, 841.89, 595.276];
        let [_, _, x1, y1] = appearance.rect(landscape, 0);
        assert!((landscape[2] - x1 - mm(15.0)).abs() < 0.01);
        assert!(y1 <= landscape[3] - mm(4.0) + 0.01 && y1 > landscape[3] - mm(20.0));

        // A portrait page a reader turns a quarter clockwise (/Rotate 90, a table printed
        // sideways): the stamp goes where the turned page's top right is, the page's own top
        // left, its rectangle turned too (tall and narrow in the page's coordinates).
        let [x0, y0, x1, y1] = appearance.rect(a4, 90);
        assert!(((x1 - x0) - height).abs() < 0.01 && ((y1 - y0) - width).abs() < 0.01);
        assert!(
            (a4[3] - y1 - mm(15.0)).abs() < 0.01,
            "15 mm from the shown right edge"
        );
        assert!(
            x0 >= mm(4.0) - 0.01 && x1 < mm(20.0),
            "in the shown top margin: {x0} {x1}"
        );
        // Turned half round: the page's own bottom left.
        let [x0, y0, _, _] = appearance.rect(a4, 180);
        assert!((x0 - mm(15.0)).abs() < 0.01 && y0 >= mm(4.0) - 0.01 && y0 < mm(20.0));

        // A body name too long for one line wraps at the stamp's width; the taller stamp keeps
        // 4 mm from the sheet's edge and reaches down instead.
        let long = "Văn phòng Hội đồng nhân dân và Ủy ban nhân dân huyện Đầm Hà, tỉnh Quảng Ninh \
                    (cơ quan sao văn bản có tên rất dài)";
        let mut lines = copy_lines(long, at());
        lines.push(long.to_owned());
        let tall = super::appearance(&engine, &lines, at()).unwrap();
        let (width, height) = tall.size();
        assert!(width <= stamp::MAX_WIDTH_PT + 0.01, "{width}");
        assert!(height > 60.0, "{height}");
        let [_, low, _, high] = tall.rect(a4, 0);
        assert!((a4[3] - high - mm(4.0)).abs() < 0.01);
        assert!(low < a4[3] - mm(20.0));
    }
}
