//! The operating system's errors in Vietnamese: what a clerk reads when a file is missing or the
//! mail server does not answer, instead of "No such file or directory (os error 2)".

use std::io::{Error, ErrorKind};

/// Why an I/O operation failed, in a few Vietnamese words ("không có tệp này", "bị từ chối").
/// A kind not named here keeps the system's own text in parentheses, for the IT officer.
pub fn io_error(error: &Error) -> String {
    let text = error.to_string();
    let words = match error.kind() {
        ErrorKind::NotFound => "không có tệp này",
        ErrorKind::PermissionDenied => "không có quyền truy cập",
        ErrorKind::ConnectionRefused => "bị từ chối (không có máy chủ nào nhận kết nối ở cổng này)",
        ErrorKind::ConnectionReset => "bị máy chủ cắt ngang",
        ErrorKind::ConnectionAborted => "kết nối bị hủy giữa chừng",
        ErrorKind::NotConnected | ErrorKind::BrokenPipe => "kết nối đã bị đóng",
        ErrorKind::UnexpectedEof => "máy chủ đóng kết nối giữa chừng",
        ErrorKind::TimedOut | ErrorKind::WouldBlock => "quá thời gian chờ",
        ErrorKind::AddrNotAvailable | ErrorKind::AddrInUse => "địa chỉ mạng không dùng được",
        ErrorKind::HostUnreachable => "không tới được máy chủ",
        ErrorKind::NetworkUnreachable | ErrorKind::NetworkDown => "không có mạng tới máy chủ",
        ErrorKind::IsADirectory => "đây là một thư mục, không phải tệp",
        ErrorKind::NotADirectory => "một phần của đường dẫn không phải thư mục",
        ErrorKind::AlreadyExists => "đã có rồi",
        ErrorKind::StorageFull => "ổ đĩa đã đầy",
        ErrorKind::ReadOnlyFilesystem => "ổ đĩa chỉ cho đọc",
        ErrorKind::InvalidData if text.contains("UTF-8") => {
            "tệp không phải văn bản UTF-8 (hãy lưu lại với bảng mã UTF-8)"
        }
        _ if text.contains("lookup address") || text.contains("Name or service not known") => {
            "không tìm được địa chỉ của máy chủ (tên máy sai hoặc mạng chưa có DNS)"
        }
        _ => return format!("lỗi hệ thống ({text})"),
    };
    words.to_owned()
}

/// Why lettre refused an email address, in Vietnamese ("Missing domain or user" → "thiếu
/// phần tên hoặc phần tên miền").
pub fn address_error(error: &lettre::address::AddressError) -> &'static str {
    use lettre::address::AddressError;
    match error {
        AddressError::MissingParts => {
            "thiếu phần tên hoặc phần tên miền, dạng đúng là ten@ten-mien.vn"
        }
        AddressError::Unbalanced => "dấu < > không cân",
        AddressError::InvalidUser => "phần tên trước @ không hợp lệ",
        AddressError::InvalidDomain => "phần tên miền sau @ không hợp lệ",
        _ => "có ký tự không hợp lệ",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_errors_read_as_vietnamese_without_os_codes() {
        let missing = std::fs::read("/không/có/tệp/này.toml").unwrap_err();
        assert_eq!(io_error(&missing), "không có tệp này");
        let refused = Error::from(ErrorKind::ConnectionRefused);
        assert!(io_error(&refused).starts_with("bị từ chối"));
        let odd = Error::other("strange");
        assert_eq!(io_error(&odd), "lỗi hệ thống (strange)");
        let not_utf8 = std::fs::read_to_string("/proc/self/exe").unwrap_err();
        assert!(io_error(&not_utf8).contains("UTF-8"), "{not_utf8}");
        let address = "vanphong".parse::<lettre::Address>().unwrap_err();
        assert!(address_error(&address).starts_with("thiếu phần tên"));
    }
}
