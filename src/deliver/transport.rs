//! The transport: whatever takes a finished message and hands it over (SMTP, the `.eml`
//! outbox), and why a hand-over failed: transient (retry), permanent, or of unknown outcome.

use lettre::Message;

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

    pub(crate) fn reason_mut(&mut self) -> &mut String {
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
