//! `vanban.toml` as plain data: where the directory, output and database are, the sender, the
//! SMTP server, the numbering scheme, the signing keys and the scheduled jobs. It sits just above
//! the foundation (layers.toml): it names periods and document kinds in the model's words and
//! imports no stage of the pipeline, so input can read it and deliver and schedule can use it
//! without reaching into each other. Reading and checking the file is `input::config`'s job.

mod cron;
mod period;
mod signing;
mod smtp;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::DocumentKind;

pub use cron::{CronSchedule, parse_timezone};
pub use period::{Covers, covered_period, period_path};
pub use signing::{
    ImageLimits, IssuerKey, KeyLocation, OrganisationKey, SecretRef, SignerKey, SigningSettings,
    same_issuer, same_person,
};
pub use smtp::{Secret, Security, SmtpSettings};

/// A setting whose text does not say anything valid. The messages are read by the IT admin who
/// wrote `vanban.toml`, so they are in Vietnamese and quote the offending text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    #[error("Biểu thức cron \"{expr}\" không hợp lệ: {reason}")]
    InvalidCron { expr: String, reason: String },

    #[error(
        "Múi giờ \"{name}\" không có trong cơ sở dữ liệu múi giờ IANA; hãy viết dạng \
         Châu_lục/Thành_phố, phân biệt chữ hoa chữ thường, ví dụ \"Asia/Ho_Chi_Minh\""
    )]
    UnknownTimezone { name: String },

    #[error(
        "Mẫu đường dẫn tệp kỳ báo cáo \"{pattern}\" có chỗ thay thế không hỗ trợ \
         \"{{{placeholder}}}\"; chỉ dùng được {{year}} (năm) và {{half}} (kỳ 1 hoặc 2)"
    )]
    UnknownPlaceholder {
        pattern: String,
        placeholder: String,
    },

    #[error("Mẫu đường dẫn tệp kỳ báo cáo \"{pattern}\" có dấu {{ không được đóng bằng }}")]
    UnclosedPlaceholder { pattern: String },
}

/// How the register numbers documents (`numbering` in `vanban.toml`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NumberingScheme {
    /// One series for all the issuer's documents in a year.
    #[default]
    Single,
    /// One series per document type.
    PerType,
}

/// A job's `catch_up` policy: what to do, at start, about firings missed while the service was
/// down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CatchUp {
    /// Run the latest missed firing once, now.
    Once,
    /// Run nothing; record the miss as skipped and log a warning.
    Skip,
}

/// What a job does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Render,
    Send,
}

#[derive(Debug, Clone)]
pub struct Sender {
    pub name: String,
    pub address: String,
}

/// SMTP settings plus the retry policy for transient failures.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub settings: SmtpSettings,
    pub max_attempts: u32,
    pub retry_delay: Duration,
    /// SMTP connections one `send` keeps busy at once (`connections`, default 4, at least 1).
    pub connections: usize,
}

#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub schedule: CronSchedule,
    pub action: Action,
    /// Empty: every kind.
    pub documents: Vec<DocumentKind>,
    pub covers: Covers,
    /// Path pattern with {year} and {half}, relative paths resolved against the config's folder.
    pub period: String,
    pub catch_up: CatchUp,
}

/// Where the state database is: a SQLite file (the default, one instance), or a PostgreSQL
/// database several instances share (`state = "postgres://vanban@db.example.vn/vanban"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateLocation {
    File(PathBuf),
    Postgres {
        url: PostgresUrl,
        /// `state_password_file`: the password's file (first line); without it the password
        /// comes from the environment variable `VANBAN_DB_PASSWORD`, never from this file.
        password_file: Option<PathBuf>,
    },
}

impl StateLocation {
    /// The SQLite file; `None` on PostgreSQL.
    pub fn file(&self) -> Option<&Path> {
        match self {
            StateLocation::File(p) => Some(p),
            StateLocation::Postgres { .. } => None,
        }
    }

    /// Whether the state exists already: the file is there, or (PostgreSQL) always — the
    /// server holds it.
    pub fn exists(&self) -> bool {
        match self {
            StateLocation::File(p) => p.exists(),
            StateLocation::Postgres { .. } => true,
        }
    }
}

impl std::fmt::Display for StateLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StateLocation::File(p) => write!(f, "{}", p.display()),
            StateLocation::Postgres { url, .. } => write!(f, "{url}"),
        }
    }
}

