//! Issuing a document: the steps between an approved draft and the file that is sent (signing here).

pub mod sign;
