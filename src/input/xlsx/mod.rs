//! The office's Excel form (biểu mẫu): read into the same tree as a TOML period file, so one
//! reader validates both, with problems located by sheet and cell; written blank or filled.

pub mod form;
pub mod guard;
pub mod read;
pub mod write;

pub use read::Located;
