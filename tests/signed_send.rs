//! `vanban send` with `[signing]` on, end to end: the built binary, keys and certificates made in
//! the test (rcgen; the person's key is RSA-2048, the others ECDSA P-256) and stored as PKCS#12,
//! a real SMTP server on 127.0.0.1 (tests/support/sink.rs). Every sent PDF is read back: two
//! PAdES signatures in order, each verified against its certificate, the text unchanged.

#[path = "support/pdf_text.rs"]
mod pdf_text;
#[path = "support/sign_ca.rs"]
mod sign_ca;
#[path = "support/sink.rs"]
mod sink;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    date_time_ymd,
};
use sha2::{Digest, Sha256};
use vanban::issue::sign::{certificate, cms, pades, tsa};

use pdf_text::pdf_words;
use sink::{Sink, parse_eml, sha256_hex};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sign");
const ORGANISATION: &str = "Ủy ban nhân dân huyện Đầm Hà";
/// The Office, when it issues the notice (TB-VP) with its own key and seal.
const OFFICE: &str = "Văn phòng HĐND và UBND huyện Đầm Hà";
/// The signature blocks' names in the sample: the report, the notice, the letters.
const REPORT_SIGNER: &str = "Hoàng Vĩnh Khuyến";
const NOTICE_SIGNER: &str = "Tô Xuân Lợi";
const LETTER_SIGNER: &str = "Trần Anh Cường";

/// A certificate for `name` issued by the test root, with the key usages a signing certificate
/// has; `expired`: valid only during 2020.
fn leaf(
    name: &str,
    key: &KeyPair,
    root: &CertificateParams,
    root_key: &KeyPair,
    expired: bool,
) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::ExplicitNoCa;
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2020, 12, 31);
    }
    params
        .signed_by(key, &Issuer::from_params(root, root_key))
        .unwrap()
        .der()
        .to_vec()
}

/// An office with the sample period, keys for the organisation and the signers (all but those in
/// `without_key`), the signature and seal images, and an [smtp] section for `port`.
struct Office {
    dir: tempfile::TempDir,
}

/// Debian's SoftHSM2 module (.ci/run installs softhsm2).
const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";

impl Office {
    fn new(port: u16, expired: &[&str], without_key: &[&str]) -> Office {
        Office::build(port, expired, without_key, false)
    }

    /// `token`: the organisation's key and certificate on a SoftHSM2 token "UBND" (label "org")
    /// instead of a PKCS#12 file.
    fn build(port: u16, expired: &[&str], without_key: &[&str], token: bool) -> Office {
        Office::build_full(port, expired, without_key, token, false)
    }

