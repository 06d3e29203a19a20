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
fn with_pdf_from_docx_every_sent_pdf_is_signed_and_shows_the_signature_and_seal() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let config = office.path("vanban.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("pdf_from = \"docx\"\n{text}")).unwrap();
    // The drafts now come from the DOCX: what the leader approves is what goes.
    office.approve();
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert!(out.contains("đã gửi 14"), "{out}");
    let pdfs: Vec<(String, Vec<u8>)> = office
        .filed()
        .into_iter()
        .filter(|(n, _)| n.ends_with(".pdf"))
        .collect();
    assert_eq!(pdfs.len(), 12);
    for (name, pdf) in &pdfs {
        assert_eq!(
            verified_signatures(name, pdf),
            [
                ("ChuKyNguoiKy".to_owned(), expected_signer(name).to_owned()),
                ("ChuKyCoQuan".to_owned(), ORGANISATION.to_owned()),
            ],
            "{name}"
        );
        assert!(
            pdf.windows(b"/Image".len()).any(|w| w == b"/Image"),
            "{name}: no signature or seal image"
        );
    }
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

/// A signature or seal image is checked whole before any number is reserved, by `send` and by
/// `check --config`: a truncated PNG (which used to pass, then fail half-way through issuing), an
/// image whose header announces 30000 × 30000 pixels (refused from the header, never decoded),
/// and one over `[limits] image_max_kb` (a 50 MB scan made every message too large for the mail
/// server after the numbers were issued). Each is named with its file and its setting; the
/// register stays empty and nothing is sent.
#[test]
fn a_truncated_huge_or_oversized_image_stops_send_and_check_before_any_number() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let signature = std::fs::read(Path::new(FIXTURES).join("chu-ky.png")).unwrap();
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr: Vec<u8> = [
        &30000u32.to_be_bytes()[..],
        &30000u32.to_be_bytes(),
        &[8, 6, 0, 0, 0],
    ]
    .concat();
    huge.extend(png_chunk(b"IHDR", &ihdr));
    huge.extend(png_chunk(b"IEND", &[]));
    let config = std::fs::read_to_string(office.path("vanban.toml")).unwrap();
    let cases: [(&str, Vec<u8>, &str, &str); 3] = [
        ("keys/chu-ky.png", signature[..700].to_vec(), "", "cắt cụt"),
        (
            "keys/con-dau.png",
            huge,
            "",
            "rộng 30000 × cao 30000 điểm ảnh, quá giới hạn 4000 điểm ảnh mỗi chiều \
             (limits.image_max_side_px",
        ),
        (
            "keys/chu-ky.png",
            signature.clone(),
            "[limits]\nimage_max_kb = 1\n",
            "quá giới hạn 1 KB (limits.image_max_kb",
        ),
    ];
    for (file, bytes, limits, said) in cases {
        let good = std::fs::read(office.path(file)).unwrap();
        std::fs::write(office.path(file), &bytes).unwrap();
        std::fs::write(office.path("vanban.toml"), format!("{config}\n{limits}")).unwrap();
        let (ok, out) = office.send();
        assert!(!ok, "{out}");
        assert!(out.contains(said), "{file}: {out}");
        assert!(
            out.contains(&office.path(file).display().to_string()),
            "{out}"
        );
        assert!(out.contains("Chưa cấp số"), "{out}");
        assert!(sink.received().is_empty());
        assert_eq!(office.register_rows(), 0, "{file}");
        assert!(!office.path("out/2024-h1").exists());
        let check = office.run("check", &[]);
        let text = String::from_utf8_lossy(&check.stderr);
        assert!(!check.status.success(), "{text}");
        assert!(text.contains("[signing]") && text.contains(said), "{text}");
        std::fs::write(office.path(file), good).unwrap();
    }
    // With the images whole again, the same office sends.
    std::fs::write(office.path("vanban.toml"), config).unwrap();
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert!(office.register_rows() > 0);
}

