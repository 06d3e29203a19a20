//! Reads `vanban.toml`, the service configuration an IT admin writes, into the plain data of
//! `crate::config`: where the directory, output and database are, the sender, the SMTP server,
//! and the scheduled jobs. It is read like the period file, through the same positioned tree:
//! every problem at once, each with file:line:column and key path. Every job's cron expression
//! and time zone is checked here, not at firing time.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::Problems;
use super::reader::{Reader, Table};
use super::tree::{self, Node, Source};
use crate::config::{
    Action, ApprovalSettings, CatchUp, Config, Covers, CronSchedule, ImageLimits, IssuerKey, Job,
    KeyLocation, NumberingScheme, OrganisationKey, PdfFrom, PostgresUrl, ProxyRange, Secret,
    SecretRef, Security, Sender, ServiceSettings, SignerKey, SigningSettings, Smtp, SmtpSettings,
    StateLocation, TemplateLimits, WebSettings, parse_timezone, period_path, same_issuer,
    same_person,
};
use crate::model::{DocumentKind, Half, PeriodId};

/// Looks up an environment variable (injected so tests need not touch the real environment).
type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("không đọc được tệp cấu hình {path}: {}", crate::vi::errors::io_error(.error))]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// Every problem found, each with file:line:column and key path.
    #[error("tệp cấu hình có lỗi:\n{0}")]
    Invalid(Problems),
}

const TOP_KEYS: &[&str] = &[
    "directory",
    "output_dir",
    "state",
    "state_password_file",
    "templates_dir",
    "outbox",
    "admin_email",
    "numbering",
    "sender",
    "smtp",
    "jobs",
    "web",
    "limits",
    "signing",
    "approval",
    "service",
    "pdf_from",
];
const SIGNING_KEYS: &[&str] = &["organisation", "issuers", "signers", "tsa_url"];
/// Where a key is, for the organisation and for each signer. `password` and `pin` are known
/// only to be refused with their own message: a secret is never written in the file.
const KEY_KEYS: &[&str] = &[
    "pkcs12",
    "password_env",
    "password_file",
    "pkcs11_module",
    "token",
    "key_label",
    "pin_env",
    "pin_file",
    "password",
    "pin",
];
const APPROVAL_KEYS: &[&str] = &["required", "approvers", "approval_wait"];
const SERVICE_KEYS: &[&str] = &["lease"];
const LIMIT_KEYS: &[&str] = &[
    "docx_max_uncompressed_mb",
    "docx_max_entries",
    "docx_max_filled_mb",
    "typst_max_pages",
    "typst_max_seconds",
    "image_max_kb",
    "image_max_side_px",
    "render_max_memory_mb",
    "render_max_cpu_seconds",
];
const WEB_KEYS: &[&str] = &[
    "listen",
    "session_hours",
    "upload_limit_kb",
    "attachments_limit_kb",
    "secure_cookies",
    "trusted_proxies",
    "header_timeout_seconds",
];
const SENDER_KEYS: &[&str] = &["name", "address"];
const SMTP_KEYS: &[&str] = &[
    "host",
    "port",
    "security",
    "username",
    "password_env",
    "password_file",
    "ca_file",
    "timeout_seconds",
    "max_attempts",
    "retry_delay_seconds",
    "connections",
];
const JOB_KEYS: &[&str] = &[
    "name",
    "cron",
    "timezone",
    "action",
    "documents",
    "covers",
    "period",
    "catch_up",
];

/// Reads and checks `path`. The SMTP password is read here, from the environment variable
/// or file the config names; it is never written in the config itself.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Reads and checks `path` without reading the SMTP password: for commands that never
/// connect to the server (`jobs`, `status`, `render`, `send --dry-run`), so an admin can
/// run them without the secret in their environment.
pub fn load_without_secrets(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    })?;
    load_without_secrets_from(path, &text)
}

/// `load_without_secrets` on text already read.
pub fn load_without_secrets_from(path: &Path, text: &str) -> Result<Config, ConfigError> {
    parse_inner(path, text, None)
}

/// Parses config text; `env` looks up environment variables (injected for tests).
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    parse_inner(path, text, Some(env))
}

/// `env` None: leave the password unread (see `load_without_secrets`).
fn parse_inner(path: &Path, text: &str, env: Option<EnvLookup<'_>>) -> Result<Config, ConfigError> {
    let source = Source::new(path.display().to_string(), text);
    let node = tree::parse_toml(&source).map_err(|p| ConfigError::Invalid(Problems(vec![p])))?;
    let mut reader = Reader::new(&source);
    let config = read_config(&mut reader, &node, path, env);
    match config {
        Some(config) if reader.problems.is_empty() => Ok(config),
        _ => Err(ConfigError::Invalid(reader.problems.sorted())),
    }
}

/// One of a fixed set of words; anything else is reported with the words allowed.
fn choice<T: Copy>(
    r: &mut Reader<'_>,
    table: &Table<'_>,
    key: &str,
    required: bool,
    options: &[(&str, T)],
) -> Option<T> {
    let node = if required {
        table.required(r, key)?
    } else {
        table.get(key)?
    };
    let word = if required {
        table.string(r, key)?
    } else {
        table.opt_string(r, key)?
    };
    match options.iter().find(|(name, _)| *name == word) {
        Some((_, value)) => Some(*value),
        None => {
            let allowed: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
            r.report(
                &node.span,
                &table.key_path(key),
                format!(
                    "giá trị không hợp lệ \"{word}\" (dùng một trong: {})",
                    allowed.join(", ")
                ),
            );
            None
        }
    }
}

/// A non-negative integer that fits `T`, reported at its position otherwise.
fn opt_unsigned<T: TryFrom<i64>>(r: &mut Reader<'_>, table: &Table<'_>, key: &str) -> Option<T> {
    let node = table.get(key)?;
    let n = table.opt_integer(r, key)?;
    match T::try_from(n) {
        Ok(v) if n >= 0 => Some(v),
        _ => {
            r.report(
                &node.span,
                &table.key_path(key),
                format!("số {n} nằm ngoài khoảng cho phép"),
            );
            None
        }
    }
}

fn span_of(table: &Table<'_>, key: &str) -> Range<usize> {
    table
        .get(key)
        .map_or_else(|| table.span.clone(), |n| n.span.clone())
}

