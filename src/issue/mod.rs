//! Issuing documents: numbers from the register (continuing the office's own) and the final
//! documents filed with their hash. Approval (of the drafts' exact content) comes before any
//! number; signing (PAdES, sign/) between numbering and delivery. An issued document never
//! silently changes: what it was issued from is recorded, and replacing it is a decision.

pub mod approval;
pub mod copies;
pub mod filing;
pub mod issued_content;
pub mod org_stamp;
pub mod register;
pub mod replacement;
pub mod sign;
pub mod signatures;
