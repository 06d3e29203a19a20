//! An Excel workbook (.xlsx, a zip) measured before calamine reads it, from the command line or
//! an upload (before it is stored): a zip bomb, a file that is not a zip at all, a shared-string
//! table or a form sheet whose size would make calamine allocate without bound is refused with a
//! Vietnamese message naming the file (and the sheet and cell).
//!
//! The zip limits are the config's `[limits]` `docx_max_entries` and `docx_max_uncompressed_mb`:
//! the same risk (an Office file that inflates without bound), so one pair of knobs an office
//! already knows, and the messages name them. The sheet bound is fixed ([`MAX_ROWS`] ×
//! [`MAX_COLUMNS`]): the form's sheets hold a few hundred rows and a few dozen columns, and
//! calamine lays a sheet out as one dense grid from its first to its last used cell, so one
//! number at XFD1048576 in a 19 KB file asked for 512 GiB and aborted the process.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::config::TemplateLimits;

const MB: u64 = 1024 * 1024;

/// Rows of a form sheet read at most (row 1 to row 10.000).
pub const MAX_ROWS: u32 = 10_000;
/// Columns of a form sheet read at most (A to GR).
pub const MAX_COLUMNS: u32 = 200;
/// Entries the shared-string table may declare: calamine reserves room for the declared count
/// before it reads one, so a file declaring 10^12 strings aborted the process. The whole form
/// has a few hundred distinct texts; a sheet at its bound, 2.000.000 cells, could not need more
/// than this many distinct ones in any real use.
pub const MAX_SHARED_STRINGS: u64 = 1_000_000;

/// Why an uploaded workbook is refused before anything reads it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WorkbookError {
    #[error(
        "Tệp \"{name}\" không phải bảng tính Excel .xlsx đọc được (không mở được dạng zip của nó). Hãy mở tệp trong Excel hoặc LibreOffice, lưu lại dưới dạng .xlsx rồi tải lên."
    )]
    NotZip { name: String },
    #[error(
        "Tệp \"{name}\" có {found} tệp bên trong, quá giới hạn {limit} tệp (docx_max_entries trong [limits] của vanban.toml); tệp có thể là \"bom zip\" nên không được đọc và không được lưu."
    )]
    TooManyEntries {
        name: String,
        found: usize,
        limit: usize,
    },
    #[error(
        "Tệp \"{name}\" khi giải nén lớn hơn {limit_mb} MB (docx_max_uncompressed_mb trong [limits] của vanban.toml); tệp có thể là \"bom zip\" nên không được đọc và không được lưu."
    )]
    TooLarge { name: String, limit_mb: u64 },
    /// A form sheet with a value beyond the rows and columns vanban reads.
    #[error(
        "Tệp \"{name}\", trang tính «{sheet}»: ô {cell} {}",
        cell_outside_message()
    )]
    CellOutsideForm {
        name: String,
        /// The sheet's name with control characters made visible.
        sheet: String,
        cell: String,
    },
    #[error(
        "Tệp \"{name}\": bảng chữ dùng chung ({entry}) khai báo {declared} mục, quá giới hạn {limit} mục; tệp hỏng hoặc đã bị sửa ngoài Excel nên không được đọc và không được lưu. Hãy mở tệp trong Excel hoặc LibreOffice, lưu lại dưới dạng .xlsx rồi dùng tệp vừa lưu."
    )]
    TooManySharedStrings {
        name: String,
        entry: String,
        declared: String,
        limit: u64,
    },
}

/// What is wrong with a cell beyond the form's bound, after "ô XFD1048576" (the command line
/// names the sheet and cell in front, as for every cell).
pub fn cell_outside_message() -> String {
    let last = format!("{}{}", super::read::column_name(MAX_COLUMNS - 1), MAX_ROWS);
    format!(
        "có dữ liệu nhưng nằm ngoài vùng biểu mẫu đọc được (tối đa {} dòng và {MAX_COLUMNS} cột, từ A1 đến {last}); hãy xoá dữ liệu ở ô đó (Ctrl+End trong Excel đưa tới ô dùng cuối cùng) rồi lưu lại. Tệp không được đọc và không được lưu.",
        crate::vi::numbers::group_int(i64::from(MAX_ROWS))
    )
}

