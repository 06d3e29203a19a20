//! MIME messages: each recipient's email built with lettre (plain-text body, attachments with
//! their Vietnamese and ASCII-folded names, a From header folded between words), with a
//! Message-ID derived from the delivery key and a Date passed in, so the same input gives the
//! same bytes.

use std::time::SystemTime;

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};

use super::MailError;
use crate::deliver::ledger::DeliveryKey;
use crate::deliver::parcel::{MESSAGE_RFC822, Parcel};
use crate::issue::filing::ascii_file_name;

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// The Vietnamese display name, e.g. "125-TB-UBND Thông báo kết luận.pdf".
    pub file_name: String,
    /// A MIME type without parameters, e.g. "application/pdf".
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Everything one message needs; subject and body are already rendered from their templates.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// (display name, address)
    pub from: (String, String),
    /// (display name, address); a unit with several addresses gets them all in one message.
    pub to: Vec<(String, String)>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<Attachment>,
    /// From [`message_id_for`], angle brackets included.
    pub message_id: String,
    /// The `Date:` header; passed in (not read from the clock) so runs are reproducible.
    pub date: SystemTime,
}

/// A Message-ID derived from the delivery key: `<stem.tag@domain>`, where the stem is the first
/// 96 bits of the SHA-256 of the key parts. The same key always gives the same stem, so a resend
/// is recognisable as the same letter; automatic retries keep the same tag (so a duplicate caused
/// by a lost "250" reply carries the same Message-ID, which mail systems de-duplicate), and a
/// deliberate `--resend` passes a new tag.
pub fn message_id_for(key_parts: &[&str], sender_domain: &str, attempt_tag: &str) -> String {
    let mut hasher = Sha256::new();
    for part in key_parts {
        // Length-prefixed so ("ab", "c") and ("a", "bc") cannot collide.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let stem: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let tag: String = attempt_tag
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    let tag = if tag.is_empty() { "0".to_owned() } else { tag };
    let domain: String = sender_domain
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '.')
        .collect();
    let domain = domain.trim_matches('.');
    let domain = if domain.is_empty() {
        "vanban.invalid"
    } else {
        domain
    };
    format!("<{stem}.{tag}@{domain}>")
}

/// The part of a Message-ID before `@`, without the angle bracket: the outbox file name stem.
pub fn message_id_stem(message_id: &str) -> Option<&str> {
    let inner = message_id.trim().strip_prefix('<')?.strip_suffix('>')?;
    let (left, right) = inner.split_once('@')?;
    let safe = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_';
    if left.is_empty() || right.is_empty() || !left.chars().all(safe) || left.starts_with('.') {
        return None;
    }
    Some(left)
}

fn mailbox((name, address): &(String, String)) -> Result<Mailbox, MailError> {
    let parsed = address
        .trim()
        .parse()
        .map_err(
            |e: lettre::address::AddressError| MailError::InvalidAddress {
                name: name.clone(),
                address: address.clone(),
                reason: e.to_string(),
            },
        )?;
    let name = name.trim();
    Ok(Mailbox::new(
        (!name.is_empty()).then(|| name.to_owned()),
        parsed,
    ))
}

/// The From header with a Vietnamese sender name written by vanban rather than lettre: lettre
/// cuts the encoded name wherever a line fills up, inside a word ("Tâ" | "n"), and some mail
/// clients show such a cut as a space. Here every encoded-word holds whole words. `None` for a
/// plain ASCII name, which lettre writes well.
fn from_header(from: &Mailbox) -> Option<HeaderValue> {
    let name = from
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_ascii())?;
    let encoded = format!("{}\r\n <{}>", encoded_words(name), from.email);
    Some(HeaderValue::dangerous_new_pre_encoded(
        HeaderName::new_from_ascii_str("From"),
        from.to_string(),
        encoded,
    ))
}

