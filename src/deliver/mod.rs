//! Delivery: email messages and their transports, the ledger that makes each delivery happen
//! exactly once, and the register of issued document numbers, all in one database.

pub mod email;
pub mod ledger;
pub mod lock;
pub mod mail;
pub mod outbox;
pub mod register;
pub mod send;
pub mod status;
pub mod store;