fn read_config(
    r: &mut Reader<'_>,
    node: &Node,
    path: &Path,
    env: Option<EnvLookup<'_>>,
) -> Option<Config> {
    let top = r.table(node, "", TOP_KEYS)?;
    let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
    let resolve = |p: String| {
        let p = PathBuf::from(p);
        if p.is_absolute() { p } else { base.join(p) }
    };

    let sender = top.required(r, "sender").and_then(|n| {
        let t = r.table(n, "sender", SENDER_KEYS)?;
        // The sender's name goes into the From header: a line break there broke every message
        // (control characters are refused by the reader, as in every text).
        let name = t
            .string(r, "name")
            .map(|n| super::text::normalise_breaks(n.trim()));
        if name.as_deref().is_some_and(str::is_empty) {
            r.report(&span_of(&t, "name"), "sender.name", "không được để trống");
        }
        let address = t.string(r, "address");
        if let Some(address) = &address
            && let Err(e) = address.parse::<lettre::Address>()
        {
            r.report(
                &span_of(&t, "address"),
                "sender.address",
                format!(
                    "địa chỉ \"{address}\" không hợp lệ ({})",
                    crate::vi::errors::address_error(&e)
                ),
            );
        }
        Some(Sender {
            name: name?,
            address: address?,
        })
    });
    let admin_email = top.opt_string(r, "admin_email");
    if let Some(admin) = &admin_email
        && let Err(e) = admin.parse::<lettre::Address>()
    {
        r.report(
            &span_of(&top, "admin_email"),
            "admin_email",
            format!(
                "địa chỉ \"{admin}\" không hợp lệ ({})",
                crate::vi::errors::address_error(&e)
            ),
        );
    }
    let numbering = choice(
        r,
        &top,
        "numbering",
        false,
        &[
            ("single", NumberingScheme::Single),
            ("per-type", NumberingScheme::PerType),
        ],
    )
    .unwrap_or_default();
    let pdf_from = choice(
        r,
        &top,
        "pdf_from",
        false,
        &[("typst", PdfFrom::Typst), ("docx", PdfFrom::Docx)],
    )
    .unwrap_or_default();
    let smtp = match top.get("smtp") {
        Some(n) => read_smtp(r, n, env, &resolve),
        None => None,
    };
    let jobs = read_jobs(r, &top, &base);
    let web = match top.get("web") {
        Some(n) => read_web(r, n),
        None => WebSettings::default(),
    };
    let limits = match top.get("limits") {
        Some(n) => read_limits(r, n),
        None => TemplateLimits::default(),
    };
    let signing = top
        .get("signing")
        .and_then(|n| read_signing(r, n, &resolve))
        .map(|signing| SigningSettings {
            images: ImageLimits::of(&limits),
            ..signing
        });
    let approval = match top.get("approval") {
        Some(n) => read_approval(r, n),
        None => ApprovalSettings::default(),
    };
    let service = match top.get("service") {
        Some(n) => read_service(r, n),
        None => ServiceSettings::default(),
    };

    let output_dir = resolve(
        top.opt_string(r, "output_dir")
            .unwrap_or_else(|| "out".to_owned()),
    );
    let directory = top.opt_string(r, "directory").map(resolve);
    let outbox = top
        .opt_string(r, "outbox")
        .map(resolve)
        .unwrap_or_else(|| output_dir.join("outbox"));
    let state_text = top
        .opt_string(r, "state")
        .unwrap_or_else(|| "vanban.sqlite".to_owned());
    let password_file = top.opt_string(r, "state_password_file").map(resolve);
    let state = if PostgresUrl::is_url(&state_text) {
        let url = PostgresUrl(state_text);
        // A password written into the URL would sit in the file in clear: refused, as for
        // every other secret.
        if url.scrubbed() != url.0 {
            r.report(
                &span_of(&top, "state"),
                "state",
                format!(
                    "không ghi mật khẩu trong địa chỉ cơ sở dữ liệu ({url}); hãy đặt mật khẩu \
                     trong biến môi trường VANBAN_DB_PASSWORD hoặc trong tệp ghi ở \
                     state_password_file"
                ),
            );
        }
        StateLocation::Postgres { url, password_file }
    } else {
        let state = resolve(state_text);
        if let Some(problem) = state_path_problem(&state) {
            r.report(&span_of(&top, "state"), "state", problem);
        }
        if password_file.is_some() {
            r.report(
                &span_of(&top, "state_password_file"),
                "state_password_file",
                "state_password_file chỉ dùng khi state là địa chỉ PostgreSQL (postgres://…)"
                    .to_owned(),
            );
        }
        StateLocation::File(state)
    };
    let templates_dir = top.opt_string(r, "templates_dir").map(resolve);
    Some(Config {
        path: path.to_path_buf(),
        directory,
        outbox,
        output_dir,
        state,
        templates_dir,
        admin_email,
        numbering,
        sender: sender?,
        smtp,
        jobs,
        web,
        limits,
        approval,
        service,
        signing,
        pdf_from,
    })
}