/// Checks an uploaded workbook before it is stored: the zip and the shared-string table
/// ([`check_archive`]), then every form sheet's cells streamed one by one, none beyond the
/// form's bound (nothing is laid out densely here).
pub fn check(name: &str, bytes: &[u8], limits: &TemplateLimits) -> Result<(), WorkbookError> {
    check_archive(name, bytes, limits)?;
    // A workbook calamine cannot open is not refused here: the reader reports it as a problem
    // of the upload, by sheet where it can.
    let Ok(mut book) = calamine::open_workbook_from_rs::<calamine::Xlsx<_>, _>(Cursor::new(bytes))
    else {
        return Ok(());
    };
    for (_, sheet) in super::read::form_sheets(&book) {
        if let Err(super::read::SheetError::Outside(e)) =
            super::read::check_sheet(&mut book, name, &sheet)
        {
            return Err(e);
        }
    }
    Ok(())
}

/// What must hold before calamine opens the workbook at all: the zip measured
/// ([`check_zip`]) and the shared-string table's declared size bounded.
pub fn check_archive(
    name: &str,
    bytes: &[u8],
    limits: &TemplateLimits,
) -> Result<(), WorkbookError> {
    check_zip(name, bytes, limits)?;
    check_shared_strings(name, bytes)
}

/// Checks the zip of an uploaded workbook: entry count and declared sizes from the central
/// directory first (nothing inflated), then each entry inflated into nothing and counted, up
/// to the limit only, since a crafted header can declare a few bytes for gigabytes of data.
pub fn check_zip(name: &str, bytes: &[u8], limits: &TemplateLimits) -> Result<(), WorkbookError> {
    let not_zip = |_| WorkbookError::NotZip {
        name: name.to_string(),
    };
    let too_large = || WorkbookError::TooLarge {
        name: name.to_string(),
        limit_mb: limits.docx_max_uncompressed_mb,
    };
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(not_zip)?;
    if archive.len() > limits.docx_max_entries {
        return Err(WorkbookError::TooManyEntries {
            name: name.to_string(),
            found: archive.len(),
            limit: limits.docx_max_entries,
        });
    }
    let max = limits.docx_max_uncompressed_mb.saturating_mul(MB);
    let mut declared: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(not_zip)?;
        declared = declared.saturating_add(entry.size());
    }
    if declared > max {
        return Err(too_large());
    }
    let mut inflated: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index(i).map_err(not_zip)?;
        let budget = max - inflated;
        // One byte past the budget is enough to know it is over; the rest is never inflated.
        let read =
            std::io::copy(&mut entry.take(budget + 1), &mut std::io::sink()).map_err(|_| {
                WorkbookError::NotZip {
                    name: name.to_string(),
                }
            })?;
        if read > budget {
            return Err(too_large());
        }
        inflated += read;
    }
    Ok(())
}

/// The shared-string table's declared count (`<sst uniqueCount="…">`), which calamine reserves
/// room for before reading a string. Matched on the bytes, not through an XML parser, so that no
/// difference between two parsers' leniency can let a count through: any `uniqueCount="digits"`
/// in any entry calamine could take for the table counts. Runs after [`check_zip`], so the
/// entry inflates within the limit.
fn check_shared_strings(name: &str, bytes: &[u8]) -> Result<(), WorkbookError> {
    let not_zip = |_| WorkbookError::NotZip {
        name: name.to_string(),
    };
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(not_zip)?;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(not_zip)?;
        // calamine finds the table by a case-insensitive path ending in this name.
        let entry_name = entry.name().replace('\\', "/");
        if !entry_name
            .to_ascii_lowercase()
            .ends_with("sharedstrings.xml")
        {
            continue;
        }
        let mut xml = Vec::new();
        entry
            .read_to_end(&mut xml)
            .map_err(|_| WorkbookError::NotZip {
                name: name.to_string(),
            })?;
        if let Some(declared) = largest_unique_count(&xml)
            && declared > u128::from(MAX_SHARED_STRINGS)
        {
            return Err(WorkbookError::TooManySharedStrings {
                name: name.to_string(),
                entry: crate::input::diagnostics::visible(&entry_name),
                declared: declared.to_string(),
                limit: MAX_SHARED_STRINGS,
            });
        }
    }
    Ok(())
}

