//! Delivery: which messages go to whom, the email messages and their transports (SMTP, the
//! `.eml` outbox), retries, the ledger that makes each delivery happen exactly once, and its
//! status.

pub mod dispatch;
pub mod email;
pub mod error;
pub mod ledger;
pub mod parcel;
pub mod plan;
pub mod report;
pub mod retry;
pub mod status;
pub mod submit;
pub mod transport;
