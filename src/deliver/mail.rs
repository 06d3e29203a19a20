//! Email messages and their transport: builds each recipient's message with lettre, sends it over
//! SMTP (connection reused, rustls) with failures classified as transient, permanent or unknown
//! outcome, and retries only the transient ones. The `.eml` outbox for dry runs is in `outbox.rs`.

use std::fmt;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError, mpsc};
use std::time::{Duration, Instant, SystemTime};

use lettre::Message;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use sha2::{Digest, Sha256};

use crate::config::{Secret, Security, SmtpSettings};
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

/// Errors in building messages or the SMTP transport: configuration or data problems that no
/// retry can fix.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("địa chỉ thư của «{name}» không hợp lệ: «{address}» ({reason})")]
    InvalidAddress {
        name: String,
        address: String,
        reason: String,
    },
    #[error("thư «{subject}» không có người nhận")]
    NoRecipient { subject: String },
    #[error("tệp đính kèm «{file_name}» có kiểu nội dung không hợp lệ: «{content_type}»")]
    InvalidContentType {
        file_name: String,
        content_type: String,
    },
    #[error("Message-ID không hợp lệ: «{0}» (phải có dạng <phần-đầu@tên-miền>)")]
    InvalidMessageId(String),
    #[error("không dựng được thư «{subject}»: {reason}")]
    Build { subject: String, reason: String },
    #[error("không đọc được tệp chứng chỉ CA {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cấu hình TLS cho máy chủ thư {server} bị lỗi: {reason}")]
    Tls { server: String, reason: String },
    #[error(
        "[smtp] có tên đăng nhập «{username}» nhưng chưa có mật khẩu (password_env hoặc password_file)"
    )]
    MissingPassword { username: String },
    #[error(
        "[smtp] không được gửi mật khẩu qua kết nối không mã hóa tới {server}: đặt security = \"starttls\" hoặc \"tls\""
    )]
    CredentialsWithoutTls { server: String },
}

/// Why one message was not sent. The text is Vietnamese, names the server and, for a refusal,
/// quotes the server's reply; it never contains the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing can have been delivered and a retry may help: 4xx replies, and refused, dropped
    /// or timed-out connections before the mail transaction began.
    #[error("lỗi tạm thời: {reason}")]
    Transient { reason: String },
    /// A retry will not help: 5xx replies, failed authentication, an untrusted certificate.
    #[error("lỗi vĩnh viễn: {reason}")]
    Permanent { reason: String },
    /// The connection timed out or dropped during the mail transaction, without a reply: the
    /// server may already have the message (a lost "250"). Never retried automatically.
    #[error("không rõ kết quả: {reason}")]
    Unknown { reason: String },
}

impl SendError {
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Transient { .. })
    }

    pub fn is_unknown(&self) -> bool {
        matches!(self, Self::Unknown { .. })
    }

    pub fn reason(&self) -> &str {
        match self {
            Self::Transient { reason } | Self::Permanent { reason } | Self::Unknown { reason } => {
                reason
            }
        }
    }

    fn reason_mut(&mut self) -> &mut String {
        match self {
            Self::Transient { reason } | Self::Permanent { reason } | Self::Unknown { reason } => {
                reason
            }
        }
    }
}

