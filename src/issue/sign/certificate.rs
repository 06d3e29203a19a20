//! Checks a signing certificate before it is used: validity at an injected time, key usage, key type,
//! and whether a signature verifies against the certificate's public key.

use chrono::{DateTime, Utc};
use der::{Decode, Encode};
use x509_cert::Certificate;
use x509_cert::ext::pkix::KeyUsage;

/// Why a certificate cannot sign. Every variant names the certificate's subject: an office may hold
/// several certificates and the clerk must know which one to renew or replace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    #[error(
        "Chứng thư số «{subject}» chưa có hiệu lực: hiệu lực từ {not_before} (giờ Việt Nam). Chưa ký văn bản nào."
    )]
    NotYetValid { subject: String, not_before: String },
    #[error(
        "Chứng thư số «{subject}» đã hết hạn lúc {not_after} (giờ Việt Nam). Cần gia hạn hoặc thay chứng thư số trước khi ký; chưa ký văn bản nào."
    )]
    Expired { subject: String, not_after: String },
    #[error(
        "Chứng thư số «{subject}» không dùng để ký văn bản được: mục đích sử dụng khóa (key usage) {found}, cần có «chống chối bỏ» (nonRepudiation) hoặc «chữ ký số» (digitalSignature)."
    )]
    WrongKeyUsage { subject: String, found: String },
    #[error(
        "Chứng thư số «{subject}» dùng khóa {found}; vanban chỉ ký bằng khóa RSA từ 2048 bit trở lên hoặc ECDSA P-256."
    )]
    UnsupportedKey { subject: String, found: String },
    #[error(
        "Khóa bí mật không khớp với chứng thư số «{subject}»: chữ ký thử bằng khóa này không kiểm tra được bằng khóa công khai của chứng thư. Kiểm tra lại tệp khóa hoặc nhãn khóa trên thiết bị ký số."
    )]
    KeyMismatch { subject: String },
    #[error("Không đọc được chứng thư số: {reason}.")]
    Unreadable { reason: String },
}

/// The public-key algorithms vanban signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// RSA with PKCS#1 v1.5 padding and SHA-256; the modulus size in bits.
    Rsa { bits: usize },
    /// ECDSA on NIST P-256 with SHA-256.
    EcP256,
}

const RSA_ENCRYPTION: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC_KEY: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const PRIME256V1: der::oid::ObjectIdentifier =
    der::oid::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The subject as a person reads it: the common name when there is one, else the whole name.
pub fn subject_name(cert: &Certificate) -> String {
    let subject = cert.tbs_certificate().subject();
    for rdn in subject.iter_rdn() {
        for atv in rdn.iter() {
            if atv.oid == const_oid_cn() {
                if let Ok(s) = atv.value.decode_as::<der::asn1::Utf8StringRef<'_>>() {
                    return s.as_str().to_owned();
                }
                if let Ok(s) = atv.value.decode_as::<der::asn1::PrintableStringRef<'_>>() {
                    return s.as_str().to_owned();
                }
            }
        }
    }
    subject.to_string()
}

fn const_oid_cn() -> der::oid::ObjectIdentifier {
    der::oid::ObjectIdentifier::new_unwrap("2.5.4.3")
}

/// Parses a DER certificate, naming the problem in Vietnamese when it is not one.
pub fn parse(der_bytes: &[u8]) -> Result<Certificate, CertificateError> {
    Certificate::from_der(der_bytes).map_err(|e| CertificateError::Unreadable {
        reason: e.to_string(),
    })
}

