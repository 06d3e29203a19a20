//! An Excel workbook (.xlsx, a zip) measured before calamine reads it, from the command line or
//! an upload (before it is stored): a zip bomb or a file that is not a zip at all is refused
//! with a Vietnamese message naming the file.
//!
//! The limits are the config's `[limits]` `docx_max_entries` and `docx_max_uncompressed_mb`:
//! the same risk (an Office file that inflates without bound), so one pair of knobs an office
//! already knows, and the messages name them.

use std::io::{Cursor, Read};

use zip::ZipArchive;

use crate::config::TemplateLimits;

const MB: u64 = 1024 * 1024;

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
}

/// Checks the zip of an uploaded workbook: entry count and declared sizes from the central
/// directory first (nothing inflated), then each entry inflated into nothing and counted, up
/// to the limit only, since a crafted header can declare a few bytes for gigabytes of data.
pub fn check(name: &str, bytes: &[u8], limits: &TemplateLimits) -> Result<(), WorkbookError> {
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

    #[test]
    fn the_command_line_reader_refuses_a_bomb_before_calamine() {
        // 101 MB of zeros, over the default docx_max_uncompressed_mb of 100.
        let zeros = vec![0u8; 101 * 1024 * 1024];
        let bomb = zip_of(&[("xl/worksheets/sheet1.xml", &zeros)]);
        let error = crate::input::xlsx::read::read("bom.xlsx", bomb)
            .map(|_| ())
            .expect_err("a bomb must be refused");
        assert!(
            error.contains("bom.xlsx") && error.contains("bom zip"),
            "{error}"
        );
        let error = crate::input::xlsx::read::read("ghi-chu.xlsx", b"not a zip".to_vec())
            .map(|_| ())
            .expect_err("not a zip");
        assert!(error.contains("ghi-chu.xlsx"), "{error}");
    }
}
