//! The command line's listings as a clerk pipes them: into `head` or a pager that closes its end
//! early, every listing stops quietly (no panic, exit 0); and a name an older version stored
//! with invisible or control characters is printed written out, never as itself.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/samples");

/// An office with the sample period, its directory, a config with one job, and its state
/// database made (`db migrate`).
struct Office {
    dir: tempfile::TempDir,
}

impl Office {
    fn new() -> Office {
        let dir = tempfile::tempdir().unwrap();
        for name in ["dam-ha-2024-h1.toml", "directory.toml"] {
            std::fs::copy(Path::new(SAMPLES).join(name), dir.path().join(name)).unwrap();
        }
        std::fs::write(
            dir.path().join("vanban.toml"),
            "directory = \"directory.toml\"\noutput_dir = \"out\"\nstate = \"vanban.sqlite\"\n\
             [sender]\nname = \"Văn phòng HĐND và UBND huyện Đầm Hà\"\n\
             address = \"vanphong.damha@example.vn\"\n\
             [[jobs]]\nname = \"bao-cao-so-ket\"\ncron = \"0 8 15 6,12 *\"\naction = \"send\"\n\
             covers = \"current-half\"\nperiod = \"dam-ha-{year}-h{half}.toml\"\n",
        )
        .unwrap();
        let office = Office { dir };
        let out = office.run(
            &["db", "migrate", "--config", "vanban.toml"],
            Stdio::piped(),
        );
        assert!(out.status.success(), "{}", text(&out));
        office
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn run(&self, args: &[&str], stdout: impl Into<Stdio>) -> Output {
        Command::new(env!("CARGO_BIN_EXE_vanban"))
            .args(args)
            .current_dir(self.dir.path())
            .stdout(stdout)
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The listings a clerk pipes, each given a standard output whose reader is already gone (the
/// end of `vanban … | head` once head has its lines): each ends quietly and successfully, as
/// `cat` and `ls` do, instead of panicking on its first line.
#[test]
fn a_listing_whose_reader_closed_the_pipe_stops_quietly() {
    let office = Office::new();
    let commands: [&[&str]; 6] = [
        &[
            "register",
            "show",
            "--config",
            "vanban.toml",
            "--year",
            "2024",
        ],
        &["jobs", "--config", "vanban.toml"],
        &["status", "dam-ha-2024-h1.toml", "--config", "vanban.toml"],
        &["check", "dam-ha-2024-h1.toml", "--config", "vanban.toml"],
        &["db", "migrate", "--config", "vanban.toml"],
        &[
            "register",
            "set-next",
            "125",
            "--year",
            "2024",
            "--config",
            "vanban.toml",
            "--by",
            "Nguyễn Thị Hoa",
        ],
    ];
    for args in commands {
        // Each prints to a readable pipe first: the listing is there to be cut short.
        let open = office.run(args, Stdio::piped());
        assert!(open.status.success(), "{args:?}: {}", text(&open));
        assert!(!open.stdout.is_empty(), "{args:?} printed nothing");

        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let closed = office.run(args, writer);
        let stderr = String::from_utf8_lossy(&closed.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
        assert_eq!(closed.status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// A name stored by a version that did not check names (the history of the register, written
/// as it came) prints written out in `register show`: no direction override turning the line
/// around, no escape sequence reaching the terminal.
#[test]
fn register_show_writes_out_the_hidden_characters_of_a_name_stored_before() {
    let office = Office::new();
    let db = rusqlite::Connection::open(office.path("vanban.sqlite")).unwrap();
    db.execute(
        "INSERT INTO register_history
             (action, issuer, year, series, symbol, number, document_key, by_name, at)
         VALUES ('set-next', '', 2024, NULL, NULL, 125, NULL, ?1, '2024-06-25T01:00:00.000000Z')",
        ["Nguyễn Thị Hoa\u{202e}nauH\u{1b}[2J"],
    )
    .unwrap();
    drop(db);
    let out = office.run(
        &[
            "register",
            "show",
            "--config",
            "vanban.toml",
            "--year",
            "2024",
        ],
        Stdio::piped(),
    );
    let stdout = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stdout.contains("Nguyễn Thị Hoa\\u{202E}nauH\\u{001B}[2J: đặt số tiếp theo là 125"),
        "{stdout}"
    );
    assert!(
        !stdout.contains('\u{202e}') && !stdout.contains('\u{1b}'),
        "{stdout:?}"
    );
    // Given today, the same name is refused, and nothing is recorded.
    let out = office.run(
        &[
            "register",
            "set-next",
            "130",
            "--year",
            "2024",
            "--config",
            "vanban.toml",
            "--by",
            "Nguyễn Thị Hoa\u{202e}nauH",
        ],
        Stdio::piped(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        "{}",
        text(&out)
    );
    let db = rusqlite::Connection::open(office.path("vanban.sqlite")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM register_history", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 1);
}
