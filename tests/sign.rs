//! Digital signatures (Decree 30 makes an electronic document valid once signed): PAdES signatures
//! on PDFs the real binary renders, keys and a test CA made in the test. The default tests check
//! the result in-process (ByteRange, CMS attributes, the signatures verified with the certificates'
//! keys); the ignored ones ask the real validators (pyHanko, poppler's pdfsig), openssl's CA and
//! time-stamp responder, and SoftHSM2.

#[path = "support/sign_ca.rs"]
mod sign_ca;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use vanban::issue::sign::{
    self, CertificateError, KeyError, SignError, Signing, SigningKey, certificate, cms, pades,
};

use sign_ca::{PASSWORD, TestCa};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(TestCa::load)
}

/// The injected signing time: an hour after the fixture certificates were issued.
fn now() -> DateTime<Utc> {
    ca().an_hour_later()
}

/// The sample's documents rendered once by the real binary: (name, PDF bytes).
fn rendered() -> &'static Vec<(String, Vec<u8>)> {
    static PDFS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    PDFS.get_or_init(|| {
        let out = tempfile::tempdir().expect("tempdir");
        let status = Command::new(env!("CARGO_BIN_EXE_vanban"))
            .args([
                "render",
                "samples/dam-ha-2024-h1.toml",
                "--format",
                "pdf",
                "--out",
            ])
            .arg(out.path())
            .current_dir(root())
            .output()
            .expect("run vanban render");
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        let mut pdfs = Vec::new();
        for entry in walk(out.path()) {
            if entry.extension().is_some_and(|e| e == "pdf") {
                let name = entry
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                pdfs.push((name, std::fs::read(&entry).expect("read pdf")));
            }
        }
        pdfs.sort();
        assert!(pdfs.len() >= 3, "the sample renders its documents");
        pdfs
    })
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

fn report() -> &'static [u8] {
    &rendered()
        .iter()
        .find(|(n, _)| n.starts_with("01-"))
        .expect("the review report")
        .1
}

fn key(p12: &[u8]) -> Result<SigningKey, KeyError> {
    SigningKey::from_pkcs12(p12, PASSWORD, Path::new("thu.p12"))
}

/// The same PDF rewritten with a cross-reference stream and object streams, as other producers
/// (and future Typst versions) write them.
fn with_xref_stream(pdf: &[u8]) -> Vec<u8> {
    let mut doc = lopdf::Document::load_mem(pdf).expect("load");
    let mut out = Vec::new();
    doc.save_modern(&mut out).expect("save with object streams");
    let reread = lopdf::Document::load_mem(&out).expect("reload");
    assert!(
        matches!(
            reread.reference_table.cross_reference_type,
            lopdf::xref::XrefType::CrossReferenceStream
        ),
        "lopdf wrote an xref stream: {}",
        String::from_utf8_lossy(&out[out.len() - 300..])
    );
    out
}

/// Everything a verifier checks in-process for each signature: the ByteRange covers the whole file
/// but /Contents, the CMS digest is the digest of those bytes, the signed attributes are PAdES B-B's
/// and the signature verifies with the signer's certificate. Returns the signers' names in order.
fn verify_in_process(pdf: &[u8]) -> Vec<String> {
    let signatures = pades::signatures(pdf).expect("read signatures");
    let mut names = Vec::new();
    for sig in &signatures {
        let (field, [a, b, c, d], contents) = (&sig.field_name, sig.byte_range, &sig.contents);
        let (a, b, c, d) = (&a, &b, &c, &d);
        assert_eq!(*a, 0, "{field}");
        assert_eq!(
            pdf[*b], b'<',
            "{field}: /Contents starts where the first range ends"
        );
        assert_eq!(
            pdf[*c - 1],
            b'>',
            "{field}: the second range starts after /Contents"
        );
        assert!(c + d <= pdf.len(), "{field}");
        let mut hasher = Sha256::new();
        hasher.update(&pdf[..*b]);
        hasher.update(&pdf[*c..c + d]);
        let digest = hasher.finalize();
        let parsed = cms::parse(contents).expect("CMS reads back");
        assert_eq!(
            parsed.message_digest,
            digest.as_slice(),
            "{field}: message-digest covers the ByteRange"
        );
        assert!(parsed.signed_attribute_oids.contains(&cms::ID_CONTENT_TYPE));
        assert!(
            parsed
                .signed_attribute_oids
                .contains(&cms::ID_MESSAGE_DIGEST)
        );
        assert!(
            parsed
                .signed_attribute_oids
                .contains(&cms::ID_AA_SIGNING_CERTIFICATE_V2)
        );
        assert!(
            !parsed.signed_attribute_oids.contains(&cms::ID_SIGNING_TIME),
            "PAdES: no signing-time in the CMS"
        );
        assert!(
            certificate::verifies(
                &parsed.signer_certificate,
                &parsed.signed_attributes_der,
                &parsed.signature
            ),
            "{field}: signature verifies with the signer's certificate"
        );
        names.push(certificate::subject_name(&parsed.signer_certificate));
    }
    names
}