/// Something that takes a finished message: the SMTP server, or the outbox in a dry run.
/// `Ok` carries the server's reply or the path of the written file, for the ledger. `Sync`: a
/// `send` with several connections calls it from several threads at once.
pub trait Transport: Sync {
    fn send(&self, message: &Message) -> Result<String, SendError>;
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

/// The SMTP transport, built once per process. It drives lettre's `SmtpConnection` itself rather
/// than `SmtpTransport`, so it knows whether a failure came before the mail transaction (nothing
/// can have been delivered: retry) or during it (the server may have the message: unknown).
/// Connections are kept open between messages (one per worker of a `send` with several
/// connections: each `send` call takes an idle one or opens one, and gives it back after); one
/// that waited longer than [`UNCHECKED_REUSE`] is checked with NOOP before reuse.
pub struct SmtpMailer {
    host: String,
    port: u16,
    timeout: Duration,
    /// TLS parameters, and whether TLS starts with the first byte (else STARTTLS, required).
    tls: Option<(TlsParameters, bool)>,
    credentials: Option<Credentials>,
    hello: ClientId,
    reuse: bool,
    /// Open connections not in use. The lock is held only to take or give back one, never
    /// during an exchange, so several threads can send at once, each on its own connection.
    idle: Mutex<Vec<(SmtpConnection, Instant)>>,
    /// [`UNCHECKED_REUSE`] (a field so the tests can make every reuse checked).
    unchecked_reuse: Duration,
    server: String,
    /// What must never reach a stored or printed reason: the password, and the base64 strings
    /// AUTH PLAIN and AUTH LOGIN send (a server that echoes them in an error would otherwise
    /// put the credentials in the ledger and on the terminal).
    masked: Vec<Secret>,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpMailer {
    fn drop(&mut self) {
        let idle = self.idle.get_mut().unwrap_or_else(PoisonError::into_inner);
        for (mut connection, _) in idle.drain(..) {
            let _ = connection.quit();
        }
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where an SMTP exchange failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connecting, greeting, EHLO, STARTTLS, AUTH, up to the reply to MAIL FROM: nothing of
    /// the message sent yet.
    Connecting,
    /// RCPT TO to the reply after the message's end: the server may have accepted it.
    Transaction,
}

impl SmtpMailer {
    pub fn new(settings: &SmtpSettings) -> Result<Self, MailError> {
        Self::with_reuse(settings, true)
    }

    /// As [`SmtpMailer::new`]; `reuse = false` opens a new connection per message (the
    /// benchmark's baseline).
    pub fn with_reuse(settings: &SmtpSettings, reuse: bool) -> Result<Self, MailError> {
        let server = format!("{}:{}", settings.host, settings.port);
        let tls = match settings.security {
            Security::None => None,
            Security::Tls => Some((tls_parameters(settings, &server)?, true)),
            Security::StartTls => Some((tls_parameters(settings, &server)?, false)),
        };
        let mut credentials = None;
        if let Some(username) = &settings.username {
            let Some(password) = &settings.password else {
                return Err(MailError::MissingPassword {
                    username: username.clone(),
                });
            };
            // A password in clear text is only acceptable when it never leaves the machine.
            if settings.security == Security::None && !is_loopback(&settings.host) {
                return Err(MailError::CredentialsWithoutTls { server });
            }
            credentials = Some(Credentials::new(
                username.clone(),
                password.expose().to_owned(),
            ));
        }
        Ok(Self {
            host: settings.host.clone(),
            port: settings.port,
            timeout: settings.timeout,
            tls,
            credentials,
            hello: ClientId::default(),
            reuse,
            idle: Mutex::new(Vec::new()),
            unchecked_reuse: UNCHECKED_REUSE,
            server,
            masked: secrets_to_mask(settings.username.as_deref(), settings.password.as_ref()),
        })
    }

    /// [`SmtpMailer::connect`], its failure classified.
    fn fresh_connection(&self) -> Result<SmtpConnection, SendError> {
        self.connect()
            .map_err(|e| self.classify(&e, Phase::Connecting))
    }

    /// A new connection, greeted, encrypted and logged in as configured.
    fn connect(&self) -> Result<SmtpConnection, lettre::transport::smtp::Error> {
        let wrapper = match &self.tls {
            Some((parameters, true)) => Some(parameters),
            _ => None,
        };
        let mut connection = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )?;
        if let Some((parameters, false)) = &self.tls {
            connection.starttls(parameters, &self.hello)?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(&[Mechanism::Plain, Mechanism::Login], credentials)?;
        }
        Ok(connection)
    }

    /// Turns a lettre error into [`SendError`], with the password masked should the server
    /// ever echo it.
    fn classify(&self, error: &lettre::transport::smtp::Error, phase: Phase) -> SendError {
        let mut classified = classify_smtp_error(error, &self.server, phase);
        let reason = classified.reason_mut();
        for secret in &self.masked {
            *reason = reason.replace(secret.expose(), "***");
        }
        classified
    }
}

/// The password and the AUTH exchanges' base64 forms of it (PLAIN: "\0user\0password";
/// LOGIN: the password alone), longest first so a longer match is masked whole.
fn secrets_to_mask(username: Option<&str>, password: Option<&Secret>) -> Vec<Secret> {
    let Some(password) = password.map(Secret::expose).filter(|p| !p.is_empty()) else {
        return Vec::new();
    };
    let mut masked = vec![base64(password.as_bytes()), password.to_owned()];
    if let Some(username) = username {
        masked.push(base64(format!("\0{username}\0{password}").as_bytes()));
    }
    masked.sort_by_key(|s| std::cmp::Reverse(s.len()));
    masked.into_iter().map(Secret::new).collect()
}

/// Standard base64 with padding, as SMTP AUTH encodes (RFC 4954).
fn base64(bytes: &[u8]) -> String {
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

fn tls_parameters(settings: &SmtpSettings, server: &str) -> Result<TlsParameters, MailError> {
    let mut builder = TlsParameters::builder(settings.host.clone());
    if let Some(path) = &settings.ca_file {
        let ca_error = |reason: String| MailError::CaFile {
            path: path.clone(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        // lettre accepts a PEM without any certificate and silently trusts nothing extra.
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(ca_error(
                "không có chứng chỉ nào dạng PEM (-----BEGIN CERTIFICATE-----)".to_owned(),
            ));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        builder = builder.add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| MailError::Tls {
        server: server.to_owned(),
        reason: e.to_string(),
    })
}

/// The first `std::io::Error` in an error's source chain.
fn io_cause<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = e.source();
    }
    None
}

/// Transient or permanent, and why, in Vietnamese.
///
/// - A reply code decides when there is one: 4xx transient, 5xx permanent with the server's
///   text. This makes a refused login (535) permanent: retrying a wrong password only risks
///   locking the account, while a temporary auth failure (454) stays transient.
/// - Once the mail transaction has begun (MAIL FROM sent), a timeout, a dropped connection or a
///   garbled reply leaves the outcome unknown: the server may have stored the message and the
///   "250" been lost, so a retry could deliver it twice. When in doubt after connecting, unknown.
/// - Before that (connecting, greeting, EHLO, STARTTLS, AUTH), timeouts, refused, reset or
///   dropped connections, and DNS failures are transient: no message was handed over, and a
///   later attempt may well succeed.
/// - rustls reports every TLS protocol failure, notably an untrusted or mismatched certificate,
///   as an `InvalidData` I/O error: permanent, since only a configuration change (`ca_file`,
///   host name) can fix it and retrying just repeats the handshake.
/// - lettre's client errors (no common AUTH mechanism, no STARTTLS offered, no 8BITMIME) and
///   errors without an I/O cause describe the server's capabilities or our configuration:
///   permanent. A garbled reply is transient (a glitch on the line).
fn classify_smtp_error(
    error: &lettre::transport::smtp::Error,
    server: &str,
    phase: Phase,
) -> SendError {
    if let Some(code) = error.status() {
        let text = std::error::Error::source(error)
            .map(|s| s.to_string())
            .unwrap_or_default();
        return if error.is_transient() {
            SendError::Transient {
                reason: format!("máy chủ thư {server} tạm thời từ chối ({code}): {text}"),
            }
        } else {
            SendError::Permanent {
                reason: format!("máy chủ thư {server} từ chối ({code}): {text}"),
            }
        };
    }
    // lettre's client errors (SMTPUTF8 or 8BITMIME not offered) are raised before MAIL FROM.
    if phase == Phase::Transaction && !error.is_client() {
        return SendError::Unknown {
            reason: format!(
                "mất kết nối hoặc quá thời gian chờ máy chủ thư {server} khi thư đang được gửi đi; \
                 máy chủ có thể đã nhận thư nên vanban không tự gửi lại ({error})"
            ),
        };
    }
    // A read timeout surfaces as WouldBlock on Unix (the socket's SO_RCVTIMEO), which lettre's
    // `is_timeout` does not recognise.
    let timed_out = error.is_timeout()
        || io_cause(error).is_some_and(|io| io.kind() == std::io::ErrorKind::WouldBlock);
    if timed_out {
        return SendError::Transient {
            reason: format!("quá thời gian chờ máy chủ thư {server}"),
        };
    }
    if let Some(io) = io_cause(error) {
        return if io.kind() == std::io::ErrorKind::InvalidData {
            // rustls's own words go to the log only; the clerk reads why, in Vietnamese.
            tracing::warn!(server, detail = %io, "kết nối TLS tới máy chủ thư thất bại");
            SendError::Permanent {
                reason: tls_reason(&io.to_string(), server),
            }
        } else {
            SendError::Transient {
                reason: format!(
                    "không kết nối được hoặc mất kết nối tới máy chủ thư {server}: {}",
                    crate::vi::errors::io_error(io)
                ),
            }
        };
    }
    if error.is_response() {
        return SendError::Transient {
            reason: format!("máy chủ thư {server} trả lời không đúng giao thức SMTP: {error}"),
        };
    }
    SendError::Permanent {
        reason: format!(
            "không gửi được qua máy chủ thư {server} (máy chủ không hỗ trợ hoặc cấu hình [smtp] sai): {error}"
        ),
    }
}

/// A kept connection given back less than this long ago is used without a NOOP first: within a
/// batch the next message follows at once, and the check costs one round trip of the five a
/// message takes (a fifth of the time to a distant or slow server). Should the server have
/// closed it all the same, MAIL FROM fails before anything of the message was sent, and the
/// message goes on a new connection (see `send`).
const UNCHECKED_REUSE: Duration = Duration::from_secs(2);

/// A TLS failure as a clerk or IT officer reads it: the common causes (an expired certificate,
/// one from an issuer this machine does not trust, one for another name, a refused handshake, a
/// port that does not speak TLS) in Vietnamese with what to do, and rustls's name for the case
/// (stable, searchable) in brackets. `detail` is rustls's English text, which stays in the log.
fn tls_reason(detail: &str, server: &str) -> String {
    let compact: String = detail
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| compact.contains(w));
    let (why, code) = if has(&["expired"]) {
        (
            "chứng chỉ của máy chủ thư đã hết hạn (hoặc đồng hồ của máy này sai): báo người \
             quản trị máy chủ thư gia hạn chứng chỉ"
                .to_owned(),
            Some("Expired"),
        )
    } else if has(&["notvalidyet"]) {
        (
            "chứng chỉ của máy chủ thư chưa đến ngày có hiệu lực (hoặc đồng hồ của máy này sai)"
                .to_owned(),
            Some("NotValidYet"),
        )
    } else if has(&["unknownissuer"]) {
        (
            "chứng chỉ của máy chủ thư do một nơi cấp mà máy này không tin cậy: nếu máy chủ dùng \
             chứng chỉ riêng của cơ quan, đặt ca_file trong mục [smtp] trỏ tới tệp chứng chỉ gốc \
             (CA) của nó"
                .to_owned(),
            Some("UnknownIssuer"),
        )
    } else if has(&["notvalidforname"]) {
        (
            format!(
                "chứng chỉ của máy chủ thư không mang tên «{server}»: đặt host trong mục [smtp] \
                 đúng tên ghi trên chứng chỉ (tên miền, không phải địa chỉ IP)"
            ),
            Some("NotValidForName"),
        )
    } else if has(&["corruptmessage", "invalidcontenttype"]) {
        (
            "máy chủ thư không nói TLS ở cổng này: kiểm tra port và security trong mục [smtp] \
             (thường security = \"tls\" với cổng 465, \"starttls\" với cổng 587)"
                .to_owned(),
            Some("InvalidContentType"),
        )
    } else if has(&["alert", "handshake", "peerisincompatible", "peermisbehaved"]) {
        (
            "máy chủ thư từ chối bắt tay TLS (hai bên không có chung phiên bản TLS hay bộ mã \
             hóa): báo người quản trị máy chủ thư"
                .to_owned(),
            Some("HandshakeFailure"),
        )
    } else {
        (
            "kiểm tra ca_file, host, port và security trong mục [smtp]; chi tiết kỹ thuật có trong \
             nhật ký"
                .to_owned(),
            None,
        )
    };
    let mut reason = format!("kết nối TLS tới máy chủ thư {server} thất bại: {why}");
    if let Some(code) = code {
        reason.push_str(&format!(" [mã lỗi TLS: {code}]"));
    }
    reason
}

impl Transport for SmtpMailer {
    fn send(&self, message: &Message) -> Result<String, SendError> {
        let kept = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .filter(|_| self.reuse);
        // A connection kept a while is checked with NOOP first, so a server that closed it
        // meanwhile costs a new connection rather than a failure inside the transaction.
        let (mut connection, unchecked) = match kept {
            Some((connection, since)) if since.elapsed() < self.unchecked_reuse => {
                (connection, true)
            }
            Some((mut connection, _)) => {
                if connection.test_connected() {
                    (connection, false)
                } else {
                    connection.abort();
                    (self.fresh_connection()?, false)
                }
            }
            None => (self.fresh_connection()?, false),
        };
        let email = message.formatted();
        let mut result = transact(&mut connection, message.envelope(), &email);
        if unchecked && matches!(result, Err(TransactError::BeforeMail(_))) {
            // The unchecked connection was refused or gone at MAIL FROM: nothing of the message
            // was sent, so it goes on a new connection, once.
            connection = self.fresh_connection()?;
            result = transact(&mut connection, message.envelope(), &email);
        }
        let transacted = match result {
            Ok(transacted) => transacted,
            // `transact` has already closed the connection on error. Before MAIL FROM was
            // accepted nothing of the message was sent: no unknown outcome can come of it.
            Err(TransactError::BeforeMail(error)) => {
                return Err(self.classify(&error, Phase::Connecting));
            }
            Err(TransactError::Smtp(error)) => {
                return Err(self.classify(&error, Phase::Transaction));
            }
            Err(TransactError::Unsupported(what)) => {
                return Err(SendError::Permanent {
                    reason: format!(
                        "không gửi được qua máy chủ thư {} (máy chủ không hỗ trợ {what})",
                        self.server
                    ),
                });
            }
        };
        if self.reuse {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push((connection, Instant::now()));
        } else {
            let _ = connection.quit();
        }
        let refusals: Vec<(String, SendError)> = transacted
            .refused
            .iter()
            .map(|(address, error)| (address.clone(), self.classify(error, Phase::Transaction)))
            .collect();
        let listed = refusals
            .iter()
            .map(|(address, error)| format!("{address}: {}", error.reason()))
            .collect::<Vec<_>>()
            .join("; ");
        match transacted.response {
            Some(response) => {
                let text = response.message().collect::<Vec<_>>().join(" ");
                let mut reply = format!("{} {text}", response.code());
                if !refusals.is_empty() {
                    reply.push_str(REFUSED_MARK);
                    reply.push_str(&listed);
                }
                Ok(reply)
            }
            // Every address was refused: nothing was delivered, so a 4xx among them may be
            // retried; all 5xx is final.
            None if refusals.iter().any(|(_, e)| e.is_transient()) => Err(SendError::Transient {
                reason: format!("không địa chỉ nào được nhận — {listed}"),
            }),
            None => Err(SendError::Permanent {
                reason: format!("không địa chỉ nào được nhận — {listed}"),
            }),
        }
    }
}

/// Between the server's reply to the message and the addresses it refused, in the reply the
/// ledger keeps for a sent message (`status` shows what follows it).
pub const REFUSED_MARK: &str = " — địa chỉ bị từ chối: ";

/// The addresses a sent message's server reply says were refused, with the server's reply to
/// each ("a@x: máy chủ thư … từ chối (550): …; b@y: …"), if any were.
pub fn refused_in_reply(reply: &str) -> Option<&str> {
    reply.split_once(REFUSED_MARK).map(|(_, refused)| refused)
}

/// One mail transaction whose recipients were tried one by one.
struct Transacted {
    /// The reply to the message, `None` if every recipient was refused (nothing was sent).
    response: Option<lettre::transport::smtp::response::Response>,
    /// Each refused address with the server's refusal.
    refused: Vec<(String, lettre::transport::smtp::Error)>,
}

enum TransactError {
    /// The connection failed or the server refused MAIL FROM; the connection is closed.
    BeforeMail(lettre::transport::smtp::Error),
    /// The connection failed or the server refused DATA or the message once MAIL FROM was
    /// accepted; the connection is closed.
    Smtp(lettre::transport::smtp::Error),
    /// The message needs an extension the server does not offer (nothing was sent).
    Unsupported(&'static str),
}

/// lettre's `SmtpConnection::send`, except that a refused RCPT does not end the transaction:
/// lettre gives up the whole envelope at the first refusal, so one mistyped address of a unit
/// kept its letter from the unit's valid address. Here every recipient is
/// tried; the message goes in one transaction to those the server accepted, and the refused
/// ones come back with the server's reply. If none is accepted the transaction is reset and
/// the connection kept.
fn transact(
    connection: &mut SmtpConnection,
    envelope: &lettre::address::Envelope,
    email: &[u8],
) -> Result<Transacted, TransactError> {
    use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
    use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};

