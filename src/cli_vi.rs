//! The command line's own words in Vietnamese: clap's help layout and headings, its -h/-V
//! flags, usage lines, default and possible values, and its parse errors, so a clerk never
//! meets clap's English.

use std::process::ExitCode;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command, CommandFactory, FromArgMatches};

/// Parses the command line as `T`, or prints the help, the version or a Vietnamese error and
/// returns the exit code (0 for help and version, 2 for a bad command line, as clap does).
pub fn parse<T: CommandFactory + FromArgMatches>() -> Result<T, ExitCode> {
    parse_from(localize(T::command()), std::env::args_os())
}

fn parse_from<T: FromArgMatches>(
    command: Command,
    args: impl IntoIterator<Item = std::ffi::OsString>,
) -> Result<T, ExitCode> {
    match command
        .try_get_matches_from(args)
        .and_then(|m| T::from_arg_matches(&m))
    {
        Ok(parsed) => Ok(parsed),
        Err(error) => Err(report(&error)),
    }
}

/// `command` and all its subcommands with Vietnamese help, flags and usage lines.
pub fn localize(command: Command) -> Command {
    localize_at(command, None)
}

fn localize_at(command: Command, parent: Option<&str>) -> Command {
    let path = match parent {
        Some(p) => format!("{p} {}", command.get_name()),
        None => command.get_name().to_owned(),
    };
    let mut command = command
        .disable_help_flag(true)
        .disable_help_subcommand(true)
        .disable_version_flag(true)
        .subcommand_value_name("LỆNH")
        .mut_args(localize_arg)
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::HelpShort)
                .help("In trợ giúp này"),
        );
    if parent.is_none() {
        command = command.arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("In số phiên bản"),
        );
    }
    let has_subcommands = command.has_subcommands();
    let positionals: Vec<String> = command
        .get_positionals()
        .map(|arg| {
            let name = arg
                .get_value_names()
                .and_then(|n| n.first())
                .map_or_else(|| arg.get_id().as_str().to_uppercase(), |n| n.to_string());
            match arg.is_required_set() {
                true => format!("<{name}>"),
                false => format!("[{name}]"),
            }
        })
        .collect();
    let usage = match has_subcommands {
        true => format!("{path} <LỆNH>"),
        false if positionals.is_empty() => format!("{path} [TÙY_CHỌN]"),
        false => format!("{path} [TÙY_CHỌN] {}", positionals.join(" ")),
    };
    let mut template = String::from("{about-with-newline}\nCách dùng: {usage}\n");
    if has_subcommands {
        template.push_str("\nLệnh:\n{subcommands}\n");
    }
    if !positionals.is_empty() {
        template.push_str("\nTham số:\n{positionals}\n");
    }
    template.push_str("\nTùy chọn:\n{options}\n");
    command = command.override_usage(usage).help_template(template);
    let names: Vec<String> = command
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    for name in names {
        command = command.mut_subcommand(&name, |sub| localize_at(sub, Some(&path)));
    }
    command
}

