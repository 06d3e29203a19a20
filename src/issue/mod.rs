//! Issuing documents: numbers from the register (continuing the office's own) and the final
//! documents filed with their hash. Approval (of the drafts' exact content) comes before any
//! number; signing (PAdES, sign/) between numbering and delivery.

pub mod approval;
pub mod filing;
pub mod register;
pub mod sign;
pub mod signatures;