    let mut options = Vec::new();
    let non_ascii = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|address| !AsRef::<str>::as_ref(address).is_ascii());
    if non_ascii {
        if !connection
            .server_info()
            .supports_feature(Extension::SmtpUtfEight)
        {
            return Err(TransactError::Unsupported("SMTPUTF8 cho địa chỉ có dấu"));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !email.is_ascii() {
        if !connection
            .server_info()
            .supports_feature(Extension::EightBitMime)
        {
            return Err(TransactError::Unsupported("8BITMIME"));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let fail = |connection: &mut SmtpConnection, error| {
        connection.abort();
        TransactError::Smtp(error)
    };
    if let Err(e) = connection.command(Mail::new(envelope.from().cloned(), options)) {
        connection.abort();
        return Err(TransactError::BeforeMail(e));
    }
    let mut accepted = 0;
    let mut refused = Vec::new();
    for address in envelope.to() {
        match connection.command(Rcpt::new(address.clone(), vec![])) {
            Ok(_) => accepted += 1,
            // A reply code: the server refused this address and the transaction goes on.
            Err(e) if e.status().is_some() => refused.push((address.to_string(), e)),
            Err(e) => return Err(fail(connection, e)),
        }
    }
    if accepted == 0 {
        if let Err(e) = connection.command(Rset) {
            connection.abort();
            // The refusals are the answer; a failed RSET only costs the connection.
            tracing::debug!("RSET sau khi mọi địa chỉ bị từ chối thất bại: {e}");
        }
        return Ok(Transacted {
            response: None,
            refused,
        });
    }
    if let Err(e) = connection.command(Data) {
        return Err(fail(connection, e));
    }
    match connection.message(email) {
        Ok(response) => Ok(Transacted {
            response: Some(response),
            refused,
        }),
        Err(e) => Err(fail(connection, e)),
    }
}

/// How transient failures are retried: attempt n+1 waits `first_delay * factor^(n-1)`, capped at
/// `max_delay`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per message, the first included (0 is treated as 1).
    pub max_attempts: u32,
    pub first_delay: Duration,
    pub factor: f64,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            first_delay: Duration::from_secs(30),
            factor: 2.0,
            max_delay: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (2 or more; the first attempt does not wait).
    pub fn delay_before(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let factor = if self.factor.is_finite() && self.factor >= 1.0 {
            self.factor
        } else {
            1.0
        };
        let exponent = i32::try_from(attempt - 2).unwrap_or(i32::MAX);
        let seconds = self.first_delay.as_secs_f64() * factor.powi(exponent);
        Duration::try_from_secs_f64(seconds)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// Whether [`send_all`] goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Stop,
    /// From `before_attempt` only: leave this message alone (the ledger says it was sent or its
    /// outcome is unknown) and go on with the others; it is not tried again in later rounds.
    /// From `after_attempt` it means the same as `Continue`.
    Skip,
}

/// The caller's view of each attempt; the ledger is written here.
pub trait SendHooks {
    /// Before attempt `attempt` (1-based) of message `index`: record "sending". `Stop` means this
    /// message is not sent and nothing further is (the ledger could not be written, or a
    /// shutdown was requested).
    fn before_attempt(&mut self, index: usize, attempt: u32) -> Flow;

    /// After the attempt: record "sent" or "failed". `will_retry` is true when the failure is
    /// transient and attempts remain, so the message will be tried again in a later round.
    /// `Stop` ends the run after this message (SIGTERM: finish the one in flight, record, stop).
    fn after_attempt(
        &mut self,
        index: usize,
        attempt: u32,
        outcome: &Result<String, SendError>,
        will_retry: bool,
    ) -> Flow;
}

/// What happened to one message in [`send_all`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageOutcome {
    /// Attempts made (0: never tried, because the run stopped first).
    pub attempts: u32,
    /// The last attempt's outcome, `None` if never tried.
    pub result: Option<Result<String, SendError>>,
}

/// The result of [`send_all`], one outcome per message in input order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendSummary {
    pub outcomes: Vec<MessageOutcome>,
    /// A hook returned [`Flow::Stop`].
    pub stopped: bool,
}

impl SendSummary {
    pub fn sent(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o.result, Some(Ok(_))))
            .count()
    }
}

/// Sends every message once, then retries the transient failures in rounds, waiting
/// `policy.delay_before(n)` (through `sleep`, so tests and shutdown can intercept it) before
/// round n, until they succeed or `max_attempts` is reached. Permanent failures are never
/// retried. Rounds rather than per-message retries: a server that is briefly unavailable gets
/// the whole delay, and one slow message does not hold up the others.
///
/// Up to `connections` exchanges run at once, each on a worker thread of its own (and so, over
/// SMTP, on a connection of its own). The hooks run on the calling thread only, in the order
/// things happen: `before_attempt` just before a message is handed to a free worker (the
/// ledger's claim, so a message is never on two workers), `after_attempt` as soon as its
/// exchange ends. A hook's `Stop` hands out no further message; those already in flight finish
/// and go through `after_attempt` (their outcome recorded, never lost). With one connection
/// this is the plain one-after-another loop, hook for hook.
pub fn send_all<T: Transport + ?Sized>(
    transport: &T,
    messages: &[Message],
    policy: &RetryPolicy,
    connections: usize,
    sleep: &dyn Fn(Duration),
    hooks: &mut dyn SendHooks,
) -> SendSummary {
    let mut outcomes = vec![MessageOutcome::default(); messages.len()];
    let max_attempts = policy.max_attempts.max(1);
    let workers = connections.clamp(1, messages.len().max(1));
    let mut stopped = false;
    std::thread::scope(|scope| {
        let (done_tx, done_rx) = mpsc::channel::<(usize, usize, Result<String, SendError>)>();
        let mut jobs = Vec::with_capacity(workers);
        for worker in 0..workers {
            let (job_tx, job_rx) = mpsc::channel::<usize>();
            let done = done_tx.clone();
            scope.spawn(move || {
                for index in job_rx {
                    let result = exchange(transport, &messages[index]);
                    if done.send((worker, index, result)).is_err() {
                        break;
                    }
                }
            });
            jobs.push(job_tx);
        }
        drop(done_tx);
        // Free workers, the first one on top, so one message at a time reuses one connection.
        let mut idle: Vec<usize> = (0..workers).rev().collect();
        let mut pending: Vec<usize> = (0..messages.len()).collect();
        for attempt in 1..=max_attempts {
            if pending.is_empty() || stopped {
                break;
            }
            if attempt > 1 {
                sleep(policy.delay_before(attempt));
            }
            let mut retry = Vec::new();
            let mut queue = pending.iter().copied();
            let mut in_flight = 0usize;
            loop {
                while !stopped && !idle.is_empty() {
                    let Some(index) = queue.next() else { break };
                    match hooks.before_attempt(index, attempt) {
                        Flow::Continue => {}
                        Flow::Skip => continue,
                        Flow::Stop => {
                            stopped = true;
                            break;
                        }
                    }
                    let worker = idle.pop().unwrap_or_default();
                    if jobs[worker].send(index).is_err() {
                        // The worker is gone (it panicked): its message was claimed but never
                        // exchanged; record it as unknown rather than pretend it was not tried.
                        let result = Err(SendError::Unknown {
                            reason: "lỗi nội bộ: luồng gửi thư đã dừng".to_owned(),
                        });
                        hooks.after_attempt(index, attempt, &result, false);
                        outcomes[index] = MessageOutcome {
                            attempts: attempt,
                            result: Some(result),
                        };
                        stopped = true;
                        break;
                    }
                    in_flight += 1;
                }
                if in_flight == 0 {
                    break;
                }
                let Ok((worker, index, result)) = done_rx.recv() else {
                    // Every worker is gone: nothing more will come back.
                    stopped = true;
                    break;
                };
                in_flight -= 1;
                idle.push(worker);
                let will_retry =
                    matches!(&result, Err(e) if e.is_transient()) && attempt < max_attempts;
                let flow = hooks.after_attempt(index, attempt, &result, will_retry);
                outcomes[index] = MessageOutcome {
                    attempts: attempt,
                    result: Some(result),
                };
                if will_retry {
                    retry.push(index);
                }
                if flow == Flow::Stop {
                    stopped = true;
                }
            }
            // Results come back in the order exchanges end; the next round goes in plan order.
            retry.sort_unstable();
            pending = retry;
        }
        // Closing the job channels ends the workers; the scope joins them.
        drop(jobs);
    });
    SendSummary { outcomes, stopped }
}

/// One exchange on a worker thread. A panic in the transport would leave the message claimed
/// with nobody to record it: it comes back as an unknown outcome instead (the exchange may have
/// gone through), so the ledger keeps it from being resent.
fn exchange<T: Transport + ?Sized>(transport: &T, message: &Message) -> Result<String, SendError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| transport.send(message)))
        .unwrap_or_else(|_| {
            Err(SendError::Unknown {
                reason: "lỗi nội bộ trong lúc gửi thư".to_owned(),
            })
        })
}

