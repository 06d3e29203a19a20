//! Where a signing key lives (a PKCS#12 file or a PKCS#11 token) and signing one message with it.
//!
//! The key source is plain data (paths, environment variable names, token and key labels); the
//! secret itself is read only when the key is opened and never stored beside the configuration.

use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use sha2::{Digest, Sha256};
use x509_cert::Certificate;

use super::certificate::{self, CertificateError, KeyAlgorithm};

/// Where a password or PIN comes from. Never inline: a configuration file is read by many people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// The value of this environment variable.
    Env(String),
    /// The first line of this file (readable by the service account only).
    File(PathBuf),
}

/// Where a signer's (or the organisation's) key and certificate are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerKeySource {
    Pkcs12 {
        path: PathBuf,
        password: SecretSource,
    },
    Pkcs11 {
        /// The token vendor's PKCS#11 library, e.g. /usr/lib/softhsm/libsofthsm2.so.
        module: PathBuf,
        /// The token label, as `pkcs11-tool -L` shows it.
        token: String,
        /// The CKA_LABEL of the private key; the certificate has the same CKA_ID (or label).
        key_label: String,
        pin: SecretSource,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("Chưa có mật khẩu/mã PIN: biến môi trường {name} chưa được đặt.")]
    SecretEnvMissing { name: String },
    #[error("Không đọc được tệp mật khẩu/mã PIN {path}: {reason}.")]
    SecretFileUnreadable { path: PathBuf, reason: String },
    #[error("Không đọc được tệp khóa {path}: {reason}.")]
    FileUnreadable { path: PathBuf, reason: String },
    #[error("Tệp khóa PKCS#12 {path} không mở được: mật khẩu sai hoặc tệp hỏng ({reason}).")]
    Pkcs12 { path: PathBuf, reason: String },
    #[error("Tệp khóa PKCS#12 {path} không có khóa bí mật kèm chứng thư số.")]
    Pkcs12NoKey { path: PathBuf },
    #[error("Khóa bí mật trong {origin} không dùng được: {reason}.")]
    KeyRejected { origin: String, reason: String },
    #[error("Thiết bị ký số (PKCS#11, thư viện {module}): {step} không thành công: {reason}.")]
    Token {
        module: PathBuf,
        step: &'static str,
        reason: String,
    },
    #[error(
        "Không thấy thiết bị ký số có nhãn «{token}» (thư viện {module}); các thiết bị đang cắm: {found}."
    )]
    TokenNotFound {
        module: PathBuf,
        token: String,
        found: String,
    },
    #[error("Thiết bị ký số «{token}» không có khóa bí mật nhãn «{label}».")]
    TokenKeyNotFound { token: String, label: String },
    #[error("Thiết bị ký số «{token}» không có chứng thư số đi cùng khóa «{label}».")]
    TokenCertificateNotFound { token: String, label: String },
    #[error("Ký bằng khóa của «{subject}» không thành công: {reason}.")]
    SignFailed { subject: String, reason: String },
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

impl SecretSource {
    fn read(&self) -> Result<String, KeyError> {
        match self {
            SecretSource::Env(name) => {
                std::env::var(name).map_err(|_| KeyError::SecretEnvMissing { name: name.clone() })
            }
            SecretSource::File(path) => {
                let text =
                    std::fs::read_to_string(path).map_err(|e| KeyError::SecretFileUnreadable {
                        path: path.clone(),
                        reason: e.to_string(),
                    })?;
                Ok(text.lines().next().unwrap_or("").to_owned())
            }
        }
    }
}

/// An opened key with its certificate and the rest of its chain (issuers, leaf excluded).
pub struct SigningKey {
    certificate: Certificate,
    chain: Vec<Certificate>,
    algorithm: KeyAlgorithm,
    backend: Backend,
}

enum Backend {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Token(TokenKey),
}

