//! Who may do what: roles and their permissions, Argon2id password hashes, random tokens, and
//! the rule that slows down guessing (login attempts per user name tried, and per address for
//! the names of real accounts).

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

/// Wrong passwords allowed in [`ATTEMPT_WINDOW`] for one user name (and four times as many from
/// one address, counting only the names of real accounts); the next login is refused without
/// checking the password until the window has passed.
pub const MAX_FAILURES: u32 = 5;
pub const ATTEMPT_WINDOW: chrono::Duration = chrono::Duration::minutes(15);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("không tạo được mã băm mật khẩu: {0}")]
    Hash(String),
    #[error("không lấy được số ngẫu nhiên từ hệ điều hành: {0}")]
    Random(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Văn thư / chuyên viên: uploads, renders, sends.
    Clerk,
    /// Lãnh đạo: reads, previews, approves or returns drafts.
    Approver,
    /// Quản trị: accounts, directory, jobs, register, ledger; and whatever a clerk may do.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Clerk, Role::Approver, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Role::Clerk => "Văn thư / chuyên viên",
            Role::Approver => "Lãnh đạo (duyệt)",
            Role::Admin => "Quản trị",
        }
    }
}

/// What a request wants to do; checked on the server for every route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// See periods, documents, previews, downloads.
    View,
    /// Upload period files, render drafts, send, resend.
    Prepare,
    /// Accounts, directory, jobs, register, ledger.
    Administer,
    /// Approve or return drafts: the approver's decision, in their own name.
    Approve,
}

impl Permission {
    pub fn allowed(self, role: Role) -> bool {
        match self {
            Permission::View => true,
            Permission::Prepare => matches!(role, Role::Clerk | Role::Admin),
            Permission::Administer => role == Role::Admin,
            // Only the approver: an admin or a clerk approving would put the leader's decision
            // in someone else's hands.
            Permission::Approve => role == Role::Approver,
        }
    }
}

fn salt() -> Result<SaltString, AuthError> {
    let bytes = random_bytes::<16>()?;
    SaltString::encode_b64(&bytes).map_err(|e| AuthError::Hash(e.to_string()))
}

/// An Argon2id hash (PHC string, with its own salt and parameters).
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.as_bytes(), &salt()?)
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

/// Whether `password` matches `hash`. A malformed hash matches nothing.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a password nobody has, to verify against when the user name is unknown, so an
/// unknown name takes as long as a wrong password and names cannot be probed by timing.
pub fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        // A fixed salt is fine: this hash protects nothing.
        let salt = SaltString::encode_b64(b"vanban-decoy-salt").expect("valid salt");
        Argon2::default()
            .hash_password(b"decoy", &salt)
            .map(|h| h.to_string())
            .unwrap_or_default()
    })
}

fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A 256-bit random token, as 64 hex digits (session ids, CSRF tokens, file names).
pub fn random_token() -> Result<String, AuthError> {
    Ok(hex(&random_bytes::<32>()?))
}