#[test]
fn signer_then_organisation_sign_and_both_verify() {
    let ca = ca();
    let signer = key(&ca.person.p12).expect("person's key");
    let organisation = key(&ca.organisation.p12).expect("organisation's key");
    assert_eq!(signer.algorithm(), sign::KeyAlgorithm::Rsa { bits: 2048 });
    assert_eq!(organisation.algorithm(), sign::KeyAlgorithm::EcP256);
    for (name, pdf) in rendered() {
        let signed =
            sign::sign_as_signer_and_organisation(pdf, &signer, &organisation, None, now())
                .expect("sign");
        assert_eq!(
            &signed[..pdf.len()],
            &pdf[..],
            "{name}: incremental, the original bytes untouched"
        );
        let names = verify_in_process(&signed);
        assert_eq!(
            names,
            vec![ca.person.name.clone(), ca.organisation.name.clone()],
            "{name}"
        );
        // The first signature covers exactly the first revision; the second, the whole file.
        let sigs = pades::signatures(&signed).expect("signatures");
        let [_, _, c, d] = sigs[0].byte_range;
        let first_revision_end = c + d;
        assert!(first_revision_end < signed.len());
        assert!(signed[..first_revision_end].ends_with(b"%%EOF\n"));
        let [_, _, c, d] = sigs[1].byte_range;
        assert_eq!(c + d, signed.len());
        let text = String::from_utf8_lossy(&signed);
        assert!(text.contains("/SubFilter/ETSI.CAdES.detached"), "{name}");
        assert!(text.contains("/SigFlags 3"), "{name}");
        let m = now()
            .with_timezone(&chrono_tz::Asia::Ho_Chi_Minh)
            .format("/M(D:%Y%m%d%H%M%S+07'00')")
            .to_string();
        assert!(text.contains(&m), "{name}: time in /M, Vietnam time");
    }
}

#[test]
fn a_pdf_with_an_xref_stream_is_signed_with_an_xref_stream_update() {
    let ca = ca();
    let pdf = with_xref_stream(report());
    let signer = key(&ca.person.p12).expect("key");
    let organisation = key(&ca.organisation.p12).expect("key");
    let signed = sign::sign_as_signer_and_organisation(&pdf, &signer, &organisation, None, now())
        .expect("sign");
    assert_eq!(
        verify_in_process(&signed),
        vec![ca.person.name.clone(), ca.organisation.name.clone()]
    );
    let tail = String::from_utf8_lossy(&signed[pdf.len()..]).into_owned();
    assert!(
        tail.contains("/Type/XRef"),
        "the update's cross-reference is a stream too"
    );
    assert!(
        !tail.contains("\ntrailer"),
        "no classic trailer after an xref stream"
    );
    lopdf::Document::load_mem(&signed).expect("the signed file reads back");
}