struct TokenKey {
    // The session borrows nothing but must not outlive the library context: keep both.
    session: Session,
    _context: Pkcs11,
    key: ObjectHandle,
    module: PathBuf,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("subject", &certificate::subject_name(&self.certificate))
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// DER prefix of a PKCS#1 DigestInfo for SHA-256 (RFC 8017 §9.2 note 1): a token's raw CKM_RSA_PKCS
/// signs exactly what it is given, so the DigestInfo is built here.
const SHA256_DIGEST_INFO_PREFIX: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

impl SigningKey {
    /// Opens the key the source names, proves it matches its certificate, and returns it.
    pub fn open(source: &SignerKeySource) -> Result<Self, KeyError> {
        match source {
            SignerKeySource::Pkcs12 { path, password } => {
                let password = password.read()?;
                let bytes = std::fs::read(path).map_err(|e| KeyError::FileUnreadable {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                Self::from_pkcs12(&bytes, &password, path)
            }
            SignerKeySource::Pkcs11 {
                module,
                token,
                key_label,
                pin,
            } => {
                let pin = pin.read()?;
                Self::from_token(module, token, key_label, &pin)
            }
        }
    }

    /// Opens a PKCS#12 archive held in memory; `path` only names it in messages.
    pub fn from_pkcs12(bytes: &[u8], password: &str, path: &Path) -> Result<Self, KeyError> {
        let store = p12_keystore::KeyStore::from_pkcs12(
            bytes,
            password,
            p12_keystore::Pkcs12ImportPolicy::Strict,
        )
        .map_err(|e| KeyError::Pkcs12 {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or_else(|| KeyError::Pkcs12NoKey {
                path: path.to_path_buf(),
            })?;
        let mut certs = chain
            .certs()
            .iter()
            .map(|c| certificate::parse(c.as_der()))
            .collect::<Result<Vec<_>, _>>()?;
        if certs.is_empty() {
            return Err(KeyError::Pkcs12NoKey {
                path: path.to_path_buf(),
            });
        }
        let leaf = certs.remove(0);
        let algorithm = certificate::key_algorithm(&leaf)?;
        let origin = path.display().to_string();
        let pkcs8 = chain.key().as_der();
        let backend = match algorithm {
            KeyAlgorithm::Rsa { .. } => Backend::Rsa(RsaKeyPair::from_pkcs8(pkcs8).map_err(
                |e| KeyError::KeyRejected {
                    origin,
                    reason: e.to_string(),
                },
            )?),
            KeyAlgorithm::EcP256 => Backend::Ec(
                EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    pkcs8,
                    &SystemRandom::new(),
                )
                .map_err(|e| KeyError::KeyRejected {
                    origin,
                    reason: e.to_string(),
                })?,
            ),
        };
        Self::proven(leaf, certs, algorithm, backend)
    }

    fn from_token(
        module: &Path,
        token: &str,
        key_label: &str,
        pin: &str,
    ) -> Result<Self, KeyError> {
        let fail = |step: &'static str| {
            move |e: cryptoki::error::Error| KeyError::Token {
                module: module.to_path_buf(),
                step,
                reason: e.to_string(),
            }
        };
        let context = Pkcs11::new(module).map_err(fail("nạp thư viện PKCS#11"))?;
        match context.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::CryptokiAlreadyInitialized,
                _,
            )) => {}
            Err(e) => return Err(fail("khởi tạo thư viện")(e)),
        }
        let slots = context
            .get_slots_with_token()
            .map_err(fail("liệt kê thiết bị"))?;
        let mut labels = Vec::new();
        let mut found = None;
        for slot in slots {
            let info = context
                .get_token_info(slot)
                .map_err(fail("đọc thông tin thiết bị"))?;
            let label = info.label().trim().to_owned();
            if label == token {
                found = Some(slot);
                break;
            }
            labels.push(format!("«{label}»"));
        }
        let slot = found.ok_or_else(|| KeyError::TokenNotFound {
            module: module.to_path_buf(),
            token: token.to_owned(),
            found: if labels.is_empty() {
                "không có".into()
            } else {
                labels.join(", ")
            },
        })?;
        let session = context
            .open_ro_session(slot)
            .map_err(fail("mở phiên làm việc"))?;
        let pin = cryptoki::types::AuthPin::from(pin.to_owned());
        match session.login(UserType::User, Some(&pin)) {
            Ok(())
            | Err(cryptoki::error::Error::Pkcs11(
                cryptoki::error::RvError::UserAlreadyLoggedIn,
                _,
            )) => {}
            Err(e) => return Err(fail("đăng nhập bằng mã PIN")(e)),
        }
        let keys = session
            .find_objects(&[
                Attribute::Class(ObjectClass::PRIVATE_KEY),
                Attribute::Label(key_label.as_bytes().to_vec()),
            ])
            .map_err(fail("tìm khóa bí mật"))?;
        let key = *keys.first().ok_or_else(|| KeyError::TokenKeyNotFound {
            token: token.to_owned(),
            label: key_label.to_owned(),
        })?;
        let id = session
            .get_attributes(key, &[AttributeType::Id])
            .map_err(fail("đọc mã khóa"))?
            .into_iter()
            .find_map(|a| match a {
                Attribute::Id(id) => Some(id),
                _ => None,
            });
        let by_id = match id {
            Some(id) if !id.is_empty() => session
                .find_objects(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::Id(id),
                ])
                .map_err(fail("tìm chứng thư số"))?,
            _ => Vec::new(),
        };
        let cert_handle = match by_id.first() {
            Some(h) => *h,
            None => *session
                .find_objects(&[
                    Attribute::Class(ObjectClass::CERTIFICATE),
                    Attribute::Label(key_label.as_bytes().to_vec()),
                ])
                .map_err(fail("tìm chứng thư số"))?
                .first()
                .ok_or_else(|| KeyError::TokenCertificateNotFound {
                    token: token.to_owned(),
                    label: key_label.to_owned(),
                })?,
        };
        let leaf = certificate::parse(
            &certificate_value(&session, cert_handle).map_err(fail("đọc chứng thư số"))?,
        )?;
        // The issuers a token carries (a government CA puts its intermediate on the token) travel in
        // the signature so a verifier can build the path without fetching anything.
        let mut others = Vec::new();
        for handle in session
            .find_objects(&[Attribute::Class(ObjectClass::CERTIFICATE)])
            .map_err(fail("tìm chứng thư số"))?
        {
            if handle == cert_handle {
                continue;
            }
            if let Ok(cert) = certificate::parse(
                &certificate_value(&session, handle).map_err(fail("đọc chứng thư số"))?,
            ) {
                others.push(cert);
            }
        }
        let chain = issuer_chain(&leaf, others);
        let algorithm = certificate::key_algorithm(&leaf)?;
        let backend = Backend::Token(TokenKey {
            session,
            _context: context,
            key,
            module: module.to_path_buf(),
        });
        Self::proven(leaf, chain, algorithm, backend)
    }

    /// Refuses a key that does not belong to its certificate: one trial signature, verified with the
    /// certificate's public key, before any document is signed.
    fn proven(
        certificate: Certificate,
        chain: Vec<Certificate>,
        algorithm: KeyAlgorithm,
        backend: Backend,
    ) -> Result<Self, KeyError> {
        let key = SigningKey {
            certificate,
            chain,
            algorithm,
            backend,
        };
        let probe = b"vanban: khoa nay co khop voi chung thu so khong?";
        let signature = key.sign(probe)?;
        if !certificate::verifies(&key.certificate, probe, &signature) {
            return Err(CertificateError::KeyMismatch {
                subject: certificate::subject_name(&key.certificate),
            }
            .into());
        }
        Ok(key)
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The issuers that came with the key (PKCS#12 bag or token), leaf excluded.
    pub fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// Signs SHA-256(`message`): PKCS#1 v1.5 for RSA, a DER ECDSA-Sig-Value for P-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = |reason: String| KeyError::SignFailed {
            subject: certificate::subject_name(&self.certificate),
            reason,
        };
        match &self.backend {
            Backend::Rsa(pair) => {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|e| failed(e.to_string()))?;
                Ok(signature)
            }
            Backend::Ec(pair) => Ok(pair
                .sign(&SystemRandom::new(), message)
                .map_err(|e| failed(e.to_string()))?
                .as_ref()
                .to_vec()),
            Backend::Token(token) => {
                let hash = Sha256::digest(message);
                match self.algorithm {
                    KeyAlgorithm::Rsa { .. } => {
                        let mut digest_info = SHA256_DIGEST_INFO_PREFIX.to_vec();
                        digest_info.extend_from_slice(&hash);
                        token
                            .session
                            .sign(&Mechanism::RsaPkcs, token.key, &digest_info)
                            .map_err(|e| {
                                failed(format!("{e} (thư viện {})", token.module.display()))
                            })
                    }
                    KeyAlgorithm::EcP256 => {
                        let raw = token
                            .session
                            .sign(&Mechanism::Ecdsa, token.key, &hash)
                            .map_err(|e| {
                                failed(format!("{e} (thư viện {})", token.module.display()))
                            })?;
                        ecdsa_raw_to_der(&raw)
                            .ok_or_else(|| failed(format!("chữ ký ECDSA dài {} byte", raw.len())))
                    }
                }
            }
        }
    }
}

