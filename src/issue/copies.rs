//! `vanban copy`: an electronic copy ("sao y", Decree 30/2020 Arts. 25–26) of an issued
//! document. The filed PDF, with the person's and the organisation's signatures it was issued
//! with, gets one more incremental update: the copying organisation's digital signature, visible
//! as the stamp Phụ lục I prescribes for box 14 (top right of page 1, Times New Roman 10 pt
//! upright black: the form of copy, the copying body, the signing time in ISO 8601, Vietnam
//! time). The earlier signatures stay intact. Each copy is recorded: which number, by whom, when.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};

use super::approval::document_label;
use super::filing::{DocId, is_attachment_name, issuer_key, sha256_hex};
use super::org_stamp::{self, StampError};
use super::register::{Register, RegisterError};
use super::replacement::{self, ReplaceError};
use super::sign::{self, SignError, Signing};
use super::signatures::{IssuingBody, SigningError, ToSign, open_keys};
use crate::clock::{Clock, VIETNAM, local_time};
use crate::config::SigningSettings;
use crate::model::{DocumentKind, Period};
use crate::render::pdf::{PdfEngine, PdfError};
use crate::render::templates::Templates;
use crate::state::{Store, StoreError, params, time_to_sql};
use crate::vi::names::shown;

/// The copy's signature field (the original carries "ChuKyNguoiKy" and "ChuKyCoQuan").
pub const FIELD_NAME: &str = "ChuKySaoY";

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Select(#[from] ReplaceError),
    #[error("cần ghi tên người làm bản sao (--by)")]
    NoName,
    #[error("tên người làm bản sao (--by) không dùng được: {0}")]
    BadName(crate::vi::names::NameError),
    #[error(
        "sao y cần chữ ký số của cơ quan: tệp cấu hình chưa có mục [signing] (xem README, \
         «Chữ ký số»)"
    )]
    NoSigning,
    #[error("{0} chưa ban hành (chưa có số): chỉ sao y được văn bản đã ban hành")]
    NotIssued(String),
    #[error("văn bản số {0} không có tệp PDF đã ban hành để sao")]
    NoPdf(String),
    #[error("không đọc được tệp đã ban hành {path} của văn bản số {number}: {reason}")]
    Missing {
        path: PathBuf,
        number: String,
        reason: String,
    },
    #[error(
        "tệp {path} không còn giống bản đã ban hành của văn bản số {number} (SHA-256 khác sổ \
         đăng ký): không sao y một tệp đã bị sửa; hãy khôi phục tệp từ bản sao lưu"
    )]
    Altered { path: PathBuf, number: String },
    #[error("{path} đã có: không ghi đè; chọn tên khác bằng --out")]
    Exists { path: PathBuf },
    #[error("không ghi được bản sao {path}: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error(transparent)]
    Register(Box<RegisterError>),
    #[error(transparent)]
    Signing(Box<SigningError>),
    #[error("không ký được bản sao của văn bản số {number}: {error}")]
    Sign { number: String, error: SignError },
    #[error(transparent)]
    Stamp(#[from] StampError),
    #[error("không tạo được bản sao: {0}")]
    Engine(#[from] PdfError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<RegisterError> for CopyError {
    fn from(error: RegisterError) -> Self {
        CopyError::Register(Box::new(error))
    }
}

impl From<SigningError> for CopyError {
    fn from(error: SigningError) -> Self {
        CopyError::Signing(Box::new(error))
    }
}

/// What the clerk asks for.
#[derive(Debug, Clone)]
pub struct CopyRequest<'a> {
    pub kind: DocumentKind,
    /// The unit of an assignment letter.
    pub unit: Option<&'a str>,
    /// Who makes the copy (the clerk holding the organisation's key).
    pub made_by: &'a str,
    /// Where to write it; default `<dir>/ban-sao/<file>-sao-y-<time>.pdf`.
    pub out: Option<&'a Path>,
}

