//! The email channel: MIME messages (`mime`), their subjects and bodies from templates
//! (`templates`), composing them from the issued documents (`compose`), and two transports:
//! SMTP with its connection pool (`smtp`) and the `.eml` outbox of a dry run (`outbox`).

use std::path::PathBuf;

pub mod compose;
pub mod mime;
pub mod outbox;
pub mod smtp;
pub mod templates;

/// Errors in building messages or the SMTP transport: configuration or data problems that no
/// retry can fix.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("địa chỉ thư của «{name}» không hợp lệ: «{address}» ({reason})")]
    InvalidAddress {
        name: String,
        address: String,
        reason: String,
    },
    #[error("thư «{subject}» không có người nhận")]
    NoRecipient { subject: String },
    #[error("tệp đính kèm «{file_name}» có kiểu nội dung không hợp lệ: «{content_type}»")]
    InvalidContentType {
        file_name: String,
        content_type: String,
    },
    #[error("Message-ID không hợp lệ: «{0}» (phải có dạng <phần-đầu@tên-miền>)")]
    InvalidMessageId(String),
    #[error("không dựng được thư «{subject}»: {reason}")]
    Build { subject: String, reason: String },
    #[error("không đọc được tệp chứng chỉ CA {path}: {reason}")]
    CaFile { path: PathBuf, reason: String },
    #[error("cấu hình TLS cho máy chủ thư {server} bị lỗi: {reason}")]
    Tls { server: String, reason: String },
    #[error(
        "[smtp] có tên đăng nhập «{username}» nhưng chưa có mật khẩu (password_env hoặc password_file)"
    )]
    MissingPassword { username: String },
    #[error(
        "[smtp] không được gửi mật khẩu qua kết nối không mã hóa tới {server}: đặt security = \"starttls\" hoặc \"tls\""
    )]
    CredentialsWithoutTls { server: String },
}

/// The SMTP sink harness the integration tests use too (outbox's tests read its MIME parser).
/// Declared in a file, not in `tests`: a path in an inline module would be read relative to a
/// `tests/` folder that does not exist.
#[cfg(test)]
#[path = "../../../tests/support/sink.rs"]
pub(crate) mod test_sink;