    /// `office_notice`: the conclusion notice is issued by the Office (TB-VP), which has its own
    /// key and seal in `[[signing.issuers]]`.
    fn build_full(
        port: u16,
        expired: &[&str],
        without_key: &[&str],
        token: bool,
        office_notice: bool,
    ) -> Office {
        let dir = tempfile::tempdir().unwrap();
        for name in ["dam-ha-2024-h1.toml", "directory.toml"] {
            std::fs::copy(Path::new(SAMPLES).join(name), dir.path().join(name)).unwrap();
        }
        if office_notice {
            let period = dir.path().join("dam-ha-2024-h1.toml");
            let text = std::fs::read_to_string(&period).unwrap();
            let changed = text.replacen(
                "conclusion_notice = { signer",
                &format!(
                    "conclusion_notice = {{ issuer = {{ name = \"{OFFICE}\", abbr = \"VP\", \
                     header = [\"Văn phòng HĐND và UBND\", \"huyện Đầm Hà\"] }}, signer"
                ),
                1,
            );
            assert_ne!(changed, text, "the sample's notice line moved");
            std::fs::write(&period, changed).unwrap();
        }
        let keys = dir.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        for image in ["chu-ky.png", "con-dau.png"] {
            std::fs::copy(Path::new(FIXTURES).join(image), keys.join(image)).unwrap();
        }
        std::fs::write(keys.join("pin.txt"), format!("{}\n", sign_ca::PASSWORD)).unwrap();

        let root_key = KeyPair::generate().unwrap();
        let mut root = CertificateParams::new(Vec::<String>::new()).unwrap();
        root.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        root.distinguished_name
            .push(DnType::CommonName, "Test Root CA vanban");
        root.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let root_cert = root.self_signed(&root_key).unwrap();
        let root_der = root_cert.der().to_vec();
        std::fs::write(keys.join("root.pem"), root_cert.pem()).unwrap();

        let mut signing = String::new();
        let people = [
            (REPORT_SIGNER, "khuyen"),
            (NOTICE_SIGNER, "loi"),
            (LETTER_SIGNER, "cuong"),
            (ORGANISATION, "ubnd"),
            (OFFICE, "vp"),
        ];
        for (name, file) in people {
            if name == OFFICE && !office_notice {
                continue;
            }
            // The person who signs the report holds an RSA-2048 key (the fixtures'), the others
            // ECDSA P-256 keys made now.
            let pkcs8 = if name == REPORT_SIGNER {
                std::fs::read(Path::new(FIXTURES).join("person.pk8.der")).unwrap()
            } else {
                KeyPair::generate().unwrap().serialize_der()
            };
            let key = KeyPair::try_from(&pkcs8[..]).unwrap();
            let cert = leaf(name, &key, &root, &root_key, expired.contains(&name));
            std::fs::write(
                keys.join(format!("{file}.p12")),
                sign_ca::p12(&pkcs8, &[&cert, &root_der]),
            )
            .unwrap();
            if name == ORGANISATION && token {
                let pem = KeyPair::try_from(&pkcs8[..]).unwrap().serialize_pem();
                std::fs::write(keys.join("org.pem"), pem).unwrap();
                std::fs::write(keys.join("org.der"), &cert).unwrap();
                softhsm_token(dir.path());
                signing = format!(
                    "[signing]\norganisation = {{ pkcs11_module = \"{SOFTHSM}\", token = \"UBND\", \
                     key_label = \"org\", pin_env = \"VANBAN_TEST_ORG_PIN\", \
                     seal_image = \"keys/con-dau.png\" }}\n{signing}"
                );
            } else if name == ORGANISATION {
                signing = format!(
                    "[signing]\norganisation = {{ pkcs12 = \"keys/{file}.p12\", password_env = \
                     \"VANBAN_TEST_ORG_PIN\", seal_image = \"keys/con-dau.png\" }}\n{signing}"
                );
            } else if name == OFFICE {
                signing.push_str(&format!(
                    "[[signing.issuers]]\nissuer = \"VP\"\npkcs12 = \"keys/{file}.p12\"\n\
                     password_file = \"keys/pin.txt\"\nseal_image = \"keys/con-dau-vp.png\"\n"
                ));
                std::fs::copy(
                    Path::new(FIXTURES).join("con-dau.png"),
                    keys.join("con-dau-vp.png"),
                )
                .unwrap();
            } else if !without_key.contains(&name) {
                signing.push_str(&format!(
                    "[[signing.signers]]\nname = \"{name}\"\npkcs12 = \"keys/{file}.p12\"\n\
                     password_file = \"keys/pin.txt\"\nsignature_image = \"keys/chu-ky.png\"\n"
                ));
            }
        }
        // One connection: the kill test counts on the messages before the stalled one being
        // sent and none after it begun (tests/connections.rs covers several connections).
        let config = format!(
            "directory = \"directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
             [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\n\
             address = \"vanphong.damha@example.vn\"\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\ntimeout_seconds = 10\n\
             max_attempts = 1\nretry_delay_seconds = 0\nconnections = 1\n{signing}"
        );
        std::fs::write(dir.path().join("vanban.toml"), config).unwrap();
        let office = Office { dir };
        office.approve();
        office
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, subcommand: &str, args: &[&str]) -> Output {
        self.command(subcommand, args).output().unwrap()
    }

    fn command(&self, subcommand: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vanban"));
        command
            .arg(subcommand)
            .arg(self.path("dam-ha-2024-h1.toml"))
            .arg("--config")
            .arg(self.path("vanban.toml"))
            .args(args)
            .current_dir(self.dir.path())
            .env("VANBAN_TEST_ORG_PIN", sign_ca::PASSWORD)
            .env("SOFTHSM2_CONF", self.path("softhsm2.conf"));
        command
    }

    /// The leader approves the drafts as they are now: signing comes after approval, as in an
    /// office (draft → approved → issued → signed → sent). Every office here approves its drafts
    /// once, as it is made.
    fn approve(&self) {
        let out = self.run("approve", &["--by", "Hoàng Vĩnh Khuyến"]);
        assert!(
            out.status.success(),
            "approve: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn send(&self) -> (bool, String) {
        let out = self.run("send", &[]);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn status(&self) -> String {
        let out = self.run("status", &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The filed files of the period: name → bytes.
    fn filed(&self) -> Vec<(String, Vec<u8>)> {
        let dir = self.path("out/2024-h1");
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .filter(|e| e.path().is_file())
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    fn signature_rows(&self) -> i64 {
        let db = rusqlite::Connection::open(self.path("vanban.sqlite")).unwrap();
        db.query_row("SELECT count(*) FROM signatures", [], |r| r.get(0))
            .unwrap()
    }

    fn register_rows(&self) -> i64 {
        let db = rusqlite::Connection::open(self.path("vanban.sqlite")).unwrap();
        db.query_row("SELECT count(*) FROM register", [], |r| r.get(0))
            .unwrap()
    }
}

/// Every signature of `pdf`, checked: the ByteRange covers all but /Contents, the CMS digest is
/// the ByteRange's, the signature verifies with the certificate it carries. Returns each
/// signature's field name and certificate subject, in order.
fn verified_signatures(name: &str, pdf: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for sig in pades::signatures(pdf).unwrap_or_else(|e| panic!("{name}: {e}")) {
        let [a, b, c, d] = sig.byte_range;
        assert_eq!(a, 0, "{name}");
        assert!(c + d <= pdf.len(), "{name}");
        let mut hasher = Sha256::new();
        hasher.update(&pdf[..b]);
        hasher.update(&pdf[c..c + d]);
        let parsed = cms::parse(&sig.contents).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            parsed.message_digest,
            hasher.finalize().as_slice(),
            "{name}: {}",
            sig.field_name
        );
        assert!(
            certificate::verifies(
                &parsed.signer_certificate,
                &parsed.signed_attributes_der,
                &parsed.signature
            ),
            "{name}: {}",
            sig.field_name
        );
        out.push((
            sig.field_name.clone(),
            certificate::subject_name(&parsed.signer_certificate),
        ));
    }
    out
}

/// The PDF as rendered, before the first incremental update: up to its first %%EOF line.
fn first_revision(pdf: &[u8]) -> &[u8] {
    let at = pdf
        .windows(5)
        .position(|w| w == b"%%EOF")
        .expect("a PDF ends in %%EOF");
    let mut end = at + 5;
    while end < pdf.len() && (pdf[end] == b'\r' || pdf[end] == b'\n') {
        end += 1;
    }
    &pdf[..end]
}

fn words(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    pdf_words(&path)
}

/// The signer the sample's signature block names for a filed file.
fn expected_signer(file: &str) -> &'static str {
    if file.contains("-BC-") {
        REPORT_SIGNER
    } else if file.contains("-TB-") {
        NOTICE_SIGNER
    } else {
        LETTER_SIGNER
    }
}

#[test]
fn every_sent_pdf_is_signed_by_its_signer_then_the_organisation_and_reads_the_same() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert!(out.contains("đã gửi 14"), "{out}");
    assert!(!out.contains("không có chữ ký số"), "{out}");

    let filed = office.filed();
    let pdfs: Vec<&(String, Vec<u8>)> = filed.iter().filter(|(n, _)| n.ends_with(".pdf")).collect();
    // The report, the notice and ten letters.
    assert_eq!(pdfs.len(), 12, "{filed:?}");
    let scratch = tempfile::tempdir().unwrap();
    for (name, pdf) in &pdfs {
        let signatures = verified_signatures(name, pdf);
        assert_eq!(
            signatures,
            [
                ("ChuKyNguoiKy".to_owned(), expected_signer(name).to_owned()),
                ("ChuKyCoQuan".to_owned(), ORGANISATION.to_owned()),
            ],
            "{name}"
        );
        // Signing adds to the file and changes nothing a reader sees.
        let original = first_revision(pdf);
        assert!(original.len() < pdf.len(), "{name}");
        let signed_words = words(scratch.path(), "signed.pdf", pdf);
        assert_eq!(
            signed_words,
            words(scratch.path(), "original.pdf", original),
            "{name}"
        );
        assert!(signed_words.contains(expected_signer(name)), "{name}");
        // Still PDF/A-2b: the incremental updates keep the first revision's identification.
        for mark in [
            "<pdfaid:part>2</pdfaid:part>",
            "<pdfaid:conformance>B</pdfaid:conformance>",
        ] {
            assert!(
                pdf.windows(mark.len()).any(|w| w == mark.as_bytes()),
                "{name}: {mark}"
            );
        }
        // The page carries the signature and seal images (the draft has no image at all).
        assert!(
            pdf.windows(b"/Image".len()).any(|w| w == b"/Image"),
            "{name}: no image XObject"
        );
    }
    // DOCX copies go as they are: unsigned, never a PDF.
    assert!(
        filed
            .iter()
            .filter(|(n, _)| n.ends_with(".docx"))
            .all(|(_, b)| b.starts_with(b"PK"))
    );

    // What the units received is exactly what was filed.
    let filed_hashes: BTreeSet<String> = filed.iter().map(|(_, b)| sha256_hex(b)).collect();
    let messages = parse_eml(&sink.received());
    assert_eq!(messages.len(), 14);
    let mut pdf_attachments = 0;
    for message in &messages {
        for attachment in message["attachments"].as_array().unwrap() {
            let sha = attachment["sha256"].as_str().unwrap();
            assert!(filed_hashes.contains(sha), "{attachment}");
            if attachment["content_type"] == "application/pdf" {
                pdf_attachments += 1;
            }
        }
    }
    assert!(pdf_attachments >= 14, "{messages:?}");

    // The signing step is recorded and shown.
    assert_eq!(office.signature_rows(), 24);
    let status = office.status();
    assert_eq!(status.matches("đã ký số lúc").count(), 12, "{status}");
    assert!(
        status.contains(&format!(
            "{NOTICE_SIGNER} (người ký), rồi {ORGANISATION} (cơ quan)"
        )),
        "{status}"
    );
    assert!(!status.contains("chưa ký số"), "{status}");
}

#[test]
fn a_notice_the_office_issues_is_signed_with_the_offices_key_not_the_committees() {
    let sink = Sink::start(&[]);
    let office = Office::build_full(sink.port, &[], &[], false, true);
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    let filed = office.filed();
    let mut notices = 0;
    for (name, pdf) in filed.iter().filter(|(n, _)| n.ends_with(".pdf")) {
        let organisation = if name.contains("-TB-VP") {
            notices += 1;
            OFFICE
        } else {
            ORGANISATION
        };
        assert_eq!(
            verified_signatures(name, pdf),
            [
                ("ChuKyNguoiKy".to_owned(), expected_signer(name).to_owned()),
                ("ChuKyCoQuan".to_owned(), organisation.to_owned()),
            ],
            "{name}"
        );
    }
    assert_eq!(notices, 1, "{filed:?}");

    // Without the Office's own entry, `check` names it and `send` issues nothing: the
    // committee's seal is never put on the Office's notice.
    let sink = Sink::start(&[]);
    let office = Office::build_full(sink.port, &[], &[], false, true);
    let config = office.path("vanban.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let start = text.find("[[signing.issuers]]").unwrap();
    let end = start + text[start..].find("seal_image").unwrap();
    let end = end + text[end..].find('\n').unwrap() + 1;
    std::fs::write(&config, format!("{}{}", &text[..start], &text[end..])).unwrap();
    let check = office.run("check", &[]);
    let stderr = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("«{OFFICE}»")), "{stderr}");
    assert!(stderr.contains("[[signing.issuers]]"), "{stderr}");
    let (ok, out) = office.send();
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("do «{OFFICE}» ban hành")), "{out}");
    assert!(out.contains("Chưa cấp số"), "{out}");
    assert!(sink.received().is_empty());
    assert_eq!(office.register_rows(), 0);
}

