//! Signing what vanban issues with the keys `[signing]` names: every key opened and its certificate
//! checked before any number is reserved, each newly issued PDF signed by the person in its
//! signature block and then by the organisation, and each signature recorded as its own step.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::state::params;
use chrono::{DateTime, Utc};

use super::sign::{
    self, CertificateError, KeyError, SecretSource, SignError, SignerKeySource, SigningKey,
    TsaClient, certificate,
};
use crate::config::{
    ImageLimits, KeyLocation, OrganisationKey, SecretRef, SigningSettings, same_person,
};
use crate::render::{PlannedDocument, TemplateImage};
use crate::state::{Store, StoreError, time_from_row, time_to_sql};

/// Whose key: the person who signs, or the issuing organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Signer,
    Organisation,
}

impl Role {
    fn slug(self) -> &'static str {
        match self {
            Role::Signer => "signer",
            Role::Organisation => "organisation",
        }
    }

    fn from_slug(slug: &str) -> Option<Role> {
        match slug {
            "signer" => Some(Role::Signer),
            "organisation" => Some(Role::Organisation),
            _ => None,
        }
    }
}

/// Whose key, as the messages name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    Signer(String),
    /// An issuing body, with the `[signing]` entry its key comes from.
    Organisation {
        name: String,
        entry: String,
    },
}

impl std::fmt::Display for KeyOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOwner::Signer(name) => write!(f, "người ký «{name}»"),
            KeyOwner::Organisation { name, entry } => {
                write!(f, "cơ quan ban hành «{name}» ({entry})")
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SigningError {
    #[error(
        "văn bản do «{name}» ký nhưng mục [signing] của tệp cấu hình không có người ký này: thêm \
         [[signing.signers]] với name = \"{name}\", khóa ký số (pkcs12 hoặc pkcs11_module) và \
         signature_image. Chưa cấp số, chưa gửi thư nào."
    )]
    NoSignerKey { name: String },
    #[error("khóa ký số của {owner}: {error} Chưa cấp số, chưa gửi thư nào.")]
    Key { owner: KeyOwner, error: KeyError },
    #[error("chứng thư số của {owner}: {error} Chưa cấp số, chưa gửi thư nào.")]
    Certificate {
        owner: KeyOwner,
        error: CertificateError,
    },
    #[error("{what} {}: {problem}. Chưa cấp số, chưa gửi thư nào.", .path.display())]
    Image {
        what: String,
        path: PathBuf,
        problem: ImageProblem,
    },
    #[error("ký số văn bản {document} không thành công: {error}")]
    Sign { document: String, error: SignError },
    #[error(
        "văn bản do «{name}» ban hành nhưng mục [signing] của tệp cấu hình không có khóa ký số và \
         con dấu của cơ quan này: thêm [[signing.issuers]] với issuer = \"{abbr}\", khóa ký số \
         (pkcs12 hoặc pkcs11_module) và seal_image (không dùng con dấu của cơ quan khác). Chưa \
         cấp số, chưa gửi thư nào."
    )]
    NoOrganisationKey { name: String, abbr: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A body whose documents are about to be issued and signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuingBody {
    /// Its key in the register (`filing::issuer_key`).
    pub key: String,
    pub abbr: String,
    pub name: String,
    /// The period's own issuer, signed with the default `[signing].organisation`.
    pub is_period_issuer: bool,
}

impl IssuingBody {
    /// The body issuing `kind` in `period`.
    pub fn of(period: &crate::model::Period, kind: crate::model::DocumentKind) -> IssuingBody {
        let issuer = period.issuer_of(kind);
        IssuingBody {
            key: super::filing::issuer_key(issuer),
            abbr: issuer.abbr.clone(),
            name: issuer.name.clone(),
            is_period_issuer: super::filing::issuer_key(issuer)
                == super::filing::issuer_key(&period.issuer),
        }
    }

    fn settings<'s>(&self, settings: &'s SigningSettings) -> Option<(&'s OrganisationKey, String)> {
        settings.organisation_for(&self.key, &self.abbr, self.is_period_issuer)
    }
}

/// Who signs the documents about to be issued: the people in their signature blocks and the
/// bodies issuing them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToSign {
    pub signers: Vec<String>,
    pub bodies: Vec<IssuingBody>,
}

impl ToSign {
    pub fn is_empty(&self) -> bool {
        self.signers.is_empty() && self.bodies.is_empty()
    }

