//! Issuing documents: numbers from the register (continuing the office's own) and the final
//! documents filed with their hash. Approval and signing come here too, between numbering and
//! delivery.

pub mod filing;
pub mod register;
