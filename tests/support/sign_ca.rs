//! The signing tests' CA as fixture files (tests/fixtures/sign/, made once by
//! tests/support/sign_ca.sh with openssl; throwaway test keys, nothing real): root, intermediate, a
//! person's RSA-2048 certificate, the organisation's ECDSA P-256 one (and an RSA one for the
//! benchmark), one valid for a single day and one without a signing key usage, each as PKCS#12.
//! Their validity starts the day they were made, so the tests inject times relative to it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

pub const PASSWORD: &str = "mat-khau-thu";

pub struct Leaf {
    pub name: String,
    pub cert_der: Vec<u8>,
    pub key_pkcs8: Vec<u8>,
    pub p12: Vec<u8>,
}

pub struct TestCa {
    pub root_der: Vec<u8>,
    pub intermediate_der: Vec<u8>,
    pub person: Leaf,
    pub organisation: Leaf,
    pub organisation_rsa: Leaf,
    /// Valid for one day from its issue: expired at [`TestCa::a_week_later`].
    pub expired: Leaf,
    pub no_signing_usage: Leaf,
    /// The organisation's RSA certificate bundled with another RSA key (the person's).
    pub mismatched_p12: Vec<u8>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sign")
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(dir().join(name)).unwrap_or_else(|e| panic!("tests/fixtures/sign/{name}: {e}"))
}

fn leaf(file: &str, name: &str) -> Leaf {
    Leaf {
        name: name.to_owned(),
        cert_der: read(&format!("{file}.der")),
        key_pkcs8: read(&format!("{file}.pk8.der")),
        p12: read(&format!("{file}.p12")),
    }
}

/// A PKCS#12 (written by p12-keystore) holding `key_pkcs8` with the certificates `chain`.
pub fn p12(key_pkcs8: &[u8], chain: &[&[u8]]) -> Vec<u8> {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let certs = chain
        .iter()
        .map(|d| Certificate::from_der(d).expect("cert"))
        .collect::<Vec<_>>();
    let entry = PrivateKeyChain::new(
        vec![1u8, 2, 3, 4],
        PrivateKey::from_der(key_pkcs8).expect("pkcs8"),
        certs,
    );
    let mut store = KeyStore::new();
    store.add_entry("khoa", KeyStoreEntry::PrivateKeyChain(entry));
    store.writer(PASSWORD).write().expect("write pkcs12")
}

impl TestCa {
    pub fn load() -> TestCa {
        let root_der = read("root.der");
        let intermediate_der = read("intermediate.der");
        let organisation = leaf("organisation", "Ủy ban nhân dân huyện Đầm Hà");
        let expired = leaf("expired", "Tô Xuân Lợi");
        let person = leaf("person", "Hoàng Vĩnh Khuyến");
        let organisation_rsa = leaf("organisation-rsa", "Ủy ban nhân dân huyện Đầm Hà (RSA)");
        let mismatched_p12 = p12(
            &person.key_pkcs8,
            &[&organisation_rsa.cert_der, &intermediate_der, &root_der],
        );
        TestCa {
            person,
            organisation_rsa,
            no_signing_usage: leaf("nosign", "Trần Anh Cường"),
            organisation,
            expired,
            mismatched_p12,
            root_der,
            intermediate_der,
        }
    }

    /// When the fixtures were issued (the person's notBefore): every certificate but the expired
    /// one is valid for a year from then.
    pub fn issued(&self) -> DateTime<Utc> {
        let cert = vanban::issue::sign::certificate::parse(&self.person.cert_der).expect("cert");
        let nb = cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_unix_duration();
        DateTime::<Utc>::from_timestamp(nb.as_secs() as i64, 0).expect("time")
    }

    /// An injected signing time inside every certificate's validity but the expired one's.
    pub fn an_hour_later(&self) -> DateTime<Utc> {
        self.issued() + chrono::Duration::hours(1)
    }

    /// An injected time when the one-day certificate has expired and the others are valid.
    pub fn a_week_later(&self) -> DateTime<Utc> {
        self.issued() + chrono::Duration::days(7)
    }
}