/// The key algorithm of the certificate's public key; RSA below 2048 bits and other curves are refused.
pub fn key_algorithm(cert: &Certificate) -> Result<KeyAlgorithm, CertificateError> {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let subject = subject_name(cert);
    if spki.algorithm.oid == RSA_ENCRYPTION {
        let bits = rsa_modulus_bits(spki.subject_public_key.as_bytes()).ok_or_else(|| {
            CertificateError::Unreadable {
                reason: format!("khóa công khai RSA của «{subject}» hỏng"),
            }
        })?;
        if bits < 2048 {
            return Err(CertificateError::UnsupportedKey {
                subject,
                found: format!("RSA {bits} bit"),
            });
        }
        return Ok(KeyAlgorithm::Rsa { bits });
    }
    if spki.algorithm.oid == EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<der::oid::ObjectIdentifier>().ok());
        if curve == Some(PRIME256V1) {
            return Ok(KeyAlgorithm::EcP256);
        }
        return Err(CertificateError::UnsupportedKey {
            subject,
            found: format!(
                "ECDSA trên đường cong {}",
                curve
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "không rõ".into())
            ),
        });
    }
    Err(CertificateError::UnsupportedKey {
        subject,
        found: format!("thuật toán {}", spki.algorithm.oid),
    })
}

#[derive(der::Sequence)]
struct RsaPublicKey<'a> {
    modulus: der::asn1::UintRef<'a>,
    public_exponent: der::asn1::UintRef<'a>,
}

fn rsa_modulus_bits(rsa_public_key: Option<&[u8]>) -> Option<usize> {
    let key = RsaPublicKey::from_der(rsa_public_key?).ok()?;
    let bytes = key.modulus.as_bytes();
    let first = *bytes.first()?;
    Some(bytes.len() * 8 - first.leading_zeros() as usize)
}

/// Checks that the certificate may sign at `now`: inside its validity period, with key usage
/// nonRepudiation or digitalSignature, and with a supported key.
pub fn check(cert: &Certificate, now: DateTime<Utc>) -> Result<KeyAlgorithm, CertificateError> {
    let subject = subject_name(cert);
    let validity = cert.tbs_certificate().validity();
    let not_before = to_chrono(validity.not_before.to_unix_duration());
    let not_after = to_chrono(validity.not_after.to_unix_duration());
    if now < not_before {
        return Err(CertificateError::NotYetValid {
            subject,
            not_before: vietnam_time(not_before),
        });
    }
    if now > not_after {
        return Err(CertificateError::Expired {
            subject,
            not_after: vietnam_time(not_after),
        });
    }
    match cert.tbs_certificate().get_extension::<KeyUsage>() {
        Ok(Some((_, usage))) if usage.non_repudiation() || usage.digital_signature() => {}
        Ok(Some((_, usage))) => {
            return Err(CertificateError::WrongKeyUsage {
                subject,
                found: format!("chỉ gồm {:?}", usage.0),
            });
        }
        Ok(None) => {
            return Err(CertificateError::WrongKeyUsage {
                subject,
                found: "không được ghi trong chứng thư".into(),
            });
        }
        Err(e) => {
            return Err(CertificateError::Unreadable {
                reason: format!("mục đích sử dụng khóa của «{subject}» hỏng: {e}"),
            });
        }
    }
    key_algorithm(cert)
}

/// Whether `signature` over `message` (SHA-256, PKCS#1 v1.5 or DER ECDSA) verifies with the
/// certificate's public key. Used to prove a key belongs to its certificate, and by the tests.
pub fn verifies(cert: &Certificate, message: &[u8], signature: &[u8]) -> bool {
    let spki = cert.tbs_certificate().subject_public_key_info();
    let Some(key) = spki.subject_public_key.as_bytes() else {
        return false;
    };
    let algorithm: &dyn ring::signature::VerificationAlgorithm = match key_algorithm(cert) {
        Ok(KeyAlgorithm::Rsa { .. }) => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        Ok(KeyAlgorithm::EcP256) => &ring::signature::ECDSA_P256_SHA256_ASN1,
        Err(_) => return false,
    };
    ring::signature::UnparsedPublicKey::new(algorithm, key)
        .verify(message, signature)
        .is_ok()
}

/// The certificate's DER bytes (they were parsed from DER, so encoding back cannot lose anything).
pub fn to_der(cert: &Certificate) -> Result<Vec<u8>, CertificateError> {
    cert.to_der().map_err(|e| CertificateError::Unreadable {
        reason: e.to_string(),
    })
}

fn to_chrono(since_epoch: std::time::Duration) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(since_epoch.as_secs() as i64, 0)
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn vietnam_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
        .format("%H:%M ngày %d/%m/%Y")
        .to_string()
}