pub fn sha256_hex(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Whether a login must be refused before its password is even checked: too many failures
/// for the name, or from the address on names of real accounts, within the window. Failures on
/// names no account has never count for the address: behind a proxy every user may share one
/// address, and invented names must not lock the real accounts out.
pub fn throttled(failures_by_user: u32, account_failures_by_ip: u32) -> bool {
    failures_by_user >= MAX_FAILURES || account_failures_by_ip >= MAX_FAILURES * 4
}

/// The most characters of a tried user name kept in the attempts table and the audit log: the
/// longest valid user name. A longer one is cut and ends in "…".
pub const MAX_TRIED_NAME_CHARS: usize = 64;

/// A user name as typed at the login form, made safe to store, count and show: characters that
/// are invisible or control the terminal or the text direction (a newline forging a second
/// audit line, U+202E turning a name around) are written as "<U+202E>", and the result is cut to
/// [`MAX_TRIED_NAME_CHARS`]. A valid user name comes back unchanged.
pub fn tried_name(typed: &str) -> String {
    let mut out = String::new();
    let mut count = 0;
    for c in typed.chars() {
        let piece = match hidden_char(c) {
            true => format!("<U+{:04X}>", c as u32),
            false => c.to_string(),
        };
        let len = piece.chars().count();
        if count + len > MAX_TRIED_NAME_CHARS {
            out.push('…');
            return out;
        }
        out.push_str(&piece);
        count += len;
    }
    out
}

/// Characters a reader of the audit log cannot see, or that act on what follows them.
fn hidden_char(c: char) -> bool {
    c.is_control()
        || crate::input::text::is_invisible_control(c)
        || matches!(
            c,
            // Zero-width space and joiners, BOM, soft hyphen, line and paragraph separators,
            // Mongolian vowel separator, Hangul fillers.
            '\u{200b}'..='\u{200d}'
                | '\u{feff}'
                | '\u{ad}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{180e}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{3164}'
                | '\u{ffa0}'
        )
        // Variation selectors and tag characters: invisible, used to smuggle text.
        || ('\u{fe00}'..='\u{fe0f}').contains(&c)
        || ('\u{e0000}'..='\u{e01ef}').contains(&c)
}

/// The start of the window of failures that count at `now`.
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    now - ATTEMPT_WINDOW
}

/// A user name: letters, digits, '.', '-', '_', 1..=64 characters.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

/// Passwords of at least 10 characters: office accounts send in the chairman's name.
pub const MIN_PASSWORD_CHARS: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ_by_salt() {
        let a = hash_password("mật khẩu dài đủ").unwrap();
        let b = hash_password("mật khẩu dài đủ").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b);
        assert!(verify_password("mật khẩu dài đủ", &a));
        assert!(!verify_password("mat khau dai du", &a));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn roles_grant_only_their_actions() {
        assert!(!Permission::Administer.allowed(Role::Clerk));
        assert!(!Permission::Prepare.allowed(Role::Approver));
        assert!(Permission::Prepare.allowed(Role::Clerk));
        assert!(Permission::Administer.allowed(Role::Admin));
        assert!(Permission::View.allowed(Role::Approver));
    }

    #[test]
    fn the_sixth_wrong_password_is_throttled() {
        assert!(!throttled(MAX_FAILURES - 1, 0));
        assert!(throttled(MAX_FAILURES, 0));
        assert!(!valid_user_name("../etc"));
        assert!(valid_user_name("van-thu.lan"));
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd"));
        assert_eq!(random_token().unwrap().len(), 64);
    }

    #[test]
    fn a_tried_name_is_cut_and_its_hidden_characters_written_out() {
        assert_eq!(tried_name("van-thu.lan"), "van-thu.lan");
        assert_eq!(tried_name("Trần"), "Trần");
        assert_eq!(
            tried_name("admin\nđăng nhập\u{202e}x\u{200b}"),
            "admin<U+000A>đăng nhập<U+202E>x<U+200B>"
        );
        let long = tried_name(&"a".repeat(10_000));
        assert_eq!(long.chars().count(), MAX_TRIED_NAME_CHARS + 1);
        assert!(long.ends_with('…'));
        // An escape is never cut in half.
        let cut = tried_name(&format!("{}\u{7}", "b".repeat(60)));
        assert_eq!(cut, format!("{}…", "b".repeat(60)));
        for c in [
            '\u{0}',
            '\u{1b}',
            '\u{85}',
            '\u{2066}',
            '\u{feff}',
            '\u{e0041}',
            '\u{fe0f}',
        ] {
            assert!(!tried_name(&c.to_string()).contains(c), "{:04X}", c as u32);
        }
        // The longest valid name is kept whole.
        let longest = "x".repeat(MAX_TRIED_NAME_CHARS);
        assert!(valid_user_name(&longest));
        assert_eq!(tried_name(&longest), longest);
    }
}