/// A copy made and recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeCopy {
    /// The copied document's number and symbol, "02/TB-UBND".
    pub number: String,
    pub document: String,
    pub path: PathBuf,
    /// The copying body's full name, as the stamp shows it.
    pub body: String,
    /// The organisation certificate's subject.
    pub subject: String,
    pub at: DateTime<Utc>,
    pub sha256: String,
}

/// The default place of a copy: beside the period's filed documents, in "ban-sao/", named
/// after the document's file stem ("02-thong-bao-ket-luan": lower-case ASCII, no spaces, safe in
/// a shell and a URL) and the time it was made.
pub fn default_path(dir: &Path, stem: &str, at: DateTime<Utc>) -> PathBuf {
    let time = at.with_timezone(&VIETNAM).format("%Y%m%d-%H%M%S");
    copies_dir(dir).join(format!("{stem}-sao-y-{time}.pdf"))
}

/// The folder of the copies of a period whose filed documents are in `dir`.
pub fn copies_dir(dir: &Path) -> PathBuf {
    dir.join("ban-sao")
}

/// Makes an electronic copy of the issued document `request` names, from its file filed in
/// `dir`, signed with the key of the body that issued it, and records it. Nothing is written
/// or recorded unless every step succeeds: a missing key, an expired certificate, a filed file
/// that is gone or altered stop it first.
pub fn make_copy(
    store: &Store,
    clock: &dyn Clock,
    period: &Period,
    signing: Option<&SigningSettings>,
    dir: &Path,
    request: &CopyRequest<'_>,
) -> Result<MadeCopy, CopyError> {
    let made_by = request
        .made_by
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let made_by = crate::vi::names::person_name(&made_by).map_err(|error| match error {
        crate::vi::names::NameError::Empty => CopyError::NoName,
        error => CopyError::BadName(error),
    })?;
    let id: DocId = replacement::select(period, request.kind, request.unit)?;
    let settings = signing.ok_or(CopyError::NoSigning)?;
    let issuer = issuer_key(period.issuer_of(id.kind));
    let document_key = id.register_key(period);
    let entry = Register::new(store)
        .find_issued(&issuer, &document_key)?
        .ok_or_else(|| CopyError::NotIssued(document_label(&id)))?;
    let number = entry.number_and_symbol();
    let issued = entry
        .issued
        .as_ref()
        .ok_or_else(|| CopyError::NotIssued(document_label(&id)))?;
    let source = issued
        .document
        .files
        .iter()
        .find(|f| f.name.ends_with(".pdf") && !is_attachment_name(&f.name))
        .ok_or_else(|| CopyError::NoPdf(number.clone()))?;
    let source_path = dir.join(&source.name);
    let original = std::fs::read(&source_path).map_err(|e| CopyError::Missing {
        path: source_path.clone(),
        number: number.clone(),
        reason: crate::vi::errors::io_error(&e),
    })?;
    if sha256_hex(&original) != source.sha256 {
        return Err(CopyError::Altered {
            path: source_path,
            number,
        });
    }

    // Whole seconds: the stamp shows them, and /M must say the same time.
    let now = clock.now().trunc_subsecs(0);
    let body = IssuingBody::of(period, id.kind);
    let to_sign = ToSign {
        signers: Vec::new(),
        bodies: vec![body.clone()],
    };
    let keys = open_keys(settings, &to_sign, now)?;
    let key = keys
        .organisation_key(&body.key)
        .ok_or_else(|| SigningError::NoOrganisationKey {
            name: body.name.clone(),
            abbr: body.abbr.clone(),
        })?;
    let path = match request.out {
        Some(out) => out.to_path_buf(),
        None => {
            let stem = crate::render::plan(period, Some(id.kind), &|_, _| None)
                .into_iter()
                .find(|d| d.unit == id.unit)
                .map(|d| d.file_stem)
                .ok_or_else(|| CopyError::NotIssued(document_label(&id)))?;
            default_path(dir, &stem, now)
        }
    };
    if path.exists() {
        return Err(CopyError::Exists { path });
    }

    let engine = PdfEngine::new(&Templates::builtin())?;
    let appearance = org_stamp::appearance(&engine, &org_stamp::copy_lines(&body.name, now), now)?;
    let signing_error = |error: SignError| CopyError::Sign {
        number: number.clone(),
        error,
    };
    let signing = Signing {
        key,
        field_name: FIELD_NAME.to_owned(),
        reason: Some("Sao y bản chính (bản sao điện tử)".to_owned()),
        appearance: Some(&appearance),
    };
    let copy = sign::sign_pdf(&original, &signing, keys.tsa(), now).map_err(signing_error)?;
    let made = MadeCopy {
        number,
        document: document_label(&id),
        path,
        body: body.name.clone(),
        subject: sign::certificate::subject_name(key.certificate()),
        at: now,
        sha256: sha256_hex(&copy),
    };
    // Two copies in the same second (two clerks, a double click) share a name: the second is
    // refused, never written over the first, whose record holds its hash.
    crate::files::write_new(&made.path, &copy).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => CopyError::Exists {
            path: made.path.clone(),
        },
        _ => CopyError::Write {
            path: made.path.clone(),
            reason: crate::vi::errors::io_error(&e),
        },
    })?;
    // A copy on disk that the record does not know of would be an unregistered copy: removed.
    if let Err(error) = record(store, &issuer, &document_key, &source.name, &made, &made_by) {
        let _ = std::fs::remove_file(&made.path);
        return Err(error.into());
    }
    Ok(made)
}