/// A PNG chunk: length, kind, data, CRC-32 of kind and data.
fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = 0xffff_ffffu32;
    for &b in kind.iter().chain(data) {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    [
        &(data.len() as u32).to_be_bytes()[..],
        kind,
        data,
        &(!crc).to_be_bytes(),
    ]
    .concat()
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

/// `pyhanko sign validate` of `pdf`, trusting the office's test root: whether it passed, and
/// its report.
fn pyhanko_validate(office: &Office, pdf: &Path) -> (bool, String) {
    let root = office.path("keys/root.pem");
    tool(
        "pyhanko",
        &[
            "sign",
            "validate",
            "--pretty-print",
            "--trust",
            root.to_str().unwrap(),
        ],
        pdf,
    )
}

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
        let (ok, report) = pyhanko_validate(&office, &path);
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
    let scratch = tempfile::tempdir().unwrap();
    for (name, pdf) in office.filed().iter().filter(|(n, _)| n.ends_with(".pdf")) {
        let path = office.path("out/2024-h1").join(name);
        let (ok, report) = pyhanko_validate(&office, &path);
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
        let (ok, report) = pyhanko_validate(&office, &bad);
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

/// The filed notice and the copy `vanban copy` made of it (after one send), with the copy's
/// path and the command's output.
fn copy_of_the_notice(office: &Office) -> (Vec<u8>, Vec<u8>, PathBuf, String) {
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    let (_, notice) = office
        .filed()
        .into_iter()
        .find(|(n, _)| n.contains("-TB-") && n.ends_with(".pdf"))
        .expect("a filed notice");
    let out = office.run("copy", &["conclusion-notice", "--by", "Nguyễn Thị Văn Thư"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    // Named after the document's file stem and the time, beside the filed documents.
    let path = std::fs::read_dir(office.path("out/2024-h1/ban-sao"))
        .unwrap_or_else(|e| panic!("no copies folder ({e}): {text}"))
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy()
                    .starts_with("02-thong-bao-ket-luan-sao-y-")
            })
        })
        .unwrap_or_else(|| panic!("no copy written: {text}"));
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    assert!(text.contains(&file), "{text}");
    let copy = std::fs::read(&path).unwrap();
    (notice, copy, path, text)
}

/// The widget of the signature field `field` in `pdf`: its /Rect, its /F flags, and its normal
/// appearance (a form XObject) with the font files its resources embed.
fn signature_widget(pdf: &[u8], field: &str) -> ([f32; 4], i64, lopdf::Stream, usize) {
    let doc = lopdf::Document::load_mem(pdf).unwrap();
    let catalog = doc.catalog().unwrap();
    let form = doc
        .dereference(catalog.get(b"AcroForm").unwrap())
        .unwrap()
        .1
        .as_dict()
        .unwrap()
        .clone();
    for item in form.get(b"Fields").unwrap().as_array().unwrap() {
        let widget = doc.dereference(item).unwrap().1.as_dict().unwrap().clone();
        let name = widget.get(b"T").unwrap().as_str().unwrap();
        if name != field.as_bytes() {
            continue;
        }
        let rect: Vec<f32> = widget
            .get(b"Rect")
            .unwrap()
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_float().unwrap())
            .collect();
        let flags = widget.get(b"F").unwrap().as_i64().unwrap();
        let ap = widget.get(b"AP").unwrap().as_dict().unwrap();
        let normal = doc
            .dereference(ap.get(b"N").unwrap())
            .unwrap()
            .1
            .as_stream()
            .unwrap()
            .clone();
        // Every font file reachable from the appearance's resources.
        let mut fonts = 0;
        let mut pending = vec![normal.dict.get(b"Resources").unwrap().clone()];
        let mut seen = BTreeSet::new();
        while let Some(object) = pending.pop() {
            match object {
                lopdf::Object::Reference(id) if seen.insert(id) => {
                    pending.push(doc.get_object(id).unwrap().clone());
                }
                lopdf::Object::Array(items) => pending.extend(items),
                lopdf::Object::Dictionary(d) => {
                    fonts += usize::from(d.has(b"FontFile2") || d.has(b"FontFile3"));
                    pending.extend(d.iter().map(|(_, v)| v.clone()));
                }
                lopdf::Object::Stream(s) => pending.extend(s.dict.iter().map(|(_, v)| v.clone())),
                _ => {}
            }
        }
        return ([rect[0], rect[1], rect[2], rect[3]], flags, normal, fonts);
    }
    panic!("no field {field}");
}