    /// Adds a document's signer and body, each once.
    pub fn add(&mut self, signer: &str, body: IssuingBody) {
        if !self.signers.iter().any(|s| same_person(s, signer)) {
            self.signers.push(signer.to_owned());
        }
        if !self.bodies.iter().any(|b| b.key == body.key) {
            self.bodies.push(body);
        }
    }
}

/// A signer's opened key and signature image.
struct OpenedSigner {
    name: String,
    key: SigningKey,
    image: Arc<[u8]>,
}

/// An issuing body's opened key and seal image.
struct OpenedOrganisation {
    /// The body's key in the register.
    issuer: String,
    key: SigningKey,
    seal: Arc<[u8]>,
}

/// The keys of one run, opened and checked, with the images the page shows.
pub struct Keys {
    signers: Vec<OpenedSigner>,
    organisations: Vec<OpenedOrganisation>,
    tsa: Option<TsaClient>,
}

/// Where the template finds the images (virtual paths beside the templates).
const SIGNATURE_PATH: &str = "/chu-ky.png";
const SEAL_PATH: &str = "/con-dau.png";

/// What is wrong with a signature or seal image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageProblem {
    #[error("không đọc được ({0})")]
    Unreadable(String),
    #[error("không phải ảnh PNG (cần ảnh PNG nền trong suốt)")]
    NotPng,
    #[error(
        "lớn {kb} KB, quá giới hạn {limit_kb} KB (limits.image_max_kb của tệp cấu hình): ảnh \
         được in vào mọi văn bản được ký và gửi theo mọi thư; hãy lưu ảnh nhỏ hơn (ảnh chữ ký, \
         con dấu chỉ cần vài trăm KB) hoặc nâng limits.image_max_kb"
    )]
    TooLarge { kb: u64, limit_kb: u64 },
    #[error(
        "rộng {width} × cao {height} điểm ảnh, quá giới hạn {limit} điểm ảnh mỗi chiều \
         (limits.image_max_side_px của tệp cấu hình); hãy thu nhỏ ảnh (con dấu 36 mm quét ở 1200 \
         dpi là 1700 điểm ảnh) hoặc nâng limits.image_max_side_px"
    )]
    TooManyPixels { width: u32, height: u32, limit: u32 },
    #[error(
        "là ảnh PNG hỏng hoặc bị cắt cụt: không giải mã được hết ảnh; hãy lưu lại ảnh từ tệp gốc"
    )]
    Broken,
}

/// Reads a signature or seal image and checks all of it, within `limits`: the file's size
/// first (from the file system, and never more than the limit is read), then the PNG header's
/// width and height before any pixel is decoded, then every pixel and chunk to the end. An
/// image that passes this draws in every document; one that would fail in the middle of
/// issuing (a truncated file) or make every message too large for the mail server (a 50 MB
/// scan) is stopped here, before any number is reserved. `check --config`, `send` and `copy`
/// all come through this one function.
pub fn read_image(path: &Path, limits: &ImageLimits) -> Result<Arc<[u8]>, ImageProblem> {
    use std::io::Read;
    let unreadable = |e: std::io::Error| ImageProblem::Unreadable(crate::vi::errors::io_error(&e));
    let too_large = |bytes: u64| ImageProblem::TooLarge {
        kb: bytes.div_ceil(1024),
        limit_kb: limits.max_bytes / 1024,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let size = file.metadata().map_err(unreadable)?.len();
    if size > limits.max_bytes {
        return Err(too_large(size));
    }
    let mut bytes = Vec::new();
    file.take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if bytes.len() as u64 > limits.max_bytes {
        return Err(too_large(bytes.len() as u64));
    }
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Err(ImageProblem::NotPng);
    }
    let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
    // The decoder's own cap on what it allocates, beyond the side check below.
    let side = u64::from(limits.max_side_px);
    decoder.set_limits(png::Limits {
        bytes: usize::try_from(side.saturating_mul(side).saturating_mul(8)).unwrap_or(usize::MAX),
    });
    // The header (IHDR) alone first: its width and height are weighed before anything is
    // allocated for the pixels.
    let (width, height) = decoder
        .read_header_info()
        .map(|info| (info.width, info.height))
        .map_err(|_| ImageProblem::Broken)?;
    if width > limits.max_side_px || height > limits.max_side_px {
        return Err(ImageProblem::TooManyPixels {
            width,
            height,
            limit: limits.max_side_px,
        });
    }
    let mut reader = decoder.read_info().map_err(|_| ImageProblem::Broken)?;
    let size = reader.output_buffer_size().ok_or(ImageProblem::Broken)?;
    let mut pixels = vec![0; size];
    reader
        .next_frame(&mut pixels)
        .map_err(|_| ImageProblem::Broken)?;
    // The chunks after the pixels, to IEND: a file cut after its image data is cut all the same.
    reader.finish().map_err(|_| ImageProblem::Broken)?;
    Ok(bytes.into())
}