#[test]
fn an_expired_certificate_or_a_signer_without_a_key_sends_nothing_and_uses_no_number() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[NOTICE_SIGNER], &[]);
    let (ok, out) = office.send();
    assert!(!ok, "{out}");
    assert!(out.contains(NOTICE_SIGNER), "{out}");
    assert!(out.contains("đã hết hạn"), "{out}");
    assert!(out.contains("Chưa cấp số"), "{out}");
    assert!(sink.received().is_empty());
    assert_eq!(office.register_rows(), 0);
    assert!(!office.path("out/2024-h1").exists());

    let office = Office::new(sink.port, &[], &[LETTER_SIGNER]);
    let (ok, out) = office.send();
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("do «{LETTER_SIGNER}» ký")), "{out}");
    assert!(sink.received().is_empty());
    assert_eq!(office.register_rows(), 0);
    // `check --config` says so before any send.
    let check = office.run("check", &[]);
    let text = String::from_utf8_lossy(&check.stderr);
    assert!(!check.status.success(), "{text}");
    assert!(text.contains("[signing]"), "{text}");
    assert!(text.contains(LETTER_SIGNER), "{text}");
}

#[test]
fn a_run_that_stops_after_filing_resends_the_same_signed_bytes_never_signing_again() {
    // No server at first: every document is numbered, signed and filed, no message goes out
    // (as when the process dies between filing and sending).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let office = Office::new(port, &[], &[]);
    let (ok, out) = office.send();
    assert!(!ok, "{out}");
    let filed = office.filed();
    let rows = office.signature_rows();
    assert_eq!(rows, 24);
    let registered = office.register_rows();

    let sink = Sink::start(&["--port", &port.to_string()]);
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert!(out.contains("đã gửi 14"), "{out}");
    // Nothing re-rendered, re-signed or renumbered.
    assert_eq!(office.filed(), filed);
    assert_eq!(office.signature_rows(), rows);
    assert_eq!(office.register_rows(), registered);
    let filed_hashes: BTreeSet<String> = filed.iter().map(|(_, b)| sha256_hex(b)).collect();
    for message in parse_eml(&sink.received()) {
        for attachment in message["attachments"].as_array().unwrap() {
            assert!(
                filed_hashes.contains(attachment["sha256"].as_str().unwrap()),
                "{attachment}"
            );
        }
    }
    for (name, pdf) in filed.iter().filter(|(n, _)| n.ends_with(".pdf")) {
        assert_eq!(verified_signatures(name, pdf).len(), 2, "{name}");
    }
}

