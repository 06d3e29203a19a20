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

/// One `[[signing.issuers]]` entry: the key and seal of an issuing body other than the period's
/// own (the Office issuing "TB-VP" has its own seal and certificate; signing its notice with the
/// People's Committee's would put the wrong body's seal on the page).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerKey {
    /// The issuer's `id` or its abbreviation ("VP"), as written in the period file.
    pub issuer: String,
    pub organisation: OrganisationKey,
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

/// How large a signature or seal image may be: `[limits] image_max_kb` and
/// `image_max_side_px`, carried here so that whoever opens the keys and images of `[signing]`
/// (`check --config`, `send`, `copy`) has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Bytes of the file.
    pub max_bytes: u64,
    /// Pixels of its width and of its height.
    pub max_side_px: u32,
}

impl ImageLimits {
    /// The bounds `[limits]` sets (its defaults when the section is absent).
    pub fn of(limits: &super::TemplateLimits) -> ImageLimits {
        ImageLimits {
            max_bytes: limits.image_max_kb.saturating_mul(1024),
            max_side_px: limits.image_max_side_px,
        }
    }
}

impl Default for ImageLimits {
    fn default() -> Self {
        ImageLimits::of(&super::TemplateLimits::default())
    }
}

/// `[signing]`: absent, documents are sent unsigned (with a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningSettings {
    /// The period's own issuer (the People's Committee).
    pub organisation: OrganisationKey,
    /// Other issuing bodies whose documents vanban issues, each with its own key and seal.
    pub issuers: Vec<IssuerKey>,
    pub signers: Vec<SignerKey>,
    /// An RFC 3161 time-stamping authority: signatures become PAdES B-T.
    pub tsa_url: Option<String>,
    /// The images' bounds, from `[limits]`.
    pub images: ImageLimits,
}

impl SigningSettings {
    /// The signer whose name is `name`, compared as a person reads it (Unicode NFC, case and
    /// surrounding spaces ignored).
    pub fn signer(&self, name: &str) -> Option<&SignerKey> {
        self.signers.iter().find(|s| same_person(&s.name, name))
    }

    /// The key and seal of the body issuing a document, with the entry they come from as a
    /// message names it: its own `[[signing.issuers]]` entry, matched on the issuer's id or
    /// abbreviation; else, for the period's own issuer only, the default `organisation`. Another
    /// body without an entry has no key: never the default's, whose seal is another body's.
    pub fn organisation_for(
        &self,
        issuer_id: &str,
        issuer_abbr: &str,
        is_period_issuer: bool,
    ) -> Option<(&OrganisationKey, String)> {
        let same = same_issuer;
        let own = self
            .issuers
            .iter()
            .find(|e| same(&e.issuer, issuer_id))
            .or_else(|| self.issuers.iter().find(|e| same(&e.issuer, issuer_abbr)));
        match own {
            Some(e) => Some((
                &e.organisation,
                format!("[[signing.issuers]] issuer = \"{}\"", e.issuer),
            )),
            None if is_period_issuer => {
                Some((&self.organisation, "[signing].organisation".to_owned()))
            }
            None => None,
        }
    }
}

/// Whether two spellings name the same issuing body in `[[signing.issuers]]` (an id or an
/// abbreviation): compared as [`same_person`] compares names.
pub fn same_issuer(a: &str, b: &str) -> bool {
    comparable(a) == comparable(b)
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
            issuers: Vec::new(),
            tsa_url: None,
            images: ImageLimits::default(),
        };
        // NFD spelling, extra spaces, upper case.
        let nfd: String =
            unicode_normalization::UnicodeNormalization::nfd(" HOÀNG  Vĩnh Khuyến ").collect();
        assert!(settings.signer(&nfd).is_some());
        assert!(settings.signer("Tô Xuân Lợi").is_none());
    }

    #[test]
    fn another_issuer_signs_with_its_own_entry_never_with_the_committees_seal() {
        let org = |file: &str| OrganisationKey {
            key: KeyLocation::Pkcs12 {
                path: format!("{file}.p12").into(),
                password: SecretRef::Env("PIN".into()),
            },
            seal_image: format!("{file}.png").into(),
        };
        let settings = SigningSettings {
            organisation: org("ubnd"),
            issuers: vec![IssuerKey {
                issuer: "VP".into(),
                organisation: org("vp"),
            }],
            signers: Vec::new(),
            tsa_url: None,
            images: ImageLimits::default(),
        };
        let seal = |k: Option<(&OrganisationKey, String)>| k.map(|(k, _)| k.seal_image.clone());
        assert_eq!(
            seal(settings.organisation_for("ubnd/đầm hà", "UBND", true)),
            Some("ubnd.png".into())
        );
        // Matched on the abbreviation, whatever its case.
        assert_eq!(
            seal(settings.organisation_for("vp/đầm hà", "vp", false)),
            Some("vp.png".into())
        );
        // Another body with no entry of its own has no key.
        assert_eq!(
            seal(settings.organisation_for("tckh/đầm hà", "TCKH", false)),
            None
        );
    }
}