fn certificate_value(
    session: &Session,
    handle: ObjectHandle,
) -> Result<Vec<u8>, cryptoki::error::Error> {
    Ok(session
        .get_attributes(handle, &[AttributeType::Value])?
        .into_iter()
        .find_map(|a| match a {
            Attribute::Value(v) => Some(v),
            _ => None,
        })
        .unwrap_or_default())
}

/// The certificates among `candidates` that issue `leaf`, its issuer, and so on up to a root.
fn issuer_chain(leaf: &Certificate, mut candidates: Vec<Certificate>) -> Vec<Certificate> {
    let mut chain: Vec<Certificate> = Vec::new();
    let mut current = leaf.clone();
    loop {
        let issuer = current.tbs_certificate().issuer().clone();
        if *current.tbs_certificate().subject() == issuer {
            break;
        }
        let Some(pos) = candidates
            .iter()
            .position(|c| *c.tbs_certificate().subject() == issuer)
        else {
            break;
        };
        let next = candidates.remove(pos);
        chain.push(next.clone());
        current = next;
    }
    chain
}

/// PKCS#11 CKM_ECDSA returns r‖s (32 bytes each on P-256); CMS wants ECDSA-Sig-Value in DER.
fn ecdsa_raw_to_der(raw: &[u8]) -> Option<Vec<u8>> {
    if raw.len() != 64 {
        return None;
    }
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: &[u8] = {
            let start = bytes
                .iter()
                .position(|b| *b != 0)
                .unwrap_or(bytes.len() - 1);
            &bytes[start..]
        };
        let mut out = vec![0x02];
        let pad = trimmed[0] & 0x80 != 0;
        out.push((trimmed.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        out
    }
    let r = integer(&raw[..32]);
    let s = integer(&raw[32..]);
    let mut out = vec![0x30, (r.len() + s.len()) as u8];
    out.extend(r);
    out.extend(s);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ecdsa_becomes_der_with_sign_padding() {
        let mut raw = [0u8; 64];
        raw[0] = 0x80; // r needs a leading zero to stay positive
        raw[63] = 0x01; // s is 1 after stripping leading zeros
        let der = ecdsa_raw_to_der(&raw).expect("64 bytes");
        assert_eq!(&der[..4], &[0x30, 2 + 33 + 3, 0x02, 33]);
        assert_eq!(der[4], 0);
        assert_eq!(&der[der.len() - 3..], &[0x02, 0x01, 0x01]);
        assert!(ecdsa_raw_to_der(&raw[..63]).is_none());
    }

    #[test]
    fn a_missing_environment_variable_is_named() {
        let err = SecretSource::Env("VANBAN_TEST_SURELY_UNSET_PIN".into())
            .read()
            .unwrap_err();
        assert!(
            err.to_string().contains("VANBAN_TEST_SURELY_UNSET_PIN"),
            "{err}"
        );
    }
}