/// `[signing]`: the organisation's key and seal, each signer's key and signature image, and an
/// optional time-stamping authority. Secrets are named (an environment variable or a file), never
/// written here; they are read when the keys are opened.
fn read_signing(
    r: &mut Reader<'_>,
    node: &Node,
    resolve: &dyn Fn(String) -> PathBuf,
) -> Option<SigningSettings> {
    let t = r.table(node, "signing", SIGNING_KEYS)?;
    let organisation = t.required(r, "organisation").and_then(|n| {
        let mut known = KEY_KEYS.to_vec();
        known.push("seal_image");
        let o = r.table(n, "signing.organisation", &known)?;
        let key = read_key(r, &o, resolve);
        let seal_image = o.string(r, "seal_image").map(resolve);
        Some(OrganisationKey {
            key: key?,
            seal_image: seal_image?,
        })
    });
    let mut issuers: Vec<IssuerKey> = Vec::new();
    for (path, node) in t.list(r, "issuers", false) {
        let mut known = KEY_KEYS.to_vec();
        known.extend(["issuer", "seal_image"]);
        let Some(e) = r.table(node, &path, &known) else {
            continue;
        };
        let issuer = e.string(r, "issuer");
        let key = read_key(r, &e, resolve);
        let seal_image = e.string(r, "seal_image").map(resolve);
        let (Some(issuer), Some(key), Some(seal_image)) = (issuer, key, seal_image) else {
            continue;
        };
        if issuers
            .iter()
            .any(|known| same_issuer(&known.issuer, &issuer))
        {
            r.report(
                &span_of(&e, "issuer"),
                &e.key_path("issuer"),
                format!("cơ quan ban hành \"{issuer}\" đã được khai báo ở trên"),
            );
            continue;
        }
        issuers.push(IssuerKey {
            issuer,
            organisation: OrganisationKey { key, seal_image },
        });
    }
    let mut signers: Vec<SignerKey> = Vec::new();
    for (path, node) in t.list(r, "signers", false) {
        let mut known = KEY_KEYS.to_vec();
        known.extend(["name", "signature_image"]);
        let Some(s) = r.table(node, &path, &known) else {
            continue;
        };
        let name = s.string(r, "name");
        let key = read_key(r, &s, resolve);
        let signature_image = s.string(r, "signature_image").map(resolve);
        let (Some(name), Some(key), Some(signature_image)) = (name, key, signature_image) else {
            continue;
        };
        let signer = SignerKey {
            name,
            key,
            signature_image,
        };
        if signers.iter().any(|s| same_person(&s.name, &signer.name)) {
            r.report(
                &span_of(&s, "name"),
                &s.key_path("name"),
                format!("người ký \"{}\" đã được khai báo ở trên", signer.name),
            );
            continue;
        }
        signers.push(signer);
    }
    let tsa_url = t.opt_string(r, "tsa_url");
    if let Some(url) = &tsa_url
        && !url.starts_with("http://")
        && !url.starts_with("https://")
    {
        r.report(
            &span_of(&t, "tsa_url"),
            "signing.tsa_url",
            format!("địa chỉ máy chủ cấp dấu thời gian \"{url}\" phải bắt đầu bằng http:// hoặc https://"),
        );
    }
    Some(SigningSettings {
        organisation: organisation?,
        issuers,
        signers,
        tsa_url,
        // Set from `[limits]` by the caller, once both sections are read.
        images: ImageLimits::default(),
    })
}

/// One key's location: `pkcs12` with `password_env`/`password_file`, or `pkcs11_module`, `token`,
/// `key_label` with `pin_env`/`pin_file`.
fn read_key(
    r: &mut Reader<'_>,
    t: &Table<'_>,
    resolve: &dyn Fn(String) -> PathBuf,
) -> Option<KeyLocation> {
    for inline in ["password", "pin"] {
        if t.get(inline).is_some() {
            r.report(
                &span_of(t, inline),
                &t.key_path(inline),
                format!(
                    "không ghi mật khẩu hay mã PIN trực tiếp trong tệp cấu hình (nhiều người đọc \
                     được tệp này); dùng {inline}_env (tên biến môi trường) hoặc {inline}_file \
                     (tệp chỉ tài khoản chạy vanban đọc được)"
                ),
            );
        }
    }
    let secret = |r: &mut Reader<'_>, word: &str| -> Option<SecretRef> {
        let env_key = format!("{word}_env");
        let file_key = format!("{word}_file");
        match (t.opt_string(r, &env_key), t.opt_string(r, &file_key)) {
            (Some(var), None) => Some(SecretRef::Env(var)),
            (None, Some(file)) => Some(SecretRef::File(resolve(file))),
            (Some(_), Some(_)) => {
                r.report(
                    &span_of(t, &file_key),
                    &t.key_path(&file_key),
                    format!("chỉ dùng một trong {env_key} hoặc {file_key}"),
                );
                None
            }
            (None, None) => {
                r.report(
                    &t.span,
                    &t.path,
                    format!(
                        "thiếu {env_key} hoặc {file_key}: nơi vanban đọc mật khẩu/mã PIN của khóa"
                    ),
                );
                None
            }
        }
    };
    let pkcs12 = t.opt_string(r, "pkcs12");
    let module = t.opt_string(r, "pkcs11_module");
    match (pkcs12, module) {
        (Some(path), None) => {
            for key in ["token", "key_label", "pin_env", "pin_file"] {
                if t.get(key).is_some() {
                    r.report(
                        &span_of(t, key),
                        &t.key_path(key),
                        format!("{key} chỉ dùng với pkcs11_module, không dùng với pkcs12"),
                    );
                }
            }
            let password = secret(r, "password")?;
            Some(KeyLocation::Pkcs12 {
                path: resolve(path),
                password,
            })
        }
        (None, Some(module)) => {
            for key in ["password_env", "password_file"] {
                if t.get(key).is_some() {
                    r.report(
                        &span_of(t, key),
                        &t.key_path(key),
                        format!(
                            "thiết bị ký số dùng mã PIN: viết pin_env hoặc pin_file thay cho {key}"
                        ),
                    );
                }
            }
            let token = t.string(r, "token");
            let key_label = t.string(r, "key_label");
            let pin = secret(r, "pin");
            Some(KeyLocation::Pkcs11 {
                module: resolve(module),
                token: token?,
                key_label: key_label?,
                pin: pin?,
            })
        }
        (Some(_), Some(_)) => {
            r.report(
                &span_of(t, "pkcs11_module"),
                &t.key_path("pkcs11_module"),
                "chỉ dùng một trong pkcs12 (tệp khóa) hoặc pkcs11_module (thiết bị ký số)",
            );
            None
        }
        (None, None) => {
            r.report(
                &t.span,
                &t.path,
                "thiếu nơi giữ khóa ký số: pkcs12 = \"tệp .p12\" hoặc pkcs11_module = \"thư viện PKCS#11 của thiết bị ký số\"",
            );
            None
        }
    }
}

fn read_service(r: &mut Reader<'_>, node: &Node) -> ServiceSettings {
    let defaults = ServiceSettings::default();
    let Some(t) = r.table(node, "service", SERVICE_KEYS) else {
        return defaults;
    };
    let lease = match t.opt_string(r, "lease") {
        Some(text) => match parse_lease(&text) {
            Some(lease) => lease,
            None => {
                r.report(
                    &span_of(&t, "lease"),
                    "service.lease",
                    format!(
                        "thời hạn giữ việc \"{text}\" không hợp lệ; viết một số nguyên dương và \
                         đơn vị: \"2m\" (phút) hoặc \"30s\" (giây)"
                    ),
                );
                defaults.lease
            }
        },
        None => defaults.lease,
    };
    ServiceSettings { lease }
}