#[test]
fn a_send_killed_after_filing_resends_the_same_signed_bytes_never_signing_again() {
    // The server stores the second message and holds back its reply; the process is killed
    // there: every document numbered, signed and filed, one message of unknown outcome, twelve
    // not tried.
    let sink = Sink::start(&["--stall-data", "2", "--stall-seconds", "30"]);
    let office = Office::new(sink.port, &[], &[]);
    let mut child = office
        .command("send", &[])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    sink.wait_for_stall(|| {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("send ended before the stall: {status}");
        }
    });
    child.kill().unwrap(); // SIGKILL: nothing more recorded
    child.wait().unwrap();
    let filed = office.filed();
    let rows = office.signature_rows();
    assert_eq!(rows, 24);
    let registered = office.register_rows();
    drop(sink);

    let sink = Sink::start(&[]);
    let config = std::fs::read_to_string(office.path("vanban.toml")).unwrap();
    let old_port = config
        .lines()
        .find_map(|l| l.strip_prefix("port = "))
        .unwrap()
        .to_owned();
    std::fs::write(
        office.path("vanban.toml"),
        config.replace(
            &format!("port = {old_port}"),
            &format!("port = {}", sink.port),
        ),
    )
    .unwrap();
    let (_, out) = office.send();
    // The message whose reply was lost is never resent by itself; the other twelve go now.
    assert!(out.contains("đã gửi 12"), "{out}");
    assert!(out.contains("không rõ kết quả 1"), "{out}");
    assert_eq!(sink.received().len(), 12);
    // Nothing re-rendered, re-signed or renumbered: the same signed bytes.
    assert_eq!(office.filed(), filed);
    assert_eq!(office.signature_rows(), rows);
    assert_eq!(office.register_rows(), registered);
    let filed_hashes: BTreeSet<String> = filed.iter().map(|(_, b)| sha256_hex(b)).collect();
    for message in parse_eml(&sink.received()) {
        for attachment in message["attachments"].as_array().unwrap() {
            assert!(
                filed_hashes.contains(attachment["sha256"].as_str().unwrap()),
                "{attachment}"
            );
        }
    }
}

