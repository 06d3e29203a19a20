//! Which of an office's template files have fallen behind the built-in ones. `templates export`
//! writes a stamp ([`STAMP_FILE`]) with the vanban version and the SHA-256 of every file it
//! exported. After an upgrade, comparing the office's folder with that stamp and with today's
//! built-in templates tells the IT officer which files the office never edited but that are now
//! outdated (delete them to get the new ones), and which it edited from a built-in that has
//! changed since (compare and carry the edit over), instead of a page-check refusal they cannot
//! place.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::docx::{self, DocxError};
use super::templates::{EMAIL, TYPST};
use super::wording;

/// The stamp's file name in an exported templates folder.
pub const STAMP_FILE: &str = "phien-ban-mau.toml";

/// This build's version, as the stamp records it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every built-in template file an office can override, by its path in a templates folder
/// ("typst/nd30.typ"), with its bytes: the wording, the Typst, DOCX and email templates.
pub fn builtin_files() -> Result<Vec<(String, Vec<u8>)>, DocxError> {
    let mut files = vec![(
        wording::FILE.to_owned(),
        wording::BUILTIN.as_bytes().to_vec(),
    )];
    files.extend(
        TYPST
            .iter()
            .map(|(name, text)| (format!("typst/{name}"), text.as_bytes().to_vec())),
    );
    files.extend(
        docx::builtin_templates()?
            .into_iter()
            .map(|(name, bytes)| (format!("{}/{name}", docx::SUBDIR), bytes)),
    );
    files.extend(
        EMAIL
            .iter()
            .map(|(name, text)| (format!("email/{name}"), text.as_bytes().to_vec())),
    );
    Ok(files)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The stamp of an export of `files` at `at` (a date and time as the office reads it).
pub fn stamp(files: &[(String, Vec<u8>)], at: &str) -> String {
    let mut out = String::from(
        "# Do vanban ghi khi xuất mẫu (vanban templates export): phiên bản vanban và mã SHA-256 của\n\
         # từng mẫu có sẵn lúc xuất. Đừng sửa hay xóa tệp này: sau khi nâng cấp vanban, lệnh check\n\
         # --templates dùng nó để chỉ ra mẫu nào cơ quan chưa sửa nhưng đã cũ, mẫu nào đã sửa từ\n\
         # một mẫu có sẵn nay đã đổi.\n",
    );
    out.push_str(&format!(
        "vanban = \"{VERSION}\"\nxuat_luc = \"{at}\"\n\n[sha256]\n"
    ));
    for (name, bytes) in files {
        out.push_str(&format!("\"{name}\" = \"{}\"\n", sha256_hex(bytes)));
    }
    out
}

#[derive(Debug, serde::Deserialize)]
struct Stamp {
    vanban: String,
    xuat_luc: String,
    sha256: BTreeMap<String, String>,
}

/// How an office's template file stands against the built-ins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staleness {
    /// Exactly as exported, never edited, but the built-in has changed since.
    Outdated,
    /// Edited by the office, and the built-in it was exported from has changed since.
    EditedFromOlder,
}

/// One file of an office's templates folder that has fallen behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleTemplate {
    /// Its path in the folder, "typst/nd30.typ".
    pub file: String,
    pub staleness: Staleness,
    /// The vanban version and time of the export it came from.
    pub exported_with: String,
    pub exported_at: String,
}

