//! DOCX: Word templates holding Tera tags, filled in-process on the zip's XML.

pub mod fill;
mod xml;