// ---- With the real validators (pyHanko, poppler's pdfsig): run .ci/run ----

fn tool(program: &str, args: &[&str], pdf: &Path) -> (bool, String) {
    let out = Command::new(program)
        .args(args)
        .arg(pdf)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (.ci/run): {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// A SoftHSM2 token "UBND" in `dir` holding keys/org.pem with its certificate keys/org.der, PIN
/// the test password; its configuration at dir/softhsm2.conf.
fn softhsm_token(dir: &Path) {
    let conf = dir.join("softhsm2.conf");
    std::fs::create_dir_all(dir.join("tokens")).unwrap();
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            dir.join("tokens").display()
        ),
    )
    .unwrap();
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", &conf)
            .current_dir(dir.join("keys"))
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e} (apt-get install softhsm2 opensc)"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let pin = sign_ca::PASSWORD;
    run(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "UBND",
            "--pin",
            pin,
            "--so-pin",
            "654321",
        ],
    );
    run(
        "softhsm2-util",
        &[
            "--import", "org.pem", "--token", "UBND", "--label", "org", "--id", "02", "--pin", pin,
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
            pin,
            "--write-object",
            "org.der",
            "--type",
            "cert",
            "--id",
            "02",
            "--label",
            "org",
        ],
    );
}

#[test]
#[ignore = "needs SoftHSM2/opensc/pyHanko: run .ci/run"]
fn the_organisation_key_on_a_softhsm2_token_signs_every_sent_pdf() {
    let sink = Sink::start(&[]);
    let office = Office::build(sink.port, &[], &[], true);
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    let root = office.path("keys/root.pem");
    for (name, pdf) in office.filed().iter().filter(|(n, _)| n.ends_with(".pdf")) {
        assert_eq!(
            verified_signatures(name, pdf),
            [
                ("ChuKyNguoiKy".to_owned(), expected_signer(name).to_owned()),
                ("ChuKyCoQuan".to_owned(), ORGANISATION.to_owned()),
            ],
            "{name}"
        );
        let path = office.path("out/2024-h1").join(name);
        let (ok, report) = tool(
            "pyhanko",
            &[
                "sign",
                "validate",
                "--pretty-print",
                "--trust",
                root.to_str().unwrap(),
            ],
            &path,
        );
        assert!(ok, "pyHanko rejects {name}:\n{report}");
    }
}

