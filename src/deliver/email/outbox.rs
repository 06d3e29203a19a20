//! The dry-run transport: each message becomes `<outbox>/<message-id-stem>.eml`, the exact bytes
//! that would have gone over SMTP, written atomically.

use std::path::{Path, PathBuf};

use lettre::Message;

use super::mime::message_id_stem;
use crate::deliver::transport::{SendError, Transport};
use crate::files::write_atomically;

/// A folder of `.eml` files, one per message, openable in any mail client.
#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `message` goes: named after its Message-ID, so a rerun overwrites the same file and
    /// a deliberate resend (new tag) gets a new one.
    pub fn path_for(&self, message: &Message) -> Result<PathBuf, SendError> {
        let id = message.headers().get_raw("Message-ID").unwrap_or_default();
        let stem = message_id_stem(id).ok_or_else(|| SendError::Permanent {
            reason: format!(
                "thư không có Message-ID hợp lệ («{id}») nên không đặt được tên tệp trong hộp thư đi {}",
                self.dir.display()
            ),
        })?;
        Ok(self.dir.join(format!("{stem}.eml")))
    }
}

impl Transport for Outbox {
    /// Returns the path written. Disk errors are permanent: a retry seconds later will not make
    /// a read-only or full disk writable, and the dry run can simply be repeated.
    fn send(&self, message: &Message) -> Result<String, SendError> {
        let path = self.path_for(message)?;
        write_atomically(&path, &message.formatted()).map_err(|e| SendError::Permanent {
            reason: format!("không ghi được thư vào {}: {e}", path.display()),
        })?;
        Ok(path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::email::mime::{Attachment, OutgoingMessage, build_message, message_id_for};
    use std::fs;
    use std::time::{Duration, SystemTime};

    fn message(key: &str, tag: &str) -> Message {
        build_message(&OutgoingMessage {
            from: (
                "Văn phòng UBND huyện".to_owned(),
                "vanphong@damha.example".to_owned(),
            ),
            to: vec![(
                "Phòng Nông nghiệp và Môi trường".to_owned(),
                "nn@damha.example".to_owned(),
            )],
            subject: "Thông báo kết luận số 125/TB-UBND".to_owned(),
            body: "Kính gửi các đơn vị.\nTrân trọng./.\n".to_owned(),
            attachments: vec![Attachment {
                file_name: "125-TB-UBND Thông báo kết luận.pdf".to_owned(),
                content_type: "application/pdf".to_owned(),
                bytes: b"%PDF-1.7\n\x00\xff\r\n.\r\n".repeat(100),
            }],
            message_id: message_id_for(&["UBND", "2024-h1", "notice", key], "damha.example", tag),
            date: SystemTime::UNIX_EPOCH + Duration::from_secs(1_719_000_000),
        })
        .unwrap()
    }

    #[test]
    fn writes_exact_bytes_named_after_the_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox/2024-h1"));
        let first = message("nn", "1");
        let path = outbox.send(&first).unwrap();
        let id = first.headers().get_raw("Message-ID").unwrap();
        let stem = message_id_stem(id).unwrap();
        assert_eq!(
            path,
            outbox
                .dir()
                .join(format!("{stem}.eml"))
                .display()
                .to_string()
        );
        assert_eq!(fs::read(&path).unwrap(), first.formatted());

        // A rerun overwrites the same file; a resend with a new tag gets its own.
        assert_eq!(outbox.send(&first).unwrap(), path);
        let resend = outbox.send(&message("nn", "r1")).unwrap();
        assert_ne!(resend, path);
        let mut names: Vec<String> = fs::read_dir(outbox.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names.len(), 2, "no temp files left: {names:?}");
        assert!(
            names
                .iter()
                .all(|n| n.ends_with(".eml") && !n.starts_with('.'))
        );

        // Parseable by a real MIME parser (mail-parser, in the tests' SMTP harness).
        let value = crate::deliver::email::test_sink::parse_eml(&[std::path::PathBuf::from(&path)]);
        assert_eq!(value[0]["subject"], "Thông báo kết luận số 125/TB-UBND");
        assert_eq!(value[0]["message_id"], id);
        assert_eq!(value[0]["defects"], serde_json::json!([]));
        let attachment = &value[0]["attachments"][0];
        assert_eq!(attachment["filename"], "125-TB-UBND Thông báo kết luận.pdf");
        assert_eq!(attachment["name"], "125-TB-UBND Thong bao ket luan.pdf");
        assert_eq!(attachment["size"], 1600);
    }

    #[test]
    fn unwritable_outbox_is_a_permanent_error_naming_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("not-a-dir");
        fs::write(&blocker, "x").unwrap();
        let error = Outbox::new(&blocker).send(&message("nn", "1")).unwrap_err();
        assert!(!error.is_transient());
        assert!(error.reason().contains("not-a-dir"), "{error}");
    }
}