/// "2m", "30s": a whole positive number of minutes or seconds.
fn parse_lease(text: &str) -> Option<Duration> {
    let text = text.trim();
    match text.strip_suffix('s') {
        Some(seconds) => match seconds.parse::<u64>().ok()? {
            0 => None,
            n => Some(Duration::from_secs(n)),
        },
        None if text.ends_with('m') => parse_wait(text),
        None => None,
    }
}

fn read_approval(r: &mut Reader<'_>, node: &Node) -> ApprovalSettings {
    let defaults = ApprovalSettings::default();
    let Some(t) = r.table(node, "approval", APPROVAL_KEYS) else {
        return defaults;
    };
    let approval_wait = match t.opt_string(r, "approval_wait") {
        Some(text) => match parse_wait(&text) {
            Some(wait) => wait,
            None => {
                r.report(
                    &span_of(&t, "approval_wait"),
                    "approval.approval_wait",
                    format!(
                        "thời gian chờ duyệt \"{text}\" không hợp lệ; viết một số nguyên dương và \
                         đơn vị: \"3d\" (ngày), \"12h\" (giờ) hoặc \"30m\" (phút)"
                    ),
                );
                defaults.approval_wait
            }
        },
        None => defaults.approval_wait,
    };
    ApprovalSettings {
        required: t.opt_bool(r, "required").unwrap_or(defaults.required),
        approvers: t
            .strings(r, "approvers", false)
            .into_iter()
            .map(|(id, _)| id)
            .collect(),
        approval_wait,
    }
}

/// "3d", "12h", "30m": a whole positive number of days, hours or minutes.
fn parse_wait(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let seconds = match unit {
        'd' => 24 * 3600,
        'h' => 3600,
        'm' => 60,
        _ => return None,
    };
    let number: u64 = text[..text.len() - 1].parse().ok()?;
    if number == 0 {
        return None;
    }
    number.checked_mul(seconds).map(Duration::from_secs)
}

/// The least address space a render process may be given, in MB.
const MIN_RENDER_MEMORY_MB: u64 = 256;

fn read_limits(r: &mut Reader<'_>, node: &Node) -> TemplateLimits {
    let defaults = TemplateLimits::default();
    let Some(t) = r.table(node, "limits", LIMIT_KEYS) else {
        return defaults;
    };
    // Zero would refuse every document: a limit is at least 1.
    let positive = |r: &mut Reader<'_>, key: &str| -> Option<u64> {
        let value: Option<u64> = opt_unsigned(r, &t, key);
        if value == Some(0) {
            r.report(
                &span_of(&t, key),
                &t.key_path(key),
                format!("limits.{key} phải lớn hơn 0"),
            );
            return None;
        }
        value
    };
    TemplateLimits {
        docx_max_uncompressed_mb: positive(r, "docx_max_uncompressed_mb")
            .unwrap_or(defaults.docx_max_uncompressed_mb),
        docx_max_entries: positive(r, "docx_max_entries")
            .map_or(defaults.docx_max_entries, |v| v as usize),
        docx_max_filled_mb: positive(r, "docx_max_filled_mb")
            .unwrap_or(defaults.docx_max_filled_mb),
        typst_max_pages: positive(r, "typst_max_pages")
            .map_or(defaults.typst_max_pages, |v| v as usize),
        typst_max_seconds: positive(r, "typst_max_seconds").unwrap_or(defaults.typst_max_seconds),
        image_max_kb: positive(r, "image_max_kb").unwrap_or(defaults.image_max_kb),
        image_max_side_px: positive(r, "image_max_side_px")
            .map_or(defaults.image_max_side_px, |v| {
                u32::try_from(v).unwrap_or(u32::MAX)
            }),
        render_max_memory_mb: positive(r, "render_max_memory_mb")
            .filter(|&mb| {
                // A render process maps the binary, its fonts and its threads' stacks before it
                // renders anything (about 200 MB of address space for a province's batch).
                let enough = mb >= MIN_RENDER_MEMORY_MB;
                if !enough {
                    r.report(
                        &span_of(&t, "render_max_memory_mb"),
                        &t.key_path("render_max_memory_mb"),
                        format!(
                            "limits.render_max_memory_mb phải từ {MIN_RENDER_MEMORY_MB} trở lên: \
                             tiến trình tạo văn bản cần chừng ấy bộ nhớ để khởi động"
                        ),
                    );
                }
                enough
            })
            .unwrap_or(defaults.render_max_memory_mb),
        render_max_cpu_seconds: positive(r, "render_max_cpu_seconds")
            .unwrap_or(defaults.render_max_cpu_seconds),
    }
}

/// SQLite writes beside its database (`-journal`, `-wal`) and vanban takes a lock file there:
/// `state = "/dev/null"` once made it create `/dev/null-journal`. The state must be a regular
/// file (or not exist yet), not a link.
fn state_path_problem(state: &Path) -> Option<String> {
    match std::fs::symlink_metadata(state) {
        Ok(meta) if meta.file_type().is_symlink() => Some(format!(
            "{} là liên kết tượng trưng; hãy ghi đường dẫn thật của tệp cơ sở dữ liệu",
            state.display()
        )),
        Ok(meta) if !meta.is_file() => Some(format!(
            "{} không phải tệp thường (thư mục hoặc thiết bị); hãy ghi đường dẫn một tệp cơ sở dữ liệu, ví dụ \"vanban.sqlite\"",
            state.display()
        )),
        Ok(_) => None,
        // Not there yet: the database is created on first use, its folder checked then.
        Err(_) => None,
    }
}

/// The largest `[web]` upload limit, KiB (256 MB).
const MAX_UPLOAD_KB: u64 = 256 * 1024;

