//! Issuing documents: numbers from the register (continuing the office's own) and the final
//! documents filed with their hash. Signing comes between numbering and delivery: the PAdES
//! library in sign/, the configured keys and the signing step in signatures.rs; approval will too.

pub mod filing;
pub mod register;
pub mod sign;
pub mod signatures;