#[test]
#[ignore = "needs pyHanko/poppler/python3 (the shared layout checker): run .ci/run"]
fn every_pdf_sent_validates_with_pyhanko_and_pdfsig_and_one_changed_byte_is_caught() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    // The signed pages still pass the shared Decree-30 layout checker (margins, page numbers,
    // motto, "./."); VANBAN_LAYOUT_CHECK names it where the checkout is not beside shared/.
    let checker = std::env::var_os("VANBAN_LAYOUT_CHECK")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/nd30-layout-check.py")
        });
    let pdfs: Vec<PathBuf> = office
        .filed()
        .iter()
        .filter(|(n, _)| n.ends_with(".pdf"))
        .map(|(n, _)| office.path("out/2024-h1").join(n))
        .collect();
    let layout = Command::new("python3")
        .arg(&checker)
        .args(&pdfs)
        .output()
        .unwrap_or_else(|e| panic!("python3 {}: {e}", checker.display()));
    let layout_text = String::from_utf8_lossy(&layout.stdout).into_owned()
        + &String::from_utf8_lossy(&layout.stderr);
    assert!(
        layout.status.success() && layout_text.contains("12 PDFs, 0 Decree-30 layout problems"),
        "{layout_text}"
    );
    let root = office.path("keys/root.pem");
    let trust = [
        "sign",
        "validate",
        "--pretty-print",
        "--trust",
        root.to_str().unwrap(),
    ];
    let scratch = tempfile::tempdir().unwrap();
    for (name, pdf) in office.filed().iter().filter(|(n, _)| n.ends_with(".pdf")) {
        let path = office.path("out/2024-h1").join(name);
        let (ok, report) = tool("pyhanko", &trust, &path);
        assert!(ok, "pyHanko rejects {name}:\n{report}");
        assert_eq!(
            report
                .matches("The signature is cryptographically sound.")
                .count(),
            2,
            "{name}: {report}"
        );
        assert_eq!(
            report
                .matches("The signer's certificate is trusted.")
                .count(),
            2,
            "{name}: {report}"
        );
        for who in [expected_signer(name), ORGANISATION] {
            assert!(report.contains(who), "{name}: {report}");
        }
        let (_, pdfsig) = tool("pdfsig", &[], &path);
        assert_eq!(
            pdfsig
                .matches("Signature Validation: Signature is Valid.")
                .count(),
            2,
            "{name}: {pdfsig}"
        );
        assert!(
            pdfsig.contains(&format!(
                "Signer Certificate Common Name: {}",
                expected_signer(name)
            )),
            "{pdfsig}"
        );
        // pdftotext reads the signed file as it read the rendered one.
        let original = scratch.path().join("original.pdf");
        std::fs::write(&original, first_revision(pdf)).unwrap();
        let read = |p: &Path| {
            let out = Command::new("pdftotext")
                .args(["-enc", "UTF-8"])
                .arg(p)
                .arg("-")
                .output()
                .expect("pdftotext (poppler-utils)");
            assert!(out.status.success(), "{}", p.display());
            String::from_utf8_lossy(&out.stdout)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(read(&path), read(&original), "{name}");

        // One changed byte in the rendered part: both signatures cover it, both validators say so.
        let mut tampered = pdf.clone();
        let at = pades::signatures(pdf).unwrap()[0].byte_range[1] / 2;
        tampered[at] = if tampered[at] == b'0' { b'1' } else { b'0' };
        let bad = scratch.path().join("tampered.pdf");
        std::fs::write(&bad, &tampered).unwrap();
        let (ok, report) = tool("pyhanko", &trust, &bad);
        assert!(
            !ok,
            "pyHanko must reject a changed byte in {name}:\n{report}"
        );
        let (_, pdfsig) = tool("pdfsig", &[], &bad);
        assert!(!pdfsig.contains("Signature is Valid"), "{name}: {pdfsig}");
        assert_eq!(
            pdfsig.matches("Digest Mismatch").count(),
            2,
            "{name}: {pdfsig}"
        );
    }
}

