//! Reads `vanban.toml`, the service configuration an IT admin writes: where the directory,
//! output and database are, the sender, the SMTP server, and the scheduled jobs. Every job's
//! cron expression and time zone is checked at load, not at firing time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::deliver::mail::{Secret, Security, SmtpSettings};
use crate::deliver::register::NumberingScheme;
use crate::model::DocumentKind;
use crate::schedule::{CatchUp, Covers, CronSchedule, parse_timezone};

/// Looks up an environment variable (injected so tests need not touch the real environment).
type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("không đọc được tệp cấu hình {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("tệp cấu hình {path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("tệp cấu hình {path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    directory: Option<PathBuf>,
    output_dir: Option<PathBuf>,
    state: Option<PathBuf>,
    templates_dir: Option<PathBuf>,
    outbox: Option<PathBuf>,
    admin_email: Option<String>,
    #[serde(default)]
    numbering: Numbering,
    sender: RawSender,
    smtp: Option<RawSmtp>,
    #[serde(default)]
    jobs: Vec<RawJob>,
    #[serde(default)]
    limits: TemplateLimits,
}

/// `[limits]`: what one document of an office's template may cost before it is stopped with a
/// clear error. The defaults leave a real document far inside them; an office with unusual
/// templates raises them here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
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
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self {
            docx_max_uncompressed_mb: 100,
            docx_max_entries: 1_000,
            docx_max_filled_mb: 50,
            typst_max_pages: 200,
            typst_max_seconds: 30,
        }
    }
}

impl TemplateLimits {
    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (key, value) in [
            ("docx_max_uncompressed_mb", self.docx_max_uncompressed_mb),
            ("docx_max_entries", self.docx_max_entries as u64),
            ("docx_max_filled_mb", self.docx_max_filled_mb),
            ("typst_max_pages", self.typst_max_pages as u64),
            ("typst_max_seconds", self.typst_max_seconds),
        ] {
            if value == 0 {
                problems.push(format!("limits.{key} phải lớn hơn 0"));
            }
        }
        problems
    }
}

