//! A parcel: what one delivery hands to a channel — the bytes of one message or package, whom it
//! is for, what kind of bytes they are, and the id the recipient's system knows it by. A
//! channel makes its parcels (email: a MIME message, `message/rfc822`); dispatch, retries and
//! the ledger carry them without looking inside.

use super::ledger::DeliveryKey;

/// The media type of a whole email (RFC 5322 bytes), what the SMTP transport and the `.eml`
/// outbox take.
pub const MESSAGE_RFC822: &str = "message/rfc822";

/// One delivery's bytes and where they go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parcel {
    /// What is delivered to whom: the ledger's key, the same whichever channel carries it.
    pub key: DeliveryKey,
    /// The id the recipient's system knows this copy by, recorded with each attempt: an
    /// email's Message-ID (angle brackets included), an edXML package's id.
    pub id: String,
    /// Who it is from, as the channel names senders (an email address, an organisation code).
    pub sender: String,
    /// Whom it is for, as the channel names them (email addresses, organisation codes).
    pub recipients: Vec<String>,
    /// What the bytes are, e.g. [`MESSAGE_RFC822`].
    pub media_type: String,
    pub bytes: Vec<u8>,
}

impl AsRef<Parcel> for Parcel {
    fn as_ref(&self) -> &Parcel {
        self
    }
}
