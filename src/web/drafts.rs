//! What the page shows of a period's drafts: the record written when the page renders them,
//! tying the draft files and thumbnails to the upload they were made from and to each draft's
//! approval content hash (`issue::approval`), so that the page never previews an older file as
//! the current one and the approver's decision names exactly what was shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{App, WebError};

/// The record beside the thumbnails: `<state folder>/web/previews/<period>/drafts.json`.
const RECORD: &str = "drafts.json";

/// The drafts the page rendered for a period, from one upload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shown {
    /// The upload (`web_uploads.id`) the drafts were rendered from.
    pub upload_id: i64,
    /// By file stem ("02-thong-bao-ket-luan").
    pub documents: BTreeMap<String, ShownDocument>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShownDocument {
    /// The draft's content as approval hashes it (`approval::Draft::content_sha256`).
    pub content_sha256: String,
    /// Each file served for it (PDF, DOCX) and the SHA-256 of its bytes as rendered.
    pub files: BTreeMap<String, String>,
}

impl Shown {
    /// Whether `name` is a file of these drafts with exactly the bytes rendered: a draft file
    /// overwritten since (by `vanban render` into the same folder) is not served as this one.
    pub fn serves(&self, name: &str, bytes: &[u8]) -> bool {
        self.documents.values().any(|d| {
            d.files
                .get(name)
                .is_some_and(|sha| *sha == crate::issue::filing::sha256_hex(bytes))
        })
    }
}

fn folder(app: &App, key: &str) -> PathBuf {
    app.previews_dir().join(key)
}

fn record_path(app: &App, key: &str) -> PathBuf {
    folder(app, key).join(RECORD)
}

/// The drafts of `key` the page may show as current: those rendered from `upload_id`, the
/// period's current upload. None when there are none, or they came from an earlier upload.
pub fn current(app: &App, key: &str, upload_id: i64) -> Option<Shown> {
    let bytes = std::fs::read(record_path(app, key)).ok()?;
    let shown: Shown = serde_json::from_slice(&bytes).ok()?;
    (shown.upload_id == upload_id).then_some(shown)
}

/// Records what was just rendered, once the drafts and thumbnails are all written.
pub fn record(app: &App, key: &str, shown: &Shown) -> Result<(), WebError> {
    let path = record_path(app, key);
    let bytes = serde_json::to_vec_pretty(shown)
        .map_err(|e| WebError::Internal(format!("{}: {e}", path.display())))?;
    crate::files::write_atomically(&path, &bytes).map_err(|e| io_error(&path, e))
}

/// A new file for the period: its thumbnails and the record of its drafts go, so nothing of the
/// previous file is previewed as current (the record names its upload too, for a render that
/// finishes after this).
pub fn forget(app: &App, key: &str) -> Result<(), WebError> {
    let dir = folder(app, key);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_error(&dir, e)),
        _ => Ok(()),
    }
}

fn io_error(path: &Path, e: std::io::Error) -> WebError {
    WebError::Internal(format!(
        "Không ghi hoặc đọc được {}: {}",
        path.display(),
        crate::vi::errors::io_error(&e)
    ))
}

/// The approve and return forms' `shown` field: "stem:sha256" for each document the page
/// showed, comma-separated.
pub fn shown_field(hashes: &BTreeMap<String, String>) -> String {
    hashes
        .iter()
        .map(|(stem, sha)| format!("{stem}:{sha}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Reads the `shown` field back; a field that is not of that form is refused.
pub fn parse_shown_field(text: &str) -> Result<BTreeMap<String, String>, WebError> {
    let bad = || {
        WebError::BadRequest(
            "Biểu mẫu duyệt không cho biết đúng các bản nháp đã hiện (trường «shown»); hãy tải \
             lại trang, xem lại rồi duyệt."
                .into(),
        )
    };
    let mut out = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let (stem, sha) = item.split_once(':').ok_or_else(bad)?;
        let sha_ok = sha.len() == 64 && sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !super::actions::valid_file_part(stem) || !sha_ok {
            return Err(bad());
        }
        out.insert(stem.to_string(), sha.to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_field_reads_back_and_refuses_anything_else() {
        let a = "a".repeat(64);
        let b = "0123456789abcdef".repeat(4);
        let hashes = BTreeMap::from([
            ("01-bao-cao-so-ket".to_string(), a.clone()),
            ("03-cong-van-quang_lam".to_string(), b.clone()),
        ]);
        let field = shown_field(&hashes);
        assert_eq!(parse_shown_field(&field).unwrap(), hashes);
        assert!(parse_shown_field("").unwrap().is_empty());
        for bad in [
            format!("01-bao-cao-so-ket={a}"),
            format!("../x:{a}"),
            "01-bao-cao-so-ket:abc".to_string(),
            format!("01-bao-cao-so-ket:{}", a.to_uppercase()),
        ] {
            assert!(parse_shown_field(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_file_is_served_only_with_the_bytes_rendered() {
        let shown = Shown {
            upload_id: 3,
            documents: BTreeMap::from([(
                "02-thong-bao-ket-luan".to_string(),
                ShownDocument {
                    content_sha256: "c".repeat(64),
                    files: BTreeMap::from([(
                        "02-thong-bao-ket-luan.pdf".to_string(),
                        crate::issue::filing::sha256_hex(b"%PDF-1"),
                    )]),
                },
            )]),
        };
        assert!(shown.serves("02-thong-bao-ket-luan.pdf", b"%PDF-1"));
        assert!(!shown.serves("02-thong-bao-ket-luan.pdf", b"%PDF-2"));
        assert!(!shown.serves("01-bao-cao-so-ket.pdf", b"%PDF-1"));
    }
}