#[derive(Debug, Default, Deserialize, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum Numbering {
    #[default]
    Single,
    PerType,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSender {
    name: String,
    address: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSmtp {
    host: String,
    port: Option<u16>,
    #[serde(default = "default_security")]
    security: Security,
    username: Option<String>,
    password_env: Option<String>,
    password_file: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    timeout_seconds: Option<u64>,
    max_attempts: Option<u32>,
    retry_delay_seconds: Option<u64>,
}

fn default_security() -> Security {
    Security::StartTls
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawJob {
    name: String,
    cron: String,
    timezone: Option<String>,
    action: Action,
    #[serde(default)]
    documents: Vec<String>,
    covers: Covers,
    period: String,
    #[serde(default)]
    catch_up: Option<CatchUp>,
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

/// The validated configuration; relative paths are resolved against the config file's folder.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    pub directory: Option<PathBuf>,
    pub output_dir: PathBuf,
    pub state: PathBuf,
    pub templates_dir: Option<PathBuf>,
    pub outbox: PathBuf,
    pub admin_email: Option<String>,
    pub numbering: NumberingScheme,
    pub sender: Sender,
    pub smtp: Option<Smtp>,
    pub jobs: Vec<Job>,
    pub limits: TemplateLimits,
}

impl Config {
    /// Reads and checks `path`. The SMTP password is read here, from the environment variable
    /// or file the config names; it is never written in the config itself.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::parse(path, &text, &|name| std::env::var(name).ok())
    }

    /// Reads and checks `path` without reading the SMTP password: for commands that never
    /// connect to the server (`jobs`, `status`, `render`, `send --dry-run`), so an admin can
    /// run them without the secret in their environment.
    pub fn load_without_secrets(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        Self::load_without_secrets_from(path, &text)
    }

    /// `load_without_secrets` on text already read.
    pub fn load_without_secrets_from(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Self::parse_inner(path, text, None)
    }

    /// Parses config text; `env` looks up environment variables (injected for tests).
    pub fn parse(
        path: &Path,
        text: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Self::parse_inner(path, text, Some(env))
    }

    /// `env` None: leave the password unread (see `load_without_secrets`).
    fn parse_inner(
        path: &Path,
        text: &str,
        env: Option<EnvLookup<'_>>,
    ) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let position = e.span().map(|span| {
                let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                format!("dòng {line}: ")
            });
            ConfigError::Syntax {
                path: path.to_path_buf(),
                message: format!("{}{}", position.unwrap_or_default(), e.message().trim()),
            }
        })?;
        let base = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let resolve = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let mut problems: Vec<String> = raw.limits.problems();
        // The sender's name goes into the From header: a line break there broke every message.
        let sender_name = super::text::normalise_breaks(raw.sender.name.trim());
        if let Some(bad) = sender_name
            .chars()
            .find(|c| c.is_control() || super::text::is_invisible_control(*c))
        {
            problems.push(format!(
                "sender.name có ký tự điều khiển {} không được phép",
                super::text::describe(bad)
            ));
        }
        if sender_name.is_empty() {
            problems.push("sender.name không được để trống".into());
        }

        if let Err(e) = raw.sender.address.parse::<lettre::Address>() {
            problems.push(format!(
                "sender.address \"{}\" không hợp lệ ({e})",
                raw.sender.address
            ));
        }
        if let Some(admin) = &raw.admin_email
            && let Err(e) = admin.parse::<lettre::Address>()
        {
            problems.push(format!("admin_email \"{admin}\" không hợp lệ ({e})"));
        }

        let smtp = raw.smtp.map(|s| {
            let password = match (&s.password_env, &s.password_file) {
                // Commands that never connect leave the secret where it is.
                (Some(_), None) | (None, Some(_)) if env.is_none() => None,
                (Some(_), Some(_)) => {
                    problems
                        .push("smtp: chỉ dùng một trong password_env hoặc password_file".into());
                    None
                }
                (Some(var), None) => match env.and_then(|env| env(var)) {
                    Some(p) => Some(Secret::new(p)),
                    None => {
                        problems.push(format!(
                            "smtp.password_env: biến môi trường {var} chưa được đặt"
                        ));
                        None
                    }
                },
                (None, Some(file)) => match std::fs::read_to_string(resolve(file.clone())) {
                    Ok(p) => Some(Secret::new(p.trim_end_matches(['\r', '\n']).to_string())),
                    Err(e) => {
                        problems.push(format!("smtp.password_file {}: {e}", file.display()));
                        None
                    }
                },
                (None, None) => None,
            };
            let port = s.port.unwrap_or(match s.security {
                Security::None => 25,
                Security::StartTls => 587,
                Security::Tls => 465,
            });
            Smtp {
                settings: SmtpSettings {
                    host: s.host,
                    port,
                    security: s.security,
                    username: s.username,
                    password,
                    ca_file: s.ca_file.map(resolve),
                    timeout: Duration::from_secs(s.timeout_seconds.unwrap_or(30).max(1)),
                },
                max_attempts: s.max_attempts.unwrap_or(4).max(1),
                retry_delay: Duration::from_secs(s.retry_delay_seconds.unwrap_or(30)),
            }
        });

        let mut jobs = Vec::new();
        for job in raw.jobs {
            if jobs.iter().any(|j: &Job| j.name == job.name) {
                problems.push(format!("jobs: tên tác vụ \"{}\" bị trùng", job.name));
                continue;
            }
            let tz = match job.timezone.as_deref().map(parse_timezone).transpose() {
                Ok(tz) => tz.unwrap_or(crate::clock::VIETNAM),
                Err(e) => {
                    problems.push(format!("tác vụ \"{}\": {e}", job.name));
                    continue;
                }
            };
            let schedule = match CronSchedule::parse(&job.cron, tz) {
                Ok(s) => s,
                Err(e) => {
                    problems.push(format!("tác vụ \"{}\": {e}", job.name));
                    continue;
                }
            };
            let mut documents = Vec::new();
            for slug in &job.documents {
                match DocumentKind::from_slug(slug) {
                    Some(kind) => documents.push(kind),
                    None => problems.push(format!(
                        "tác vụ \"{}\": loại văn bản \"{slug}\" không có (dùng review-report, conclusion-notice hoặc assignment-letter)",
                        job.name
                    )),
                }
            }
            if let Err(e) = crate::schedule::period_path(&job.period, 2024, 1) {
                problems.push(format!("tác vụ \"{}\": {e}", job.name));
            }
            let period = if Path::new(&job.period).is_absolute() {
                job.period
            } else {
                base.join(&job.period).to_string_lossy().into_owned()
            };
            jobs.push(Job {
                name: job.name,
                schedule,
                action: job.action,
                documents,
                covers: job.covers,
                period,
                catch_up: job.catch_up.unwrap_or(CatchUp::Once),
            });
        }

        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                message: problems.join("; "),
            });
        }
        let output_dir = resolve(raw.output_dir.unwrap_or_else(|| PathBuf::from("out")));
        Ok(Config {
            path: path.to_path_buf(),
            directory: raw.directory.map(resolve),
            outbox: raw
                .outbox
                .map(resolve)
                .unwrap_or_else(|| output_dir.join("outbox")),
            output_dir,
            state: resolve(raw.state.unwrap_or_else(|| PathBuf::from("vanban.sqlite"))),
            templates_dir: raw.templates_dir.map(resolve),
            admin_email: raw.admin_email,
            numbering: match raw.numbering {
                Numbering::Single => NumberingScheme::Single,
                Numbering::PerType => NumberingScheme::PerType,
            },
            sender: Sender {
                name: sender_name,
                address: raw.sender.address,
            },
            smtp,
            jobs,
            limits: raw.limits,
        })
    }

    pub fn job(&self, name: &str) -> Option<&Job> {
        self.jobs.iter().find(|j| j.name == name)
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
        let config = Config::parse(Path::new("/etc/vanban/vanban.toml"), GOOD, &env).unwrap();
        assert_eq!(config.state, Path::new("/etc/vanban/state/vanban.sqlite"));
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
        let config = Config::load_without_secrets_from(Path::new("v.toml"), GOOD).unwrap();
        assert!(config.smtp.unwrap().settings.password.is_none());
    }

    #[test]
    fn bad_jobs_and_missing_secrets_are_errors_at_load() {
        let text = GOOD
            .replace("0 8 15 6,12 *", "0 8 32 6 *")
            .replace("current-half", "previous-half");
        let err = Config::parse(Path::new("v.toml"), &text, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tác vụ \"bao-cao\""), "{err}");
        assert!(err.contains("0 8 32 6 *"), "{err}");
        assert!(err.contains("VANBAN_TEST_PASSWORD"), "{err}");
        let typo = GOOD.replace("[sender]", "[sender]\nadress = \"x\"");
        let err = Config::parse(Path::new("v.toml"), &typo, &|_| None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("adress"), "{err}");
    }
}