/// The SMTP sink harness the integration tests use too (outbox's tests read its MIME parser).
/// Declared here, not in `tests`: a path in an inline module would be read relative to
/// `mail/tests/`, which does not exist.
#[cfg(test)]
#[path = "../../tests/support/sink.rs"]
pub(crate) mod test_sink;

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn an_echoed_auth_exchange_is_masked_in_the_reason() {
        let secret = Secret::new("mật-khẩu".to_owned());
        let masked = secrets_to_mask(Some("vanphong"), Some(&secret));
        let plain = base64("\0vanphong\0mật-khẩu".as_bytes());
        let login = base64("mật-khẩu".as_bytes());
        let mut reason = format!("535 5.7.8 {plain} rejected; 535 {login}; mật-khẩu");
        for secret in &masked {
            reason = reason.replace(secret.expose(), "***");
        }
        assert_eq!(reason, "535 5.7.8 *** rejected; 535 ***; ***");
        assert!(secrets_to_mask(Some("vanphong"), None).is_empty());
    }
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::time::Instant;
    use unicode_normalization::UnicodeNormalization;

    use super::test_sink::{Certs, Sink, parse_eml, sha256_hex};

    const SUBJECT: &str = "Công văn giao nhiệm vụ triển khai kết luận của Chủ tịch UBND huyện Đầm Hà (6 tháng đầu năm 2024)";
    const BODY: &str = "Kính gửi: Phòng Tài chính - Kế hoạch\n\nThực hiện Thông báo kết luận số 125/TB-UBND, \
        Ủy ban nhân dân huyện gửi kèm công văn giao nhiệm vụ.\n.dòng bắt đầu bằng dấu chấm\nFrom dòng bắt đầu bằng From\n\n\
        Trân trọng./.\n";
    const PDF_NAME: &str = "125-TB-UBND Thông báo kết luận.pdf";
    const DOCX_NAME: &str = "126-UBND-TCKH Công văn giao nhiệm vụ Phòng Tài chính – Kế hoạch.docx";
    const DOCX_TYPE: &str =
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document";

    fn date() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_719_000_000)
    }

    /// Deterministic bytes covering every byte value, CRLF and "\r\n.\r\n" (the SMTP end marker).
    fn binary(len: usize, seed: u64, magic: &[u8]) -> Vec<u8> {
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

    fn sample(to: &[(&str, &str)], key: &str, pdf_len: usize) -> OutgoingMessage {
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

    fn unit_message(key: &str) -> OutgoingMessage {
        sample(
            &[("Phòng Tài chính - Kế hoạch", "taichinh@damha.example")],
            key,
            51_714,
        )
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
    fn secret_never_prints() {
        let secret = Secret::new("mật-khẩu".to_owned());
        assert_eq!(format!("{secret} {secret:?}"), "*** ***");
        assert_eq!(secret.expose(), "mật-khẩu");
        let settings = SmtpSettings {
            host: "mail.example.vn".to_owned(),
            port: 587,
            security: Security::StartTls,
            username: Some("vanphong".to_owned()),
            password: Some(secret),
            ca_file: None,
            timeout: Duration::from_secs(5),
        };
        assert!(!format!("{settings:?}").contains("mật-khẩu"));
    }

    #[test]
    fn security_reads_lowercase() {
        let all: Vec<Security> = serde_json::from_str(r#"["none","starttls","tls"]"#).unwrap();
        assert_eq!(all, [Security::None, Security::StartTls, Security::Tls]);
        assert!(serde_json::from_str::<Security>("\"STARTTLS\"").is_err());
        assert!(serde_json::from_str::<Security>("\"start_tls\"").is_err());
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

    #[test]
    fn settings_errors() {
        let mut settings = SmtpSettings {
            host: "mail.example.vn".to_owned(),
            port: 25,
            security: Security::None,
            username: Some("vanphong".to_owned()),
            password: None,
            ca_file: None,
            timeout: Duration::from_secs(5),
        };
        let error = SmtpMailer::new(&settings).unwrap_err();
        assert!(
            matches!(error, MailError::MissingPassword { .. }),
            "{error}"
        );
        settings.password = Some(Secret::new("pw".to_owned()));
        let error = SmtpMailer::new(&settings).unwrap_err();
        assert!(
            matches!(error, MailError::CredentialsWithoutTls { .. }),
            "{error}"
        );
        settings.host = "127.0.0.1".to_owned();
        assert!(SmtpMailer::new(&settings).is_ok());

        let dir = tempfile::tempdir().unwrap();
        let bogus = dir.path().join("ca.pem");
        std::fs::write(&bogus, "not a certificate").unwrap();
        settings.security = Security::StartTls;
        settings.ca_file = Some(bogus.clone());
        let error = SmtpMailer::new(&settings).unwrap_err().to_string();
        assert!(error.contains("ca.pem") && error.contains("PEM"), "{error}");
        settings.ca_file = Some(dir.path().join("missing.pem"));
        let error = SmtpMailer::new(&settings).unwrap_err().to_string();
        assert!(error.contains("missing.pem"), "{error}");
    }

    #[test]
    fn retry_delays_grow_and_cap() {
        let policy = RetryPolicy {
            max_attempts: 6,
            first_delay: Duration::from_secs(10),
            factor: 3.0,
            max_delay: Duration::from_secs(60),
        };
        let delays: Vec<u64> = (1..=6).map(|n| policy.delay_before(n).as_secs()).collect();
        assert_eq!(delays, [0, 10, 30, 60, 60, 60]);
        let odd = RetryPolicy {
            factor: f64::NAN,
            ..policy.clone()
        };
        assert_eq!(odd.delay_before(5), Duration::from_secs(10));
        let huge = RetryPolicy {
            factor: 1e300,
            max_delay: Duration::from_secs(99),
            ..policy
        };
        assert_eq!(huge.delay_before(40), Duration::from_secs(99));
    }

    // ---- send_all with a scripted transport ----

    /// A `RefCell` that can be shared between `send_all`'s workers (`Transport` is `Sync`).
    #[derive(Default)]
    struct Shared<T>(Mutex<T>);

    impl<T> Shared<T> {
        fn new(value: T) -> Self {
            Self(Mutex::new(value))
        }
        fn borrow(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
        fn borrow_mut(&self) -> std::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }

    /// Answers each message (by index in the To address) from a script; records every send.
    struct Scripted {
        script: Shared<Vec<VecDeque<Result<String, SendError>>>>,
        log: Shared<Vec<usize>>,
        /// `send_all`'s connections (1: one after another).
        connections: usize,
    }

    impl Scripted {
        /// Message i is answered from `script[i]` in turn, then with "250 OK".
        fn new(script: Vec<Vec<Result<String, SendError>>>) -> Self {
            Scripted {
                script: Shared::new(script.into_iter().map(VecDeque::from).collect()),
                log: Shared::default(),
                connections: 1,
            }
        }

        /// `send_all` over one indexed message per line of the script.
        fn send_all(
            &self,
            max_attempts: u32,
            sleep: &dyn Fn(Duration),
            hooks: &mut dyn SendHooks,
        ) -> SendSummary {
            let count = self.script.borrow().len();
            send_all(
                self,
                &indexed_messages(count),
                &policy(max_attempts),
                self.connections,
                sleep,
                hooks,
            )
        }
    }

    impl Transport for Scripted {
        fn send(&self, message: &Message) -> Result<String, SendError> {
            let to = message.envelope().to()[0].user().to_owned();
            let index: usize = to.trim_start_matches('u').parse().unwrap();
            self.log.borrow_mut().push(index);
            self.script.borrow_mut()[index]
                .pop_front()
                .unwrap_or_else(|| Ok("250 OK".to_owned()))
        }
    }

    #[derive(Default)]
    struct Recorder {
        events: Vec<String>,
        stop_before: Option<(usize, u32)>,
        stop_after: Option<(usize, u32)>,
        skip_before: Option<usize>,
    }

    impl SendHooks for Recorder {
        fn before_attempt(&mut self, index: usize, attempt: u32) -> Flow {
            self.events.push(format!("before {index}#{attempt}"));
            if self.stop_before == Some((index, attempt)) {
                Flow::Stop
            } else if self.skip_before == Some(index) {
                Flow::Skip
            } else {
                Flow::Continue
            }
        }
        fn after_attempt(
            &mut self,
            index: usize,
            attempt: u32,
            outcome: &Result<String, SendError>,
            will_retry: bool,
        ) -> Flow {
            let what = match outcome {
                Ok(_) => "ok",
                Err(e) if e.is_transient() => "transient",
                Err(_) => "permanent",
            };
            self.events.push(format!(
                "after {index}#{attempt} {what}{}",
                if will_retry { " retry" } else { "" }
            ));
            if self.stop_after == Some((index, attempt)) {
                Flow::Stop
            } else {
                Flow::Continue
            }
        }
    }

    fn transient() -> Result<String, SendError> {
        Err(SendError::Transient {
            reason: "451".to_owned(),
        })
    }

    fn permanent() -> Result<String, SendError> {
        Err(SendError::Permanent {
            reason: "550".to_owned(),
        })
    }

    fn indexed_messages(n: usize) -> Vec<Message> {
        (0..n)
            .map(|i| {
                let mut msg = unit_message(&i.to_string());
                msg.to = vec![(String::new(), format!("u{i}@damha.example"))];
                msg.attachments.clear();
                build_message(&msg).unwrap()
            })
            .collect()
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts,
            first_delay: Duration::from_secs(1),
            factor: 2.0,
            max_delay: Duration::from_secs(60),
        }
    }

    #[test]
    fn send_all_retries_only_transient_failures_in_rounds() {
        let transport = Scripted::new(vec![
            vec![transient(), transient()],
            vec![permanent()],
            vec![],
            vec![transient(), transient(), transient(), transient()],
        ]);
        let slept = RefCell::new(Vec::new());
        let mut hooks = Recorder::default();
        let summary = transport.send_all(3, &|d| slept.borrow_mut().push(d.as_secs()), &mut hooks);
        assert_eq!(*transport.log.borrow(), [0, 1, 2, 3, 0, 3, 0, 3]);
        assert_eq!(*slept.borrow(), [1, 2]);
        assert!(!summary.stopped);
        assert_eq!(summary.sent(), 2);
        let attempts: Vec<u32> = summary.outcomes.iter().map(|o| o.attempts).collect();
        assert_eq!(attempts, [3, 1, 1, 3]);
        assert_eq!(summary.outcomes[1].result, Some(permanent()));
        assert_eq!(summary.outcomes[3].result, Some(transient()));
        assert_eq!(
            hooks.events,
            [
                "before 0#1",
                "after 0#1 transient retry",
                "before 1#1",
                "after 1#1 permanent",
                "before 2#1",
                "after 2#1 ok",
                "before 3#1",
                "after 3#1 transient retry",
                "before 0#2",
                "after 0#2 transient retry",
                "before 3#2",
                "after 3#2 transient retry",
                "before 0#3",
                "after 0#3 ok",
                "before 3#3",
                "after 3#3 transient",
            ]
        );
    }

    #[test]
    fn a_skipped_message_is_not_sent_nor_retried_and_the_others_go_on() {
        let transport = Scripted::new(vec![vec![transient()], vec![transient()], vec![]]);
        let mut hooks = Recorder {
            skip_before: Some(1),
            ..Recorder::default()
        };
        let summary = transport.send_all(3, &|_| {}, &mut hooks);
        assert!(!summary.stopped);
        assert_eq!(*transport.log.borrow(), [0, 2, 0]);
        assert_eq!(summary.outcomes[1], MessageOutcome::default());
        assert_eq!(summary.sent(), 2);
        assert_eq!(
            hooks.events,
            [
                "before 0#1",
                "after 0#1 transient retry",
                "before 1#1",
                "before 2#1",
                "after 2#1 ok",
                "before 0#2",
                "after 0#2 ok",
            ]
        );
    }

    #[test]
    fn send_all_stops_when_a_hook_says_so() {
        let script = || vec![vec![transient()], vec![], vec![]];
        // Stop after message 1: it is recorded, message 2 is never tried.
        let transport = Scripted::new(script());
        let mut hooks = Recorder {
            stop_after: Some((1, 1)),
            ..Recorder::default()
        };
        let summary = transport.send_all(3, &|_| {}, &mut hooks);
        assert!(summary.stopped);
        assert_eq!(*transport.log.borrow(), [0, 1]);
        assert_eq!(summary.outcomes[2], MessageOutcome::default());
        assert_eq!(summary.outcomes[1].result, Some(Ok("250 OK".to_owned())));

        // Refusing before an attempt sends nothing more (e.g. the ledger could not be written).
        let transport = Scripted::new(script());
        let mut hooks = Recorder {
            stop_before: Some((0, 2)),
            ..Recorder::default()
        };
        let summary = transport.send_all(3, &|_| {}, &mut hooks);
        assert!(summary.stopped);
        assert_eq!(*transport.log.borrow(), [0, 1, 2]);
        assert_eq!(summary.outcomes[0].attempts, 1);
        assert_eq!(hooks.events.last().unwrap(), "before 0#2");

        // max_attempts 0 still tries once and never sleeps.
        let transport = Scripted::new(script());
        let summary = transport.send_all(
            0,
            &|_| panic!("no sleep expected"),
            &mut Recorder::default(),
        );
        assert_eq!(summary.outcomes[0].result, Some(transient()));
        assert_eq!(summary.sent(), 2);
    }

    /// A transport that takes 20 ms a message and counts the exchanges running at once.
    #[derive(Default)]
    struct Slow {
        running: std::sync::atomic::AtomicUsize,
        peak: std::sync::atomic::AtomicUsize,
        log: Shared<Vec<usize>>,
        /// Message index → failures before it goes through (transient, then "250 OK").
        transient: Shared<BTreeMap<usize, u32>>,
    }

    impl Transport for Slow {
        fn send(&self, message: &Message) -> Result<String, SendError> {
            use std::sync::atomic::Ordering::SeqCst;
            let to = message.envelope().to()[0].user().to_owned();
            let index: usize = to.trim_start_matches('u').parse().unwrap();
            let now = self.running.fetch_add(1, SeqCst) + 1;
            self.peak.fetch_max(now, SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            self.log.borrow_mut().push(index);
            self.running.fetch_sub(1, SeqCst);
            match self.transient.borrow_mut().get_mut(&index) {
                Some(n) if *n > 0 => {
                    *n -= 1;
                    transient()
                }
                _ => Ok(format!("250 OK {index}")),
            }
        }
    }

    /// Checks a hook sequence of several connections: each message's attempt is claimed
    /// ("before") once and ended ("after") once, the claim first, and never more than
    /// `connections` claimed and not yet ended.
    fn check_interleaving(events: &[String], connections: usize) {
        let mut open = BTreeSet::new();
        for event in events {
            let (what, rest) = event.split_once(' ').unwrap();
            let id = rest.split(' ').next().unwrap().to_owned();
            match what {
                "before" => {
                    assert!(open.insert(id.clone()), "{id} claimed twice: {events:?}");
                    assert!(open.len() <= connections, "{events:?}");
                }
                _ => assert!(open.remove(&id), "{id} ended unclaimed: {events:?}"),
            }
        }
        assert!(open.is_empty(), "claimed, never ended: {open:?}");
    }

    #[test]
    fn several_connections_send_each_message_once_and_claim_it_first() {
        let transport = Slow::default();
        transport.transient.borrow_mut().extend([(3, 1), (7, 2)]);
        let mut hooks = Recorder::default();
        let slept = Shared::new(Vec::new());
        let summary = send_all(
            &transport,
            &indexed_messages(12),
            &policy(3),
            4,
            &|d| slept.borrow_mut().push(d.as_secs()),
            &mut hooks,
        );
        assert!(!summary.stopped);
        assert_eq!(summary.sent(), 12);
        assert_eq!(transport.peak.load(std::sync::atomic::Ordering::SeqCst), 4);
        let mut log = transport.log.borrow().clone();
        log.sort_unstable();
        assert_eq!(log, [0, 1, 2, 3, 3, 4, 5, 6, 7, 7, 7, 8, 9, 10, 11]);
        let attempts: Vec<u32> = summary.outcomes.iter().map(|o| o.attempts).collect();
        assert_eq!(attempts, [1, 1, 1, 2, 1, 1, 1, 3, 1, 1, 1, 1]);
        assert_eq!(summary.outcomes[7].result, Some(Ok("250 OK 7".to_owned())));
        // Rounds as with one connection: round 2 waits once, after round 1 has ended.
        assert_eq!(*slept.borrow(), [1, 2]);
        check_interleaving(&hooks.events, 4);
        let round_two = hooks.events.iter().position(|e| e == "before 3#2").unwrap();
        assert!(
            hooks.events[..round_two]
                .iter()
                .filter(|e| e.starts_with("after") && e.ends_with("#1 ok"))
                .count()
                == 10,
            "round 2 starts once round 1 has ended: {:?}",
            hooks.events
        );
    }

    #[test]
    fn a_stop_on_several_connections_hands_out_nothing_more_and_records_those_in_flight() {
        let transport = Slow::default();
        let mut hooks = Recorder {
            stop_after: Some((2, 1)),
            ..Recorder::default()
        };
        let summary = send_all(
            &transport,
            &indexed_messages(20),
            &policy(3),
            4,
            &|_| {},
            &mut hooks,
        );
        assert!(summary.stopped);
        check_interleaving(&hooks.events, 4);
        let stop_at = hooks
            .events
            .iter()
            .position(|e| e == "after 2#1 ok")
            .unwrap();
        assert!(
            hooks.events[stop_at..]
                .iter()
                .all(|e| e.starts_with("after")),
            "no claim after the stop: {:?}",
            hooks.events
        );
        // Every message sent was recorded; the rest were never tried. How many were claimed
        // before the stop depends on which exchanges finished first (a slow machine may finish
        // several before the third), so the count is checked against the claims, not a range.
        let sent = transport.log.borrow().len();
        assert_eq!(summary.sent(), sent);
        let claims_before_stop = hooks.events[..stop_at]
            .iter()
            .filter(|e| e.starts_with("before"))
            .count();
        assert!(sent >= 3, "{sent}");
        assert_eq!(sent, claims_before_stop, "{:?}", hooks.events);
        let untried = summary.outcomes.iter().filter(|o| o.attempts == 0).count();
        assert_eq!(untried, 20 - sent);
    }

    #[test]
    fn a_panicking_transport_leaves_the_message_unknown_not_lost() {
        struct Panics;
        impl Transport for Panics {
            fn send(&self, _: &Message) -> Result<String, SendError> {
                panic!("a bug in a transport")
            }
        }
        let mut hooks = Recorder::default();
        let summary = send_all(
            &Panics,
            &indexed_messages(2),
            &policy(3),
            2,
            &|_| {},
            &mut hooks,
        );
        for outcome in &summary.outcomes {
            assert!(
                matches!(&outcome.result, Some(Err(e)) if e.is_unknown()),
                "{outcome:?}"
            );
        }
        check_interleaving(&hooks.events, 2);
    }

    // ---- against the tests' SMTP server (tests/support/sink.rs) ----

    /// Settings for a server on 127.0.0.1, without credentials.
    fn local_settings(port: u16, security: Security, timeout: Duration) -> SmtpSettings {
        SmtpSettings {
            host: "127.0.0.1".to_owned(),
            port,
            security,
            username: None,
            password: None,
            ca_file: None,
            timeout,
        }
    }

    fn sink_settings(sink: &Sink, security: Security) -> SmtpSettings {
        local_settings(sink.port, security, Duration::from_secs(10))
    }

    /// Subject, sender, body, attachment names and bytes exact after a round trip.
    fn assert_round_trip(parsed: &serde_json::Value, original: &OutgoingMessage) {
        assert_eq!(parsed["subject"], SUBJECT);
        assert_eq!(
            parsed["from"],
            "Văn phòng HĐND và UBND huyện Đầm Hà <vanphong@damha.example>"
        );
        assert_eq!(parsed["message_id"], original.message_id.as_str());
        assert_eq!(parsed["body"].as_str().unwrap().replace("\r\n", "\n"), BODY);
        let attachments = parsed["attachments"].as_array().unwrap();
        assert_eq!(attachments.len(), original.attachments.len());
        for (got, want) in attachments.iter().zip(&original.attachments) {
            assert_eq!(got["filename"], want.file_name.as_str());
            assert_eq!(got["name"], ascii_file_name(&want.file_name).as_str());
            assert_eq!(got["content_type"], want.content_type.as_str());
            assert_eq!(got["sha256"], sha256_hex(&want.bytes).as_str());
        }
    }

    #[test]
    fn delivers_vietnamese_message_byte_exact() {
        let sink = Sink::start(&[]);
        let mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        let original = sample(
            &[
                ("Phòng Tài chính - Kế hoạch", "taichinh@damha.example"),
                ("Chánh Văn phòng", "chanhvp@damha.example"),
            ],
            "tckh",
            51_714,
        );
        let message = build_message(&original).unwrap();
        let reply = mailer.send(&message).unwrap();
        assert!(
            reply.starts_with("250 ") && reply.contains("queued as 00001"),
            "{reply}"
        );

        let files = sink.received();
        assert_eq!(files.len(), 1);
        let raw = std::fs::read(&files[0]).unwrap();
        let formatted = message.formatted();
        // lettre sends `formatted()` then "\r\n.\r\n"; the server keeps the CRLF before the
        // dot, as aiosmtpd does.
        let received = String::from_utf8(raw).unwrap();
        let sent = String::from_utf8(formatted).unwrap();
        assert_eq!(received, format!("{sent}\r\n"));
        let envelope = sink.envelope(&files[0]);
        assert_eq!(
            envelope["rcpt_tos"],
            serde_json::json!(["taichinh@damha.example", "chanhvp@damha.example"])
        );
        assert_eq!(envelope["mail_from"], "vanphong@damha.example");
        let parsed = parse_eml(&files);
        assert_round_trip(&parsed[0], &original);
        assert_eq!(
            parsed[0]["to"],
            "Phòng Tài chính - Kế hoạch <taichinh@damha.example>, Chánh Văn phòng <chanhvp@damha.example>"
        );
    }

    #[test]
    fn starttls_and_auth_plain_with_a_private_ca() {
        let certs = Certs::make();
        let password = "mật-khẩu:🔑 thử";
        let auth = format!("vanphong:{password}");
        let sink = Sink::starttls_with_auth(&certs, &auth);
        let mut settings = sink_settings(&sink, Security::StartTls);
        settings.username = Some("vanphong".to_owned());
        settings.password = Some(Secret::new(password.to_owned()));
        settings.ca_file = Some(certs.ca());
        let mailer = SmtpMailer::new(&settings).unwrap();
        let original = unit_message("tckh");
        let message = build_message(&original).unwrap();
        // Twice: the second message reuses the kept, already authenticated connection.
        mailer.send(&message).unwrap();
        mailer.send(&message).unwrap();
        let files = sink.received();
        assert_eq!(files.len(), 2);
        let envelope = sink.envelope(&files[0]);
        assert_eq!(envelope["tls"], true);
        assert_eq!(envelope["auth"], true);
        for parsed in parse_eml(&files) {
            assert_round_trip(&parsed, &original);
        }

        // Wrong password: 535, permanent, and the password is not in the text.
        settings.password = Some(Secret::new("sai-mật-khẩu".to_owned()));
        let error = SmtpMailer::new(&settings)
            .unwrap()
            .send(&message)
            .unwrap_err();
        assert!(!error.is_transient(), "{error}");
        assert!(error.reason().contains("535"), "{error}");
        assert!(!error.to_string().contains("sai-mật-khẩu"));

        // Without the private CA the certificate is not trusted: permanent, says why.
        settings.password = Some(Secret::new(password.to_owned()));
        settings.ca_file = None;
        let error = SmtpMailer::new(&settings)
            .unwrap()
            .send(&message)
            .unwrap_err();
        assert!(!error.is_transient(), "{error}");
        assert!(error.reason().contains("chứng chỉ"), "{error}");
        assert!(error.reason().contains("UnknownIssuer"), "{error}");

        // A plain client against a server that requires STARTTLS: refused, permanent.
        let error = SmtpMailer::new(&sink_settings(&sink, Security::None))
            .unwrap()
            .send(&message)
            .unwrap_err();
        assert!(!error.is_transient(), "{error}");
        assert!(error.reason().contains("530"), "{error}");
        assert_eq!(sink.received().len(), 2);
    }

    #[test]
    fn tls_failures_are_said_in_vietnamese_without_rustls_words() {
        let cases = [
            (
                "invalid peer certificate: certificate expired: verification time 1767225600 \
                 (UNIX), but certificate is not valid after 1735689600 (31536000 seconds ago)",
                "đã hết hạn",
                "Expired",
            ),
            (
                "invalid peer certificate: UnknownIssuer",
                "ca_file",
                "UnknownIssuer",
            ),
            (
                "invalid peer certificate: certificate not valid for name \"mail.example\"; \
                 certificate is only valid for DnsName(\"smtp.example\")",
                "không mang tên «mail.example»",
                "NotValidForName",
            ),
            (
                "received fatal alert: HandshakeFailure",
                "từ chối bắt tay TLS",
                "HandshakeFailure",
            ),
            (
                "received corrupt message of type InvalidContentType",
                "không nói TLS ở cổng này",
                "InvalidContentType",
            ),
        ];
        for (detail, why, code) in cases {
            let reason = tls_reason(detail, "mail.example");
            assert!(
                reason.starts_with("kết nối TLS tới máy chủ thư mail.example thất bại: "),
                "{reason}"
            );
            assert!(reason.contains(why), "{reason}");
            assert!(
                reason.ends_with(&format!(" [mã lỗi TLS: {code}]")),
                "{reason}"
            );
            for english in ["certificate", "verification", "received", "valid for"] {
                assert!(!reason.contains(english), "{english} in {reason}");
            }
        }
        let other = tls_reason("cannot decrypt peer's message", "mail.example");
        assert!(
            other.contains("nhật ký") && !other.contains("decrypt"),
            "{other}"
        );
    }

    #[test]
    fn implicit_tls() {
        let certs = Certs::make();
        let sink = Sink::implicit_tls(&certs);
        let mut settings = sink_settings(&sink, Security::Tls);
        settings.ca_file = Some(certs.ca());
        let message = build_message(&unit_message("tckh")).unwrap();
        SmtpMailer::new(&settings).unwrap().send(&message).unwrap();
        let files = sink.received();
        assert_eq!(files.len(), 1);
        assert_eq!(sink.envelope(&files[0])["tls"], true);
    }

    #[derive(Default)]
    struct Counting {
        attempts: Vec<(usize, u32)>,
        outcomes: Vec<Result<String, SendError>>,
    }

    impl SendHooks for Counting {
        fn before_attempt(&mut self, index: usize, attempt: u32) -> Flow {
            self.attempts.push((index, attempt));
            Flow::Continue
        }
        fn after_attempt(
            &mut self,
            _: usize,
            _: u32,
            outcome: &Result<String, SendError>,
            _: bool,
        ) -> Flow {
            self.outcomes.push(outcome.clone());
            Flow::Continue
        }
    }

    #[test]
    fn temporary_failures_are_retried_and_delivered_once() {
        let sink = Sink::start(&["--fail-first", "2", "--fail-code", "451"]);
        let mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        let message = build_message(&unit_message("tckh")).unwrap();
        let slept = RefCell::new(Vec::new());
        let mut hooks = Counting::default();
        let summary = send_all(
            &mailer,
            std::slice::from_ref(&message),
            &policy(5),
            1,
            &|d| slept.borrow_mut().push(d),
            &mut hooks,
        );
        assert_eq!(hooks.attempts, [(0, 1), (0, 2), (0, 3)]);
        assert_eq!(
            *slept.borrow(),
            [Duration::from_secs(1), Duration::from_secs(2)]
        );
        let first = hooks.outcomes[0].as_ref().unwrap_err();
        assert!(first.is_transient());
        assert!(
            first.reason().contains("451") && first.reason().contains("Temporary failure 1"),
            "{first}"
        );
        assert_eq!(summary.outcomes[0].attempts, 3);
        assert_eq!(summary.sent(), 1);
        assert_eq!(sink.received().len(), 1, "delivered exactly once");
    }

    #[test]
    fn a_refused_recipient_is_permanent_and_others_are_delivered() {
        let sink = Sink::start(&["--reject", "khongco@damha.example", "--reject-code", "550"]);
        let mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        let units = [
            ("Phòng Tài chính - Kế hoạch", "taichinh@damha.example"),
            ("Xã Không Có", "khongco@damha.example"),
            ("Phòng Nông nghiệp", "nongnghiep@damha.example"),
        ];
        let messages: Vec<Message> = units
            .iter()
            .map(|unit| build_message(&sample(&[*unit], unit.1, 2_000)).unwrap())
            .collect();
        let mut hooks = Counting::default();
        let summary = send_all(&mailer, &messages, &policy(3), 1, &|_| {}, &mut hooks);
        assert_eq!(
            hooks.attempts,
            [(0, 1), (1, 1), (2, 1)],
            "no retry of a 550"
        );
        let refused = summary.outcomes[1]
            .result
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap_err();
        assert!(!refused.is_transient());
        assert!(
            refused.reason().contains("550")
                && refused
                    .reason()
                    .contains("Recipient address rejected: User unknown"),
            "{refused}"
        );
        assert_eq!(summary.sent(), 2);
        let received: Vec<serde_json::Value> = sink
            .received()
            .iter()
            .map(|f| sink.envelope(f)["rcpt_tos"].clone())
            .collect();
        assert_eq!(
            received,
            [
                serde_json::json!(["taichinh@damha.example"]),
                serde_json::json!(["nongnghiep@damha.example"])
            ]
        );
    }

    #[test]
    fn a_refused_address_of_a_unit_does_not_stop_its_message_to_the_other() {
        let sink = Sink::start(&["--reject", "ketoan@damha.example", "--reject-code", "550"]);
        let mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        let both = [
            ("Ban Quản lý dự án", "bqlda@damha.example"),
            ("Ban Quản lý dự án", "ketoan@damha.example"),
        ];
        let messages = [
            build_message(&sample(&both, "bqlda", 2_000)).unwrap(),
            build_message(&sample(&both[..1], "vp", 2_000)).unwrap(),
        ];
        let mut hooks = Counting::default();
        let summary = send_all(&mailer, &messages, &policy(3), 1, &|_| {}, &mut hooks);
        assert_eq!(hooks.attempts, [(0, 1), (1, 1)], "sent once, no retry");
        let reply = summary.outcomes[0]
            .result
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap();
        assert!(reply.starts_with("250"), "{reply}");
        let refused = refused_in_reply(reply).unwrap();
        assert!(
            refused.starts_with("ketoan@damha.example: ")
                && refused.contains("550")
                && refused.contains("Recipient address rejected: User unknown")
                && !refused.contains("bqlda@"),
            "{refused}"
        );
        // The next message on the same connection is untouched by the refusal.
        let second = summary.outcomes[1].result.clone().unwrap().unwrap();
        assert_eq!(refused_in_reply(&second), None, "{second}");
        let received: Vec<serde_json::Value> = sink
            .received()
            .iter()
            .map(|f| sink.envelope(f)["rcpt_tos"].clone())
            .collect();
        assert_eq!(
            received,
            [
                serde_json::json!(["bqlda@damha.example"]),
                serde_json::json!(["bqlda@damha.example"])
            ]
        );
    }

    #[test]
    fn a_temporary_refusal_of_every_address_is_retried() {
        let sink = Sink::start(&["--reject", "ketoan@damha.example", "--reject-code", "450"]);
        let mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        let message =
            build_message(&sample(&[("Kế toán", "ketoan@damha.example")], "kt", 500)).unwrap();
        let mut hooks = Counting::default();
        let summary = send_all(
            &mailer,
            std::slice::from_ref(&message),
            &policy(2),
            1,
            &|_| {},
            &mut hooks,
        );
        assert_eq!(hooks.attempts, [(0, 1), (0, 2)]);
        let error = summary.outcomes[0].result.clone().unwrap().unwrap_err();
        assert!(
            error.is_transient() && error.reason().contains("ketoan@damha.example: "),
            "{error}"
        );
        assert!(sink.received().is_empty());
    }

    #[test]
    fn server_down_is_transient() {
        // A port that was just free: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let settings = local_settings(port, Security::None, Duration::from_secs(5));
        let error = SmtpMailer::new(&settings)
            .unwrap()
            .send(&build_message(&unit_message("tckh")).unwrap())
            .unwrap_err();
        assert!(error.is_transient(), "{error}");
        assert!(
            error.reason().contains(&format!("127.0.0.1:{port}")),
            "{error}"
        );
        assert!(
            error.reason().contains(&format!(
                "không kết nối được hoặc mất kết nối tới máy chủ thư 127.0.0.1:{port}: bị từ chối"
            )) && !error.reason().contains("os error"),
            "{error}"
        );
    }

    #[test]
    fn a_silent_server_times_out_as_transient() {
        // Accepts the connection but never sends the greeting.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let (socket, _) = listener.accept().unwrap();
            let _ = wait.recv_timeout(Duration::from_secs(5));
            drop(socket);
        });
        let settings = local_settings(port, Security::None, Duration::from_millis(300));
        let started = Instant::now();
        let error = SmtpMailer::new(&settings)
            .unwrap()
            .send(&build_message(&unit_message("tckh")).unwrap())
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(4));
        assert!(error.is_transient(), "{error}");
        assert!(error.reason().contains("quá thời gian chờ"), "{error}");
        done.send(()).unwrap();
        holder.join().unwrap();
    }

    #[test]
    fn a_timeout_after_the_message_is_unknown_and_not_resent() {
        // The sink stores the message, then holds its "250" past the client's timeout: the
        // server has the message, the client cannot know it.
        let sink = Sink::start(&["--stall-data", "1", "--stall-seconds", "4"]);
        let settings = local_settings(sink.port, Security::None, Duration::from_secs(1));
        let mailer = SmtpMailer::new(&settings).unwrap();
        let message = build_message(&unit_message("tckh")).unwrap();
        let mut hooks = Counting::default();
        let summary = send_all(
            &mailer,
            std::slice::from_ref(&message),
            &policy(4),
            1,
            &|_| {},
            &mut hooks,
        );
        assert_eq!(hooks.attempts, [(0, 1)], "never retried");
        let error = hooks.outcomes[0].as_ref().unwrap_err();
        assert!(error.is_unknown(), "{error}");
        assert!(!error.is_transient(), "{error}");
        assert!(error.reason().contains("không tự gửi lại"), "{error}");
        assert_eq!(summary.sent(), 0);
        assert_eq!(sink.received().len(), 1, "stored once, not duplicated");
        // The next message opens a new connection and goes through.
        let next = build_message(&unit_message("nln")).unwrap();
        assert!(mailer.send(&next).is_ok());
        assert_eq!(sink.received().len(), 2);
    }

    #[test]
    fn a_connection_closed_between_messages_is_replaced() {
        let sink = Sink::start(&[]);
        let mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        mailer
            .send(&build_message(&unit_message("tckh")).unwrap())
            .unwrap();
        // Break the kept connection behind the mailer's back.
        if let Some((connection, _)) = mailer.idle.lock().unwrap().last_mut() {
            connection.abort();
        }
        mailer
            .send(&build_message(&unit_message("nln")).unwrap())
            .unwrap();
        assert_eq!(sink.received().len(), 2);
    }

    #[test]
    fn a_connection_just_given_back_is_reused_without_a_noop_and_an_older_one_is_checked() {
        let sink = Sink::start(&[]);
        let messages: Vec<Message> = ["pnn", "ptnmt", "nln"]
            .iter()
            .map(|unit| build_message(&unit_message(unit)).unwrap())
            .collect();
        // "Just given back" is a window of time; a long one here, so a slow machine (one send
        // taking more than the real 2 s) does not turn the test into a measure of speed.
        let mut mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        mailer.unchecked_reuse = Duration::from_secs(3600);
        for message in &messages {
            mailer.send(message).unwrap();
        }
        assert_eq!(sink.noops(), 0, "one round trip saved per message");
        let mut mailer = SmtpMailer::new(&sink_settings(&sink, Security::None)).unwrap();
        mailer.unchecked_reuse = Duration::ZERO;
        for message in &messages {
            mailer.send(message).unwrap();
        }
        assert_eq!(sink.noops(), 2, "each reuse checked");
        assert_eq!(sink.received().len(), 6);
    }

    /// Whether reusing one SMTP connection pays: 100 messages with ~200 KB attachments, one
    /// reused connection vs a new connection each.
    /// Prints, does not assert. Run: cargo test --release bench_pooled -- --ignored --nocapture
    #[test]
    #[ignore = "benchmark"]
    fn bench_pooled_vs_new_connection() {
        let certs = Certs::make();
        let messages: Vec<Message> = (0..100)
            .map(|i| {
                build_message(&sample(
                    &[("Đơn vị", "donvi@damha.example")],
                    &i.to_string(),
                    200_000 - 6_206,
                ))
                .unwrap()
            })
            .collect();
        let size = messages[0].formatted().len();
        for tls in [false, true] {
            let sink = if tls {
                Sink::starttls_with_auth(&certs, "u:p")
            } else {
                Sink::start(&[])
            };
            let mut settings = sink_settings(
                &sink,
                if tls {
                    Security::StartTls
                } else {
                    Security::None
                },
            );
            if tls {
                settings.username = Some("u".to_owned());
                settings.password = Some(Secret::new("p".to_owned()));
                settings.ca_file = Some(certs.ca());
            }
            for pooled in [true, false] {
                let mailer = SmtpMailer::with_reuse(&settings, pooled).unwrap();
                let mut times = Vec::new();
                let start = Instant::now();
                for message in &messages {
                    let t = Instant::now();
                    mailer.send(message).unwrap();
                    times.push(t.elapsed());
                }
                let total = start.elapsed();
                times.sort();
                println!(
                    "{} {}: 100 × {size} B in {:.2} s = {:.0} msg/s; median {:.2} ms, p90 {:.2} ms",
                    if tls { "STARTTLS+AUTH" } else { "plain" },
                    if pooled {
                        "pooled"
                    } else {
                        "new connection each"
                    },
                    total.as_secs_f64(),
                    100.0 / total.as_secs_f64(),
                    times[50].as_secs_f64() * 1e3,
                    times[90].as_secs_f64() * 1e3,
                );
            }
            assert_eq!(sink.received().len(), 200);
        }
    }
}