fn record(
    store: &Store,
    issuer: &str,
    document_key: &str,
    source_file: &str,
    made: &MadeCopy,
    made_by: &str,
) -> Result<(), StoreError> {
    store.write(|tx| {
        tx.execute(
            "INSERT INTO copies (issuer, document_key, number, source_file, form, copied_by,
                   subject, made_by, made_at, file, sha256)
                 VALUES (?1, ?2, ?3, ?4, 'sao-y', ?5, ?6, ?7, ?8, ?9, ?10)",
            params![
                issuer,
                document_key,
                made.number,
                source_file,
                made.body,
                made.subject,
                made_by,
                time_to_sql(&made.at),
                made.path.display().to_string(),
                made.sha256
            ],
        )?;
        Ok(())
    })
}

/// One recorded copy, as `vanban status` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyRecord {
    pub number: String,
    pub made_by: String,
    pub made_at: DateTime<Utc>,
    pub file: String,
}

impl std::fmt::Display for CopyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bản sao y số {}: {} làm lúc {}, tệp {}",
            shown(&self.number),
            shown(&self.made_by),
            local_time(self.made_at),
            shown(&self.file)
        )
    }
}

/// The copies made of the documents of `period`, oldest first.
pub fn copies_of_period(store: &Store, period: &Period) -> Result<Vec<CopyRecord>, StoreError> {
    let prefix = format!("{}/", period.key());
    store.read(|tx| {
        let mut statement = tx.prepare(
            "SELECT number, made_by, made_at, file FROM copies
             WHERE substr(document_key, 1, length(?1)) = ?1 ORDER BY id",
        )?;
        let rows = statement.query_map(params![prefix], |row| {
            Ok(CopyRecord {
                number: row.get(0)?,
                made_by: row.get(1)?,
                made_at: crate::state::time_from_row(row, 2)?,
                file: row.get(3)?,
            })
        })?;
        rows.collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_copy_goes_beside_the_filed_documents_named_after_its_source_and_time() {
        let at = Utc.with_ymd_and_hms(2026, 11, 30, 2, 15, 30).unwrap();
        assert_eq!(
            default_path(Path::new("out/2024-h1"), "02-thong-bao-ket-luan", at),
            Path::new("out/2024-h1/ban-sao/02-thong-bao-ket-luan-sao-y-20261130-091530.pdf")
        );
    }
}
