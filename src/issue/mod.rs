//! Issuing documents: numbers from the register (continuing the office's own) and the final
//! documents filed with their hash. Signing (PAdES, sign/) comes between numbering and delivery;
//! approval will too.

pub mod filing;
pub mod register;
pub mod sign;