#[test]
fn a_copy_of_an_issued_notice_adds_the_organisations_visible_signature_and_keeps_the_originals() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let (notice, copy, path, out) = copy_of_the_notice(&office);
    assert!(
        out.contains("Đã sao y Thông báo kết luận số 02/TB-UBND"),
        "{out}"
    );
    assert!(out.contains("đã ghi sổ bản sao"), "{out}");
    // The original's bytes, signatures and all, then one more update: nothing before it moves.
    assert!(copy.starts_with(&notice));
    assert_eq!(
        verified_signatures("copy", &copy),
        [
            ("ChuKyNguoiKy".to_owned(), NOTICE_SIGNER.to_owned()),
            ("ChuKyCoQuan".to_owned(), ORGANISATION.to_owned()),
            ("ChuKySaoY".to_owned(), ORGANISATION.to_owned()),
        ]
    );
    // Visible and printed, top right of page 1 above the 20 mm top margin, its font embedded
    // (PDF/A-2b); the page's text itself is unchanged.
    let ([x0, y0, x1, y1], flags, appearance, fonts) = signature_widget(&copy, "ChuKySaoY");
    let mm = |v: f32| v * 72.0 / 25.4;
    assert_eq!(flags, 4);
    assert!((595.28 - x1 - mm(15.0)).abs() < 0.5, "{x1}");
    assert!(x0 > 595.28 / 2.0 && x1 - x0 > 100.0, "{x0} {x1}");
    assert!(y0 > 841.89 - mm(20.0) && y1 < 841.89 - mm(3.9), "{y0} {y1}");
    assert_eq!(
        appearance.dict.get(b"Subtype").unwrap().as_name().unwrap(),
        b"Form"
    );
    assert!(fonts >= 1, "the stamp's font is not embedded");
    // A reader draws the stamp's three lines (hayro, like most readers, draws a printable
    // widget's appearance); without them the page reads as the original.
    let scratch = tempfile::tempdir().unwrap();
    let copy_words = words(scratch.path(), "copy.pdf", &copy);
    let lead = format!("Sao y {ORGANISATION} ");
    let at = copy_words
        .find(&lead)
        .unwrap_or_else(|| panic!("no stamp: {copy_words}"));
    let time = copy_words[at + lead.len()..].split(' ').next().unwrap();
    let t = time.as_bytes();
    assert!(
        time.len() == 25
            && time.ends_with("+07:00")
            && t[4] == b'-'
            && t[7] == b'-'
            && t[10] == b'T'
            && t[13] == b':'
            && t[16] == b':',
        "not ISO 8601 in Vietnam time: {time}"
    );
    let stamp = format!("{lead}{time} ");
    assert_eq!(
        copy_words.replacen(&stamp, "", 1),
        words(scratch.path(), "notice.pdf", &notice)
    );
    for mark in [
        "<pdfaid:part>2</pdfaid:part>",
        "<pdfaid:conformance>B</pdfaid:conformance>",
    ] {
        assert!(
            copy.windows(mark.len()).any(|w| w == mark.as_bytes()),
            "{mark}"
        );
    }
    // Recorded: which number, by whom, the file and its hash.
    let db = rusqlite::Connection::open(office.path("vanban.sqlite")).unwrap();
    let (number, made_by, file, sha): (String, String, String, String) = db
        .query_row(
            "SELECT number, made_by, file, sha256 FROM copies",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(number, "02/TB-UBND");
    assert_eq!(made_by, "Nguyễn Thị Văn Thư");
    assert!(
        Path::new(&file).ends_with(path.strip_prefix(office.path("")).unwrap()),
        "{file}"
    );
    assert_eq!(sha, sha256_hex(&copy));
    // status lists it.
    assert!(
        office
            .status()
            .contains("bản sao y số 02/TB-UBND: Nguyễn Thị Văn Thư")
    );
}