/// A PostgreSQL URL as written in the configuration. Shown (Display, Debug) without any
/// password written into it, so no log or message carries one.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(pub String);

impl PostgresUrl {
    pub fn is_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// `postgres://user:secret@host/db` → `postgres://user@host/db` (and no `password=`).
    pub fn scrubbed(&self) -> String {
        let url = &self.0;
        let Some((scheme, rest)) = url.split_once("://") else {
            return url.to_owned();
        };
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                let user = userinfo.split(':').next().unwrap_or("");
                format!("{user}@{host}")
            }
            None => authority.to_owned(),
        };
        let path = match path.split_once('?') {
            Some((p, query)) => {
                let kept: Vec<&str> = query
                    .split('&')
                    .filter(|kv| !kv.to_ascii_lowercase().starts_with("password="))
                    .collect();
                if kept.is_empty() {
                    p.to_owned()
                } else {
                    format!("{p}?{}", kept.join("&"))
                }
            }
            None => path.to_owned(),
        };
        format!("{scheme}://{authority}{path}")
    }
}

impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.scrubbed())
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({:?})", self.scrubbed())
    }
}

/// The validated configuration; relative paths are resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub directory: Option<PathBuf>,
    pub output_dir: PathBuf,
    pub state: StateLocation,
    pub templates_dir: Option<PathBuf>,
    pub outbox: PathBuf,
    pub admin_email: Option<String>,
    pub numbering: NumberingScheme,
    pub sender: Sender,
    pub smtp: Option<Smtp>,
    pub jobs: Vec<Job>,
    pub web: WebSettings,
    pub limits: TemplateLimits,
    pub approval: ApprovalSettings,
    pub service: ServiceSettings,
    /// `[signing]`; None: documents leave unsigned.
    pub signing: Option<SigningSettings>,
    /// `pdf_from`: what the PDF is made from.
    pub pdf_from: PdfFrom,
}

/// `pdf_from`: the PDF from the built-in (or office's) Typst templates, or from the office's
/// filled DOCX converted through Typst (render/docx_pdf), for an office that lays out its
/// documents in Word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PdfFrom {
    #[default]
    Typst,
    Docx,
}

impl Config {
    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
    }
}

/// `[web]`: the staff page of `vanban serve`.
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// Where the page listens; 127.0.0.1 by default, behind a TLS reverse proxy for a LAN.
    pub listen: std::net::SocketAddr,
    /// A session ends this many hours after login.
    pub session_hours: u32,
    /// The largest period file an upload may be, in KiB.
    pub upload_limit_kb: u64,
    /// The largest the PDF attachments sent with an upload may be together, in KiB (the period
    /// file's `attachments`; each document's attachments are limited to 20 MB when read).
    pub attachments_limit_kb: u64,
    /// Cookies marked `Secure` (sent over HTTPS only). Turn off only for plain http on
    /// 127.0.0.1, never for a page other machines reach.
    pub secure_cookies: bool,
    /// The reverse proxies whose `X-Forwarded-For` / `X-Real-IP` is believed (nginx on the same
    /// machine: 127.0.0.1). Empty: the socket's address is the client's and those headers are
    /// ignored, since any client can write them.
    pub trusted_proxies: Vec<ProxyRange>,
    /// A connection that has not sent a whole request head this long after it opened (or after
    /// its previous request) is closed: a client trickling its headers cannot hold connections.
    pub header_timeout: Duration,
}

/// One entry of `trusted_proxies`: an address ("127.0.0.1", "::1") or a network in CIDR form
/// ("10.0.0.0/8").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyRange {
    network: std::net::IpAddr,
    prefix: u8,
}

impl ProxyRange {
    /// Reads "ADDRESS" or "ADDRESS/PREFIX"; None for anything else (a host name, a bad prefix).
    pub fn parse(text: &str) -> Option<Self> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network = address.parse::<std::net::IpAddr>().ok()?.to_canonical();
        let bits = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
            Some(_) => return None,
            None => bits,
        };
        (prefix <= bits).then_some(Self { network, prefix })
    }

    /// Whether `address` is in this range (an IPv4 address written as IPv6, "::ffff:127.0.0.1",
    /// is its IPv4 self).
    pub fn contains(&self, address: std::net::IpAddr) -> bool {
        use std::net::IpAddr;
        let (net, addr, bits) = match (self.network, address.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                (u128::from(n.to_bits()), u128::from(a.to_bits()), 32)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => (n.to_bits(), a.to_bits(), 128),
            _ => return false,
        };
        let host_bits = bits - u32::from(self.prefix);
        match host_bits {
            0 => net == addr,
            n if n >= 128 => true,
            n => (net >> n) == (addr >> n),
        }
    }
}