/// [`read_image`] for the keys about to be opened: the problem said with whose image it is.
fn read_png(what: String, path: &Path, limits: &ImageLimits) -> Result<Arc<[u8]>, SigningError> {
    read_image(path, limits).map_err(|problem| SigningError::Image {
        what,
        path: path.to_path_buf(),
        problem,
    })
}

impl Keys {
    /// The opened key of the issuing body registered as `issuer` (`filing::issuer_key`).
    pub fn organisation_key(&self, issuer: &str) -> Option<&SigningKey> {
        self.organisations
            .iter()
            .find(|o| o.issuer == issuer)
            .map(|o| &o.key)
    }

    /// The time-stamping authority, when `[signing] tsa_url` asks for PAdES B-T.
    pub fn tsa(&self) -> Option<&TsaClient> {
        self.tsa.as_ref()
    }

    /// Gives a document about to be issued the signer's signature image and the organisation's
    /// seal: its context names them, its PDF template reads them.
    pub fn add_images(&self, document: &mut PlannedDocument, issuer: &str) {
        let name = document.context.signer.name.clone();
        let Some(signer) = self.signers.iter().find(|s| same_person(&s.name, &name)) else {
            return;
        };
        let Some(organisation) = self.organisations.iter().find(|o| o.issuer == issuer) else {
            return;
        };
        document.context.signer.signature_image = Some(SIGNATURE_PATH.to_owned());
        document.context.signer.seal_image = Some(SEAL_PATH.to_owned());
        document.images = vec![
            TemplateImage {
                path: SIGNATURE_PATH.to_owned(),
                bytes: Arc::clone(&signer.image),
            },
            TemplateImage {
                path: SEAL_PATH.to_owned(),
                bytes: Arc::clone(&organisation.seal),
            },
        ];
    }
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("signers", &self.signers.len())
            .finish_non_exhaustive()
    }
}

/// The library's key source for a configured location (the config layer knows nothing of keys).
pub fn key_source(location: &KeyLocation) -> SignerKeySource {
    let secret = |s: &SecretRef| match s {
        SecretRef::Env(name) => SecretSource::Env(name.clone()),
        SecretRef::File(path) => SecretSource::File(path.clone()),
    };
    match location {
        KeyLocation::Pkcs12 { path, password } => SignerKeySource::Pkcs12 {
            path: path.clone(),
            password: secret(password),
        },
        KeyLocation::Pkcs11 {
            module,
            token,
            key_label,
            pin,
        } => SignerKeySource::Pkcs11 {
            module: module.clone(),
            token: token.clone(),
            key_label: key_label.clone(),
            pin: secret(pin),
        },
    }
}

fn open_checked(
    location: &KeyLocation,
    owner: KeyOwner,
    now: DateTime<Utc>,
) -> Result<SigningKey, SigningError> {
    let key = SigningKey::open(&key_source(location)).map_err(|error| match error {
        KeyError::Certificate(error) => SigningError::Certificate {
            owner: owner.clone(),
            error,
        },
        error => SigningError::Key {
            owner: owner.clone(),
            error,
        },
    })?;
    certificate::check(key.certificate(), now)
        .map_err(|error| SigningError::Certificate { owner, error })?;
    Ok(key)
}