/// tests/support/tsa_server.py on 127.0.0.1, answering with the openssl test CA's TSA key.
struct TsaServer {
    child: std::process::Child,
    url: String,
    _ca: tempfile::TempDir,
}

impl Drop for TsaServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_tsa() -> TsaServer {
    use std::io::BufRead;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let ca = tempfile::tempdir().unwrap();
    let made = Command::new("sh")
        .arg(root.join("tests/support/sign_ca.sh"))
        .arg(ca.path())
        .arg(sign_ca::PASSWORD)
        .output()
        .expect("sh tests/support/sign_ca.sh (needs openssl)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let mut child = Command::new("python3")
        .arg(root.join("tests/support/tsa_server.py"))
        .arg(ca.path())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    TsaServer {
        child,
        url: format!("http://127.0.0.1:{}/tsa", line.trim()),
        _ca: ca,
    }
}

/// Points the office's `[signing]` at a time-stamping authority.
fn with_tsa(office: &Office, url: &str) {
    let config = office.path("vanban.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let line = "seal_image = \"keys/con-dau.png\" }\n";
    assert!(text.contains(line), "{text}");
    let text = text.replacen(line, &format!("{line}tsa_url = \"{url}\"\n"), 1);
    std::fs::write(&config, text).unwrap();
}

#[test]
#[ignore = "needs openssl and python3 (the test time-stamping authority): run .ci/run"]
fn with_a_tsa_every_sent_signature_is_b_t_and_a_tsa_that_is_down_sends_nothing() {
    // The authority down first: the send stops at the first signature, nothing goes out, and
    // the numbers it had reserved are the ones the next run issues (no gap).
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    with_tsa(&office, "http://127.0.0.1:9/tsa");
    let (ok, out) = office.send();
    assert!(!ok, "{out}");
    assert!(out.contains("127.0.0.1:9"), "{out}");
    assert!(sink.received().is_empty(), "{out}");
    assert_eq!(office.signature_rows(), 0);

    let tsa = start_tsa();
    let config = office.path("vanban.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, text.replace("http://127.0.0.1:9/tsa", &tsa.url)).unwrap();
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert!(out.contains("đã gửi 14"), "{out}");
    let filed = office.filed();
    let mut numbers: Vec<String> = Vec::new();
    for (name, pdf) in filed.iter().filter(|(n, _)| n.ends_with(".pdf")) {
        numbers.push(name.split(' ').next().unwrap().to_owned());
        let found = pades::signatures(pdf).unwrap();
        assert_eq!(found.len(), 2, "{name}");
        for signature in found {
            let parsed = cms::parse(&signature.contents).unwrap();
            let token = parsed
                .signature_time_stamp
                .unwrap_or_else(|| panic!("{name}: {} has no time-stamp", signature.field_name));
            assert_eq!(
                tsa::token_imprint(&token).unwrap(),
                Sha256::digest(&parsed.signature).to_vec(),
                "{name}: {}: the token stamps this signature value",
                signature.field_name
            );
        }
    }
    // 01/BC, 02/TB and the letters 03…12: the failed run used no number up.
    numbers.sort();
    let expected: Vec<String> = (1..=12).map(|n| format!("{n:02}")).collect();
    let got: Vec<String> = numbers
        .iter()
        .map(|n| n.split('-').next().unwrap().to_owned())
        .collect();
    assert_eq!(got, expected, "{numbers:?}");
    assert_eq!(office.signature_rows(), 24);
}
