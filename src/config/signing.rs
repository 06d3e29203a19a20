//! The `[signing]` section as plain data: where the organisation's and each signer's key is (a
//! PKCS#12 file or a PKCS#11 token), where their password or PIN comes from (never the value
//! itself), the images the page shows, and an optional time-stamping authority. Opening the keys
//! is the issue layer's job.

use std::path::PathBuf;

/// Where a password or PIN is read from when the key is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// The value of this environment variable.
    Env(String),
    /// The first line of this file.
    File(PathBuf),
}

/// Where a key and its certificate are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLocation {
    Pkcs12 {
        path: PathBuf,
        password: SecretRef,
    },
    Pkcs11 {
        /// The token vendor's PKCS#11 library.
        module: PathBuf,
        /// The token's label.
        token: String,
        /// The private key's label on the token.
        key_label: String,
        pin: SecretRef,
    },
}

/// `[signing].organisation`: the issuing body's key, held by the clerk, and its seal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationKey {
    pub key: KeyLocation,
    /// The seal (transparent PNG, red, real size), drawn over the left third of the signature.
    pub seal_image: PathBuf,
}

/// One `[[signing.signers]]` entry: a person who signs documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerKey {
    /// Matched against the name in a document's signature block.
    pub name: String,
    pub key: KeyLocation,
    /// The handwritten signature (transparent PNG), drawn between the title and the name.
    pub signature_image: PathBuf,
}

/// `[signing]`: absent, documents are sent unsigned (with a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSettings {
    pub organisation: OrganisationKey,
    pub signers: Vec<SignerKey>,
    /// An RFC 3161 time-stamping authority: signatures become PAdES B-T.
    pub tsa_url: Option<String>,
}

impl SigningSettings {
    /// The signer whose name is `name`, compared as a person reads it (Unicode NFC, case and
    /// surrounding spaces ignored).
    pub fn signer(&self, name: &str) -> Option<&SignerKey> {
        self.signers.iter().find(|s| same_person(&s.name, name))
    }
}

/// Whether two spellings name the same person: Unicode NFC, case and spacing ignored (a name
/// typed on another keyboard may arrive decomposed).
pub fn same_person(a: &str, b: &str) -> bool {
    comparable(a) == comparable(b)
}

fn comparable(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .nfc()
        .collect::<String>()
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signer_is_found_by_name_whatever_the_spacing_case_and_normal_form() {
        let key = KeyLocation::Pkcs12 {
            path: "k.p12".into(),
            password: SecretRef::Env("PIN".into()),
        };
        let settings = SigningSettings {
            organisation: OrganisationKey {
                key: key.clone(),
                seal_image: "seal.png".into(),
            },
            signers: vec![SignerKey {
                name: "Hoàng Vĩnh Khuyến".into(),
                key,
                signature_image: "k.png".into(),
            }],
            tsa_url: None,
        };
        // NFD spelling, extra spaces, upper case.
        let nfd: String =
            unicode_normalization::UnicodeNormalization::nfd(" HOÀNG  Vĩnh Khuyến ").collect();
        assert!(settings.signer(&nfd).is_some());
        assert!(settings.signer("Tô Xuân Lợi").is_none());
    }
}
