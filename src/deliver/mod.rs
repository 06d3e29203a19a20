//! Delivery, knowing channels rather than email: which messages go to whom (`plan`), each as a
//! parcel (`parcel`) handed to a transport (`transport`) by `dispatch`, with `retry` rounds and
//! the `ledger` that makes each delivery happen exactly once, and its `status`. Email is one
//! channel (`email`: MIME, templates, composing, SMTP, the `.eml` outbox).

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