fn read_web(r: &mut Reader<'_>, node: &Node) -> WebSettings {
    let defaults = WebSettings::default();
    let Some(t) = r.table(node, "web", WEB_KEYS) else {
        return defaults;
    };
    let listen = match t.opt_string(r, "listen") {
        Some(text) => match text.parse::<std::net::SocketAddr>() {
            Ok(addr) => addr,
            Err(_) => {
                r.report(
                    &span_of(&t, "listen"),
                    "web.listen",
                    format!("địa chỉ lắng nghe \"{text}\" không hợp lệ; viết dạng IP:cổng, ví dụ \"127.0.0.1:8080\""),
                );
                defaults.listen
            }
        },
        None => defaults.listen,
    };
    // A page's uploads are buffered in memory: a few hundred MB at most, never a number that
    // overflows the body limit.
    let mut limit_kb = |key: &str, default: u64| {
        let kb: u64 = opt_unsigned(r, &t, key).unwrap_or(default);
        if kb == 0 || kb > MAX_UPLOAD_KB {
            r.report(
                &span_of(&t, key),
                &format!("web.{key}"),
                format!("giới hạn {kb} KB nằm ngoài khoảng 1–{MAX_UPLOAD_KB} KB"),
            );
            return default;
        }
        kb
    };
    let upload_limit_kb = limit_kb("upload_limit_kb", defaults.upload_limit_kb);
    let attachments_limit_kb = limit_kb("attachments_limit_kb", defaults.attachments_limit_kb);
    let mut trusted_proxies = Vec::new();
    for (i, (text, span)) in t
        .strings(r, "trusted_proxies", false)
        .into_iter()
        .enumerate()
    {
        match ProxyRange::parse(&text) {
            Some(range) => trusted_proxies.push(range),
            None => r.report(
                &span,
                &format!("web.trusted_proxies[{i}]"),
                format!(
                    "\"{text}\" không phải địa chỉ IP hay dải mạng; viết địa chỉ của máy chạy \
                     proxy, ví dụ \"127.0.0.1\", \"::1\" hoặc \"10.0.0.0/24\" (không dùng tên máy)"
                ),
            ),
        }
    }
    let header_timeout_seconds: u64 =
        opt_unsigned(r, &t, "header_timeout_seconds").unwrap_or(defaults.header_timeout.as_secs());
    let header_timeout = match header_timeout_seconds {
        1..=MAX_HEADER_TIMEOUT_SECONDS => Duration::from_secs(header_timeout_seconds),
        _ => {
            r.report(
                &span_of(&t, "header_timeout_seconds"),
                "web.header_timeout_seconds",
                format!(
                    "{header_timeout_seconds} giây nằm ngoài khoảng 1–{MAX_HEADER_TIMEOUT_SECONDS} giây"
                ),
            );
            defaults.header_timeout
        }
    };
    WebSettings {
        listen,
        session_hours: opt_unsigned(r, &t, "session_hours").unwrap_or(defaults.session_hours),
        upload_limit_kb,
        attachments_limit_kb,
        secure_cookies: t
            .opt_bool(r, "secure_cookies")
            .unwrap_or(defaults.secure_cookies),
        trusted_proxies,
        header_timeout,
    }
}

/// The longest `[web] header_timeout_seconds`: a browser sends its headers at once, and a
/// longer wait only lets slow clients hold connections.
const MAX_HEADER_TIMEOUT_SECONDS: u64 = 300;

fn read_smtp(
    r: &mut Reader<'_>,
    node: &Node,
    env: Option<EnvLookup<'_>>,
    resolve: &dyn Fn(String) -> PathBuf,
) -> Option<Smtp> {
    let t = r.table(node, "smtp", SMTP_KEYS)?;
    let host = t.string(r, "host");
    let port: Option<u16> = opt_unsigned(r, &t, "port");
    let security = choice(
        r,
        &t,
        "security",
        false,
        &[
            ("none", Security::None),
            ("starttls", Security::StartTls),
            ("tls", Security::Tls),
        ],
    )
    .unwrap_or(Security::StartTls);
    let username = t.opt_string(r, "username");
    let password_env = t.opt_string(r, "password_env");
    let password_file = t.opt_string(r, "password_file");
    let password = match (&password_env, &password_file) {
        // Commands that never connect leave the secret where it is.
        (Some(_), None) | (None, Some(_)) if env.is_none() => None,
        (Some(_), Some(_)) => {
            r.report(
                &span_of(&t, "password_file"),
                "smtp.password_file",
                "chỉ dùng một trong password_env hoặc password_file",
            );
            None
        }
        (Some(var), None) => match env.and_then(|env| env(var)) {
            Some(p) => Some(Secret::new(p)),
            None => {
                r.report(
                    &span_of(&t, "password_env"),
                    "smtp.password_env",
                    format!("biến môi trường {var} chưa được đặt"),
                );
                None
            }
        },
        (None, Some(file)) => match std::fs::read_to_string(resolve(file.clone())) {
            Ok(p) => Some(Secret::new(p.trim_end_matches(['\r', '\n']).to_string())),
            Err(e) => {
                r.report(
                    &span_of(&t, "password_file"),
                    "smtp.password_file",
                    format!("không đọc được tệp mật khẩu {file}: {e}"),
                );
                None
            }
        },
        (None, None) => None,
    };
    let ca_file = t.opt_string(r, "ca_file").map(resolve);
    let timeout_seconds: Option<u64> = opt_unsigned(r, &t, "timeout_seconds");
    let max_attempts: Option<u32> = opt_unsigned(r, &t, "max_attempts");
    let retry_delay_seconds: Option<u64> = opt_unsigned(r, &t, "retry_delay_seconds");
    let connections: Option<usize> = opt_unsigned(r, &t, "connections");
    if let Some(n) = connections.filter(|n| !(1..=MAX_SMTP_CONNECTIONS).contains(n)) {
        r.report(
            &span_of(&t, "connections"),
            "smtp.connections",
            format!(
                "số kết nối SMTP phải từ 1 đến {MAX_SMTP_CONNECTIONS} (đang là {n}); mặc định 4"
            ),
        );
    }
    let port = port.unwrap_or(match security {
        Security::None => 25,
        Security::StartTls => 587,
        Security::Tls => 465,
    });
    Some(Smtp {
        settings: SmtpSettings {
            host: host?,
            port,
            security,
            username,
            password,
            ca_file,
            timeout: Duration::from_secs(timeout_seconds.unwrap_or(30).max(1)),
        },
        max_attempts: max_attempts.unwrap_or(4).max(1),
        retry_delay: Duration::from_secs(retry_delay_seconds.unwrap_or(30)),
        connections: connections.unwrap_or(DEFAULT_SMTP_CONNECTIONS),
    })
}

