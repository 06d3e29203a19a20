//! Delivery: which messages go to whom, the email messages and their transports (SMTP, the
//! `.eml` outbox), the ledger that makes each delivery happen exactly once, and its status.

pub mod compose;
pub mod dispatch;
pub mod email;
pub mod error;
pub mod ledger;
pub mod mail;
pub mod outbox;
pub mod plan;
pub mod report;
pub mod send;
pub mod status;
pub mod submit;