/// `text` as RFC 2047 encoded-words (`=?utf-8?b?…?=`), one per folded line, each holding whole
/// words and the space after them (a decoder drops the white space between encoded-words).
/// Only a single word too long for one encoded-word is cut, between characters.
fn encoded_words(text: &str) -> String {
    // 45 bytes are 60 base64 characters: "=?utf-8?b?" + 60 + "?=" is 72, within RFC 2047's 75
    // and, after "From: ", within a 78-character line.
    const MAX_BYTES: usize = 45;
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_inclusive(' ') {
        if !current.is_empty() && current.len() + word.len() > MAX_BYTES {
            chunks.push(std::mem::take(&mut current));
        }
        for c in word.chars() {
            if current.len() + c.len_utf8() > MAX_BYTES {
                chunks.push(std::mem::take(&mut current));
            }
            current.push(c);
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
        .iter()
        .map(|chunk| format!("=?utf-8?b?{}?=", base64(chunk.as_bytes())))
        .collect::<Vec<_>>()
        .join("\r\n ")
}

fn attachment_part(attachment: &Attachment) -> Result<SinglePart, MailError> {
    let invalid = || MailError::InvalidContentType {
        file_name: attachment.file_name.clone(),
        content_type: attachment.content_type.clone(),
    };
    let bare = attachment.content_type.trim();
    ContentType::parse(bare).map_err(|_| invalid())?;
    // lettre writes the real (Vietnamese) name only as RFC 2231 `filename*` in
    // Content-Disposition. Clients that do not read RFC 2231 (older Outlook, some webmail) fall
    // back to the Content-Type `name=` parameter, so that one carries the ASCII-folded name.
    let with_name = format!(
        "{bare}; name=\"{}\"",
        ascii_file_name(&attachment.file_name)
    );
    let content_type = ContentType::parse(&with_name).map_err(|_| invalid())?;
    Ok(MimeAttachment::new(attachment.file_name.clone())
        .body(attachment.bytes.clone(), content_type))
}

/// Builds the MIME message: plain-text body (UTF-8) and the attachments, with the given
/// Message-ID and Date so the same input gives the same bytes.
pub fn build_message(msg: &OutgoingMessage) -> Result<Message, MailError> {
    if msg.to.is_empty() {
        return Err(MailError::NoRecipient {
            subject: msg.subject.clone(),
        });
    }
    if message_id_stem(&msg.message_id).is_none() {
        return Err(MailError::InvalidMessageId(msg.message_id.clone()));
    }
    let from = mailbox(&msg.from)?;
    let mut builder = Message::builder()
        .from(from.clone())
        .subject(msg.subject.clone())
        .message_id(Some(msg.message_id.clone()))
        .date(msg.date);
    if let Some(header) = from_header(&from) {
        builder = builder.raw_header(header);
    }
    for recipient in &msg.to {
        builder = builder.to(mailbox(recipient)?);
    }
    let body = SinglePart::plain(msg.body.clone());
    let built = if msg.attachments.is_empty() {
        builder.singlepart(body)
    } else {
        // lettre's default boundary is random; one derived from the Message-ID makes the same
        // input give the same bytes (reproducible outbox files, comparable resends). "=_" cannot
        // occur in base64 or quoted-printable lines, so the boundary cannot collide with content.
        let boundary: String = Sha256::digest(msg.message_id.as_bytes())[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut parts = MultiPart::mixed()
            .boundary(format!("=_vanban_{boundary}"))
            .singlepart(body);
        for attachment in &msg.attachments {
            parts = parts.singlepart(attachment_part(attachment)?);
        }
        builder.multipart(parts)
    };
    built.map_err(|e| MailError::Build {
        subject: msg.subject.clone(),
        reason: e.to_string(),
    })
}

/// A built message as the email channel's parcel: its envelope's addresses (the From address;
/// every To address), its Message-ID and its bytes, exactly as they go over SMTP or into the
/// outbox.
pub fn parcel(key: DeliveryKey, message: &Message) -> Parcel {
    let envelope = message.envelope();
    Parcel {
        key,
        id: message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_owned(),
        sender: envelope.from().map(ToString::to_string).unwrap_or_default(),
        recipients: envelope.to().iter().map(ToString::to_string).collect(),
        media_type: MESSAGE_RFC822.to_owned(),
        bytes: message.formatted(),
    }
}

/// Standard base64 with padding, as SMTP AUTH encodes (RFC 4954).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sample messages the email channel's tests share (mime, smtp, outbox, retry).
#[cfg(test)]
pub(crate) mod test_samples {
    use super::*;
    use std::time::Duration;

    pub(crate) const SUBJECT: &str = "Công văn giao nhiệm vụ triển khai kết luận của Chủ tịch UBND huyện Đầm Hà (6 tháng đầu năm 2024)";
    pub(crate) const BODY: &str = "Kính gửi: Phòng Tài chính - Kế hoạch\n\nThực hiện Thông báo kết luận số 125/TB-UBND, \
        Ủy ban nhân dân huyện gửi kèm công văn giao nhiệm vụ.\n.dòng bắt đầu bằng dấu chấm\nFrom dòng bắt đầu bằng From\n\n\
        Trân trọng./.\n";
    pub(crate) const PDF_NAME: &str = "125-TB-UBND Thông báo kết luận.pdf";
    pub(crate) const DOCX_NAME: &str =
        "126-UBND-TCKH Công văn giao nhiệm vụ Phòng Tài chính – Kế hoạch.docx";
    pub(crate) const DOCX_TYPE: &str =
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

    pub(crate) fn date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_719_000_000)
    }

    /// Deterministic bytes covering every byte value, CRLF and "\r\n.\r\n" (the SMTP end marker).
    pub(crate) fn binary(len: usize, seed: u64, magic: &[u8]) -> Vec<u8> {
        let mut out = magic.to_vec();
        out.extend_from_slice(b"\r\n.\r\n\x00\xff");
        out.extend((0..=255u8).collect::<Vec<_>>());
        let mut x = seed | 1;
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            out.push((x >> 24) as u8);
        }
        out.truncate(len);
        out
    }

    pub(crate) fn sample(to: &[(&str, &str)], key: &str, pdf_len: usize) -> OutgoingMessage {
        OutgoingMessage {
            from: (
                "Văn phòng HĐND và UBND huyện Đầm Hà".to_owned(),
                "vanphong@damha.example".to_owned(),
            ),
            to: to
                .iter()
                .map(|(n, a)| ((*n).to_owned(), (*a).to_owned()))
                .collect(),
            subject: SUBJECT.to_owned(),
            body: BODY.to_owned(),
            attachments: vec![
                Attachment {
                    file_name: PDF_NAME.to_owned(),
                    content_type: "application/pdf".to_owned(),
                    bytes: binary(pdf_len, 7, b"%PDF-1.7\n"),
                },
                Attachment {
                    file_name: DOCX_NAME.to_owned(),
                    content_type: DOCX_TYPE.to_owned(),
                    bytes: binary(6_206, 11, b"PK\x03\x04"),
                },
            ],
            message_id: message_id_for(
                &["UBND", "2024-h1", "assignment", key],
                "damha.example",
                "1",
            ),
            date: date(),
        }
    }

    pub(crate) fn unit_message(key: &str) -> OutgoingMessage {
        sample(
            &[("Phòng Tài chính - Kế hoạch", "taichinh@damha.example")],
            key,
            51_714,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::test_samples::*;
    use super::*;
    use unicode_normalization::UnicodeNormalization;

    #[test]
    fn base64_is_rfc_4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }

    // ---- pure functions ----

    #[test]
    fn the_senders_name_is_folded_between_words() {
        let long = "Văn phòng Hội đồng nhân dân và Ủy ban nhân dân huyện Đầm Hà, tỉnh Quảng Ninh";
        let mut msg = unit_message("tckh");
        msg.from.0 = long.to_owned();
        let bytes = build_message(&msg).unwrap().formatted();
        let text = String::from_utf8_lossy(&bytes);
        let header: String = text
            .split("\r\n")
            .skip_while(|l| !l.starts_with("From: "))
            .take_while(|l| l.starts_with("From: ") || l.starts_with(' '))
            .collect::<Vec<_>>()
            .join("\r\n");
        let words: Vec<&str> = header
            .split_whitespace()
            .filter(|w| w.starts_with("=?utf-8?b?"))
            .collect();
        assert!(words.len() > 1, "{header}");
        let mut decoded = Vec::new();
        for word in &words {
            let one = format!("Subject: {word}\r\n\r\n");
            let parsed = mail_parser::MessageParser::default()
                .parse(one.as_bytes())
                .unwrap();
            decoded.push(parsed.subject().unwrap().to_owned());
        }
        // Each piece ends at a word's end: with its space, or the name's end.
        for piece in &decoded[..decoded.len() - 1] {
            assert!(piece.ends_with(' '), "{decoded:?}");
        }
        assert_eq!(decoded.concat(), long);
        assert!(header.lines().all(|l| l.len() <= 78), "{header}");
        let parsed = mail_parser::MessageParser::default()
            .parse(&bytes[..])
            .unwrap();
        let from = parsed.from().unwrap().first().unwrap();
        assert_eq!(from.name(), Some(long));
        assert_eq!(from.address(), Some("vanphong@damha.example"));
    }

    #[test]
    fn ascii_file_name_folds_vietnamese() {
        assert_eq!(
            ascii_file_name(PDF_NAME),
            "125-TB-UBND Thong bao ket luan.pdf"
        );
        assert_eq!(
            ascii_file_name("Đầm Hà: Ủy ban \"nhân dân\" / Đường ống.docx"),
            "Dam Ha- Uy ban _nhan dan_ - Duong ong.docx"
        );
        assert_eq!(
            ascii_file_name("  Trường  học\tư ơ.pdf "),
            "Truong hoc u o.pdf"
        );
        // Decomposed input (another keyboard) folds the same way.
        let decomposed: String = "Thông báo".nfd().collect();
        assert_eq!(ascii_file_name(&decomposed), "Thong bao");
        assert_eq!(ascii_file_name("…"), "_");
        assert_eq!(ascii_file_name(" . "), "tep-dinh-kem");
        assert!(ascii_file_name("Ắ Ặ ẵ ỹ Ỹ – “x”").is_ascii());
    }

    #[test]
    fn message_id_is_derived_from_the_key() {
        let a = message_id_for(
            &["UBND", "2024-h1", "assignment", "tckh"],
            "Damha.example",
            "1",
        );
        assert_eq!(
            a,
            message_id_for(
                &["UBND", "2024-h1", "assignment", "tckh"],
                "damha.example",
                "1"
            )
        );
        assert!(
            a.starts_with('<') && a.ends_with(".1@damha.example>"),
            "{a}"
        );
        assert_eq!(message_id_stem(&a).map(str::len), Some(24 + 2));
        let resend = message_id_for(
            &["UBND", "2024-h1", "assignment", "tckh"],
            "damha.example",
            "r1",
        );
        assert_ne!(a, resend);
        assert_eq!(a[1..25], resend[1..25], "same key, same stem");
        let other = message_id_for(
            &["UBND", "2024-h1", "assignment", "nn"],
            "damha.example",
            "1",
        );
        assert_ne!(a[1..25], other[1..25]);
        // Part boundaries matter.
        assert_ne!(
            message_id_for(&["ab", "c"], "x.vn", "1"),
            message_id_for(&["a", "bc"], "x.vn", "1")
        );
        assert_eq!(
            message_id_for(&["k"], " ", "?!"),
            format!(
                "<{}.0@vanban.invalid>",
                &message_id_for(&["k"], "x", "0")[1..25]
            )
        );
    }

    #[test]
    fn message_id_stem_rejects_unsafe_ids() {
        assert_eq!(message_id_stem("<abc.1@x.vn>"), Some("abc.1"));
        assert_eq!(message_id_stem("abc@x.vn"), None);
        assert_eq!(message_id_stem("<../etc@x.vn>"), None);
        assert_eq!(message_id_stem("<a/b@x.vn>"), None);
        assert_eq!(message_id_stem("<@x.vn>"), None);
    }

    #[test]
    fn built_message_has_both_file_names_and_fixed_headers() {
        let message = build_message(&unit_message("tckh")).unwrap();
        let text = String::from_utf8(message.formatted()).unwrap();
        assert!(text.is_ascii());
        assert!(
            text.contains("Date: Fri, 21 Jun 2024 20:00:00 +0000\r\n"),
            "{text:.600}"
        );
        let id = message_id_for(
            &["UBND", "2024-h1", "assignment", "tckh"],
            "damha.example",
            "1",
        );
        assert!(text.contains(&format!("Message-ID: {id}\r\n")));
        assert!(
            text.contains("name=\"125-TB-UBND Thong bao ket luan.pdf\""),
            "{text:.3000}"
        );
        assert!(text.contains("filename*0*=utf-8''125-TB-UBND%20Th%C3%B4ng"));
        // The same input gives the same bytes (reproducible outbox and resends).
        assert_eq!(
            message.formatted(),
            build_message(&unit_message("tckh")).unwrap().formatted()
        );
        let envelope = message.envelope();
        assert_eq!(envelope.to().len(), 1);
        assert_eq!(
            envelope.from().unwrap().to_string(),
            "vanphong@damha.example"
        );
    }

    #[test]
    fn odd_file_names_still_build() {
        let mut msg = unit_message("x");
        msg.attachments[0].file_name =
            "Báo cáo; số=1 (bản 2), 'nháp' #3 [x] {y} ~!@$%^&.pdf".to_owned();
        let message = build_message(&msg).unwrap();
        // A long quoted parameter may be folded; unfolding restores the space.
        let text = String::from_utf8(message.formatted())
            .unwrap()
            .replace("\r\n ", " ");
        assert!(
            text.contains("name=\"Bao cao; so=1 (ban 2), 'nhap' #3 [x] {y} ~!@$%^&.pdf\""),
            "{text:.3000}"
        );
    }

    #[test]
    fn build_refuses_bad_input_naming_it() {
        let mut msg = unit_message("x");
        msg.to
            .push(("Xã Quảng Lâm".to_owned(), "quanglam@@damha".to_owned()));
        let error = build_message(&msg).unwrap_err().to_string();
        assert!(
            error.contains("Xã Quảng Lâm") && error.contains("quanglam@@damha"),
            "{error}"
        );

        let mut msg = unit_message("x");
        msg.to.clear();
        assert!(matches!(
            build_message(&msg),
            Err(MailError::NoRecipient { .. })
        ));

        let mut msg = unit_message("x");
        msg.attachments[0].content_type = "pdf".to_owned();
        let error = build_message(&msg).unwrap_err().to_string();
        assert!(error.contains(PDF_NAME), "{error}");

        let mut msg = unit_message("x");
        msg.message_id = "no-brackets@x".to_owned();
        assert!(matches!(
            build_message(&msg),
            Err(MailError::InvalidMessageId(_))
        ));
    }
}