#[test]
fn one_changed_byte_breaks_the_digest() {
    let ca = ca();
    let signer = key(&ca.person.p12).expect("key");
    let signed = sign::sign_pdf(
        report(),
        &Signing {
            key: &signer,
            field_name: "ChuKy".into(),
            reason: None,
            appearance: None,
        },
        None,
        now(),
    )
    .expect("sign");
    let sigs = pades::signatures(&signed).expect("signatures");
    let [_, b, c, d] = sigs[0].byte_range;
    let digest_of = |pdf: &[u8]| {
        let mut h = Sha256::new();
        h.update(&pdf[..b]);
        h.update(&pdf[c..c + d]);
        h.finalize().to_vec()
    };
    let parsed = cms::parse(&sigs[0].contents).expect("cms");
    assert_eq!(digest_of(&signed), parsed.message_digest);
    let mut tampered = signed.clone();
    tampered[b / 2] ^= 0x01;
    assert_ne!(digest_of(&tampered), parsed.message_digest);
}

#[test]
fn an_expired_certificate_is_refused_naming_its_subject() {
    let ca = ca();
    let expired = key(&ca.expired.p12).expect("the key itself opens");
    let organisation = key(&ca.organisation.p12).expect("key");
    let err = sign::sign_as_signer_and_organisation(
        report(),
        &expired,
        &organisation,
        None,
        ca.a_week_later(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Certificate(CertificateError::Expired { .. })
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("Tô Xuân Lợi") && message.contains("hết hạn"),
        "{message}"
    );
    // The same certificate signs inside its one day of validity: only the injected time differs.
    sign::sign_as_signer_and_organisation(report(), &expired, &organisation, None, now())
        .expect("valid then");
}

#[test]
fn an_expired_organisation_certificate_stops_before_the_signer_signs() {
    let ca = ca();
    let signer = key(&ca.person.p12).expect("key");
    let expired = key(&ca.expired.p12).expect("key");
    let err =
        sign::sign_as_signer_and_organisation(report(), &signer, &expired, None, ca.a_week_later())
            .unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Certificate(CertificateError::Expired { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn a_certificate_not_yet_valid_at_the_injected_time_is_refused() {
    let ca = ca();
    let signer = key(&ca.person.p12).expect("key");
    let before = ca.issued() - chrono::Duration::days(1);
    let err = sign::sign_pdf(
        report(),
        &Signing {
            key: &signer,
            field_name: "ChuKy".into(),
            reason: None,
            appearance: None,
        },
        None,
        before,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Certificate(CertificateError::NotYetValid { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Hoàng Vĩnh Khuyến"), "{err}");
}

#[test]
fn a_certificate_without_a_signing_key_usage_is_refused() {
    let ca = ca();
    let wrong = key(&ca.no_signing_usage.p12).expect("key");
    let err = sign::sign_pdf(
        report(),
        &Signing {
            key: &wrong,
            field_name: "ChuKy".into(),
            reason: None,
            appearance: None,
        },
        None,
        now(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Certificate(CertificateError::WrongKeyUsage { .. })
        ),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("Trần Anh Cường") && message.contains("nonRepudiation"),
        "{message}"
    );
}

#[test]
fn a_key_that_is_not_the_certificates_is_refused_when_opened() {
    let err = key(&ca().mismatched_p12).unwrap_err();
    assert!(
        matches!(
            err,
            KeyError::Certificate(CertificateError::KeyMismatch { .. })
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Ủy ban nhân dân huyện Đầm Hà"),
        "{err}"
    );
}

#[test]
fn a_wrong_pkcs12_password_says_so() {
    let err = SigningKey::from_pkcs12(&ca().person.p12, "sai", Path::new("certs/khuyen.p12"))
        .unwrap_err();
    assert!(matches!(err, KeyError::Pkcs12 { .. }), "{err:?}");
    assert!(
        err.to_string().contains("certs/khuyen.p12") && err.to_string().contains("mật khẩu"),
        "{err}"
    );
}

#[test]
fn the_password_comes_from_the_named_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let p12 = dir.path().join("khuyen.p12");
    let pin = dir.path().join("pin");
    std::fs::write(&p12, &ca().person.p12).expect("write");
    std::fs::write(&pin, format!("{PASSWORD}\n")).expect("write");
    let key = SigningKey::open(&sign::SignerKeySource::Pkcs12 {
        path: p12,
        password: sign::SecretSource::File(pin),
    })
    .expect("opens with the password from the file");
    assert_eq!(
        certificate::subject_name(key.certificate()),
        "Hoàng Vĩnh Khuyến"
    );
}

// ---- With the real tools (openssl, pyHanko, pdfsig, pdftotext, SoftHSM2): run .ci/run ----

/// The openssl-made CA of tests/support/sign_ca.sh, in a temporary directory.
fn openssl_ca() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let done = Command::new("sh")
        .arg(root().join("tests/support/sign_ca.sh"))
        .arg(dir.path())
        .arg(PASSWORD)
        .output()
        .expect("sh tests/support/sign_ca.sh (needs openssl)");
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    dir
}

fn password_file(dir: &Path) -> PathBuf {
    let path = dir.join("pin.txt");
    std::fs::write(&path, format!("{PASSWORD}\n")).expect("write pin");
    path
}

fn open_p12(dir: &Path, name: &str) -> Result<SigningKey, KeyError> {
    SigningKey::open(&sign::SignerKeySource::Pkcs12 {
        path: dir.join(format!("{name}.p12")),
        password: sign::SecretSource::File(password_file(dir)),
    })
}

/// An injected "now" inside the openssl certificates' validity: an hour after they were made.
fn soon_after_issue(key: &SigningKey) -> DateTime<Utc> {
    let nb = key
        .certificate()
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration();
    DateTime::<Utc>::from_timestamp(nb.as_secs() as i64 + 3600, 0).expect("time")
}

/// pyHanko's verdict on every signature of `pdf`, trusting the test root and intermediate.
fn pyhanko(pdf: &Path, ca: &Path) -> (bool, String) {
    let out = Command::new("pyhanko")
        .args(["sign", "validate", "--pretty-print", "--trust"])
        .arg(ca.join("root.pem"))
        .arg("--trust")
        .arg(ca.join("intermediate.pem"))
        .arg(pdf)
        .output()
        .expect(
            "pyhanko (pip install pyhanko pyhanko-cli pyhanko-certvalidator) must be installed",
        );
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn pdfsig(pdf: &Path) -> String {
    let out = Command::new("pdfsig")
        .arg(pdf)
        .output()
        .expect("pdfsig (poppler-utils) must be installed");
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn pdftotext(pdf: &Path) -> String {
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8"])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils) must be installed");
    assert!(
        out.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// pyHanko and pdfsig both find two intact, valid signatures by the right people.
fn assert_validators_accept(pdf: &Path, ca: &Path, signer: &str, organisation: &str) {
    let (ok, report) = pyhanko(pdf, ca);
    assert!(ok, "pyHanko rejects {}:\n{report}", pdf.display());
    for name in [signer, organisation] {
        assert!(report.contains(name), "pyHanko names {name}:\n{report}");
    }
    assert_eq!(
        report
            .matches("The signature is cryptographically sound.")
            .count(),
        2,
        "{report}"
    );
    assert_eq!(
        report
            .matches("The signer's certificate is trusted.")
            .count(),
        2,
        "{report}"
    );
    let pdfsig = pdfsig(pdf);
    assert_eq!(
        pdfsig
            .matches("Signature Validation: Signature is Valid.")
            .count(),
        2,
        "{pdfsig}"
    );
    assert!(
        pdfsig.contains(&format!("Signer Certificate Common Name: {signer}")),
        "{pdfsig}"
    );
    assert!(
        pdfsig.contains(&format!("Signer Certificate Common Name: {organisation}")),
        "{pdfsig}"
    );
    assert!(pdfsig.contains("ETSI.CAdES.detached"), "{pdfsig}");
}

#[test]
#[ignore = "needs openssl/pyHanko/pdfsig/SoftHSM2: run .ci/run"]
fn pyhanko_and_pdfsig_accept_both_signatures_and_catch_one_changed_byte() {
    let ca = openssl_ca();
    let signer = open_p12(ca.path(), "person").expect("person.p12");
    let organisation = open_p12(ca.path(), "organisation").expect("organisation.p12");
    let now = soon_after_issue(&signer);
    let work = tempfile::tempdir().expect("tempdir");
    let inputs = [
        ("typst.pdf", report().to_vec()),
        ("xref-stream.pdf", with_xref_stream(report())),
    ];
    for (name, pdf) in inputs {
        let original = work.path().join(format!("original-{name}"));
        std::fs::write(&original, &pdf).expect("write");
        let signed = sign::sign_as_signer_and_organisation(&pdf, &signer, &organisation, None, now)
            .expect("sign");
        let path = work.path().join(name);
        std::fs::write(&path, &signed).expect("write");
        assert_validators_accept(
            &path,
            ca.path(),
            "Hoàng Vĩnh Khuyến",
            "Ủy ban nhân dân huyện Đầm Hà",
        );
        assert_eq!(
            pdftotext(&path),
            pdftotext(&original),
            "{name}: the signed PDF reads back the same"
        );

        // One changed byte inside the first revision: both signatures cover it, both must fail.
        let mut tampered = signed.clone();
        let sigs = pades::signatures(&signed).expect("signatures");
        let at = sigs[0].byte_range[1] / 2;
        tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
        let bad = work.path().join(format!("tampered-{name}"));
        std::fs::write(&bad, &tampered).expect("write");
        let (ok, report) = pyhanko(&bad, ca.path());
        assert!(!ok, "pyHanko must reject a changed byte:\n{report}");
        let pdfsig = pdfsig(&bad);
        assert!(!pdfsig.contains("Signature is Valid"), "{pdfsig}");
        assert_eq!(pdfsig.matches("Digest Mismatch").count(), 2, "{pdfsig}");
    }
}

#[test]
#[ignore = "needs openssl/pyHanko/pdfsig/SoftHSM2: run .ci/run"]
fn openssl_certificates_that_cannot_sign_are_refused() {
    let ca = openssl_ca();
    let expired = open_p12(ca.path(), "expired").expect("expired.p12 opens");
    let a_week_later = soon_after_issue(&expired) + chrono::Duration::days(7);
    let err = sign::sign_pdf(
        report(),
        &Signing {
            key: &expired,
            field_name: "ChuKy".into(),
            reason: None,
            appearance: None,
        },
        None,
        a_week_later,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Certificate(CertificateError::Expired { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Tô Xuân Lợi"), "{err}");
    let nosign = open_p12(ca.path(), "nosign").expect("nosign.p12 opens");
    let err = sign::sign_pdf(
        report(),
        &Signing {
            key: &nosign,
            field_name: "ChuKy".into(),
            reason: None,
            appearance: None,
        },
        None,
        soon_after_issue(&nosign),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SignError::Certificate(CertificateError::WrongKeyUsage { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("Trần Anh Cường"), "{err}");
}

/// A SoftHSM2 token "UBND" holding the person's RSA key and the organisation's P-256 key with their
/// certificates and the intermediate, as a government CA's USB token holds them.
fn softhsm_token(ca: &Path) -> PathBuf {
    let conf = ca.join("softhsm2.conf");
    std::fs::create_dir_all(ca.join("tokens")).expect("mkdir");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            ca.join("tokens").display()
        ),
    )
    .expect("write conf");
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", &conf)
            .current_dir(ca)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e} (apt-get install softhsm2 opensc)"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "UBND",
            "--pin",
            "123456",
            "--so-pin",
            "654321",
        ],
    );
    for (name, id) in [("person", "01"), ("organisation", "02")] {
        run(
            "softhsm2-util",
            &[
                "--import",
                &format!("{name}.pk8.pem"),
                "--token",
                "UBND",
                "--label",
                name,
                "--id",
                id,
                "--pin",
                "123456",
            ],
        );
        run(
            "pkcs11-tool",
            &[
                "--module",
                SOFTHSM,
                "--token-label",
                "UBND",
                "--login",
                "--pin",
                "123456",
                "--write-object",
                &format!("{name}.der"),
                "--type",
                "cert",
                "--id",
                id,
                "--label",
                name,
            ],
        );
    }
    conf
}

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The folder of the CA and token a parent run of the SoftHSM2 test made, for the run it starts.
const TOKEN_FOLDER: &str = "VANBAN_TEST_SOFTHSM2_FOLDER";

#[test]
#[ignore = "needs openssl/pyHanko/pdfsig/SoftHSM2: run .ci/run"]
fn keys_on_a_softhsm2_token_sign_rsa_and_ecdsa() {
    // SoftHSM2 reads its configuration from SOFTHSM2_CONF when the module initialises, and a
    // test cannot set a variable in its own process (changing the environment while other tests
    // run in threads beside it is `unsafe`, and the crate forbids unsafe code). So this test
    // makes the CA and the token, then runs itself again, alone, in a process started with the
    // variable set; that run signs on the token and asserts.
    if let Some(folder) = std::env::var_os(TOKEN_FOLDER) {
        sign_on_the_softhsm2_token(Path::new(&folder));
        return;
    }
    let ca = openssl_ca();
    let conf = softhsm_token(ca.path());
    let name = "keys_on_a_softhsm2_token_sign_rsa_and_ecdsa";
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env(TOKEN_FOLDER, ca.path())
        .output()
        .expect("run the test binary again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The second run must have run this test, not filtered it away.
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{stdout}\n{stderr}"
    );
}

/// Signs the sample report with the person's RSA key and the organisation's ECDSA key on the
/// token the parent run made in `folder` (SOFTHSM2_CONF already points at it).
fn sign_on_the_softhsm2_token(folder: &Path) {
    let pin = folder.join("token-pin");
    std::fs::write(&pin, "123456\n").expect("write");
    let token = |label: &str| {
        SigningKey::open(&sign::SignerKeySource::Pkcs11 {
            module: PathBuf::from(SOFTHSM),
            token: "UBND".into(),
            key_label: label.into(),
            pin: sign::SecretSource::File(pin.clone()),
        })
    };
    let signer = token("person").expect("person's key on the token");
    let organisation = token("organisation").expect("organisation's key on the token");
    assert!(matches!(
        signer.algorithm(),
        sign::KeyAlgorithm::Rsa { bits: 2048 }
    ));
    assert_eq!(organisation.algorithm(), sign::KeyAlgorithm::EcP256);
    let err = token("khong-co").unwrap_err();
    assert!(matches!(err, KeyError::TokenKeyNotFound { .. }), "{err:?}");
    let signed = sign::sign_as_signer_and_organisation(
        report(),
        &signer,
        &organisation,
        None,
        soon_after_issue(&signer),
    )
    .expect("sign on the token");
    let path = folder.join("token-signed.pdf");
    std::fs::write(&path, &signed).expect("write");
    assert_validators_accept(
        &path,
        folder,
        "Hoàng Vĩnh Khuyến",
        "Ủy ban nhân dân huyện Đầm Hà",
    );
}

struct Tsa {
    child: std::process::Child,
    url: String,
}

impl Drop for Tsa {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tsa(ca: &Path) -> Tsa {
    use std::io::BufRead;
    let mut child = Command::new("python3")
        .arg(root().join("tests/support/tsa_server.py"))
        .arg(ca)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    Tsa {
        child,
        url: format!("http://127.0.0.1:{}/tsa", line.trim()),
    }
}

#[test]
#[ignore = "needs openssl/pyHanko/pdfsig/SoftHSM2: run .ci/run"]
fn a_time_stamp_from_a_local_tsa_makes_both_signatures_b_t() {
    let ca = openssl_ca();
    let tsa = start_tsa(ca.path());
    let client = sign::TsaClient::new(tsa.url.clone());
    let signer = open_p12(ca.path(), "person").expect("person.p12");
    let organisation = open_p12(ca.path(), "organisation").expect("organisation.p12");
    let signed = sign::sign_as_signer_and_organisation(
        report(),
        &signer,
        &organisation,
        Some(&client),
        soon_after_issue(&signer),
    )
    .expect("sign with time-stamps");
    for found in pades::signatures(&signed).expect("signatures") {
        let field = &found.field_name;
        let parsed = cms::parse(&found.contents).expect("cms");
        assert!(
            parsed
                .unsigned_attribute_oids
                .contains(&cms::ID_AA_SIGNATURE_TIME_STAMP_TOKEN),
            "{field}"
        );
        let token = parsed.signature_time_stamp.expect("token");
        assert_eq!(
            sign::tsa::token_imprint(&token).expect("imprint"),
            Sha256::digest(&parsed.signature).to_vec(),
            "{field}: the token stamps this signature value"
        );
    }
    let path = ca.path().join("b-t.pdf");
    std::fs::write(&path, &signed).expect("write");
    assert_validators_accept(
        &path,
        ca.path(),
        "Hoàng Vĩnh Khuyến",
        "Ủy ban nhân dân huyện Đầm Hà",
    );
    let (_, report) = pyhanko(&path, ca.path());
    assert!(
        report.to_lowercase().matches("timestamp").count() >= 2,
        "{report}"
    );
}

#[test]
fn a_tsa_that_is_not_there_is_a_clear_error() {
    let ca = ca();
    let signer = key(&ca.person.p12).expect("key");
    // Port 9 (discard) on 127.0.0.1: nothing listens in the test environment.
    let client = sign::TsaClient::new("http://127.0.0.1:9/tsa");
    let err = sign::sign_pdf(
        report(),
        &Signing {
            key: &signer,
            field_name: "ChuKy".into(),
            reason: None,
            appearance: None,
        },
        Some(&client),
        now(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("127.0.0.1:9"), "{err}");
}

#[test]
fn signing_in_turn_from_one_parse_writes_the_same_bytes_as_parsing_before_each_signature() {
    // The second update is built from what the first changed, not from a second parse of the
    // file: it must come out byte for byte as the parse would have made it, in both kinds of
    // cross-reference section.
    let ca = ca();
    let signer = key(&ca.person.p12).expect("person");
    let organisation = key(&ca.organisation_rsa.p12).expect("organisation");
    let steps = [
        Signing {
            key: &signer,
            field_name: "ChuKyNguoiKy".into(),
            reason: Some("Ký ban hành văn bản".into()),
            appearance: None,
        },
        Signing {
            key: &organisation,
            field_name: "ChuKyCoQuan".into(),
            reason: None,
            appearance: None,
        },
    ];
    for pdf in [report().to_vec(), with_xref_stream(report())] {
        let (in_turn, ends) = sign::sign_pdf_in_turn(&pdf, &steps, None, now()).expect("sign");
        let first = sign::sign_pdf(&pdf, &steps[0], None, now()).expect("first");
        let second = sign::sign_pdf(&first, &steps[1], None, now()).expect("second");
        assert_eq!(ends, [first.len(), second.len()]);
        assert!(in_turn == second, "the one-parse update differs");
        assert_eq!(
            verify_in_process(&in_turn),
            [
                certificate::subject_name(signer.certificate()),
                certificate::subject_name(organisation.certificate())
            ]
        );
    }
}

/// A signature added to a file that already has a field of its name (an attachment that is
/// itself a signed document) gets a name of its own: two fields of one name would be one field.
#[test]
fn a_signature_never_takes_the_name_of_a_field_already_there() {
    let ca = ca();
    let organisation = key(&ca.organisation.p12).expect("key");
    let once = |pdf: &[u8]| {
        sign::sign_pdf(
            pdf,
            &Signing {
                key: &organisation,
                field_name: "ChuKyCoQuan".into(),
                reason: None,
                appearance: None,
            },
            None,
            now(),
        )
        .expect("sign")
    };
    let signed = once(&once(&once(report())));
    let names: Vec<String> = pades::signatures(&signed)
        .expect("signatures")
        .into_iter()
        .map(|s| s.field_name)
        .collect();
    assert_eq!(names, ["ChuKyCoQuan", "ChuKyCoQuan-2", "ChuKyCoQuan-3"]);
}
