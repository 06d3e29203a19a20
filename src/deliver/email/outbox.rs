//! The dry-run transport of the email channel: each parcel becomes
//! `<outbox>/<message-id-stem>.eml`, the exact bytes that would have gone over SMTP, written
//! atomically.

use std::path::{Path, PathBuf};

use super::mime::message_id_stem;
use crate::deliver::parcel::{MESSAGE_RFC822, Parcel};
use crate::deliver::transport::{SendError, Transport, expect_media_type};
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

    /// Where `parcel` goes: named after its Message-ID, so a rerun overwrites the same file and
    /// a deliberate resend (new tag) gets a new one.
    pub fn path_for(&self, parcel: &Parcel) -> Result<PathBuf, SendError> {
        let id = &parcel.id;
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
    fn deliver(&self, parcel: &Parcel) -> Result<String, SendError> {
        expect_media_type(parcel, MESSAGE_RFC822, "hộp thư đi")?;
        let path = self.path_for(parcel)?;
        write_atomically(&path, &parcel.bytes).map_err(|e| SendError::Permanent {
            reason: format!("không ghi được thư vào {}: {e}", path.display()),
        })?;
        Ok(path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::email::mime::{
        Attachment, OutgoingMessage, build_message, message_id_for, parcel,
    };
    use crate::deliver::ledger::DeliveryKey;
    use crate::model::{Half, PeriodId};
    use lettre::Message;
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

    /// Hands `message` to `outbox` as the send's dispatch does: as its parcel.
    fn send(outbox: &Outbox, message: &Message) -> Result<String, SendError> {
        let key = DeliveryKey::new("UBND", PeriodId::new(2024, Half::First), "notice", "nn");
        outbox.deliver(&parcel(key, message))
    }

    #[test]
    fn writes_exact_bytes_named_after_the_message_id() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox/2024-h1"));
        let first = message("nn", "1");
        let path = send(&outbox, &first).unwrap();
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
        assert_eq!(send(&outbox, &first).unwrap(), path);
        let resend = send(&outbox, &message("nn", "r1")).unwrap();
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
        let error = send(&Outbox::new(&blocker), &message("nn", "1")).unwrap_err();
        assert!(!error.is_transient());
        assert!(error.reason().contains("not-a-dir"), "{error}");
    }

    #[test]
    fn a_parcel_that_is_not_an_email_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::new(dir.path().join("outbox"));
        let key = DeliveryKey::new("UBND", PeriodId::new(2024, Half::First), "notice", "nn");
        let mut package = parcel(key, &message("nn", "1"));
        package.media_type = "application/xml".to_owned();
        let error = outbox.deliver(&package).unwrap_err();
        assert!(!error.is_transient() && !error.is_unknown(), "{error}");
        assert!(
            error.reason().contains("«message/rfc822»")
                && error.reason().contains("«application/xml»"),
            "{error}"
        );
        assert!(!outbox.dir().exists());
    }
}