/// An argument with its default and possible values named in Vietnamese in its help (clap's
/// English "[default: …]" and "[possible values: …]" hidden) and a Vietnamese value name.
fn localize_arg(arg: Arg) -> Arg {
    let mut help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
    if arg.get_action().takes_values() {
        let values: Vec<String> = arg
            .get_value_parser()
            .possible_values()
            .map(|values| {
                values
                    .filter(|v| !v.is_hide_set())
                    .map(|v| v.get_name().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        if !values.is_empty() {
            help.push_str(&format!(" [một trong: {}]", values.join(", ")));
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned())
            .collect();
        if !defaults.is_empty() {
            help.push_str(&format!(" [mặc định: {}]", defaults.join(", ")));
        }
    }
    let name = arg
        .get_value_names()
        .and_then(|n| n.first())
        .and_then(|n| value_name(n.as_str()));
    let arg = arg
        .hide_possible_values(true)
        .hide_default_value(true)
        .help(help);
    match name {
        Some(name) => arg.value_name(name),
        None => arg,
    }
}

/// Vietnamese names of the values the commands take, as usage and help show them (`<KỲ>`).
fn value_name(english: &str) -> Option<&'static str> {
    Some(match english {
        "PERIOD" => "TỆP_KỲ",
        "CONFIG" => "TỆP_CẤU_HÌNH",
        "DIRECTORY" => "TỆP_DANH_BẠ",
        "TEMPLATES" => "THƯ_MỤC_MẪU",
        "OUT" => "ĐẦU_RA",
        "ONLY" | "KIND" => "LOẠI",
        "FORMAT" | "TO" => "DẠNG",
        "DIR" => "THƯ_MỤC",
        "UNIT" => "ĐƠN_VỊ",
        "NAME" => "TÊN",
        "FILE" => "TỆP",
        "ROLE" => "VAI_TRÒ",
        "NUMBER" => "SỐ",
        "YEAR" => "NĂM",
        "SYMBOL" => "KÝ_HIỆU",
        "ISSUER" => "CƠ_QUAN",
        "BY" => "NGƯỜI_THỰC_HIỆN",
        _ => return None,
    })
}

/// Prints what clap stopped on, in Vietnamese, and returns the exit code.
fn report(error: &clap::Error) -> ExitCode {
    match error.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            // Help and version are rendered from the localized command; nothing English left.
            let _ = error.print();
            return ExitCode::SUCCESS;
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            return ExitCode::from(2);
        }
        _ => {}
    }
    eprintln!("Lỗi: {}", describe(error));
    if let Some(ContextValue::StyledStr(usage)) = error.get(ContextKind::Usage) {
        let usage = usage.to_string();
        let usage = usage.trim().trim_start_matches("Usage:").trim();
        eprintln!("\nCách dùng: {usage}");
    }
    eprintln!("\nXem thêm: thêm --help sau lệnh để xem trợ giúp.");
    ExitCode::from(2)
}