#[test]
fn a_copy_is_refused_before_issue_for_an_altered_file_or_an_expired_key_and_nothing_is_left() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let copy = |args: &[&str]| {
        let out = office.run("copy", args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Not issued yet: nothing to copy.
    let (ok, err) = copy(&["conclusion-notice", "--by", "Văn thư"]);
    assert!(!ok);
    assert!(err.contains("Thông báo kết luận chưa ban hành"), "{err}");
    // A letter needs its unit.
    let (ok, err) = copy(&["assignment-letter", "--by", "Văn thư"]);
    assert!(!ok);
    assert!(err.contains("--unit"), "{err}");

    let (ok, out) = office.send();
    assert!(ok, "{out}");
    let dir = office.path("out/2024-h1");
    let notice = office
        .filed()
        .into_iter()
        .find(|(n, _)| n.contains("-TB-") && n.ends_with(".pdf"))
        .unwrap();
    // A filed file changed after issue is never copied.
    let mut altered = notice.1.clone();
    let at = altered.len() / 3;
    altered[at] ^= 1;
    std::fs::write(dir.join(&notice.0), &altered).unwrap();
    let (ok, err) = copy(&["conclusion-notice", "--by", "Văn thư"]);
    assert!(!ok);
    assert!(err.contains("không còn giống bản đã ban hành"), "{err}");
    std::fs::write(dir.join(&notice.0), &notice.1).unwrap();

    // The organisation's certificate expired: refused, nothing written or recorded.
    let config = office.path("vanban.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    let good = office.path("keys/ubnd.p12");
    let saved = std::fs::read(&good).unwrap();
    let expired_office = Office::new(sink.port, &[ORGANISATION], &[]);
    std::fs::copy(expired_office.path("keys/ubnd.p12"), &good).unwrap();
    let (ok, err) = copy(&["conclusion-notice", "--by", "Văn thư"]);
    assert!(!ok);
    assert!(err.contains("đã hết hạn"), "{err}");
    std::fs::write(&good, saved).unwrap();
    assert!(
        !dir.join("ban-sao").exists()
            || std::fs::read_dir(dir.join("ban-sao"))
                .unwrap()
                .next()
                .is_none()
    );

    // Without [signing] there is no copy at all.
    let start = text.find("[signing]").unwrap();
    std::fs::write(&config, &text[..start]).unwrap();
    let (ok, err) = copy(&["conclusion-notice", "--by", "Văn thư"]);
    assert!(!ok);
    assert!(err.contains("mục [signing]"), "{err}");
    std::fs::write(&config, &text).unwrap();

    let db = rusqlite::Connection::open(office.path("vanban.sqlite")).unwrap();
    let copies: i64 = db
        .query_row("SELECT count(*) FROM copies", [], |r| r.get(0))
        .unwrap();
    assert_eq!(copies, 0);

    // An existing file is never overwritten.
    std::fs::write(office.path("ban-sao.pdf"), b"x").unwrap();
    let (ok, err) = copy(&[
        "conclusion-notice",
        "--by",
        "Văn thư",
        "--out",
        "ban-sao.pdf",
    ]);
    assert!(!ok);
    assert!(err.contains("không ghi đè"), "{err}");
    assert_eq!(std::fs::read(office.path("ban-sao.pdf")).unwrap(), b"x");
}

#[test]
#[ignore = "needs pyHanko and poppler: run .ci/run"]
fn a_copy_validates_with_pyhanko_and_pdfsig_and_readers_draw_its_stamp_top_right() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let (notice, _, path, _) = copy_of_the_notice(&office);
    let (ok, report) = pyhanko_validate(&office, &path);
    assert!(ok, "pyHanko rejects the copy:\n{report}");
    assert_eq!(
        report
            .matches("The signature is cryptographically sound.")
            .count(),
        3,
        "{report}"
    );
    assert_eq!(
        report.matches("The signature is judged VALID.").count(),
        3,
        "{report}"
    );
    // The original's two signatures see the copy's signature as an allowed addition.
    assert_eq!(
        report
            .matches("All modifications relate to signing and form filling operations")
            .count(),
        2,
        "{report}"
    );
    let (_, pdfsig) = tool("pdfsig", &[], &path);
    assert_eq!(
        pdfsig
            .matches("Signature Validation: Signature is Valid.")
            .count(),
        3,
        "{pdfsig}"
    );
    // What a reader draws: page 1 of the copy and of the original differ only inside the
    // stamp's box, top right, and there they do differ (the stamp is drawn, in black).
    let (width, height, before) = raster_page_1(&notice);
    let (w2, h2, after) = raster_page_1(&std::fs::read(&path).unwrap());
    assert_eq!((width, height), (w2, h2));
    let ([x0, y0, x1, y1], ..) = signature_widget(&std::fs::read(&path).unwrap(), "ChuKySaoY");
    let mut changed_inside = 0;
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            if before[i] == after[i] {
                continue;
            }
            // Pixel centre in PDF points (72 dpi: one pixel a point), y from the bottom.
            let (px, py) = (x as f32 + 0.5, height as f32 - (y as f32 + 0.5));
            assert!(
                px >= x0 - 1.0 && px <= x1 + 1.0 && py >= y0 - 1.0 && py <= y1 + 1.0,
                "pixel ({px}, {py}) changed outside the stamp [{x0} {y0} {x1} {y1}]"
            );
            if after[i] < 128 {
                changed_inside += 1;
            }
        }
    }
    assert!(
        changed_inside > 100,
        "the stamp is not drawn: {changed_inside} dark pixels"
    );
}

