//! The command line speaks Vietnamese to a clerk: every help text (clap's own words included),
//! its errors, and what it says of a missing or broken file.

use std::process::Command;

/// clap's English, none of which may reach a user.
const ENGLISH: [&str; 13] = [
    "Usage",
    "Options",
    "Commands",
    "Arguments",
    "Print help",
    "Print version",
    "[default",
    "possible values",
    "[OPTIONS]",
    "<COMMAND>",
    "error:",
    "For more information",
    "the following required",
];

/// Every command and subcommand.
const COMMANDS: [&[&str]; 26] = [
    &[],
    &["check"],
    &["render"],
    &["submit"],
    &["approve"],
    &["return"],
    &["send"],
    &["status"],
    &["replace"],
    &["copy"],
    &["run"],
    &["jobs"],
    &["run-job"],
    &["convert"],
    &["templates"],
    &["templates", "export"],
    &["register"],
    &["register", "set-next"],
    &["register", "assign"],
    &["register", "show"],
    &["serve"],
    &["users"],
    &["users", "add"],
    &["db"],
    &["db", "migrate"],
    &["db", "copy"],
];

fn vanban(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_vanban"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn assert_no_english(text: &str, what: &str) {
    for word in ENGLISH {
        assert!(!text.contains(word), "{what}: «{word}» in\n{text}");
    }
}

/// The names listed under "Lệnh:" in a help text.
fn listed_commands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| l.trim() != "Lệnh:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect()
}

#[test]
fn every_help_text_is_vietnamese() {
    for command in COMMANDS {
        for flag in ["--help", "-h"] {
            let args: Vec<&str> = command.iter().copied().chain([flag]).collect();
            let (code, out, err) = vanban(&args);
            let what = args.join(" ");
            assert_eq!(code, Some(0), "{what}\n{err}");
            assert!(err.is_empty(), "{what}\n{err}");
            assert!(
                out.contains(format!("Cách dùng: vanban {}", command.join(" ")).trim_end()),
                "{what}\n{out}"
            );
            assert!(
                out.contains("Tùy chọn:") && out.contains("In trợ giúp này"),
                "{what}\n{out}"
            );
            assert_no_english(&out, &what);
            // Each subcommand listed is one this test walks, so a new one cannot slip by.
            for sub in listed_commands(&out) {
                let path: Vec<&str> = command.iter().copied().chain([sub.as_str()]).collect();
                assert!(COMMANDS.contains(&&path[..]), "{path:?} not checked");
            }
        }
    }
    // The description too (clap's `about` would otherwise take Cargo.toml's English one).
    let (_, root, _) = vanban(&["--help"]);
    assert!(root.starts_with("vanban: báo cáo sơ kết"), "{root}");
    let (_, render, _) = vanban(&["render", "--help"]);
    assert!(
        render.contains("[một trong: pdf, docx, both] [mặc định: both]"),
        "{render}"
    );
    let (code, version, _) = vanban(&["--version"]);
    assert_eq!(code, Some(0));
    assert!(version.starts_with("vanban "), "{version}");
}

#[test]
fn command_line_mistakes_are_told_in_vietnamese() {
    let cases: [(&[&str], &str); 6] = [
        (&["render"], "Lỗi: thiếu tham số bắt buộc: <TỆP_KỲ>"),
        (
            &["check", "k.toml", "--outdir", "x"],
            "Lỗi: không có tùy chọn hay tham số «--outdir»",
        ),
        (
            &["render", "k.toml", "--format", "odt"],
            "Lỗi: giá trị «odt» không hợp lệ cho --format <DẠNG>; cần một trong: pdf, docx, both",
        ),
        (
            &["rendr"],
            // "return" is as near to "rendr" as "send" is: clap offers it too.
            "Lỗi: không có lệnh «rendr»; có phải ý là «return» hay «send» hay «render»?",
        ),
        (
            &[
                "register", "set-next", "0", "--config", "v.toml", "--year", "2026", "--by", "Hoa",
            ],
            "Lỗi: giá trị «0» của <SỐ> không hợp lệ",
        ),
        (
            &["status", "k.toml"],
            "Lỗi: thiếu tham số bắt buộc: --config <TỆP_CẤU_HÌNH>",
        ),
    ];
    for (args, expected) in cases {
        let (code, out, err) = vanban(args);
        assert_eq!(code, Some(2), "{args:?}\n{err}");
        assert!(out.is_empty(), "{args:?}\n{out}");
        assert!(err.contains(expected), "{args:?}\n{err}");
        assert!(err.contains("thêm --help sau lệnh"), "{args:?}\n{err}");
        assert_no_english(&err, &args.join(" "));
    }
    // A missing argument shows the command's usage line.
    let (_, _, err) = vanban(&["register", "assign"]);
    assert!(
        err.contains("Cách dùng: vanban register assign [TÙY_CHỌN] <TỆP_KỲ> <LOẠI> <SỐ>"),
        "{err}"
    );
    // Nothing at all: the help, on stderr, and a usage error's code.
    let (code, _, err) = vanban(&[]);
    assert_eq!(code, Some(2));
    assert!(err.contains("Cách dùng: vanban <LỆNH>"), "{err}");
    assert_no_english(&err, "vanban");
}

#[test]
fn a_missing_or_broken_file_is_named_in_vietnamese() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("dam-ha-2026-h2.toml");
    let (code, _, err) = vanban(&["check", missing.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "{}: không đọc được tệp: không có tệp này",
            missing.display()
        )),
        "{err}"
    );
    assert!(!err.contains("os error") && !err.contains(":1:1:"), "{err}");

    let config = dir.path().join("vanban.toml");
    let (code, _, err) = vanban(&["jobs", "--config", config.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "không đọc được tệp cấu hình {}: không có tệp này",
            config.display()
        )),
        "{err}"
    );

    std::fs::write(
        &config,
        "output_dir = \"out\"\n[sender]\nname = \"Văn phòng\n",
    )
    .unwrap();
    let (code, _, err) = vanban(&["jobs", "--config", config.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("vanban.toml:3:18: lỗi cú pháp TOML: chuỗi trong ngoặc kép không hợp lệ"),
        "{err}"
    );
    assert!(
        !err.contains("invalid") && !err.contains("expected"),
        "{err}"
    );
}

#[test]
fn templates_export_says_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("mau");
    let (code, out, err) = vanban(&["templates", "export", target.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{err}");
    let files = out
        .lines()
        .filter(|l| l.starts_with(target.to_str().unwrap()))
        .count();
    assert!(files > 5, "{out}");
    assert!(
        out.contains(&format!(
            "Đã ghi {files} tệp mẫu vào {}: typst/ (mẫu PDF)",
            target.display()
        )),
        "{out}"
    );
    assert!(out.contains("vanban check <tệp kỳ> --templates"), "{out}");
}

/// A value's placeholder in the help (`--reason <LÝ_DO>`) is a Vietnamese word too: one spelled
/// in plain ASCII capitals (`<REASON>`) is clap's name for the field, English to a clerk.
#[test]
fn every_value_placeholder_is_vietnamese() {
    for command in COMMANDS {
        let args: Vec<&str> = command.iter().copied().chain(["--help"]).collect();
        let (_, out, _) = vanban(&args);
        let english: Vec<&str> = out
            .split('<')
            .skip(1)
            .filter_map(|rest| rest.split_once('>').map(|(name, _)| name))
            .filter(|name| {
                !name.is_empty() && name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            })
            .collect();
        assert!(english.is_empty(), "{}: {english:?}\n{out}", args.join(" "));
    }
}
