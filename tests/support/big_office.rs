//! The sample office with a large report group, for the tests and the benchmark of several SMTP
//! connections (tests/connections.rs, benches/smtp.rs): `vanban send --only review-report`
//! then sends one message per member.

// Each includer uses a different part.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::sink::Sink;

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

/// The sample office whose report group (`thanh-vien-bcd`) is `members` communes `xa001`, …,
/// each with one address `xa001@example.vn`.
pub struct Office {
    dir: tempfile::TempDir,
    members: usize,
}

impl Office {
    /// Plain SMTP to `port`, `connections` at once, approval not required.
    pub fn new(port: u16, members: usize, connections: usize) -> Office {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            Path::new(SAMPLES).join("dam-ha-2024-h1.toml"),
            dir.path().join("dam-ha-2024-h1.toml"),
        )
        .unwrap();
        let sample = std::fs::read_to_string(Path::new(SAMPLES).join("directory.toml")).unwrap();
        let ids: Vec<String> = (1..=members).map(unit).collect();
        let quoted: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
        let group = "members = [\"vp\", \"pnn\", \"ptnmt\", \"bqlda\"]";
        assert!(sample.contains(group), "the sample's report group changed");
        let mut directory = sample.replace(group, &format!("members = [{}]", quoted.join(", ")));
        for (i, id) in ids.iter().enumerate() {
            directory.push_str(&format!(
                "\n[[units]]\nid = \"{id}\"\nname = \"UBND xã Thử Nghiệm {}\"\nemail = \"{id}@example.vn\"\n",
                i + 1
            ));
        }
        std::fs::write(dir.path().join("directory.toml"), directory).unwrap();
        let config = format!(
            "directory = \"directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
             [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\n\
             address = \"vanphong.damha@example.vn\"\n\
             [smtp]\nhost = \"127.0.0.1\"\nport = {port}\nsecurity = \"none\"\n\
             timeout_seconds = 20\nmax_attempts = 3\nretry_delay_seconds = 0\n\
             connections = {connections}\n\
             [approval]\nrequired = false\n"
        );
        std::fs::write(dir.path().join("vanban.toml"), config).unwrap();
        Office { dir, members }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `vanban send --only review-report` (or another subcommand), not yet started.
    pub fn command(&self, subcommand: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_vanban"));
        command
            .arg(subcommand)
            .arg(self.path("dam-ha-2024-h1.toml"))
            .arg("--config")
            .arg(self.path("vanban.toml"))
            .current_dir(self.dir.path());
        if subcommand == "send" {
            command.args(["--only", "review-report"]);
        }
        command
    }

    pub fn send(&self) -> (Output, String) {
        let out = self.command("send").output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out, text)
    }

    pub fn spawn_send(&self) -> Child {
        self.command("send")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    pub fn status(&self) -> String {
        let out = self.command("status").output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Each commune's report line in `text` (`send`'s or `status`'s output), in the order
    /// printed.
    pub fn report_lines<'a>(&self, text: &'a str) -> Vec<(String, &'a str)> {
        text.lines()
            .filter(|l| l.contains(": báo cáo"))
            .filter_map(|l| {
                (1..=self.members)
                    .map(unit)
                    .find(|id| l.contains(&format!(" {id} (")))
                    .map(|id| (id, l))
            })
            .collect()
    }
}

/// The id of the i-th (1-based) test commune.
pub fn unit(i: usize) -> String {
    format!("xa{i:03}")
}

/// How many messages the server stored per recipient address.
pub fn per_recipient(sink: &Sink) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for file in sink.received() {
        for to in sink.envelope(&file)["rcpt_tos"].as_array().unwrap() {
            *counts.entry(to.as_str().unwrap().to_owned()).or_insert(0) += 1;
        }
    }
    counts
}