/// The leader approves, the clerk sends; the notice's attachment as filed: (name, bytes).
fn approve_send_and_file_the_attachment(office: &Office) -> (String, Vec<u8>) {
    office.approve();
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    office
        .filed()
        .into_iter()
        .find(|(n, _)| n.contains("Kem theo 1"))
        .expect("a filed attachment")
}

/// Gives the conclusion notice an attachment in its own file, "Biểu số liệu.pdf" beside the
/// period file: a real PDF (the report's draft as vanban renders it). Returns its bytes.
fn attach_to_the_notice(office: &Office) -> Vec<u8> {
    attach_to_the_notice_as(office, |pdf| pdf)
}

/// [`attach_to_the_notice`] with the draft changed by `edit` first.
fn attach_to_the_notice_as(office: &Office, edit: impl Fn(Vec<u8>) -> Vec<u8>) -> Vec<u8> {
    let scratch = office.path("ban-nhap");
    let out = office.run(
        "render",
        &[
            "--only",
            "review-report",
            "--format",
            "pdf",
            "--out",
            scratch.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let draft = std::fs::read_dir(scratch.join("2024-h1"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "pdf"))
        .expect("the report's draft");
    let bytes = edit(std::fs::read(draft).unwrap());
    std::fs::write(office.path("Biểu số liệu.pdf"), &bytes).unwrap();
    let period = office.path("dam-ha-2024-h1.toml");
    let text = std::fs::read_to_string(&period).unwrap();
    let changed = text.replacen(
        "conclusion_notice = { signer",
        "conclusion_notice = { attachments = [\"Biểu số liệu.pdf\"], signer",
        1,
    );
    assert_ne!(changed, text);
    std::fs::write(&period, changed).unwrap();
    bytes
}

#[test]
fn an_attachment_in_its_own_file_goes_with_its_document_signed_by_the_organisation_with_its_number()
{
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let attachment = attach_to_the_notice(&office);
    let notices_sent = || {
        parse_eml(&sink.received())
            .iter()
            .filter(|m| m["attachments"].to_string().contains("Thông báo kết luận"))
            .count()
    };
    let notice_numbered = || {
        let db = rusqlite::Connection::open(office.path("vanban.sqlite")).unwrap();
        db.query_row(
            "SELECT count(*) FROM register WHERE symbol = 'TB-UBND'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .unwrap()
    };
    // The approval given before the attachment no longer covers the notice: it is held back
    // (the report goes, it is still what was approved).
    let (_, out) = office.send();
    assert!(out.contains("Thông báo kết luận"), "{out}");
    assert_eq!(notices_sent(), 0, "{out}");
    office.approve();
    // Nor does an approval cover an attachment changed after it.
    std::fs::write(
        office.path("Biểu số liệu.pdf"),
        [&attachment[..], b"% sua sau khi duyet\n"].concat(),
    )
    .unwrap();
    let (_, out) = office.send();
    assert_eq!(notices_sent(), 0, "{out}");
    assert_eq!(notice_numbered(), 0, "no number used up");
    std::fs::write(office.path("Biểu số liệu.pdf"), &attachment).unwrap();
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert!(notices_sent() >= 10, "{out}");

    let filed = office.filed();
    let (name, signed) = filed
        .iter()
        .find(|(n, _)| n.ends_with("- Kem theo 1 - Bieu so lieu.pdf"))
        .unwrap_or_else(|| panic!("no filed attachment: {filed:?}"));
    assert!(name.starts_with("02-TB-UBND"), "{name}");
    // The attachment as given, then the organisation's signature alone.
    assert!(signed.starts_with(&attachment));
    assert_eq!(
        verified_signatures(name, signed),
        [("ChuKyCoQuan".to_owned(), ORGANISATION.to_owned())]
    );
    let ([x0, y0, x1, y1], flags, _, fonts) = signature_widget(signed, "ChuKyCoQuan");
    assert_eq!(flags, 4);
    assert!(x0 > 595.28 / 2.0 && x1 < 595.28 && y0 > 841.89 - 20.0 * 72.0 / 25.4 && y1 < 841.89);
    assert!(fonts >= 1);
    // Its page shows the notice's number and the signing time (Decree 30 box 14), nothing else
    // changed.
    let scratch = tempfile::tempdir().unwrap();
    let signed_words = words(scratch.path(), "signed.pdf", signed);
    let lead = "Số: 02/TB-UBND ";
    let at = signed_words
        .find(lead)
        .unwrap_or_else(|| panic!("no stamp: {signed_words}"));
    let time = signed_words[at + lead.len()..].split(' ').next().unwrap();
    assert!(
        time.len() == 25 && time.ends_with("+07:00") && &time[10..11] == "T",
        "{time}"
    );
    assert_eq!(
        signed_words.replacen(&format!("{lead}{time} "), "", 1),
        words(scratch.path(), "attachment.pdf", &attachment)
    );
    // The notice itself keeps its two signatures.
    let (notice_name, notice) = filed
        .iter()
        .find(|(n, _)| n.contains("-TB-") && !n.contains("Kem theo") && n.ends_with(".pdf"))
        .unwrap();
    assert_eq!(verified_signatures(notice_name, notice).len(), 2);

    // Every message carrying the notice carries the attachment, as filed, under its
    // Vietnamese name after the notice's.
    let messages = parse_eml(&sink.received());
    let mut carried = 0;
    for message in &messages {
        let attachments = message["attachments"].as_array().unwrap();
        let has = |needle: &str| {
            attachments
                .iter()
                .any(|a| a["filename"].as_str().is_some_and(|f| f.contains(needle)))
        };
        if has("Thông báo kết luận.pdf") {
            carried += 1;
            assert!(
                attachments.iter().any(|a| a["filename"]
                    == "02-TB-UBND Thông báo kết luận - Kèm theo 1 - Biểu số liệu.pdf"
                    && a["sha256"] == sha256_hex(signed)),
                "{message}"
            );
        } else {
            assert!(!has("Kèm theo"), "{message}");
        }
    }
    assert!(carried >= 10, "{messages:?}");
    // Recorded as signed, shown by status; a second send sends nothing again.
    let status = office.status();
    assert!(status.contains("Kem theo 1 - Bieu so lieu.pdf"), "{status}");
    let before = sink.received().len();
    let (ok, out) = office.send();
    assert!(ok, "{out}");
    assert_eq!(sink.received().len(), before);
    // Re-sent on purpose to one unit: read back as filed, the attachment under the same
    // Vietnamese name and bytes, never signed again.
    let out = office.run("send", &["--resend", "pnn"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let received = sink.received();
    assert!(received.len() > before);
    let again = parse_eml(&received[before..]);
    assert!(
        again
            .iter()
            .any(|m| m["attachments"].as_array().unwrap().iter().any(|a| {
                a["filename"] == "02-TB-UBND Thông báo kết luận - Kèm theo 1 - Biểu số liệu.pdf"
                    && a["sha256"] == sha256_hex(signed)
            })),
        "{again:?}"
    );
}

#[test]
#[ignore = "needs pyHanko and poppler: run .ci/run"]
fn a_signed_attachment_validates_with_pyhanko_and_pdfsig() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    attach_to_the_notice(&office);
    let (name, _) = approve_send_and_file_the_attachment(&office);
    let path = office.path("out/2024-h1").join(name);
    let (ok, report) = pyhanko_validate(&office, &path);
    assert!(ok, "pyHanko rejects the attachment:\n{report}");
    assert_eq!(
        report.matches("The signature is judged VALID.").count(),
        1,
        "{report}"
    );
    assert!(report.contains(ORGANISATION), "{report}");
    let (_, pdfsig) = tool("pdfsig", &[], &path);
    assert_eq!(
        pdfsig
            .matches("Signature Validation: Signature is Valid.")
            .count(),
        1,
        "{pdfsig}"
    );
    // poppler reads the stamp where a reader shows it: the notice's number, top right.
    let out = Command::new("pdftotext")
        .args(["-enc", "UTF-8", "-f", "1", "-l", "1", "-bbox"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("pdftotext (poppler-utils)");
    let html = String::from_utf8_lossy(&out.stdout);
    let line = html
        .lines()
        .find(|l| l.contains(">02/TB-UBND<"))
        .unwrap_or_else(|| panic!("pdftotext does not see the stamp:\n{html}"));
    let attr = |name: &str| -> f32 {
        let at = line.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        line[at..].split('"').next().unwrap().parse().unwrap()
    };
    // pdftotext's y grows downwards: above the 20 mm top margin, in the right half.
    assert!(
        attr("yMax") < 20.0 * 72.0 / 25.4 && attr("xMin") > 595.28 / 2.0,
        "{line}"
    );
}

/// Page 1 of `pdf` as poppler draws it at 72 dpi in grey: (width, height, pixels).
fn raster_page_1(pdf: &[u8]) -> (usize, usize, Vec<u8>) {
    let scratch = tempfile::tempdir().unwrap();
    let path = scratch.path().join("p.pdf");
    std::fs::write(&path, pdf).unwrap();
    let prefix = scratch.path().join("page");
    let out = Command::new("pdftoppm")
        .args(["-r", "72", "-f", "1", "-l", "1", "-gray", "-singlefile"])
        .arg(&path)
        .arg(&prefix)
        .output()
        .expect("pdftoppm (poppler-utils)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    pgm(&std::fs::read(prefix.with_extension("pgm")).unwrap())
}

/// An attachment whose page a reader turns a quarter (/Rotate 90, as spreadsheets print wide
/// tables): the stamp is drawn at the top right of the page as shown, and upright (wider than
/// tall), not sideways in the page's own corner.
#[test]
#[ignore = "needs poppler: run .ci/run"]
fn on_a_turned_attachment_page_the_stamp_is_upright_at_the_shown_top_right() {
    let sink = Sink::start(&[]);
    let office = Office::new(sink.port, &[], &[]);
    let attachment = attach_to_the_notice_as(&office, |pdf| {
        let mut doc = lopdf::Document::load_mem(&pdf).unwrap();
        let first = *doc.get_pages().get(&1).unwrap();
        doc.get_object_mut(first)
            .unwrap()
            .as_dict_mut()
            .unwrap()
            .set("Rotate", lopdf::Object::Integer(90));
        let mut out = Vec::new();
        doc.save_to(&mut out).unwrap();
        out
    });
    let (_, signed) = approve_send_and_file_the_attachment(&office);
    let (width, height, before) = raster_page_1(&attachment);
    let (w2, h2, after) = raster_page_1(&signed);
    assert_eq!((width, height), (w2, h2));
    assert!(width > height, "shown turned: {width}×{height}");
    let (mut left, mut right, mut top, mut bottom) = (width, 0, height, 0);
    for y in 0..height {
        for x in 0..width {
            if before[y * width + x] != after[y * width + x] {
                left = left.min(x);
                right = right.max(x);
                top = top.min(y);
                bottom = bottom.max(y);
            }
        }
    }
    assert!(right > left, "the stamp is not drawn");
    let mm = |v: f64| (v * 72.0 / 25.4) as usize;
    assert!(
        left > width / 2 && right <= width - mm(15.0) + 2,
        "{left}..{right} of {width}"
    );
    assert!(top >= mm(4.0) - 2 && bottom <= mm(20.0), "{top}..{bottom}");
    assert!(
        right - left > 2 * (bottom - top),
        "sideways: {left}..{right} × {top}..{bottom}"
    );
}

/// A binary PGM (P5) as (width, height, pixels).
fn pgm(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut fields = Vec::new();
    let mut at = 0;
    while fields.len() < 4 {
        while bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        let start = at;
        while !bytes[at].is_ascii_whitespace() {
            at += 1;
        }
        fields.push(String::from_utf8_lossy(&bytes[start..at]).into_owned());
    }
    assert_eq!(fields[0], "P5");
    let (w, h): (usize, usize) = (fields[1].parse().unwrap(), fields[2].parse().unwrap());
    (w, h, bytes[at + 1..at + 1 + w * h].to_vec())
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
