//! vanban: the half-year paperwork of a Vietnamese People's Committee, from figures to
//! Decree-30 documents delivered by email.
//!
//! The pipeline, one module each: [`input`] (period file, directory, validation) →
//! [`model`] (typed period, derived figures) → [`render`] (context, PDF, DOCX) →
//! deliver (mail, ledger) → schedule. [`vi`] holds the Vietnamese formatting rules and
//! [`clock`] the only reading of the system time.

pub mod clock;
pub mod deliver;
pub mod input;
pub mod issue;
pub mod model;
pub mod render;
pub mod schedule;
pub mod vi;