/// Opens the key of every person and every issuing body in `to_sign` (the signature blocks and
/// issuers of the documents about to be issued), and checks each certificate at `now`. Called
/// before any number is reserved: a missing, expired or wrong key stops the run with nothing
/// used up.
pub fn open_keys(
    settings: &SigningSettings,
    to_sign: &ToSign,
    now: DateTime<Utc>,
) -> Result<Keys, SigningError> {
    // First what needs no secret: every entry found and every image read whole, so a bad image
    // is said even when a key would also fail, and no token is asked for a PIN in vain.
    let mut signers: Vec<(&crate::config::SignerKey, Arc<[u8]>)> = Vec::new();
    for name in &to_sign.signers {
        if signers
            .iter()
            .any(|(entry, _)| same_person(&entry.name, name))
        {
            continue;
        }
        let entry = settings
            .signer(name)
            .ok_or_else(|| SigningError::NoSignerKey { name: name.clone() })?;
        let image = read_png(
            format!("ảnh chữ ký của «{}»", entry.name),
            &entry.signature_image,
            &settings.images,
        )?;
        signers.push((entry, image));
    }
    let mut bodies = Vec::new();
    for body in &to_sign.bodies {
        let (entry, label) =
            body.settings(settings)
                .ok_or_else(|| SigningError::NoOrganisationKey {
                    name: body.name.clone(),
                    abbr: body.abbr.clone(),
                })?;
        let seal = read_png(
            format!("ảnh con dấu của «{}» ({label})", body.name),
            &entry.seal_image,
            &settings.images,
        )?;
        bodies.push((body, entry, label, seal));
    }
    // Then the keys, each certificate checked.
    let mut opened: Vec<OpenedSigner> = Vec::new();
    for (entry, image) in signers {
        let key = open_checked(&entry.key, KeyOwner::Signer(entry.name.clone()), now)?;
        opened.push(OpenedSigner {
            name: entry.name.clone(),
            key,
            image,
        });
    }
    let mut organisations = Vec::new();
    for (body, entry, label, seal) in bodies {
        let owner = KeyOwner::Organisation {
            name: body.name.clone(),
            entry: label,
        };
        let key = open_checked(&entry.key, owner, now)?;
        organisations.push(OpenedOrganisation {
            issuer: body.key.clone(),
            key,
            seal,
        });
    }
    Ok(Keys {
        signers: opened,
        organisations,
        tsa: settings.tsa_url.clone().map(TsaClient::new),
    })
}

/// Problems `check` reports for a `[signing]` section without opening any key (that needs the
/// secrets): a signer or an issuing body of the period's documents with no entry, a key file or
/// image that is not there or an image that is not a PNG.
pub fn setting_problems(settings: &SigningSettings, to_sign: &ToSign) -> Vec<String> {
    let mut problems = Vec::new();
    // Images are checked whole, as `open_keys` checks them (`read_image`); a key file only for
    // being there: opening it needs its secret.
    let mut file = |what: String, path: &Path, png: bool| {
        let problem = match png {
            true => read_image(path, &settings.images).err(),
            false => std::fs::read(path)
                .err()
                .map(|e| ImageProblem::Unreadable(crate::vi::errors::io_error(&e))),
        };
        if let Some(problem) = problem {
            problems.push(format!("{what} {}: {problem}", path.display()));
        }
    };
    let key_file = |location: &KeyLocation| -> Option<PathBuf> {
        match location {
            KeyLocation::Pkcs12 { path, .. } => Some(path.clone()),
            KeyLocation::Pkcs11 { module, .. } => Some(module.clone()),
        }
    };
    let mut bodies_without_key = Vec::new();
    for body in &to_sign.bodies {
        match body.settings(settings) {
            Some((entry, label)) => {
                if let Some(path) = key_file(&entry.key) {
                    file(
                        format!("khóa ký số của «{}» ({label})", body.name),
                        &path,
                        false,
                    );
                }
                file(
                    format!("ảnh con dấu của «{}» ({label})", body.name),
                    &entry.seal_image,
                    true,
                );
            }
            None => bodies_without_key.push(body),
        }
    }
    let signers = &to_sign.signers;
    let mut missing = Vec::new();
    for name in signers {
        match settings.signer(name) {
            Some(entry) => {
                if let Some(path) = key_file(&entry.key) {
                    file(format!("khóa ký số của «{}»", entry.name), &path, false);
                }
                file(
                    format!("ảnh chữ ký của «{}»", entry.name),
                    &entry.signature_image,
                    true,
                );
            }
            None if !missing.iter().any(|m: &String| same_person(m, name)) => {
                missing.push(name.clone());
            }
            None => {}
        }
    }
    for name in missing {
        problems.push(format!(
            "văn bản do «{name}» ký nhưng mục [signing] không có người ký này ([[signing.signers]] \
             với name = \"{name}\", khóa ký số và signature_image)"
        ));
    }
    for body in bodies_without_key {
        problems.push(format!(
            "văn bản do «{}» ban hành nhưng mục [signing] không có khóa ký số và con dấu của cơ \
             quan này ([[signing.issuers]] với issuer = \"{}\", khóa ký số và seal_image)",
            body.name, body.abbr
        ));
    }
    problems
}

