//! The CMS SignedData of a PAdES signature (CAdES detached): content-type, message-digest and
//! signing-certificate-v2 as signed attributes, no signing-time (PAdES puts the time in /M), and
//! optionally an RFC 3161 signature time-stamp as an unsigned attribute.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedAttributes, SignedData, SignerIdentifier,
    SignerInfo, SignerInfos,
};
use der::asn1::{Any, OctetString, SetOfVec};
use der::oid::ObjectIdentifier;
use der::{Decode, Encode, Reader};
use sha2::{Digest, Sha256};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::certificate::KeyAlgorithm;
use super::keys::{KeyError, SigningKey};
use super::tsa::{TsaClient, TsaError};

pub const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
pub const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
pub const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
pub const ID_MESSAGE_DIGEST: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
pub const ID_SIGNING_TIME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.5");
pub const ID_AA_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
pub const ID_AA_SIGNATURE_TIME_STAMP_TOKEN: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.14");
pub const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");

#[derive(Debug, thiserror::Error)]
pub enum CmsError {
    #[error("Không mã hóa được chữ ký (CMS): {0}.")]
    Encoding(String),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    TimeStamp(#[from] TsaError),
}

impl From<der::Error> for CmsError {
    fn from(e: der::Error) -> Self {
        CmsError::Encoding(e.to_string())
    }
}

/// ESSCertIDv2 (RFC 5035) with the default hash algorithm (SHA-256), so `hashAlgorithm` is absent.
#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct EssCertIdV2 {
    cert_hash: OctetString,
    issuer_serial: IssuerSerial,
}

#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct IssuerSerial {
    issuer: Vec<GeneralName>,
    serial_number: SerialNumber,
}

#[derive(Clone, Debug, Eq, PartialEq, der::Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute, der::Error> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value])?,
    })
}

fn sha256_algorithm() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: ID_SHA256,
        parameters: None,
    }
}

/// Builds the DER ContentInfo(SignedData) for a detached signature over content whose SHA-256 is
/// `content_digest`. `timestamp` turns the signature value into a time-stamp token (B-T); `None`
/// gives B-B.
pub fn signed_data(
    content_digest: &[u8; 32],
    key: &SigningKey,
    timestamp: Option<&TsaClient>,
) -> Result<Vec<u8>, CmsError> {
    let cert = key.certificate();
    let tbs = cert.tbs_certificate();
    let cert_der = cert.to_der()?;
    let signing_certificate = SigningCertificateV2 {
        certs: vec![EssCertIdV2 {
            cert_hash: OctetString::new(Sha256::digest(&cert_der).to_vec())?,
            issuer_serial: IssuerSerial {
                issuer: vec![GeneralName::DirectoryName(tbs.issuer().clone())],
                serial_number: tbs.serial_number().clone(),
            },
        }],
    };
    let signed_attrs: SignedAttributes = SetOfVec::try_from(vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(content_digest.to_vec())?)?,
        )?,
        attribute(
            ID_AA_SIGNING_CERTIFICATE_V2,
            Any::encode_from(&signing_certificate)?,
        )?,
    ])?;
    // RFC 5652 §5.4: the signature covers the DER of the attributes with the universal SET tag.
    let signature = key.sign(&signed_attrs.to_der()?)?;
    let unsigned_attrs = match timestamp {
        None => None,
        Some(tsa) => {
            let token = tsa.stamp(&signature)?;
            Some(SetOfVec::try_from(vec![attribute(
                ID_AA_SIGNATURE_TIME_STAMP_TOKEN,
                Any::from_der(&token)?,
            )?])?)
        }
    };
    let signature_algorithm = match key.algorithm() {
        KeyAlgorithm::Rsa { .. } => AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION,
            parameters: Some(Any::from(der::asn1::Null)),
        },
        KeyAlgorithm::EcP256 => AlgorithmIdentifierOwned {
            oid: ECDSA_WITH_SHA256,
            parameters: None,
        },
    };
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: sha256_algorithm(),
        signed_attrs: Some(signed_attrs),
        signature_algorithm,
        signature: OctetString::new(signature)?,
        unsigned_attrs,
    };
    let mut certificates = vec![CertificateChoices::Certificate(cert.clone())];
    certificates.extend(
        key.chain()
            .iter()
            .cloned()
            .map(CertificateChoices::Certificate),
    );
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256_algorithm()])?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent: None,
        },
        certificates: Some(CertificateSet(SetOfVec::try_from(certificates)?)),
        crls: None,
        signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
    };
    let info = ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed)?,
    };
    Ok(info.to_der()?)
}

/// The parts of a CMS signature a verifier (and the tests) look at.
#[derive(Debug, Clone)]
pub struct ParsedSignature {
    pub signer_certificate: x509_cert::Certificate,
    pub message_digest: Vec<u8>,
    pub signed_attributes_der: Vec<u8>,
    pub signed_attribute_oids: Vec<ObjectIdentifier>,
    pub unsigned_attribute_oids: Vec<ObjectIdentifier>,
    pub signature: Vec<u8>,
    pub signature_time_stamp: Option<Vec<u8>>,
}

/// Reads back a ContentInfo(SignedData) made by [`signed_data`] (or any single-signer one). Bytes
/// after the DER value are ignored: /Contents keeps the placeholder's zero padding.
pub fn parse(der_bytes: &[u8]) -> Result<ParsedSignature, CmsError> {
    let info: ContentInfo = der::SliceReader::new(der_bytes)?.decode()?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(CmsError::Encoding(format!(
            "nội dung {} không phải SignedData",
            info.content_type
        )));
    }
    let signed: SignedData = info.content.decode_as()?;
    let signer = signed
        .signer_infos
        .0
        .iter()
        .next()
        .ok_or_else(|| CmsError::Encoding("không có người ký".into()))?
        .clone();
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer.sid else {
        return Err(CmsError::Encoding(
            "người ký không ghi theo issuer/serial".into(),
        ));
    };
    let signer_certificate = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .find_map(|c| match c {
            CertificateChoices::Certificate(c)
                if c.tbs_certificate().issuer() == &sid.issuer
                    && c.tbs_certificate().serial_number() == &sid.serial_number =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .ok_or_else(|| CmsError::Encoding("thiếu chứng thư số của người ký".into()))?;
    let attrs = signer
        .signed_attrs
        .clone()
        .ok_or_else(|| CmsError::Encoding("thiếu thuộc tính đã ký".into()))?;
    let message_digest = attrs
        .iter()
        .find(|a| a.oid == ID_MESSAGE_DIGEST)
        .and_then(|a| a.values.iter().next())
        .map(|v| v.decode_as::<OctetString>())
        .transpose()?
        .ok_or_else(|| CmsError::Encoding("thiếu message-digest".into()))?
        .as_bytes()
        .to_vec();
    let signature_time_stamp = signer
        .unsigned_attrs
        .iter()
        .flat_map(|u| u.iter())
        .find(|a| a.oid == ID_AA_SIGNATURE_TIME_STAMP_TOKEN)
        .and_then(|a| a.values.iter().next())
        .map(|v| v.to_der())
        .transpose()?;
    Ok(ParsedSignature {
        signer_certificate,
        message_digest,
        signed_attributes_der: attrs.to_der()?,
        signed_attribute_oids: attrs.iter().map(|a| a.oid).collect(),
        unsigned_attribute_oids: signer
            .unsigned_attrs
            .iter()
            .flat_map(|u| u.iter())
            .map(|a| a.oid)
            .collect(),
        signature: signer.signature.as_bytes().to_vec(),
        signature_time_stamp,
    })
}