/// One context value as text: a list joined by ", ".
fn context(error: &clap::Error, kind: ContextKind) -> Option<String> {
    match error.get(kind)? {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(v.join(", ")),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => Some(
            v.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ContextValue::Number(n) => Some(n.to_string()),
        ContextValue::Bool(b) => Some(b.to_string()),
        ContextValue::None => None,
        _ => None,
    }
}

/// The Vietnamese sentence for a parse error (clap's own text is English).
fn describe(error: &clap::Error) -> String {
    let arg = context(error, ContextKind::InvalidArg).unwrap_or_default();
    let value = context(error, ContextKind::InvalidValue).unwrap_or_default();
    let suggestion = |kind| match error.get(kind) {
        Some(ContextValue::Strings(v)) if !v.is_empty() => {
            format!("; có phải ý là «{}»?", v.join("» hay «"))
        }
        Some(ContextValue::String(s)) => format!("; có phải ý là «{s}»?"),
        _ => String::new(),
    };
    match error.kind() {
        ErrorKind::MissingRequiredArgument => format!("thiếu tham số bắt buộc: {arg}"),
        ErrorKind::MissingSubcommand => "thiếu lệnh; xem danh sách lệnh bằng --help".to_owned(),
        ErrorKind::UnknownArgument => format!(
            "không có tùy chọn hay tham số «{arg}»{}",
            suggestion(ContextKind::SuggestedArg)
        ),
        ErrorKind::InvalidSubcommand => format!(
            "không có lệnh «{}»{}",
            context(error, ContextKind::InvalidSubcommand).unwrap_or_default(),
            suggestion(ContextKind::SuggestedSubcommand)
        ),
        ErrorKind::InvalidValue if value.is_empty() => format!("{arg} cần một giá trị"),
        ErrorKind::InvalidValue => {
            let valid = context(error, ContextKind::ValidValue)
                .map(|v| format!("; cần một trong: {v}"))
                .unwrap_or_default();
            format!("giá trị «{value}» không hợp lệ cho {arg}{valid}")
        }
        ErrorKind::ValueValidation => format!(
            "giá trị «{value}» của {arg} không hợp lệ (số văn bản và năm là số nguyên dương, \
             ví dụ 125 hay 2026)"
        ),
        ErrorKind::ArgumentConflict => format!(
            "{arg} không dùng được cùng {}",
            context(error, ContextKind::PriorArg).unwrap_or_default()
        ),
        ErrorKind::TooManyValues | ErrorKind::TooFewValues | ErrorKind::WrongNumberOfValues => {
            format!("số giá trị của {arg} không đúng")
        }
        ErrorKind::NoEquals => format!("{arg} cần dấu = rồi giá trị"),
        ErrorKind::InvalidUtf8 => "dòng lệnh có ký tự không phải UTF-8".to_owned(),
        _ => "dòng lệnh không hợp lệ".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    /// A small command like vanban's, to see clap's words replaced.
    #[derive(Parser, Debug)]
    #[command(name = "vb", version, about = "Thử")]
    struct Cli {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(clap::Subcommand, Debug)]
    enum Sub {
        /// Kết xuất.
        Render {
            period: std::path::PathBuf,
            /// Dạng tệp.
            #[arg(long, value_enum, default_value = "both")]
            format: Format,
        },
    }

    #[derive(Clone, Copy, Debug, clap::ValueEnum)]
    enum Format {
        Pdf,
        Both,
    }

    fn help(args: &[&str]) -> String {
        let error = localize(Cli::command())
            .try_get_matches_from(args)
            .unwrap_err();
        assert_eq!(error.kind(), ErrorKind::DisplayHelp);
        error.render().to_string()
    }

    #[test]
    fn help_has_vietnamese_headings_values_and_flags() {
        let root = help(&["vb", "--help"]);
        let sub = help(&["vb", "render", "-h"]);
        for text in [&root, &sub] {
            for english in [
                "Usage",
                "Options",
                "Commands",
                "Arguments",
                "Print",
                "default",
            ] {
                assert!(!text.contains(english), "{english} in\n{text}");
            }
            assert!(text.contains("Cách dùng: vb"), "{text}");
            assert!(text.contains("In trợ giúp này"), "{text}");
        }
        assert!(
            root.contains("Lệnh:") && root.contains("In số phiên bản"),
            "{root}"
        );
        assert!(
            sub.contains("Cách dùng: vb render [TÙY_CHỌN] <TỆP_KỲ>"),
            "{sub}"
        );
        assert!(
            sub.contains("Dạng tệp [một trong: pdf, both] [mặc định: both]"),
            "{sub}"
        );
    }

    #[test]
    fn parse_errors_are_described_in_vietnamese() {
        let error_of = |args: &[&str]| {
            localize(Cli::command())
                .try_get_matches_from(args)
                .unwrap_err()
        };
        let missing = describe(&error_of(&["vb", "render"]));
        assert_eq!(missing, "thiếu tham số bắt buộc: <TỆP_KỲ>");
        let unknown = describe(&error_of(&["vb", "render", "k.toml", "--formt", "pdf"]));
        assert!(
            unknown.starts_with("không có tùy chọn hay tham số «--formt»")
                && unknown.contains("--format"),
            "{unknown}"
        );
        let value = describe(&error_of(&["vb", "render", "k.toml", "--format", "odt"]));
        assert!(
            value.contains("«odt»") && value.contains("pdf, both"),
            "{value}"
        );
        let command = describe(&error_of(&["vb", "rendr"]));
        assert!(
            command.contains("«rendr»") && command.contains("render"),
            "{command}"
        );
        let code = parse_from::<Cli>(
            localize(Cli::command()),
            ["vb", "render"].map(std::ffi::OsString::from),
        )
        .unwrap_err();
        assert_eq!(code, ExitCode::from(2));
    }
}
