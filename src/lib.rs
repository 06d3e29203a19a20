//! vanban: the half-year paperwork of a Vietnamese People's Committee, from figures to
//! Decree-30 documents delivered by email.
//!
//! The pipeline, one module each: [`input`] (period file, directory, validation) →
//! [`model`] (typed period, derived figures) → [`render`] (context, PDF, DOCX) → issue
//! (approval, numbers, signing, filing) and deliver (parcels, channels, ledger) → [`workflow`]
//! (send as its phases) → schedule, and [`web`] on top: the staff page of `vanban serve`.
//! [`vi`] holds the Vietnamese formatting rules and [`clock`] the only reading of the system
//! time.

pub mod clock;
pub mod config;
pub mod deliver;
pub mod files;
pub mod input;
pub mod issue;
pub mod model;
pub mod progress;
pub mod render;
pub mod schedule;
pub mod shutdown;
pub mod state;
pub mod vi;
pub mod web;
pub mod workflow;