/// Connections a `send` keeps busy unless `[smtp] connections` says otherwise: enough to hide a
/// slow server's round trips, few enough that no ordinary server limits them.
const DEFAULT_SMTP_CONNECTIONS: usize = 4;
/// More would only get an office's account throttled or refused by its mail server.
const MAX_SMTP_CONNECTIONS: usize = 32;

fn read_jobs(r: &mut Reader<'_>, top: &Table<'_>, base: &Path) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    for (path, node) in top.list(r, "jobs", false) {
        let Some(t) = r.table(node, &path, JOB_KEYS) else {
            continue;
        };
        let Some(name) = t.string(r, "name") else {
            continue;
        };
        if jobs.iter().any(|j| j.name == name) {
            r.report(
                &span_of(&t, "name"),
                &t.key_path("name"),
                format!("tên tác vụ \"{name}\" bị trùng"),
            );
            continue;
        }
        // Each message names the job, so a long [[jobs]] list reads well in a log.
        let job_problem = |r: &mut Reader<'_>, key: &str, e: &dyn std::fmt::Display| {
            r.report(
                &span_of(&t, key),
                &t.key_path(key),
                format!("tác vụ \"{name}\": {e}"),
            );
        };
        let tz = match t.opt_string(r, "timezone").map(|z| parse_timezone(&z)) {
            None => Some(crate::clock::VIETNAM),
            Some(Ok(tz)) => Some(tz),
            Some(Err(e)) => {
                job_problem(r, "timezone", &e);
                None
            }
        };
        let schedule = match (t.string(r, "cron"), tz) {
            (Some(cron), Some(tz)) => match CronSchedule::parse(&cron, tz) {
                Ok(s) => Some(s),
                Err(e) => {
                    job_problem(r, "cron", &e);
                    None
                }
            },
            _ => None,
        };
        let action = choice(
            r,
            &t,
            "action",
            true,
            &[("render", Action::Render), ("send", Action::Send)],
        );
        let mut documents = Vec::new();
        for (slug, span) in t.strings(r, "documents", false) {
            match DocumentKind::from_slug(&slug) {
                Some(kind) => documents.push(kind),
                None => r.report(
                    &span,
                    &t.key_path("documents"),
                    format!(
                        "tác vụ \"{name}\": loại văn bản \"{slug}\" không có (dùng {})",
                        kind_slugs()
                    ),
                ),
            }
        }
        let covers = choice(
            r,
            &t,
            "covers",
            true,
            &[
                ("current-half", Covers::CurrentHalf),
                ("previous-half", Covers::PreviousHalf),
            ],
        );
        let period = t.string(r, "period").and_then(|pattern| {
            match period_path(&pattern, PeriodId::new(2024, Half::First)) {
                Ok(_) => Some(pattern),
                Err(e) => {
                    job_problem(r, "period", &e);
                    None
                }
            }
        });
        let catch_up = choice(
            r,
            &t,
            "catch_up",
            false,
            &[("once", CatchUp::Once), ("skip", CatchUp::Skip)],
        )
        .unwrap_or(CatchUp::Once);
        let (Some(schedule), Some(action), Some(covers), Some(period)) =
            (schedule, action, covers, period)
        else {
            continue;
        };
        let period = if Path::new(&period).is_absolute() {
            period
        } else {
            base.join(&period).to_string_lossy().into_owned()
        };
        jobs.push(Job {
            name,
            schedule,
            action,
            documents,
            covers,
            period,
            catch_up,
        });
    }
    jobs
}

/// "review-report, conclusion-notice hoặc assignment-letter": the kinds a job may name.
fn kind_slugs() -> String {
    let slugs: Vec<&str> = DocumentKind::ALL.iter().map(|k| k.slug()).collect();
    match slugs.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} hoặc {last}", rest.join(", ")),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
