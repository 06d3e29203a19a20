//! Signing cost per document: the signer's and the organisation's PAdES signatures (two incremental
//! updates) on the sample's review report, with RSA-2048 keys from PKCS#12 (the goal: ≤ 2 ms for
//! both), with ECDSA P-256, and — when SoftHSM2 and openssl are installed — with keys on a token.
//!
//! `cargo bench --bench sign`

#[path = "../tests/support/sign_ca.rs"]
mod sign_ca;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use vanban::input;
use vanban::issue::sign::{self, SigningKey};
use vanban::render::pdf::PdfEngine;
use vanban::render::templates::Templates;
use vanban::render::{self, PdfRenderer, Renderer};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time_both(
    label: &str,
    pdf: &[u8],
    signer: &SigningKey,
    organisation: &SigningKey,
    now: DateTime<Utc>,
    rounds: usize,
) {
    for _ in 0..5 {
        sign::sign_as_signer_and_organisation(pdf, signer, organisation, None, now).expect("sign");
    }
    let samples = (0..rounds)
        .map(|_| {
            let t = Instant::now();
            sign::sign_as_signer_and_organisation(pdf, signer, organisation, None, now)
                .expect("sign");
            t.elapsed()
        })
        .collect::<Vec<_>>();
    println!(
        "{label:<48} median {:>8.3} ms per document (two signatures), {} rounds",
        median(samples).as_secs_f64() * 1e3,
        rounds
    );
}

/// The folder of the token the bench made, for the run of itself that times the token.
const TOKEN_FOLDER: &str = "VANBAN_BENCH_SOFTHSM2_FOLDER";
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