impl fmt::Display for StaleTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.staleness {
            Staleness::Outdated => write!(
                f,
                "mẫu «{}» là mẫu có sẵn xuất lúc {} (vanban {}), cơ quan chưa sửa, nhưng vanban \
                 {VERSION} đã đổi mẫu này: xóa tệp để dùng mẫu mới, hoặc xuất lại",
                self.file, self.exported_at, self.exported_with
            ),
            Staleness::EditedFromOlder => write!(
                f,
                "mẫu «{}» đã được cơ quan sửa từ mẫu có sẵn xuất lúc {} (vanban {}); vanban \
                 {VERSION} đã đổi mẫu có sẵn này từ đó: xuất mẫu mới ra thư mục khác (vanban \
                 templates export), so sánh và chép phần cơ quan đã sửa sang mẫu mới",
                self.file, self.exported_at, self.exported_with
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StampError {
    #[error("không đọc được {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("không tạo được mẫu DOCX có sẵn để so sánh: {0}")]
    Builtin(#[from] DocxError),
}

/// The files of the templates folder `dir` that have fallen behind today's built-ins, judged
/// by its stamp. A folder without a stamp (exported by an older vanban, or made by hand) says
/// nothing: `None`.
pub fn stale(dir: &Path) -> Result<Option<Vec<StaleTemplate>>, StampError> {
    let path = dir.join(STAMP_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(StampError::Read {
                path: path.display().to_string(),
                reason: e.to_string(),
            });
        }
    };
    let stamp: Stamp = toml::from_str(&text).map_err(|e| StampError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut out = Vec::new();
    for (name, bytes) in builtin_files()? {
        let Some(exported) = stamp.sha256.get(&name) else {
            continue;
        };
        let current = sha256_hex(&bytes);
        if *exported == current {
            continue;
        }
        let office = match std::fs::read(dir.join(&name)) {
            Ok(office) => sha256_hex(&office),
            // Deleted: the built-in applies, nothing to say.
            Err(_) => continue,
        };
        let staleness = if office == *exported {
            Staleness::Outdated
        } else if office == current {
            // Already carried over by hand.
            continue;
        } else {
            Staleness::EditedFromOlder
        };
        out.push(StaleTemplate {
            file: name,
            staleness,
            exported_with: stamp.vanban.clone(),
            exported_at: stamp.xuat_luc.clone(),
        });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder exported "by an older vanban": the stamp records `old` as the hash of
    /// typst/nd30.typ and of email/review-report.body.txt.
    fn old_export(dir: &Path, nd30: &[u8], email: &[u8]) {
        let mut files = builtin_files().unwrap();
        for (name, bytes) in files.iter_mut() {
            if name == "typst/nd30.typ" {
                *bytes = b"// nd30 of the old version\n".to_vec();
            }
            if name == "email/review-report.body.txt" {
                *bytes = b"old body\n".to_vec();
            }
        }
        std::fs::write(dir.join(STAMP_FILE), stamp(&files, "2025-06-01 08:00")).unwrap();
        for (name, bytes) in &files {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
        std::fs::write(dir.join("typst/nd30.typ"), nd30).unwrap();
        std::fs::write(dir.join("email/review-report.body.txt"), email).unwrap();
    }

    #[test]
    fn an_unedited_outdated_file_and_an_edited_one_from_an_older_built_in_are_named() {
        let dir = tempfile::tempdir().unwrap();
        old_export(
            dir.path(),
            b"// nd30 of the old version\n",
            b"old body, edited\n",
        );
        let stale = stale(dir.path()).unwrap().unwrap();
        assert_eq!(stale.len(), 2, "{stale:?}");
        assert_eq!(stale[0].file, "typst/nd30.typ");
        assert_eq!(stale[0].staleness, Staleness::Outdated);
        assert_eq!(stale[1].file, "email/review-report.body.txt");
        assert_eq!(stale[1].staleness, Staleness::EditedFromOlder);
        let text = stale[0].to_string();
        assert!(text.contains("xóa tệp để dùng mẫu mới"), "{text}");
        assert!(text.contains("2025-06-01 08:00"), "{text}");
        assert!(stale[1].to_string().contains("so sánh"), "{}", stale[1]);
    }

    #[test]
    fn a_fresh_export_a_deleted_file_a_carried_over_edit_and_no_stamp_say_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let files = builtin_files().unwrap();
        std::fs::write(dir.path().join(STAMP_FILE), stamp(&files, "hôm nay")).unwrap();
        assert_eq!(stale(dir.path()).unwrap(), Some(Vec::new()));

        let old = tempfile::tempdir().unwrap();
        let nd30 = TYPST.iter().find(|(n, _)| *n == "nd30.typ").unwrap().1;
        old_export(old.path(), nd30.as_bytes(), b"old body\n");
        std::fs::remove_file(old.path().join("email/review-report.body.txt")).unwrap();
        assert_eq!(stale(old.path()).unwrap(), Some(Vec::new()));

        let none = tempfile::tempdir().unwrap();
        assert_eq!(stale(none.path()).unwrap(), None);
    }
}