/// One signature added to one file of an issued document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureRecord {
    pub issuer: String,
    pub document_key: String,
    pub file_name: String,
    /// 1 for the signer, 2 for the organisation: the order of the incremental updates.
    pub position: u32,
    pub role: Role,
    /// The certificate's subject (its common name).
    pub subject: String,
    pub signed_at: DateTime<Utc>,
    /// SHA-256 of the PDF right after this signature.
    pub sha256: String,
}

/// Where a PDF goes in the register, for its signature records.
pub struct FileRef<'a> {
    pub issuer: &'a str,
    pub document_key: &'a str,
    pub file_name: &'a str,
    /// The document's number and symbol, for messages.
    pub label: &'a str,
}

/// The key of the body issuing `file`. `open_keys` opened every issuing body's key; a body
/// missing here is one it was not asked about, named by its register key.
fn organisation_key<'k>(
    keys: &'k Keys,
    file: &FileRef<'_>,
) -> Result<&'k SigningKey, SigningError> {
    keys.organisation_key(file.issuer)
        .ok_or_else(|| SigningError::NoOrganisationKey {
            name: file.issuer.to_owned(),
            abbr: file
                .issuer
                .split('/')
                .next()
                .unwrap_or_default()
                .to_uppercase(),
        })
}

/// Signs `pdf` as Decree 30 requires: the person named `signer` (the signature block's name), then
/// the organisation. Both certificates are checked again at `now` before the first signature.
pub fn sign_document(
    keys: &Keys,
    signer: &str,
    pdf: &[u8],
    file: &FileRef<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<SignatureRecord>), SigningError> {
    let person = keys
        .signers
        .iter()
        .find(|s| same_person(&s.name, signer))
        .map(|s| &s.key)
        .ok_or_else(|| SigningError::NoSignerKey {
            name: signer.to_owned(),
        })?;
    let failed = |error: SignError| SigningError::Sign {
        document: file.label.to_owned(),
        error,
    };
    let organisation = organisation_key(keys, file)?;
    let signings = sign::decree30_steps(person, organisation);
    let roles = [Role::Signer, Role::Organisation];
    // Both certificates are checked before the first signature; the file is parsed once.
    let (bytes, ends) =
        sign::sign_pdf_in_turn(pdf, &signings, keys.tsa.as_ref(), now).map_err(failed)?;
    let records = (1u32..)
        .zip(roles.into_iter().zip(signings.iter()).zip(ends))
        .map(|(position, ((role, signing), end))| SignatureRecord {
            issuer: file.issuer.to_owned(),
            document_key: file.document_key.to_owned(),
            file_name: file.file_name.to_owned(),
            position,
            role,
            subject: certificate::subject_name(signing.key.certificate()),
            signed_at: now,
            sha256: super::filing::sha256_hex(&bytes[..end]),
        })
        .collect();
    Ok((bytes, records))
}

/// Signs a separate-file attachment of a document being issued: the organisation's signature
/// only, visible as `appearance` (the document's number and the signing time, Decree 30 box 14).
/// The certificate is checked again at `now` first.
pub fn sign_attachment(
    keys: &Keys,
    appearance: &sign::Appearance,
    pdf: &[u8],
    file: &FileRef<'_>,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<SignatureRecord>), SigningError> {
    let key = organisation_key(keys, file)?;
    let signing = sign::Signing {
        key,
        field_name: "ChuKyCoQuan".into(),
        reason: Some("Chữ ký số của cơ quan trên văn bản kèm theo".into()),
        appearance: Some(appearance),
    };
    let bytes = sign::sign_pdf(pdf, &signing, keys.tsa.as_ref(), now).map_err(|error| {
        SigningError::Sign {
            document: format!("{} (văn bản kèm theo {})", file.label, file.file_name),
            error,
        }
    })?;
    let record = SignatureRecord {
        issuer: file.issuer.to_owned(),
        document_key: file.document_key.to_owned(),
        file_name: file.file_name.to_owned(),
        position: 1,
        role: Role::Organisation,
        subject: certificate::subject_name(key.certificate()),
        signed_at: now,
        sha256: super::filing::sha256_hex(&bytes),
    };
    Ok((bytes, vec![record]))
}