fn main() {
    if let Some(folder) = std::env::var_os(TOKEN_FOLDER) {
        time_on_the_token(Path::new(&folder));
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let today = chrono::NaiveDate::from_ymd_opt(2024, 6, 25).expect("date");
    let period = input::load_period(&root.join("samples/dam-ha-2024-h1.toml"), None, today)
        .expect("sample period");
    let pdf_renderer = PdfRenderer::new(PdfEngine::new(&Templates::builtin()).expect("engine"));
    let documents = render::plan(&period, None, &|_, _| None);
    let pdf = pdf_renderer.render(&documents[0]).expect("render");
    println!("input: {} ({} bytes)", documents[0].label(), pdf.len());
    let ca = sign_ca::TestCa::load();
    let now = ca.an_hour_later();
    let open = |p12: &[u8]| {
        SigningKey::from_pkcs12(p12, sign_ca::PASSWORD, Path::new("bench.p12")).expect("p12")
    };
    let t = Instant::now();
    let rsa_person = open(&ca.person.p12);
    println!(
        "open a PKCS#12 (RSA-2048, with the key check)     {:>8.3} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let ec_org = open(&ca.organisation.p12);
    let rsa_org = open(&ca.organisation_rsa.p12);

    time_both(
        "RSA-2048 + RSA-2048, PKCS#12",
        &pdf,
        &rsa_person,
        &rsa_org,
        now,
        200,
    );
    time_both(
        "RSA-2048 (signer) + ECDSA P-256 (organisation)",
        &pdf,
        &rsa_person,
        &ec_org,
        now,
        200,
    );
    time_both(
        "ECDSA P-256 + ECDSA P-256, PKCS#12",
        &pdf,
        &ec_org,
        &ec_org,
        now,
        200,
    );

    // One signature alone, and the PDF part alone, to show where the time goes.
    let one = |key: &SigningKey| {
        sign::sign_pdf(
            &pdf,
            &sign::Signing {
                key,
                field_name: "ChuKy".into(),
                reason: None,
                appearance: None,
            },
            None,
            now,
        )
        .expect("sign")
    };
    let samples = (0..200)
        .map(|_| {
            let t = Instant::now();
            one(&rsa_person);
            t.elapsed()
        })
        .collect::<Vec<_>>();
    println!(
        "{:<48} median {:>8.3} ms",
        "one RSA-2048 signature",
        median(samples).as_secs_f64() * 1e3
    );
    let samples = (0..2000)
        .map(|_| {
            let t = Instant::now();
            rsa_person.sign(b"signed attributes").expect("sign");
            t.elapsed()
        })
        .collect::<Vec<_>>();
    println!(
        "{:<48} median {:>8.3} ms",
        "RSA-2048 private-key operation alone",
        median(samples).as_secs_f64() * 1e3
    );

    // The organisation's signature on an attachment or a copy (Decree 30 box 14): the stamp's
    // lines typeset by Typst, then one signature with that visible appearance.
    let engine = PdfEngine::new(&Templates::builtin()).expect("engine");
    let lines = vanban::issue::org_stamp::attachment_lines("02/TB-UBND", now);
    let stamp = || vanban::issue::org_stamp::appearance(&engine, &lines, now).expect("stamp");
    for _ in 0..5 {
        stamp();
    }
    let samples = (0..200)
        .map(|_| {
            let t = Instant::now();
            stamp();
            t.elapsed()
        })
        .collect::<Vec<_>>();
    println!(
        "{:<48} median {:>8.3} ms",
        "box-14 stamp typeset (Typst) and read",
        median(samples).as_secs_f64() * 1e3
    );
    let appearance = stamp();
    let samples = (0..200)
        .map(|_| {
            let t = Instant::now();
            sign::sign_pdf(
                &pdf,
                &sign::Signing {
                    key: &rsa_org,
                    field_name: "ChuKyCoQuan".into(),
                    reason: None,
                    appearance: Some(&appearance),
                },
                None,
                now,
            )
            .expect("sign");
            t.elapsed()
        })
        .collect::<Vec<_>>();
    println!(
        "{:<48} median {:>8.3} ms",
        "one RSA-2048 signature with the box-14 stamp",
        median(samples).as_secs_f64() * 1e3
    );

    softhsm(&pdf);
}

/// With SoftHSM2 and openssl installed: the same two signatures with both keys on a token.
fn softhsm(pdf: &[u8]) {
    if !Path::new(MODULE).exists() {
        println!(
            "PKCS#11: SoftHSM2 is not installed (apt-get install softhsm2 opensc); token figures not measured"
        );
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tempdir");
    let ca = dir.path();
    let ok = Command::new("sh")
        .arg(root.join("tests/support/sign_ca.sh"))
        .arg(ca)
        .arg(sign_ca::PASSWORD)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("PKCS#11: openssl could not make the test CA; token figures not measured");
        return;
    }
    let conf = ca.join("softhsm2.conf");
    std::fs::create_dir_all(ca.join("tokens")).expect("mkdir");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nlog.level = ERROR\n",
            ca.join("tokens").display()
        ),
    )
    .expect("conf");
    let run = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .env("SOFTHSM2_CONF", &conf)
            .current_dir(ca)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let mut ready = run(
        "softhsm2-util",
        &[
            "--init-token",
            "--free",
            "--label",
            "BENCH",
            "--pin",
            "123456",
            "--so-pin",
            "654321",
        ],
    );
    for (name, id) in [("person", "01"), ("organisation", "02")] {
        ready &= run(
            "softhsm2-util",
            &[
                "--import",
                &format!("{name}.pk8.pem"),
                "--token",
                "BENCH",
                "--label",
                name,
                "--id",
                id,
                "--pin",
                "123456",
            ],
        );
        ready &= run(
            "pkcs11-tool",
            &[
                "--module",
                MODULE,
                "--token-label",
                "BENCH",
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
    if !ready {
        println!(
            "PKCS#11: could not fill the SoftHSM2 token (softhsm2-util, pkcs11-tool); token figures not measured"
        );
        return;
    }
    // SoftHSM2 reads SOFTHSM2_CONF when it initialises. Setting it in this process would need
    // `unsafe` (the crate forbids it), so the bench runs itself again with the variable set, and
    // that run opens the token and times the signatures.
    std::fs::write(ca.join("report.pdf"), pdf).expect("write the report");
    let timed = Command::new(std::env::current_exe().expect("the bench binary"))
        .env("SOFTHSM2_CONF", &conf)
        .env(TOKEN_FOLDER, ca)
        .status()
        .is_ok_and(|s| s.success());
    if !timed {
        println!("PKCS#11: the run on the token failed; token figures not measured");
    }
}

/// Times the two signatures with both keys on the token made in `ca` (SOFTHSM2_CONF points at
/// it), on the report written there.
fn time_on_the_token(ca: &Path) {
    let pdf = std::fs::read(ca.join("report.pdf")).expect("the report");
    let pdf = pdf.as_slice();
    let pin = ca.join("pin");
    std::fs::write(&pin, "123456\n").expect("pin");
    let token = |label: &str| {
        SigningKey::open(&sign::SignerKeySource::Pkcs11 {
            module: PathBuf::from(MODULE),
            token: "BENCH".into(),
            key_label: label.into(),
            pin: sign::SecretSource::File(pin.clone()),
        })
        .expect("token key")
    };
    let person = token("person");
    let organisation = token("organisation");
    let nb = person
        .certificate()
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration();
    let now = DateTime::<Utc>::from_timestamp(nb.as_secs() as i64 + 3600, 0).expect("t");
    time_both(
        "PKCS#11 SoftHSM2: RSA-2048 + ECDSA P-256",
        pdf,
        &person,
        &organisation,
        now,
        100,
    );
}
