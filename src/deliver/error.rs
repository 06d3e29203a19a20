//! What can stop a send before anything leaves, typed: the Vietnamese text is produced by
//! `Display` when the error reaches the command line or the service's log.

use std::fmt;
use std::path::PathBuf;

use super::email::MailError;
use super::email::templates::EmailError;
use super::ledger::LedgerError;
use crate::input::Problems;
use crate::issue::approval::ApprovalError;
use crate::issue::filing::{IssueError, IssuedChanged};
use crate::issue::register::RegisterError;
use crate::model::Unit;
use crate::render::RenderError;
use crate::render::parity::ParityError;

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("dữ liệu kỳ báo cáo có lỗi; không gửi thư nào:\n{0}")]
    Period(Problems),
    #[error("không gửi thư nào vì:\n{0}")]
    Invalid(SendProblems),
    #[error(
        "tệp cấu hình {config} không có mục [smtp]: cần máy chủ thư để gửi (hoặc dùng --dry-run)"
    )]
    NoSmtp { config: PathBuf },
    #[error("{unit}: đơn vị này không nhận thư nào của kỳ {period} (trong các văn bản được chọn)")]
    NotARecipient { unit: String, period: String },
    #[error(transparent)]
    Mail(Box<MailError>),
    #[error(transparent)]
    Ledger(Box<LedgerError>),
    #[error(transparent)]
    Issue(Box<IssueError>),
    #[error(transparent)]
    Email(Box<EmailError>),
    #[error(transparent)]
    IssuedChanged(IssuedChanged),
    #[error(transparent)]
    Approval(Box<ApprovalError>),
    /// A document's PDF and DOCX say different words (an office template of one format only).
    #[error(transparent)]
    Wording(Box<ParityError>),
    #[error(
        "kỳ {period} đã cấp số văn bản với cơ quan ban hành «{old}», nay tệp kỳ cho cơ quan ban \
         hành «{new}» (tên hoặc địa danh trong mục [issuer] đã đổi); gửi tiếp sẽ cấp số mới và \
         gửi lại mọi thư. Không gửi thư nào. Nếu vẫn là cơ quan ấy, thêm id = \"{old}\" vào mục \
         [issuer] của tệp kỳ; nếu thật sự là cơ quan khác, chạy lại với --new-issuer"
    )]
    IssuerChanged {
        period: String,
        old: String,
        new: String,
    },
}

// Boxed: the register's and ledger's errors are large, and this one travels up every call.
macro_rules! boxed_from {
    ($($variant:ident($error:ty)),*) => {$(
        impl From<$error> for DeliverError {
            fn from(error: $error) -> Self {
                DeliverError::$variant(Box::new(error))
            }
        }
    )*};
}

boxed_from!(
    Mail(MailError),
    Ledger(LedgerError),
    Email(EmailError),
    Approval(ApprovalError),
    Wording(ParityError)
);

impl From<IssueError> for DeliverError {
    fn from(error: IssueError) -> Self {
        match error {
            IssueError::IssuedChanged(changed) => DeliverError::IssuedChanged(changed),
            other => DeliverError::Issue(Box::new(other)),
        }
    }
}

impl From<RegisterError> for DeliverError {
    fn from(error: RegisterError) -> Self {
        IssueError::from(error).into()
    }
}

impl From<RenderError> for DeliverError {
    fn from(error: RenderError) -> Self {
        IssueError::from(error).into()
    }
}

/// A unit as messages name it: "quang-lam (Ủy ban nhân dân xã Quảng Lâm)".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnitLabel(pub String);

impl UnitLabel {
    pub fn of(unit: &Unit) -> UnitLabel {
        UnitLabel(format!("{} ({})", unit.id, unit.name))
    }
}

impl fmt::Display for UnitLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One reason the run sends nothing, found before any number is issued (or, for the files,
/// before any message leaves).
#[derive(Debug, thiserror::Error)]
pub enum SendProblem {
    #[error("danh bạ không có nhóm report_to nên báo cáo không được gửi cho ai")]
    NoReportGroup,
    #[error("đơn vị {unit}: không có địa chỉ thư điện tử trong danh bạ")]
    NoAddress { unit: UnitLabel },
    #[error("đơn vị {unit}: địa chỉ thư điện tử không hợp lệ «{address}» ({reason})")]
    BadAddress {
        unit: UnitLabel,
        address: String,
        reason: String,
    },
    #[error(
        "tệp kỳ báo cáo ghi sẵn số {number} cho {kind}; khi gửi, vanban tự cấp số từ sổ \
         đăng ký văn bản đi nên hãy bỏ khóa number này (hoặc gửi văn bản đó bằng tay)"
    )]
    NumberTyped { number: String, kind: &'static str },
    #[error(transparent)]
    Templates(EmailError),
    #[error("thư gửi {unit}: {error}")]
    Email { unit: UnitLabel, error: EmailError },
    #[error("thư gửi {unit}: thiếu tệp văn bản đính kèm")]
    MissingAttachment { unit: UnitLabel },
    #[error("thư gửi {unit}: {error}")]
    Message { unit: UnitLabel, error: MailError },
}

/// Every problem found, each printed on its own line.
#[derive(Debug)]
pub struct SendProblems(pub Vec<SendProblem>);

impl fmt::Display for SendProblems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|p| format!("- {p}")).collect();
        f.write_str(&lines.join("\n"))
    }
}
