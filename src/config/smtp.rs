//! The `[smtp]` section as plain data: where the server is, how the connection is protected,
//! and the secret, which never prints.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the connection to the SMTP server is protected (`security` in `vanban.toml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP; only sensible for a relay on the same machine or network.
    None,
    /// STARTTLS, required: the message is never sent if the upgrade fails (usually port 587).
    StartTls,
    /// Implicit TLS from the first byte (usually port 465).
    Tls,
}

/// A password or other secret. It prints as `***` so it cannot leak into logs or error texts.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The `[smtp]` section of `vanban.toml`, with the password already read from its environment
/// variable or file by the config layer.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub username: Option<String>,
    pub password: Option<Secret>,
    /// An extra root certificate (PEM, one or more) for servers signed by a local or government
    /// CA; trusted in addition to the system's roots.
    pub ca_file: Option<PathBuf>,
    /// Limit for connecting and for each SMTP command (lettre uses one value for both).
    pub timeout: Duration,
}
