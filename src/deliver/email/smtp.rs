//! The SMTP transport and its connection pool: lettre's `SmtpConnection` driven by vanban
//! (connections kept between messages, rustls, every recipient tried), each failure classified
//! as transient, permanent or of unknown outcome, in Vietnamese, with the password masked.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, SmtpConnection, TlsParameters};
use lettre::transport::smtp::extension::ClientId;

use super::MailError;
use super::mime::base64;
use crate::config::{Secret, Security, SmtpSettings};
use crate::deliver::parcel::{MESSAGE_RFC822, Parcel};
use crate::deliver::transport::{SendError, Transport, expect_media_type};
use lettre::Message;

/// The SMTP transport, built once per process. It drives lettre's `SmtpConnection` itself rather
/// than `SmtpTransport`, so it knows whether a failure came before the mail transaction (nothing
/// can have been delivered: retry) or during it (the server may have the message: unknown).
/// Connections are kept open between messages (one per worker of a `send` with several
/// connections: each `send` call takes an idle one or opens one, and gives it back after); one
/// that waited longer than `UNCHECKED_REUSE` is checked with NOOP before reuse.
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

impl SmtpMailer {
    /// Sends a built message to the recipients of its envelope (its To addresses), as lettre's
    /// `Transport::send` does: [`SmtpMailer::send_raw`] of its envelope and formatted bytes.
    pub fn send(&self, message: &Message) -> Result<String, SendError> {
        self.send_raw(message.envelope(), &message.formatted())
    }

    /// One mail transaction of `email` (the whole RFC 5322 message, as it goes after DATA) from
    /// and to the envelope's addresses, on a kept connection or a new one. `Ok` carries the
    /// server's reply, with the addresses it refused after [`REFUSED_MARK`].
    pub fn send_raw(&self, envelope: &Envelope, email: &[u8]) -> Result<String, SendError> {
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
        let mut result = transact(&mut connection, envelope, email);
        if unchecked && matches!(result, Err(TransactError::BeforeMail(_))) {
            // The unchecked connection was refused or gone at MAIL FROM: nothing of the message
            // was sent, so it goes on a new connection, once.
            connection = self.fresh_connection()?;
            result = transact(&mut connection, envelope, email);
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

/// The email channel's parcels (`message/rfc822`) over SMTP: the envelope is the parcel's
/// sender and recipients, the message its bytes, sent as they are.
impl Transport for SmtpMailer {
    fn deliver(&self, parcel: &Parcel) -> Result<String, SendError> {
        expect_media_type(parcel, MESSAGE_RFC822, "máy chủ thư")?;
        let envelope = envelope_of(parcel)?;
        self.send_raw(&envelope, &parcel.bytes)
    }
}

/// The SMTP envelope of a parcel. An address that does not parse is refused before any
/// connection (the composer checked them, so this means a parcel built elsewhere went wrong).
fn envelope_of(parcel: &Parcel) -> Result<Envelope, SendError> {
    let address = |text: &str| {
        text.parse::<Address>().map_err(|e| SendError::Permanent {
            reason: format!(
                "{}: địa chỉ thư không hợp lệ «{text}» ({})",
                parcel.key,
                crate::vi::errors::address_error(&e)
            ),
        })
    };
    let from = address(&parcel.sender)?;
    let to = parcel
        .recipients
        .iter()
        .map(|r| address(r))
        .collect::<Result<Vec<_>, _>>()?;
    Envelope::new(Some(from), to).map_err(|e| SendError::Permanent {
        reason: format!("{}: không có người nhận ({e})", parcel.key),
    })
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
    envelope: &Envelope,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deliver::email::mime::test_samples::*;
    use crate::deliver::email::mime::{OutgoingMessage, build_message};
    use crate::deliver::email::test_sink::{Certs, Sink, parse_eml, sha256_hex};
    use crate::deliver::ledger::DeliveryKey;
    use crate::deliver::retry::{Flow, RetryPolicy, SendHooks, send_all};
    use crate::issue::filing::ascii_file_name;
    use crate::model::{Half, PeriodId};
    use std::cell::RefCell;

    /// The parcels of built messages, as the send's composer makes them.
    fn parcels(messages: &[Message]) -> Vec<Parcel> {
        messages
            .iter()
            .enumerate()
            .map(|(i, message)| {
                let key = DeliveryKey::new(
                    "UBND",
                    PeriodId::new(2024, Half::First),
                    "letter-and-notice",
                    format!("u{i}"),
                );
                crate::deliver::email::mime::parcel(key, message)
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
            &parcels(std::slice::from_ref(&message)),
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
        let summary = send_all(
            &mailer,
            &parcels(&messages),
            &policy(3),
            1,
            &|_| {},
            &mut hooks,
        );
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
        let summary = send_all(
            &mailer,
            &parcels(&messages),
            &policy(3),
            1,
            &|_| {},
            &mut hooks,
        );
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
            &parcels(std::slice::from_ref(&message)),
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
    fn a_parcel_that_is_not_an_email_is_refused_without_connecting() {
        // Nothing listens at the port: a connection attempt would fail as transient.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mailer = SmtpMailer::new(&local_settings(
            port,
            Security::None,
            Duration::from_secs(5),
        ))
        .unwrap();
        let mut parcel = parcels(&[build_message(&unit_message("tckh")).unwrap()]).remove(0);
        parcel.media_type = "application/xml".to_owned();
        let error = mailer.deliver(&parcel).unwrap_err();
        assert!(matches!(error, SendError::Permanent { .. }), "{error}");
        assert!(error.reason().contains("«application/xml»"), "{error}");
        parcel.media_type = MESSAGE_RFC822.to_owned();
        assert!(mailer.deliver(&parcel).unwrap_err().is_transient());
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
            &parcels(std::slice::from_ref(&message)),
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
