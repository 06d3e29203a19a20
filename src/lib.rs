//! vanban: the half-year paperwork of a Vietnamese People's Committee, from figures to
//! Decree-30 documents approved, numbered, signed and delivered exactly once.
//!
//! The stages, in the order a period goes through them (ARCHITECTURE.md tells the whole story;
//! `layers.toml` is the order imports may point, checked by `tests/layers.rs`):
//!
//! 1. [`input`]: the period file (TOML, JSON or the Excel form), the directory and
//!    `vanban.toml`, parsed, NFC-normalised and validated, every problem at once and located;
//! 2. [`model`]: the typed period and the figures derived from it (rates, totals, who gets which
//!    task);
//! 3. [`render`]: one context per document, then the PDF (Typst, in-process, measured by the
//!    Decree-30 page check) and the DOCX (Word templates with Tera tags);
//! 4. [`issue`]: approval of the drafts' exact content, numbers from the register, PAdES
//!    signatures, the final documents filed with their hashes;
//! 5. [`deliver`]: the parcels that carry the documents, delivered once each through a channel
//!    (SMTP, or the `.eml` outbox of a dry run) and recorded in the ledger; `submit` and `status`;
//! 6. [`workflow`]: `send` as its named phases (plan, approval gates, numbering and final render,
//!    signing, composing, filing, dispatch), the one path the CLI, the page and the service run;
//! 7. [`check`]: what `vanban check` and the page's upload ask of a period, one function for
//!    both (every problem of the file, the documents that would reach nobody, what the
//!    templates' places cannot hold, missing signing keys, and the page check when asked);
//! 8. [`schedule`]: the cron service that runs render and send when due, once per firing;
//! 9. [`web`]: the staff page of `vanban serve`, doing the same steps from a browser.
//!
//! Beside them: [`config`] (`vanban.toml` as plain data), [`state`] (the database: SQLite or
//! PostgreSQL, its migrations, the instance lock), [`vi`] (Vietnamese formatting), [`clock`]
//! (the only reading of the system time), [`files`] (atomic writes), [`progress`] (progress on a
//! terminal) and [`shutdown`] (SIGTERM and Ctrl-C).

pub mod check;
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
