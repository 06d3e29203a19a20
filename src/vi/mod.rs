//! Vietnamese locale: numbers, percentages, amounts in words, dates and text case, formatted
//! the way Decree 30/2020/NĐ-CP documents print them (see reference/nd30.md §4, §7, §8).
//!
//! Every function is pure and returns NFC text; templates receive these strings ready to print.

pub mod dates;
pub mod errors;
pub mod names;
pub mod numbers;
pub mod phrases;
pub mod text;
pub mod words;

pub use dates::{blank_date_line, date_line, long_date, short_date};
pub use numbers::{
    align_decimals, decimal, decimal_fixed, document_number, group_int, percent, percent_value,
};
pub use text::{
    after_colon, ascii_fold, capitalize_first, is_nfc, lower_first, nfc, official_names, upper,
};
pub use words::{
    Four, Thousand, WordsStyle, ZeroTens, amount_in_words, dong_in_words, number_to_words,
};