impl Default for WebSettings {
    fn default() -> Self {
        Self {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            session_hours: 8,
            upload_limit_kb: 2048,
            attachments_limit_kb: 20 * 1024,
            secure_cookies: true,
            trusted_proxies: Vec::new(),
            header_timeout: Duration::from_secs(20),
        }
    }
}

/// `[service]`: how instances sharing one PostgreSQL database hand work over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceSettings {
    /// How long a running firing stays this instance's without being renewed (renewed every
    /// quarter of it while the firing runs). When an instance dies, another takes its firing
    /// once this much time has passed. Not used on SQLite (one instance, the file lock).
    pub lease: Duration,
}

impl Default for ServiceSettings {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(120),
        }
    }
}

/// `[approval]`: whether a document must be approved in vanban before it is issued and sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// On by default: a document leaves only approved, with the content that was approved. An
    /// office that approves outside vanban turns it off (today's behaviour: send as rendered).
    pub required: bool,
    /// Directory groups (or unit ids) told by email, drafts attached, when drafts wait.
    pub approvers: Vec<String>,
    /// How long a send job may wait for approval before the admin is told (once).
    pub approval_wait: Duration,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        Self {
            required: true,
            approvers: Vec::new(),
            approval_wait: Duration::from_secs(3 * 24 * 3600),
        }
    }
}

/// `[limits]`: what one document of an office's template may cost before it is stopped with a
/// clear error. The defaults leave a real document far inside them; an office with unusual
/// templates raises them here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLimits {
    /// Total uncompressed size of a DOCX template, checked before inflating (zip bombs).
    pub docx_max_uncompressed_mb: u64,
    /// Entries in a DOCX template's zip.
    pub docx_max_entries: usize,
    /// Size of one filled part of a DOCX (loops in a template).
    pub docx_max_filled_mb: u64,
    /// Pages of one PDF.
    pub typst_max_pages: usize,
    /// Seconds to compile one PDF.
    pub typst_max_seconds: u64,
    /// Size of one signature or seal image file, in KiB: it is drawn into every document it
    /// signs, and a document goes to every recipient by email.
    pub image_max_kb: u64,
    /// Width and height of a signature or seal image, in pixels, read from the PNG's header
    /// before it is decoded (a 30000 × 30000 image is 3.6 GB once decoded).
    pub image_max_side_px: u32,
    /// Address space of each process that renders documents, in MB: a template or an image
    /// that allocates without bound stops there, not in the process that serves or sends.
    pub render_max_memory_mb: u64,
    /// CPU seconds one document may use in its render process, enforced by the kernel even if
    /// the process that asked for it is gone.
    pub render_max_cpu_seconds: u64,
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self {
            docx_max_uncompressed_mb: 100,
            docx_max_entries: 1_000,
            docx_max_filled_mb: 50,
            typst_max_pages: 200,
            typst_max_seconds: 30,
            // A seal 36 mm across scanned at 1200 dpi is 1700 pixels and a few hundred KiB.
            image_max_kb: 1024,
            image_max_side_px: 4000,
            render_max_memory_mb: 1024,
            render_max_cpu_seconds: 60,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ProxyRange;

    #[test]
    fn a_trusted_proxy_is_an_address_or_a_network() {
        let ip = |t: &str| t.parse::<std::net::IpAddr>().unwrap();
        let one = ProxyRange::parse("127.0.0.1").unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        // The same address as a dual-stack socket reports it.
        assert!(one.contains(ip("::ffff:127.0.0.1")));
        let lan = ProxyRange::parse("10.1.0.0/16").unwrap();
        assert!(lan.contains(ip("10.1.200.3")) && !lan.contains(ip("10.2.0.1")));
        assert!(!lan.contains(ip("::1")));
        let v6 = ProxyRange::parse("fd00::/8").unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        assert!(
            ProxyRange::parse("::/0")
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
        assert!(
            ProxyRange::parse("0.0.0.0/0")
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in [
            "nginx.local",
            "10.0.0.0/33",
            "10.0.0.0/",
            "10.0.0.0/-1",
            "",
            "::1/129",
        ] {
            assert!(ProxyRange::parse(bad).is_none(), "{bad}");
        }
    }
}