directory = "directory.toml"
state = "state/vanban.sqlite"
[sender]
name = "Văn phòng HĐND và UBND huyện Đầm Hà"
address = "vanphong@example.vn"
[smtp]
host = "127.0.0.1"
port = 2525
security = "none"
password_env = "VANBAN_TEST_PASSWORD"
[[jobs]]
name = "bao-cao"
cron = "0 8 15 6,12 *"
action = "send"
documents = ["review-report"]
covers = "current-half"
period = "data/{year}-h{half}.toml"
"#;

    #[test]
    fn reads_paths_secrets_and_jobs() {
        let env = |name: &str| (name == "VANBAN_TEST_PASSWORD").then(|| "bí mật".to_string());
        let config = parse(Path::new("/etc/vanban/vanban.toml"), GOOD, &env).unwrap();
        assert_eq!(
            config.state.file(),
            Some(Path::new("/etc/vanban/state/vanban.sqlite"))
        );
        assert_eq!(config.outbox, Path::new("/etc/vanban/out/outbox"));
        let smtp = config.smtp.unwrap();
        assert_eq!(smtp.settings.password.unwrap().expose(), "bí mật");
        assert_eq!(
            config.jobs[0].period,
            "/etc/vanban/data/{year}-h{half}.toml"
        );
        assert_eq!(config.jobs[0].documents, vec![DocumentKind::ReviewReport]);
        assert_eq!(config.jobs[0].catch_up, CatchUp::Once);
    }

    #[test]
    fn commands_that_never_connect_do_not_need_the_secret() {
        let config = load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert!(config.smtp.unwrap().settings.password.is_none());
    }

    #[test]
    fn bad_jobs_and_missing_secrets_are_errors_at_load() {
        let text = GOOD
            .replace("0 8 15 6,12 *", "0 8 32 6 *")
            .replace("current-half", "previous-half");
        let err = parse(Path::new("v.toml"), &text, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tác vụ \"bao-cao\""), "{err}");
        assert!(err.contains("0 8 32 6 *"), "{err}");
        assert!(err.contains("VANBAN_TEST_PASSWORD"), "{err}");
        let typo = GOOD.replace("[sender]", "[sender]\nadress = \"x\"");
        let err = parse(Path::new("v.toml"), &typo, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("adress"), "{err}");
    }

    #[test]
    fn approval_is_required_by_default_and_its_wait_is_read() {
        let config = load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert!(config.approval.required);
        assert!(config.approval.approvers.is_empty());
        assert_eq!(
            config.approval.approval_wait,
            Duration::from_secs(3 * 86_400)
        );
        let text = format!(
            "{GOOD}\n[approval]\nrequired = false\napprovers = [\"lanh-dao\"]\napproval_wait = \"12h\"\n"
        );
        let config = load_without_secrets_from(Path::new("v.toml"), &text).unwrap();
        assert!(!config.approval.required);
        assert_eq!(config.approval.approvers, ["lanh-dao"]);
        assert_eq!(
            config.approval.approval_wait,
            Duration::from_secs(12 * 3600)
        );
        assert_eq!(parse_wait("30m"), Some(Duration::from_secs(1800)));
        for bad in ["3w", "0d", "d", "-1h", "1.5h"] {
            assert_eq!(parse_wait(bad), None, "{bad}");
        }
        let text = format!("{GOOD}\n[approval]\napproval_wait = \"3 ngày\"\n");
        let err = load_without_secrets_from(Path::new("v.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("approval.approval_wait"), "{err}");
        assert!(err.contains("\"3 ngày\""), "{err}");
        assert!(err.contains("v.toml:"), "{err}");
    }

    #[test]
    fn web_upload_limits_default_and_out_of_range_ones_are_refused_with_their_place() {
        let config = load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert_eq!(config.web.upload_limit_kb, 2048);
        assert_eq!(config.web.attachments_limit_kb, 20480);
        for (key, bad) in [
            ("upload_limit_kb", "0"),
            ("attachments_limit_kb", "262145"),
            ("attachments_limit_kb", "9223372036854775807"),
        ] {
            let text = format!("{GOOD}\n[web]\n{key} = {bad}\n");
            let err = load_without_secrets_from(Path::new("v.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("web.{key}")), "{err}");
            assert!(
                err.contains("1–262144 KB") && err.contains("v.toml:"),
                "{err}"
            );
        }
    }

    #[test]
    fn web_trusted_proxies_and_header_timeout_are_read_and_bad_ones_named() {
        let config = load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert!(config.web.trusted_proxies.is_empty());
        assert_eq!(config.web.header_timeout, Duration::from_secs(20));
        let text = format!(
            "{GOOD}\n[web]\ntrusted_proxies = [\"127.0.0.1\", \"10.0.0.0/24\"]\nheader_timeout_seconds = 5\n"
        );
        let config = load_without_secrets_from(Path::new("v.toml"), &text).unwrap();
        assert_eq!(
            config.web.trusted_proxies,
            [
                ProxyRange::parse("127.0.0.1").unwrap(),
                ProxyRange::parse("10.0.0.0/24").unwrap()
            ]
        );
        assert_eq!(config.web.header_timeout, Duration::from_secs(5));
        let text = format!("{GOOD}\n[web]\ntrusted_proxies = [\"::1\", \"nginx.local\"]\n");
        let err = load_without_secrets_from(Path::new("v.toml"), &text)
            .unwrap_err()
            .to_string();
        // Counted from 1, as every path in a message is: the second entry.
        assert!(err.contains("web.trusted_proxies[2]"), "{err}");
        assert!(
            err.contains("\"nginx.local\" không phải địa chỉ IP"),
            "{err}"
        );
        assert!(err.contains("v.toml:"), "{err}");
        for bad in ["0", "301"] {
            let text = format!("{GOOD}\n[web]\nheader_timeout_seconds = {bad}\n");
            let err = load_without_secrets_from(Path::new("v.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.contains("web.header_timeout_seconds"), "{err}");
            assert!(err.contains("1–300 giây"), "{err}");
        }
    }

    #[test]
    fn smtp_connections_default_to_four_and_zero_is_refused_with_its_place() {
        let config = load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert_eq!(config.smtp.unwrap().connections, 4);
        let one = GOOD.replace("port = 2525", "port = 2525\nconnections = 1");
        let config = load_without_secrets_from(Path::new("v.toml"), &one).unwrap();
        assert_eq!(config.smtp.unwrap().connections, 1);
        for bad in ["0", "33"] {
            let text = GOOD.replace("port = 2525", &format!("port = 2525\nconnections = {bad}"));
            let err = load_without_secrets_from(Path::new("v.toml"), &text)
                .unwrap_err()
                .to_string();
            assert!(err.contains("smtp.connections"), "{err}");
            assert!(err.contains("từ 1 đến 32"), "{err}");
            assert!(err.contains("v.toml:"), "{err}");
        }
    }

    #[test]
    fn a_postgres_state_is_read_and_a_password_in_it_refused() {
        use crate::config::{PostgresUrl, StateLocation};
        let text = GOOD.replace(
            "state = \"state/vanban.sqlite\"",
            "state = \"postgres://vanban@db.example.vn/vanban?sslmode=require\"\n\
             state_password_file = \"/etc/vanban/db-password\"",
        );
        let config = load_without_secrets_from(Path::new("v.toml"), &text).unwrap();
        assert_eq!(
            config.state,
            StateLocation::Postgres {
                url: PostgresUrl("postgres://vanban@db.example.vn/vanban?sslmode=require".into()),
                password_file: Some("/etc/vanban/db-password".into()),
            }
        );
        assert!(config.state.file().is_none());

        let text = GOOD.replace(
            "state = \"state/vanban.sqlite\"",
            "state = \"postgres://vanban:bi-mat@db.example.vn/vanban\"",
        );
        let err = load_without_secrets_from(Path::new("v.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("không ghi mật khẩu"), "{err}");
        assert!(err.contains("v.toml:"), "{err}");
        assert!(
            !err.contains("bi-mat"),
            "the password is never shown: {err}"
        );

        let text = format!("state_password_file = \"p\"\n{GOOD}");
        let err = load_without_secrets_from(Path::new("v.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("state_password_file"), "{err}");
    }

    #[test]
    fn a_state_that_is_not_a_regular_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(state_path_problem(Path::new("/dev/null")).is_some());
        assert!(state_path_problem(dir.path()).is_some());
        assert!(state_path_problem(&dir.path().join("vanban.sqlite")).is_none());
        std::fs::write(dir.path().join("real.sqlite"), b"").unwrap();
        assert!(state_path_problem(&dir.path().join("real.sqlite")).is_none());
        std::os::unix::fs::symlink(
            dir.path().join("real.sqlite"),
            dir.path().join("link.sqlite"),
        )
        .unwrap();
        assert!(state_path_problem(&dir.path().join("link.sqlite")).is_some());
    }
    const SIGNING: &str = r#"
[signing]
organisation = { pkcs12 = "certs/ubnd.p12", password_env = "VANBAN_ORG_PIN", seal_image = "certs/seal.png" }
tsa_url = "http://127.0.0.1:3180/tsa"
[[signing.signers]]
name = "Hoàng Vĩnh Khuyến"
pkcs12 = "certs/khuyen.p12"
password_file = "/etc/vanban/khuyen.pin"
signature_image = "certs/khuyen.png"
[[signing.signers]]
name = "Tô Xuân Lợi"
pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
token = "UBND"
key_label = "loi"
pin_env = "VANBAN_LOI_PIN"
signature_image = "certs/loi.png"
"#;

    #[test]
    fn another_issuing_body_has_its_own_key_and_seal() {
        let issuers = r#"
[[signing.issuers]]
issuer = "VP"
pkcs11_module = "/usr/lib/softhsm/libsofthsm2.so"
token = "VP"
key_label = "vp"
pin_env = "VANBAN_VP_PIN"
seal_image = "certs/vp-seal.png"
"#;
        let text = format!("{GOOD}{SIGNING}{issuers}");
        let config = load_without_secrets_from(Path::new("/etc/vanban/v.toml"), &text).unwrap();
        let signing = config.signing.unwrap();
        assert_eq!(signing.issuers.len(), 1);
        assert_eq!(signing.issuers[0].issuer, "VP");
        assert_eq!(
            signing.issuers[0].organisation.seal_image,
            Path::new("/etc/vanban/certs/vp-seal.png")
        );
        // The same body twice, and an entry without its seal, are refused with their lines.
        let twice = format!(
            "{GOOD}{SIGNING}{issuers}{}",
            issuers.replace("\"VP\"\npkcs11", "\"vp\"\npkcs11")
        );
        let err = load_without_secrets_from(Path::new("v.toml"), &twice)
            .unwrap_err()
            .to_string();
        assert!(err.contains("đã được khai báo ở trên"), "{err}");
        assert!(err.contains("signing.issuers"), "{err}");
        let no_seal = format!(
            "{GOOD}{SIGNING}{}",
            issuers.replace("seal_image = \"certs/vp-seal.png\"\n", "")
        );
        let err = load_without_secrets_from(Path::new("v.toml"), &no_seal)
            .unwrap_err()
            .to_string();
        assert!(err.contains("seal_image"), "{err}");
        assert!(err.contains("v.toml:"), "{err}");
    }

    #[test]
    fn the_signing_section_names_keys_images_and_where_secrets_are() {
        let text = format!("{GOOD}{SIGNING}");
        let config = load_without_secrets_from(Path::new("/etc/vanban/v.toml"), &text).unwrap();
        let signing = config.signing.unwrap();
        assert_eq!(
            signing.organisation.key,
            KeyLocation::Pkcs12 {
                path: "/etc/vanban/certs/ubnd.p12".into(),
                password: SecretRef::Env("VANBAN_ORG_PIN".into()),
            }
        );
        assert_eq!(
            signing.organisation.seal_image,
            Path::new("/etc/vanban/certs/seal.png")
        );
        assert_eq!(
            signing.tsa_url.as_deref(),
            Some("http://127.0.0.1:3180/tsa")
        );
        assert_eq!(signing.signers.len(), 2);
        assert_eq!(
            signing.signers[0].key,
            KeyLocation::Pkcs12 {
                path: "/etc/vanban/certs/khuyen.p12".into(),
                password: SecretRef::File("/etc/vanban/khuyen.pin".into()),
            }
        );
        assert_eq!(
            signing.signer("Tô Xuân Lợi").unwrap().key,
            KeyLocation::Pkcs11 {
                module: "/usr/lib/softhsm/libsofthsm2.so".into(),
                token: "UBND".into(),
                key_label: "loi".into(),
                pin: SecretRef::Env("VANBAN_LOI_PIN".into()),
            }
        );
        // Absent: no signing.
        let plain = load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert!(plain.signing.is_none());
    }

    #[test]
    fn an_inline_password_and_an_incomplete_signer_are_refused_with_their_place() {
        let text = format!("{GOOD}{SIGNING}")
            .replace("password_env = \"VANBAN_ORG_PIN\"", "password = \"123456\"")
            .replace("signature_image = \"certs/loi.png\"\n", "");
        let err = load_without_secrets_from(Path::new("v.toml"), &text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("signing.organisation.password"), "{err}");
        assert!(err.contains("không ghi mật khẩu"), "{err}");
        // The secret itself is never repeated.
        assert!(!err.contains("123456"), "{err}");
        // The second signer: positions count from 1.
        assert!(err.contains("signing.signers[2]"), "{err}");
        assert!(err.contains("signature_image"), "{err}");
        // file:line:column of the inline password.
        let line = GOOD.lines().count() + 3;
        assert!(err.contains(&format!("v.toml:{line}:")), "{err}");

        let twice = format!("{GOOD}{SIGNING}").replace("Tô Xuân Lợi", "Hoàng  Vĩnh Khuyến");
        let err = load_without_secrets_from(Path::new("v.toml"), &twice)
            .unwrap_err()
            .to_string();
        assert!(err.contains("đã được khai báo"), "{err}");
        let both = format!("{GOOD}{SIGNING}").replace(
            "key_label = \"loi\"",
            "key_label = \"loi\"\npkcs12 = \"x.p12\"",
        );
        let err = load_without_secrets_from(Path::new("v.toml"), &both)
            .unwrap_err()
            .to_string();
        assert!(err.contains("chỉ dùng một trong pkcs12"), "{err}");
    }
}