/// The largest value of any `uniqueCount = "digits"` in `xml` (quotes single or double, spaces
/// around `=`, a leading `+`); saturates rather than overflow.
fn largest_unique_count(xml: &[u8]) -> Option<u128> {
    const KEY: &[u8] = b"uniqueCount";
    let mut largest = None;
    let mut from = 0;
    while let Some(at) = xml[from..].windows(KEY.len()).position(|w| w == KEY) {
        let mut i = from + at + KEY.len();
        from = i;
        let skip_space = |i: &mut usize| {
            while xml.get(*i).is_some_and(u8::is_ascii_whitespace) {
                *i += 1;
            }
        };
        skip_space(&mut i);
        if xml.get(i) != Some(&b'=') {
            continue;
        }
        i += 1;
        skip_space(&mut i);
        if !matches!(xml.get(i), Some(b'"' | b'\'')) {
            continue;
        }
        i += 1;
        skip_space(&mut i);
        if xml.get(i) == Some(&b'+') {
            i += 1;
        }
        let mut value: u128 = 0;
        let mut digits = 0;
        while let Some(d) = xml.get(i).filter(|b| b.is_ascii_digit()) {
            value = value
                .saturating_mul(10)
                .saturating_add(u128::from(d - b'0'));
            digits += 1;
            i += 1;
        }
        if digits > 0 {
            largest = largest.max(Some(value));
        }
    }
    largest
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use zip::write::SimpleFileOptions;

    use super::*;

    fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, content) in entries {
            writer
                .start_file(*name, SimpleFileOptions::default())
                .unwrap();
            writer.write_all(content).unwrap();
        }
        writer.finish().unwrap().into_inner()
    }

    fn small_limits() -> TemplateLimits {
        TemplateLimits {
            docx_max_uncompressed_mb: 1,
            docx_max_entries: 3,
            ..TemplateLimits::default()
        }
    }

    #[test]
    fn a_small_zip_passes_and_the_sample_workbook_too() {
        let bytes = zip_of(&[("a.xml", b"<a/>"), ("b.xml", b"<b/>")]);
        assert_eq!(check("a.xlsx", &bytes, &small_limits()), Ok(()));
        let sample = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/dam-ha-2024-h1.xlsx"
        ))
        .unwrap();
        assert_eq!(check("s.xlsx", &sample, &TemplateLimits::default()), Ok(()));
    }

    #[test]
    fn too_many_entries_too_much_data_and_not_a_zip_are_refused() {
        let many = zip_of(&[("1", b""), ("2", b""), ("3", b""), ("4", b"")]);
        assert!(matches!(
            check("n.xlsx", &many, &small_limits()),
            Err(WorkbookError::TooManyEntries { found: 4, .. })
        ));
        let zeros = vec![0u8; 1024 * 1024 + 1];
        let big = zip_of(&[("x.xml", &zeros)]);
        assert!(big.len() < 64 * 1024);
        assert!(matches!(
            check("b.xlsx", &big, &small_limits()),
            Err(WorkbookError::TooLarge { limit_mb: 1, .. })
        ));
        let exact = zip_of(&[("x.xml", &zeros[1..])]);
        assert_eq!(check("e.xlsx", &exact, &small_limits()), Ok(()));
        let err = check("bảng.xlsx", b"[period]\nyear = 2024\n", &small_limits()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Tệp \"bảng.xlsx\" không phải bảng tính Excel"),
            "{err}"
        );
    }

    #[test]
    fn an_entry_whose_header_understates_its_size_is_stopped_at_the_limit() {
        let zeros = vec![0u8; 3 * 1024 * 1024];
        let mut bytes = zip_of(&[("x.xml", &zeros)]);
        // Declare 10 bytes in the local and the central header alike.
        let patch = |bytes: &mut Vec<u8>, signature: &[u8], offset: usize| {
            let at = bytes.windows(4).position(|w| w == signature).unwrap() + offset;
            bytes[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
        };
        patch(&mut bytes, b"PK\x03\x04", 22);
        patch(&mut bytes, b"PK\x01\x02", 24);
        let archive = ZipArchive::new(Cursor::new(&bytes[..])).unwrap();
        assert_eq!(archive.decompressed_size(), Some(10));
        assert!(matches!(
            check("l.xlsx", &bytes, &small_limits()),
            Err(WorkbookError::TooLarge { .. })
        ));
    }

    /// The sample workbook with `entry`'s text edited.
    fn sample_with(entry: &str, edit: impl Fn(String) -> String) -> Vec<u8> {
        let sample = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/dam-ha-2024-h1.xlsx"
        ))
        .unwrap();
        let mut archive = ZipArchive::new(Cursor::new(sample)).unwrap();
        let mut entries = Vec::new();
        for i in 0..archive.len() {
            let mut file = archive.by_index(i).unwrap();
            let mut content = Vec::new();
            file.read_to_end(&mut content).unwrap();
            let name = file.name().to_string();
            if name == entry {
                content = edit(String::from_utf8(content).unwrap()).into_bytes();
            }
            entries.push((name, content));
        }
        let borrowed: Vec<(&str, &[u8])> = entries
            .iter()
            .map(|(n, c)| (n.as_str(), c.as_slice()))
            .collect();
        zip_of(&borrowed)
    }

    #[test]
    fn a_cell_past_the_form_bound_is_refused_with_its_sheet_and_cell() {
        let defaults = TemplateLimits::default();
        let far = sample_with("xl/worksheets/sheet2.xml", |xml| {
            xml.replace(
                "</sheetData>",
                "<row r=\"1048576\"><c r=\"XFD1048576\"><v>1</v></c></row></sheetData>",
            )
        });
        let error = check("bieu-mau.xlsx", &far, &defaults).unwrap_err();
        assert_eq!(
            error,
            WorkbookError::CellOutsideForm {
                name: "bieu-mau.xlsx".into(),
                sheet: "Nguồn vốn".into(),
                cell: "XFD1048576".into(),
            }
        );
        assert!(
            error.to_string().starts_with(
                "Tệp \"bieu-mau.xlsx\", trang tính «Nguồn vốn»: ô XFD1048576 có dữ liệu nhưng nằm ngoài vùng biểu mẫu đọc được (tối đa 10.000 dòng và 200 cột, từ A1 đến GR10000)"
            ),
            "{error}"
        );
        // The units sheet is written, never read: a long list there is the office's business.
        let units = sample_with("xl/worksheets/sheet7.xml", |xml| {
            xml.replace(
                "</sheetData>",
                "<row r=\"20000\"><c r=\"A20000\"><v>1</v></c></row></sheetData>",
            )
        });
        assert_eq!(check("u.xlsx", &units, &defaults), Ok(()));
    }

    #[test]
    fn declared_shared_string_counts_are_read_as_calamine_would_and_bounded() {
        assert_eq!(
            largest_unique_count(b"<sst count=\"3\" uniqueCount=\"212\">"),
            Some(212)
        );
        assert_eq!(
            largest_unique_count(b"<sst uniqueCount = '+0099999999999' x=\"1\">"),
            Some(99_999_999_999)
        );
        assert_eq!(
            largest_unique_count(b"<sst uniqueCount=\"1\"/><sst uniqueCount=\"7\"/>"),
            Some(7)
        );
        assert_eq!(
            largest_unique_count(&[b"uniqueCount=\"".as_slice(), &[b'9'; 60]].concat()),
            Some(u128::MAX)
        );
        assert_eq!(largest_unique_count(b"<sst uniqueCount=\"&#57;\">"), None);
        assert_eq!(largest_unique_count(b"<sst count=\"5\">"), None);
        let bomb = sample_with("xl/sharedStrings.xml", |xml| {
            xml.replace("uniqueCount=\"212\"", "uniqueCount=\"99999999999\"")
        });
        assert!(matches!(
            check("s.xlsx", &bomb, &TemplateLimits::default()),
            Err(WorkbookError::TooManySharedStrings { ref declared, .. }) if declared == "99999999999"
        ));
        // At the limit it is read.
        let edge = sample_with("xl/sharedStrings.xml", |xml| {
            xml.replace("uniqueCount=\"212\"", "uniqueCount=\"1000000\"")
        });
        assert_eq!(check("s.xlsx", &edge, &TemplateLimits::default()), Ok(()));
    }

    #[test]
    fn the_command_line_reader_refuses_a_bomb_before_calamine() {
        // 101 MB of zeros, over the default docx_max_uncompressed_mb of 100.
        let zeros = vec![0u8; 101 * 1024 * 1024];
        let bomb = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        let error = crate::input::xlsx::read::read("bom.xlsx", bomb)
            .map(|_| ())
            .map_err(|p| p.to_string())
            .expect_err("a bomb must be refused");
        assert!(
            error.contains("bom.xlsx") && error.contains("bom zip"),
            "{error}"
        );
        let error = crate::input::xlsx::read::read("ghi-chu.xlsx", b"not a zip".to_vec())
            .map(|_| ())
            .map_err(|p| p.to_string())
            .expect_err("not a zip");
        assert!(error.contains("ghi-chu.xlsx"), "{error}");
    }
}
