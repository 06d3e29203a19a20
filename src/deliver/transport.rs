//! The transport: whatever takes a parcel and hands it over (in the manner of lettre's
//! `send_raw`: the bytes and where they go, nothing parsed), and why a hand-over failed:
//! transient (retried), permanent, or of unknown outcome (never retried). The email channel's
//! transports are SMTP and the `.eml` outbox; another channel brings its own.

use super::parcel::Parcel;

/// Why one parcel was not delivered. The text is Vietnamese, names the server or folder and, for
/// a refusal, quotes the other side's reply; it never contains a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Nothing can have been delivered and a retry may help (SMTP: 4xx replies, and refused,
    /// dropped or timed-out connections before the mail transaction began).
    #[error("lỗi tạm thời: {reason}")]
    Transient { reason: String },
    /// A retry will not help (SMTP: 5xx replies, failed authentication, an untrusted
    /// certificate; any channel: a parcel of a media type it does not carry).
    #[error("lỗi vĩnh viễn: {reason}")]
    Permanent { reason: String },
    /// The hand-over was cut off after the other side may have taken the parcel (SMTP: a
    /// timeout or a dropped connection during the mail transaction, a lost "250"). Never
    /// retried automatically.
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

/// Something that delivers a parcel: the SMTP server or the outbox for email, a package folder
/// or a document exchange for another channel. `Ok` carries what the other side said (the
/// server's reply, the path of the written file), for the ledger. `Sync`: a `send` with several
/// connections calls it from several threads at once.
pub trait Transport: Sync {
    fn deliver(&self, parcel: &Parcel) -> Result<String, SendError>;
}

/// Refuses, as permanent, a parcel whose bytes are not what the transport carries (an edXML
/// package handed to SMTP, say): no retry can make it fit. `transport` names it for the clerk.
pub fn expect_media_type(parcel: &Parcel, wanted: &str, transport: &str) -> Result<(), SendError> {
    if parcel.media_type.eq_ignore_ascii_case(wanted) {
        return Ok(());
    }
    Err(SendError::Permanent {
        reason: format!(
            "{}: {transport} chỉ nhận «{wanted}», không nhận «{}»",
            parcel.key, parcel.media_type
        ),
    })
}