/// Records the signatures of a document's files (one transaction). Recording the same signature
/// twice is a no-op.
pub fn record(store: &Store, records: &[SignatureRecord]) -> Result<(), StoreError> {
    if records.is_empty() {
        return Ok(());
    }
    store.write(|tx| {
        for r in records {
            tx.execute(
                "INSERT OR IGNORE INTO signatures
                       (issuer, document_key, file_name, position, role, subject, signed_at, sha256)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    r.issuer,
                    r.document_key,
                    r.file_name,
                    r.position,
                    r.role.slug(),
                    r.subject,
                    time_to_sql(&r.signed_at),
                    r.sha256
                ],
            )?;
        }
        Ok(())
    })
}

/// The signatures recorded for a document, oldest first.
pub fn recorded(
    store: &Store,
    issuer: &str,
    document_key: &str,
) -> Result<Vec<SignatureRecord>, StoreError> {
    store.read(|tx| {
        let mut stmt = tx.prepare(
            "SELECT file_name, position, role, subject, signed_at, sha256 FROM signatures
             WHERE issuer = ?1 AND document_key = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![issuer, document_key], |row| {
            let role: String = row.get(2)?;
            Ok(SignatureRecord {
                issuer: issuer.to_owned(),
                document_key: document_key.to_owned(),
                file_name: row.get(0)?,
                position: row.get(1)?,
                role: Role::from_slug(&role).unwrap_or(Role::Organisation),
                // A certificate's subject is printed by `status`: written out if it holds
                // invisible or control characters (`vi::names::shown`).
                subject: crate::vi::names::shown(&row.get::<_, String>(3)?).into_owned(),
                signed_at: time_from_row(row, 4)?,
                sha256: row.get(5)?,
            })
        })?;
        rows.collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{OrganisationKey, SignerKey};
    use chrono::TimeZone;

    /// A real PNG: images are decoded whole before any key is opened.
    const PNG: &[u8] = include_bytes!("../../tests/fixtures/sign/chu-ky.png");

    fn committee() -> IssuingBody {
        IssuingBody {
            key: "ubnd/đầm hà".into(),
            abbr: "UBND".into(),
            name: "Ủy ban nhân dân huyện Đầm Hà".into(),
            is_period_issuer: true,
        }
    }

    fn office() -> IssuingBody {
        IssuingBody {
            key: "vp/đầm hà".into(),
            abbr: "VP".into(),
            name: "Văn phòng HĐND và UBND huyện Đầm Hà".into(),
            is_period_issuer: false,
        }
    }

    /// The committee's documents, signed by `names`.
    fn to_sign(names: &[String]) -> ToSign {
        let mut to_sign = ToSign::default();
        for name in names {
            to_sign.add(name, committee());
        }
        to_sign
    }

    fn settings(dir: &Path) -> SigningSettings {
        let key = |name: &str| KeyLocation::Pkcs12 {
            path: dir.join(name),
            password: SecretRef::Env("VANBAN_KHONG_CO".into()),
        };
        SigningSettings {
            organisation: OrganisationKey {
                key: key("ubnd.p12"),
                seal_image: dir.join("con-dau.png"),
            },
            issuers: Vec::new(),
            signers: vec![SignerKey {
                name: "Hoàng Vĩnh Khuyến".into(),
                key: key("khuyen.p12"),
                signature_image: dir.join("khuyen.jpg"),
            }],
            tsa_url: None,
            images: ImageLimits::default(),
        }
    }

    #[test]
    fn check_names_a_signer_without_an_entry_and_an_image_that_is_not_a_png() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ubnd.p12"), b"p12").unwrap();
        std::fs::write(dir.path().join("khuyen.p12"), b"p12").unwrap();
        std::fs::write(dir.path().join("con-dau.png"), PNG).unwrap();
        std::fs::write(dir.path().join("khuyen.jpg"), b"\xff\xd8\xff").unwrap();
        let names = vec!["Hoàng Vĩnh Khuyến".to_owned(), "Tô Xuân Lợi".to_owned()];
        let problems = setting_problems(&settings(dir.path()), &to_sign(&names));
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("ảnh chữ ký của «Hoàng Vĩnh Khuyến»"));
        assert!(problems[0].contains("không phải ảnh PNG"));
        assert!(problems[1].contains("«Tô Xuân Lợi»"));
        std::fs::remove_file(dir.path().join("ubnd.p12")).unwrap();
        let problems = setting_problems(&settings(dir.path()), &to_sign(&names[..1]));
        assert!(
            problems.iter().any(|p| p.contains(
                "khóa ký số của «Ủy ban nhân dân huyện Đầm Hà» ([signing].organisation)"
            )),
            "{problems:?}"
        );
    }

    #[test]
    fn a_missing_signer_or_secret_stops_before_anything_is_signed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("khuyen.jpg"), PNG).unwrap();
        std::fs::write(dir.path().join("con-dau.png"), PNG).unwrap();
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        let error = open_keys(
            &settings(dir.path()),
            &to_sign(&["Tô Xuân Lợi".into()]),
            now,
        )
        .unwrap_err();
        assert!(
            matches!(&error, SigningError::NoSignerKey { name } if name == "Tô Xuân Lợi"),
            "{error}"
        );
        // The password's variable is not set: named, with whose key it is.
        let error = open_keys(
            &settings(dir.path()),
            &to_sign(&["Hoàng Vĩnh Khuyến".into()]),
            now,
        )
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("người ký «Hoàng Vĩnh Khuyến»"), "{text}");
        assert!(text.contains("VANBAN_KHONG_CO"), "{text}");
        assert!(text.contains("Chưa cấp số"), "{text}");
    }

    #[test]
    fn another_body_without_its_own_key_is_refused_never_signed_with_the_committees_seal() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["ubnd.p12", "khuyen.p12", "vp.p12"] {
            std::fs::write(dir.path().join(file), b"p12").unwrap();
        }
        std::fs::write(dir.path().join("khuyen.jpg"), PNG).unwrap();
        std::fs::write(dir.path().join("con-dau.png"), PNG).unwrap();
        let mut to_sign = to_sign(&["Hoàng Vĩnh Khuyến".into()]);
        to_sign.add("Hoàng Vĩnh Khuyến", office());
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        let mut settings = settings(dir.path());
        // No entry for the Office: `check` says so, and so does `send` before any key is used.
        let problems = setting_problems(&settings, &to_sign);
        assert!(
            problems
                .iter()
                .any(|p| p.contains("«Văn phòng HĐND và UBND huyện Đầm Hà»")
                    && p.contains("issuer = \"VP\"")),
            "{problems:?}"
        );
        let mut office_only = ToSign::default();
        office_only.add("Hoàng Vĩnh Khuyến", office());
        // Opening the Office's key alone (the signer's secret is not set here) is refused
        // before any key file is read.
        let error = match open_keys(
            &SigningSettings {
                signers: Vec::new(),
                ..settings.clone()
            },
            &ToSign {
                signers: Vec::new(),
                bodies: office_only.bodies.clone(),
            },
            now,
        ) {
            Err(e) => e,
            Ok(_) => panic!("the Office was signed with another body's key"),
        };
        assert!(
            matches!(&error, SigningError::NoOrganisationKey { abbr, .. } if abbr == "VP"),
            "{error}"
        );
        assert!(error.to_string().contains("Chưa cấp số"), "{error}");
        // With its own entry, its files are checked under its own name.
        settings.issuers.push(crate::config::IssuerKey {
            issuer: "vp".into(),
            organisation: OrganisationKey {
                key: KeyLocation::Pkcs12 {
                    path: dir.path().join("vp.p12"),
                    password: SecretRef::Env("VANBAN_KHONG_CO".into()),
                },
                seal_image: dir.path().join("vp-dau.png"),
            },
        });
        let problems = setting_problems(&settings, &to_sign);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].contains("ảnh con dấu của «Văn phòng HĐND và UBND huyện Đầm Hà» ([[signing.issuers]] issuer = \"vp\")"),
            "{problems:?}"
        );
    }

    /// A PNG whose header says `width` × `height`, with a few bytes of pixels after it.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let chunk = |kind: &[u8], data: &[u8]| {
            let mut crc_input = kind.to_vec();
            crc_input.extend_from_slice(data);
            let mut out = (data.len() as u32).to_be_bytes().to_vec();
            out.extend_from_slice(&crc_input);
            out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
            out
        };
        let mut header = width.to_be_bytes().to_vec();
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&[8, 6, 0, 0, 0]);
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        png.extend(chunk(b"IHDR", &header));
        png.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x63, 0, 0, 0, 1, 0, 1]));
        png.extend(chunk(b"IEND", &[]));
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn an_image_is_read_whole_within_its_limits_before_any_key() {
        let dir = tempfile::tempdir().unwrap();
        let limits = ImageLimits::default();
        let write = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            path
        };
        assert_eq!(
            read_image(&write("ok.png", PNG), &limits).unwrap().len(),
            PNG.len()
        );
        // Cut anywhere after its header: refused, though it starts as a PNG.
        for cut in [40, PNG.len() / 2, PNG.len() - 12, PNG.len() - 1] {
            assert_eq!(
                read_image(&write("cut.png", &PNG[..cut]), &limits),
                Err(ImageProblem::Broken),
                "cut at {cut}"
            );
        }
        // 30000 × 30000 from its header, before a byte of pixels is allocated.
        let huge = png_header_only(30_000, 30_000);
        assert_eq!(
            read_image(&write("huge.png", &huge), &limits),
            Err(ImageProblem::TooManyPixels {
                width: 30_000,
                height: 30_000,
                limit: 4_000
            })
        );
        let narrow = ImageLimits {
            max_bytes: 1024,
            ..limits
        };
        let err = read_image(&write("ok.png", PNG), &narrow).unwrap_err();
        assert_eq!(err, ImageProblem::TooLarge { kb: 2, limit_kb: 1 });
        assert!(err.to_string().contains("limits.image_max_kb"), "{err}");
        assert!(
            ImageProblem::TooManyPixels {
                width: 1,
                height: 1,
                limit: 1
            }
            .to_string()
            .contains("limits.image_max_side_px")
        );

        // `check` and `send` both say it, naming the file, before any key is opened.
        std::fs::write(dir.path().join("ubnd.p12"), b"p12").unwrap();
        std::fs::write(dir.path().join("khuyen.p12"), b"p12").unwrap();
        std::fs::write(dir.path().join("con-dau.png"), PNG).unwrap();
        std::fs::write(dir.path().join("khuyen.jpg"), &PNG[..PNG.len() / 2]).unwrap();
        let names = vec!["Hoàng Vĩnh Khuyến".to_owned()];
        let problems = setting_problems(&settings(dir.path()), &to_sign(&names));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("ảnh chữ ký của «Hoàng Vĩnh Khuyến»"));
        assert!(problems[0].contains("khuyen.jpg"));
        assert!(problems[0].contains("cắt cụt"));
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 1, 0, 0).unwrap();
        let error = open_keys(&settings(dir.path()), &to_sign(&names), now).unwrap_err();
        assert!(
            matches!(
                &error,
                SigningError::Image {
                    problem: ImageProblem::Broken,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("Chưa cấp số"), "{error}");
        // The seal too, against the bounds of the configuration.
        std::fs::write(dir.path().join("khuyen.jpg"), PNG).unwrap();
        std::fs::write(dir.path().join("con-dau.png"), &huge).unwrap();
        let problems = setting_problems(&settings(dir.path()), &to_sign(&names));
        assert!(
            problems
                .iter()
                .any(|p| p.contains("ảnh con dấu") && p.contains("30000")),
            "{problems:?}"
        );
        let error = open_keys(&settings(dir.path()), &to_sign(&names), now).unwrap_err();
        assert!(
            error.to_string().contains("limits.image_max_side_px"),
            "{error}"
        );
    }

    #[test]
    fn signatures_are_recorded_once_and_read_back_in_order() {
        let store = Store::open_in_memory().unwrap();
        let at = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        let record = |position, role, subject: &str, sha: char| SignatureRecord {
            issuer: "ubnd".into(),
            document_key: "2024-h1/conclusion-notice".into(),
            file_name: "02-TB-UBND Thong bao ket luan.pdf".into(),
            position,
            role,
            subject: subject.into(),
            signed_at: at,
            sha256: sha.to_string().repeat(64),
        };
        let records = vec![
            record(1, Role::Signer, "Tô Xuân Lợi", 'a'),
            record(2, Role::Organisation, "Ủy ban nhân dân huyện Đầm Hà", 'b'),
        ];
        record_all(&store, &records);
        record_all(&store, &records);
        let read = recorded(&store, "ubnd", "2024-h1/conclusion-notice").unwrap();
        assert_eq!(read, records);
        assert!(
            recorded(&store, "ubnd", "2024-h1/review-report")
                .unwrap()
                .is_empty()
        );
    }

    fn record_all(store: &Store, records: &[SignatureRecord]) {
        record(store, records).unwrap();
    }
}
