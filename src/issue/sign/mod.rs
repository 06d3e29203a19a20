//! Digital signatures on issued documents (Decree 30/2020 Art. 5, 13–17): PAdES baseline B-B (or B-T
//! with a time-stamp) added to the final PDF as incremental updates, first by the signer, then by
//! the organisation. Keys come from PKCS#12 files or PKCS#11 tokens; certificates are checked first.
//!
//! Plain inputs only (key sources, a TSA URL, an injected time): the configuration and the issue
//! workflow call in here, nothing in here reads them.

pub mod certificate;
pub mod cms;
pub mod keys;
pub mod pades;
pub mod tsa;

use chrono::{DateTime, Utc};

pub use certificate::{CertificateError, KeyAlgorithm};
pub use keys::{KeyError, SecretSource, SignerKeySource, SigningKey};
pub use pades::{Appearance, PdfError, Placement, SignatureInfo};
pub use tsa::{TsaClient, TsaError};

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Pdf(#[from] PdfError),
    #[error(transparent)]
    Cms(#[from] cms::CmsError),
}

/// One signature to add: whose key, and what the signature dictionary says.
pub struct Signing<'a> {
    pub key: &'a SigningKey,
    pub field_name: String,
    pub reason: Option<String>,
    /// What page 1 shows of the signature; `None`: an invisible signature (the signer's and the
    /// organisation's on an original, whose page already shows the signature and seal images).
    pub appearance: Option<&'a Appearance>,
}

/// Room for the CMS in /Contents: the certificates it carries, the signature and attributes, and a
/// time-stamp token (which brings the TSA's own certificates) when one is asked for.
fn contents_capacity(key: &SigningKey, tsa: Option<&TsaClient>) -> usize {
    let certs: usize = std::iter::once(key.certificate())
        .chain(key.chain())
        .map(|c| {
            der::Encode::encoded_len(c)
                .map(|l| u32::from(l) as usize)
                .unwrap_or(4096)
        })
        .sum();
    certs + 2048 + if tsa.is_some() { 16384 } else { 0 }
}

/// Adds one PAdES signature to `pdf` as an incremental update. The certificate is checked at `now`
/// before anything is signed; `now` is also the signing time in /M.
pub fn sign_pdf(
    pdf: &[u8],
    signing: &Signing<'_>,
    tsa: Option<&TsaClient>,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, SignError> {
    Ok(sign_pdf_in_turn(pdf, std::slice::from_ref(signing), tsa, now)?.0)
}

/// Adds several PAdES signatures to `pdf`, one incremental update each, in the order given. The
/// file's structure is parsed once: each update knows what the previous one changed. Every
/// certificate is checked at `now` before the first signature, so a bad one never leaves a
/// half-signed document behind. Returns the signed file and, for each signature, the length of
/// the file right after it (an update only appends: `signed[..len]` is that revision).
pub fn sign_pdf_in_turn(
    pdf: &[u8],
    steps: &[Signing<'_>],
    tsa: Option<&TsaClient>,
    now: DateTime<Utc>,
) -> Result<(Vec<u8>, Vec<usize>), SignError> {
    for step in steps {
        certificate::check(step.key.certificate(), now)?;
    }
    let mut structure = pades::Structure::read(pdf)?;
    let mut bytes = pdf.to_vec();
    let mut ends = Vec::with_capacity(steps.len());
    for step in steps {
        let info = SignatureInfo {
            field_name: step.field_name.clone(),
            name: certificate::subject_name(step.key.certificate()),
            reason: step.reason.clone(),
            time: now,
        };
        let (prepared, next) = pades::prepare_next(
            &structure,
            &bytes,
            &info,
            contents_capacity(step.key, tsa),
            step.appearance,
        );
        let cms = cms::signed_data(&prepared.digest(), step.key, tsa)?;
        bytes = prepared.finish(&cms)?;
        ends.push(bytes.len());
        structure = next;
    }
    Ok((bytes, ends))
}

/// The two signatures Decree 30 requires, in order: the competent person (field "ChuKyNguoiKy"),
/// then the organisation ("ChuKyCoQuan"). One list, for every caller: validators and offices look
/// signatures up by these names.
pub fn decree30_steps<'a>(
    signer: &'a SigningKey,
    organisation: &'a SigningKey,
) -> [Signing<'a>; 2] {
    [
        Signing {
            key: signer,
            field_name: "ChuKyNguoiKy".into(),
            reason: Some("Ký ban hành văn bản".into()),
            appearance: None,
        },
        Signing {
            key: organisation,
            field_name: "ChuKyCoQuan".into(),
            reason: Some("Chữ ký số của cơ quan, tổ chức ban hành".into()),
            appearance: None,
        },
    ]
}

/// [`decree30_steps`] added to `pdf`. Both certificates are checked before the first signature,
/// so a bad organisation certificate never leaves a half-signed document behind.
pub fn sign_as_signer_and_organisation(
    pdf: &[u8],
    signer: &SigningKey,
    organisation: &SigningKey,
    tsa: Option<&TsaClient>,
    now: DateTime<Utc>,
) -> Result<Vec<u8>, SignError> {
    Ok(sign_pdf_in_turn(pdf, &decree30_steps(signer, organisation), tsa, now)?.0)
}
