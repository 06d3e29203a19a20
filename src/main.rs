//! The `vanban` command line: parses arguments, calls the library, reports errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;
use vanban::issue::approval::{self, Decision};
use vanban::issue::filing::IssueEnv;
use vanban::issue::{copies, replacement};
use vanban::model::{DocumentKind, Unreached};
use vanban::render::{self, Backends, Formats, Renderer, templates::Templates};
use vanban::schedule::RunOutcome;
use vanban::shutdown::{StopSignal, stop_on_signals};
use vanban::state::InstanceLock;
use vanban::state::Store;
use vanban::workflow::send::{self, SendEnv, SendOptions};

mod cli_vi;

/// Standard output closed by its reader (`vanban register show | head`): the reader had
/// enough, which is not a failure of the command.
#[derive(Debug, thiserror::Error)]
#[error("đầu ra chuẩn đã bị đóng")]
struct StdoutClosed;

/// Writes `text` to standard output. `print!` panics when the reader has gone away (the
/// process ignores SIGPIPE, as the mail and database connections need); here a closed pipe
/// becomes [`StdoutClosed`], which `main` ends on quietly.
fn say(text: std::fmt::Arguments<'_>) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(StdoutClosed.into()),
        done => Ok(done?),
    }
}

/// `print!` through [`say`]: every listing of the command line survives `| head`.
macro_rules! out {
    ($($arg:tt)*) => { say(format_args!($($arg)*)) };
}

/// `println!` through [`say`].
macro_rules! outln {
    ($($arg:tt)*) => { say(format_args!("{}\n", format_args!($($arg)*))) };
}

/// vanban: báo cáo sơ kết, thông báo kết luận và công văn giao nhiệm vụ theo Nghị định 30/2020/NĐ-CP.
#[derive(Parser)]
#[command(name = "vanban", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Kiểm tra tệp kỳ báo cáo và danh bạ; in mọi lỗi; mã thoát 1 nếu có lỗi.
    Check {
        /// Tệp kỳ báo cáo (TOML, JSON hoặc biểu mẫu Excel .xlsx).
        period: PathBuf,
        /// Danh bạ đơn vị (mặc định: directory.toml cạnh tệp kỳ báo cáo).
        #[arg(long)]
        directory: Option<PathBuf>,
        /// Dàn trang mọi văn bản và kiểm tra thể thức theo Nghị định 30 (không ghi tệp nào).
        #[arg(long)]
        render: bool,
        /// Thư mục mẫu của cơ quan (tệp ở đây thay mẫu có sẵn cùng tên): kiểm tra cả các mẫu
        /// này, mọi văn bản, cả PDF và DOCX.
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Tệp cấu hình vanban.toml: nếu có mục [signing], mọi người ký và mọi cơ quan ban hành
        /// văn bản của kỳ phải có khóa ký số và ảnh chữ ký, con dấu ở đó.
        #[arg(long)]
        config: Option<PathBuf>,
    },
    /// Kết xuất văn bản của kỳ báo cáo ra tệp.
    Render {
        /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
        period: PathBuf,
        /// Thư mục ra; văn bản ghi vào ĐẦU_RA/<năm>-h<kỳ>/ (mặc định: output_dir của tệp cấu
        /// hình, không có thì "out").
        #[arg(long)]
        out: Option<PathBuf>,
        /// Chỉ một loại văn bản.
        #[arg(long, value_enum)]
        only: Option<KindArg>,
        /// pdf, docx hoặc both (mỗi PDF kèm một DOCX).
        #[arg(long, value_enum, default_value = "both")]
        format: FormatArg,
        /// Danh bạ đơn vị (mặc định: directory.toml cạnh tệp kỳ báo cáo).
        #[arg(long)]
        directory: Option<PathBuf>,
        /// Thư mục mẫu của cơ quan: tệp ở đây thay mẫu có sẵn cùng tên (typst/, docx/, email/).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Tệp cấu hình vanban.toml: directory, output_dir và templates_dir của nó được dùng nếu
        /// không ghi ở đây.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Ghi thêm dữ liệu của từng văn bản (các trường mẫu dùng được) dạng JSON vào THƯ_MỤC.
        #[arg(long, value_name = "DIR")]
        dump_context: Option<PathBuf>,
    },
    /// Cấp số, kết xuất văn bản chính thức và gửi thư, mỗi thư đúng một lần.
    Send {
        /// Tệp kỳ báo cáo.
        period: PathBuf,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Chỉ ghi mỗi thư thành tệp .eml vào hộp thư đi, không gửi; không cấp số nào.
        #[arg(long)]
        dry_run: bool,
        /// Gửi lại thư của đơn vị này, có chủ ý (ghi vào sổ là gửi lại).
        #[arg(long, value_name = "UNIT")]
        resend: Option<String>,
        /// Chỉ các thư mang loại văn bản này (ghi được nhiều lần).
        #[arg(long, value_enum)]
        only: Vec<KindArg>,
        /// Cơ quan ban hành trong tệp kỳ là cơ quan khác với cơ quan đã cấp số các văn bản của
        /// kỳ này, có chủ ý: cấp số và gửi lại dưới cơ quan mới.
        #[arg(long)]
        new_issuer: bool,
    },
    /// Trình duyệt: ghi các dự thảo hiện tại là đã trình và gửi thư kèm dự thảo cho người duyệt
    /// ([approval] approvers); dự thảo không đổi thì không trình lại.
    Submit {
        /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
        period: PathBuf,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Chỉ trình loại văn bản này (có thể ghi nhiều lần).
        #[arg(long, value_enum)]
        only: Vec<KindArg>,
        /// Họ tên người trình (văn thư, chuyên viên).
        #[arg(long, value_name = "HỌ_TÊN")]
        by: String,
    },
    /// Duyệt dự thảo: ghi ý kiến duyệt (người duyệt, thời điểm, ghi chú và SHA-256 của đúng
    /// nội dung dự thảo hiện tại) cho các văn bản của kỳ; chỉ văn bản đã duyệt mới được gửi.
    Approve {
        /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
        period: PathBuf,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Chỉ duyệt loại văn bản này (có thể ghi nhiều lần).
        #[arg(long, value_enum)]
        only: Vec<KindArg>,
        /// Chỉ duyệt công văn gửi đơn vị này (mã đơn vị trong danh bạ).
        #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
        unit: Option<String>,
        /// Họ tên người duyệt.
        #[arg(long, value_name = "HỌ_TÊN")]
        by: String,
        /// Ghi chú kèm ý kiến duyệt.
        #[arg(long)]
        note: Option<String>,
    },
    /// Thay thế một văn bản đã ban hành: ghi người quyết định, thời điểm và lý do; lần gửi
    /// sau (khi nội dung mới đã được duyệt) cấp số mới cho văn bản thay thế và gửi cho mọi nơi
    /// đã nhận bản cũ; số cũ vẫn ở sổ đăng ký, ghi là đã bị thay thế.
    Replace {
        #[command(flatten)]
        document: IssuedDocumentArgs,
        /// Họ tên người quyết định thay thế.
        #[arg(long, value_name = "HỌ_TÊN")]
        by: String,
        /// Lý do thay thế (bắt buộc).
        #[arg(long)]
        reason: String,
    },
    /// Sao y điện tử một văn bản đã ban hành: tệp PDF đã ban hành (giữ nguyên chữ ký số của
    /// người ký và của cơ quan) được ký thêm chữ ký số của cơ quan ban hành, hiện ở góc trên bên
    /// phải trang đầu: «Sao y», tên cơ quan, thời gian ký (Nghị định 30/2020, Phụ lục I, ô 14).
    /// Bản sao được ghi sổ (ai làm, lúc nào, tệp nào). Cần khóa ký số của cơ quan trong mục
    /// [signing] của tệp cấu hình.
    Copy {
        #[command(flatten)]
        document: IssuedDocumentArgs,
        /// Họ tên người làm bản sao (văn thư).
        #[arg(long, value_name = "HỌ_TÊN")]
        by: String,
        /// Nơi ghi bản sao (mặc định: ĐẦU_RA/<kỳ>/ban-sao/<văn bản>-sao-y-<thời điểm>.pdf).
        #[arg(long, value_name = "TỆP")]
        out: Option<PathBuf>,
    },
    /// Trả lại dự thảo cho văn thư kèm lý do; văn bản bị trả lại không được gửi.
    Return {
        /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
        period: PathBuf,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Chỉ trả lại loại văn bản này (có thể ghi nhiều lần).
        #[arg(long, value_enum)]
        only: Vec<KindArg>,
        /// Chỉ trả lại công văn gửi đơn vị này (mã đơn vị trong danh bạ).
        #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
        unit: Option<String>,
        /// Họ tên người trả lại.
        #[arg(long, value_name = "HỌ_TÊN")]
        by: String,
        /// Lý do trả lại (bắt buộc): văn thư sửa theo lý do này.
        #[arg(long)]
        reason: String,
    },
    /// Từng nơi nhận: đã gửi (lúc nào, Message-ID), lỗi (vì sao), chờ gửi hay chưa rõ; các số
    /// đã cấp.
    Status {
        /// Tệp kỳ báo cáo.
        period: PathBuf,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Dịch vụ chạy theo lịch: chạy từng tác vụ của vanban.toml khi đến giờ, đến khi nhận
    /// SIGTERM/SIGINT.
    Run {
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Liệt kê các tác vụ của vanban.toml, ba lần chạy tới và lần chạy gần nhất.
    Jobs {
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Chạy ngay một tác vụ như bộ lập lịch sẽ chạy (ghi là chạy tay).
    RunJob {
        /// Tên tác vụ trong vanban.toml.
        name: String,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Chuyển tệp kỳ báo cáo giữa TOML và biểu mẫu Excel; kỳ báo cáo được kiểm tra trước, chỉ
    /// tệp hợp lệ mới được chuyển.
    Convert {
        /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
        file: PathBuf,
        /// Dạng cần chuyển sang.
        #[arg(long, value_enum)]
        to: ConvertTo,
        /// Nơi ghi (mặc định: TỆP với phần mở rộng mới).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Danh bạ đơn vị (mặc định: directory.toml cạnh tệp kỳ báo cáo).
        #[arg(long)]
        directory: Option<PathBuf>,
        /// Ghi đè ĐẦU_RA nếu đã có.
        #[arg(long)]
        force: bool,
    },
    /// Mẫu văn bản: chép các mẫu có sẵn ra để cơ quan sửa.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
    /// Sổ đăng ký văn bản đi: nối tiếp sổ của cơ quan, ghi số lấy tay, xem sổ.
    Register {
        #[command(subcommand)]
        command: RegisterCommand,
    },
    /// Cơ sở dữ liệu trạng thái: nâng cấp lược đồ, chép từ SQLite sang PostgreSQL.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
    #[command(flatten)]
    Web(WebCommand),
}

#[derive(Subcommand)]
enum DbCommand {
    /// Tạo hoặc nâng cấp lược đồ của cơ sở dữ liệu trạng thái ghi ở vanban.toml (SQLite hoặc
    /// PostgreSQL); việc này cũng tự làm mỗi khi vanban mở cơ sở dữ liệu.
    Migrate {
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Chép toàn bộ sổ gửi, sổ đăng ký, lịch sử chạy, ý kiến duyệt, chữ ký và tài khoản trang
    /// web từ tệp SQLite sang một cơ sở dữ liệu PostgreSQL trống, trong một giao dịch, rồi so
    /// từng bảng; mật khẩu PostgreSQL lấy từ biến môi trường VANBAN_DB_PASSWORD hoặc
    /// --password-file.
    Copy {
        /// Nguồn: sqlite:ĐƯỜNG_DẪN (tệp SQLite của vanban).
        #[arg(long)]
        from: String,
        /// Đích: postgres://người_dùng@máy_chủ/tên_csdl (không ghi mật khẩu ở đây).
        #[arg(long)]
        to: String,
        /// Tệp chứa mật khẩu PostgreSQL (dòng đầu).
        #[arg(long)]
        password_file: Option<PathBuf>,
    },
}

fn db_command(command: DbCommand) -> Result<ExitCode> {
    use vanban::state::{PgTarget, copy};
    match command {
        DbCommand::Migrate { config } => {
            let config = input::config::load_without_secrets(&config)?;
            let store = Store::open_state(&config.state)?;
            outln!(
                "Cơ sở dữ liệu {} ở phiên bản lược đồ {}.",
                store.name(),
                store.schema_version()?
            )?;
        }
        DbCommand::Copy {
            from,
            to,
            password_file,
        } => {
            let source = from.strip_prefix("sqlite:").unwrap_or(&from);
            let source_path = std::path::Path::new(source);
            if !source_path.is_file() {
                anyhow::bail!("không có tệp SQLite {source} để chép");
            }
            if !PgTarget::is_url(&to) {
                anyhow::bail!(
                    "đích phải là địa chỉ PostgreSQL (postgres://người_dùng@máy_chủ/tên_csdl), không phải «{to}»"
                );
            }
            if vanban::state::scrub_url(&to) != to {
                anyhow::bail!(
                    "không ghi mật khẩu trong địa chỉ {}; hãy dùng biến môi trường VANBAN_DB_PASSWORD hoặc --password-file",
                    vanban::state::scrub_url(&to)
                );
            }
            let source = Store::open(source_path)?;
            let target = Store::open_postgres(&PgTarget::new(&to, password_file.as_deref())?)?;
            let report = copy::copy(&source, &target)?;
            outln!(
                "Đã chép {} sang {} (đã so từng bảng, không đổi số nào):\n{report}",
                source.name(),
                target.name()
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Subcommand)]
enum RegisterCommand {
    /// Đánh số nối tiếp sổ đăng ký của cơ quan: số tiếp theo cấp trong NĂM là SỐ.
    SetNext {
        /// Số tiếp theo, ví dụ 125 (từ 1 đến 99.999).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        number: u64,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Năm của sổ, ví dụ 2026 (từ 2000 đến 2100).
        #[arg(long)]
        year: i64,
        /// Chỉ dãy số này (khi numbering = "per-type"): TB, BC, UBND … (mặc định: mọi dãy).
        #[arg(long)]
        symbol: Option<String>,
        /// Chỉ sổ của cơ quan ban hành này (mã của nó; mặc định: mọi cơ quan).
        #[arg(long)]
        issuer: Option<String>,
        /// Người thực hiện, ghi vào lịch sử sổ.
        #[arg(long)]
        by: String,
    },
    /// Ghi số văn thư đã lấy từ hệ thống quản lý văn bản cho một văn bản; lệnh send sẽ cấp văn
    /// bản với số đó.
    Assign {
        /// Tệp kỳ báo cáo.
        period: PathBuf,
        /// Loại văn bản.
        #[arg(value_enum)]
        kind: KindArg,
        /// Số văn bản, ví dụ 125 (từ 1 đến 99.999).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        number: u64,
        /// Đơn vị nhận, với công văn giao nhiệm vụ (mỗi đơn vị một công văn).
        #[arg(long)]
        unit: Option<String>,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Người thực hiện, ghi vào lịch sử sổ.
        #[arg(long)]
        by: String,
    },
    /// Xem sổ đăng ký của một năm: số đã cấp, số đã giữ và lịch sử thao tác trên sổ.
    Show {
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
        /// Năm của sổ, ví dụ 2026 (từ 2000 đến 2100).
        #[arg(long)]
        year: i64,
    },
}

fn register_command(clock: &SystemClock, command: RegisterCommand) -> Result<ExitCode> {
    use chrono::Datelike;
    use vanban::issue::filing::{DocId, issuer_key};
    use vanban::issue::register::{NextScope, Register, checked_number, checked_year};
    match command {
        RegisterCommand::SetNext {
            number,
            config,
            year,
            symbol,
            issuer,
            by,
        } => {
            // Out of range is said before the database is opened: nothing is created for it.
            let (number, year) = (checked_number(number)?, checked_year(year)?);
            let config = input::config::load_without_secrets(&config)?;
            let store = Store::open_state(&config.state)?;
            let scope = NextScope { issuer, symbol };
            Register::new(&store).set_next(
                &scope,
                config.numbering,
                year,
                number,
                &by,
                clock.now(),
            )?;
            outln!("Đã ghi vào sổ: số tiếp theo năm {year} là {number} (người ghi: {by}).")?;
        }
        RegisterCommand::Assign {
            period,
            kind,
            number,
            unit,
            config,
            by,
        } => {
            let number = checked_number(number)?;
            let config = input::config::load_without_secrets(&config)?;
            let p = match input::load_period(
                &period,
                config.directory.as_deref(),
                clock.today_in(VIETNAM),
            ) {
                Ok(p) => p,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let kind = DocumentKind::from(kind);
            let names = &kind.spec().names;
            match &unit {
                None if kind.per_unit() => anyhow::bail!(
                    "{} có một số cho mỗi đơn vị: cần --unit <mã đơn vị>",
                    vanban::vi::lower_first(names.any_period)
                ),
                Some(_) if !kind.per_unit() => anyhow::bail!(
                    "chỉ {} mới gửi riêng từng đơn vị: bỏ --unit",
                    approval::per_unit_names()
                ),
                Some(u) if !kind.units(&p).iter().any(|t| t.id == *u) => anyhow::bail!(
                    "{}: đơn vị \"{u}\" không được giao nhiệm vụ trong kỳ này, nên không có {}",
                    period.display(),
                    vanban::vi::lower_first(names.short)
                ),
                _ => {}
            }
            let id = DocId { kind, unit };
            let symbol = p.symbol(kind);
            Register::new(&Store::open_state(&config.state)?).assign(
                &issuer_key(p.issuer_of(kind)),
                p.documents.date.year(),
                &symbol,
                config.numbering,
                &id.register_key(&p),
                number,
                &by,
                clock.now(),
            )?;
            outln!(
                "Đã ghi vào sổ: số {}/{symbol} cho «{}» (người ghi: {by}); lệnh send sẽ cấp số này.",
                vanban::issue::register::format_number(number),
                id.register_key(&p)
            )?;
        }
        RegisterCommand::Show { config, year } => {
            let year = checked_year(year)?;
            let config = input::config::load_without_secrets(&config)?;
            // Read only: a database that does not exist yet is not created.
            let store = if config.state.exists() {
                Store::open_state(&config.state)?
            } else {
                Store::open_in_memory()?
            };
            out!("{}", Register::new(&store).listing(year)?)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

// ---- the web page: `serve` and `users` (kept together so the page's CLI is one block) ----

#[derive(Subcommand)]
enum WebCommand {
    /// Trang web cho cán bộ cùng bộ lập lịch, trong một tiến trình, đến khi nhận SIGTERM/SIGINT.
    Serve {
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
    /// Tài khoản của trang web.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Thêm tài khoản; mật khẩu được hỏi trên màn hình (hoặc đọc từ đầu vào chuẩn).
    Add {
        /// Tên đăng nhập.
        name: String,
        /// Vai trò: clerk (văn thư), approver (lãnh đạo duyệt), admin (quản trị).
        #[arg(long, value_enum)]
        role: RoleArg,
        /// Tệp cấu hình vanban.toml.
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Clerk,
    Approver,
    Admin,
}

fn web_command(command: WebCommand) -> Result<ExitCode> {
    use vanban::web::{self, auth, store::WebStore};
    match command {
        WebCommand::Serve { config } => {
            let config = input::config::load(&config)?;
            vanban::schedule::service::init_logging_in(vanban::schedule::service::log_zone(
                &config,
            ));
            warn_stale_templates(&config);
            let stop = Arc::new(StopSignal::new());
            stop_on_signals(Arc::clone(&stop))?;
            let server = web::start(config, None, Arc::new(SystemClock), stop, true)?;
            tracing::info!(address = %server.addr, "vanban serve: trang web đang chạy tại http://{}", server.addr);
            server.wait();
            Ok(ExitCode::SUCCESS)
        }
        WebCommand::Users {
            command: UsersCommand::Add { name, role, config },
        } => {
            let config = input::config::load_without_secrets(&config)?;
            if !auth::valid_user_name(&name) {
                anyhow::bail!(
                    "tên đăng nhập \"{name}\" không hợp lệ: chỉ gồm chữ, số, '.', '-', '_' (tối đa 64 ký tự)"
                );
            }
            let password = read_new_password()?;
            let role = match role {
                RoleArg::Clerk => auth::Role::Clerk,
                RoleArg::Approver => auth::Role::Approver,
                RoleArg::Admin => auth::Role::Admin,
            };
            let store = WebStore::new(Store::open_state(&config.state)?);
            let now = SystemClock.now();
            store.add_user(&name, role, &auth::hash_password(&password)?, now)?;
            store.audit(
                "(dòng lệnh)",
                "",
                "thêm tài khoản",
                &format!("{name} ({})", role.as_str()),
                now,
            )?;
            outln!("Đã thêm tài khoản {name} ({}).", role.label_vi())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The new password: asked twice without echo on a terminal, else the first line of stdin.
fn read_new_password() -> Result<String> {
    use std::io::IsTerminal;
    use vanban::web::auth::MIN_PASSWORD_CHARS;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Mật khẩu: ")?;
        let again = rpassword::prompt_password("Nhập lại mật khẩu: ")?;
        if first != again {
            anyhow::bail!("hai lần nhập mật khẩu không giống nhau");
        }
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    if password.chars().count() < MIN_PASSWORD_CHARS {
        anyhow::bail!("mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự");
    }
    Ok(password)
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Ghi các mẫu có sẵn vào THƯ_MỤC (typst/, docx/, email/ …) cùng biểu mẫu Excel
    /// bieu-mau-so-ket.xlsx.
    Export {
        /// Thư mục ghi mẫu.
        dir: PathBuf,
        /// Danh bạ cho danh sách chọn đơn vị của biểu mẫu (mặc định: không liệt kê).
        #[arg(long)]
        directory: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ConvertTo {
    Toml,
    Xlsx,
}

/// One issued document of a period, for the commands that act on it (replace, copy).
#[derive(Args)]
struct IssuedDocumentArgs {
    /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
    period: PathBuf,
    /// Tệp cấu hình vanban.toml.
    #[arg(long)]
    config: PathBuf,
    /// Loại văn bản.
    #[arg(value_enum)]
    kind: KindArg,
    /// Công văn gửi đơn vị này (mã đơn vị trong danh bạ; bắt buộc với công văn).
    #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
    unit: Option<String>,
}

/// The configuration, the state database and the period a document command works on; `None`
/// when the period file has problems (printed as `check` prints them).
fn open_document_period(
    args: &IssuedDocumentArgs,
    clock: &dyn Clock,
) -> Result<Option<(vanban::config::Config, Store, vanban::model::Period)>> {
    let config = input::config::load_without_secrets(&args.config)?;
    let store = Store::open_state(&config.state)?;
    let today = clock.today_in(VIETNAM);
    match input::load_period(&args.period, config.directory.as_deref(), today) {
        Ok(period) => Ok(Some((config, store, period))),
        Err(problems) => {
            eprintln!("{problems}");
            Ok(None)
        }
    }
}

/// A document kind on the command line, by its slug ("review-report"): the kinds' table lists
/// the values.
#[derive(Clone, Copy)]
struct KindArg(DocumentKind);

impl KindArg {
    const ALL: [KindArg; DocumentKind::ALL.len()] = {
        let mut all = [KindArg(DocumentKind::ALL[0]); DocumentKind::ALL.len()];
        let mut i = 0;
        while i < all.len() {
            all[i] = KindArg(DocumentKind::ALL[i]);
            i += 1;
        }
        all
    };
}

impl ValueEnum for KindArg {
    fn value_variants<'a>() -> &'a [Self] {
        &Self::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        Some(clap::builder::PossibleValue::new(self.0.slug()))
    }
}

impl From<KindArg> for DocumentKind {
    fn from(kind: KindArg) -> Self {
        kind.0
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Pdf,
    Docx,
    Both,
}

impl From<FormatArg> for Formats {
    fn from(format: FormatArg) -> Self {
        match format {
            FormatArg::Pdf => Formats::Pdf,
            FormatArg::Docx => Formats::Docx,
            FormatArg::Both => Formats::Both,
        }
    }
}

/// Why a document would reach nobody, for the clerk.
fn describe_unreached(unreached: &Unreached) -> String {
    match unreached {
        Unreached::ReviewReport => {
            "báo cáo không được gửi cho ai: danh bạ cần khóa report_to = \"<mã nhóm>\" \
             (hoặc một nhóm có mã \"report_to\") với ít nhất một đơn vị có địa chỉ thư"
                .to_string()
        }
        Unreached::ConclusionNotice => {
            "thông báo kết luận không được gửi cho ai: không có đơn vị nào được giao nhiệm vụ"
                .to_string()
        }
        Unreached::AssignmentLetter(unit) => {
            format!("công văn gửi đơn vị \"{unit}\" không đến được ai: đơn vị chưa có địa chỉ thư")
        }
    }
}

fn main() -> ExitCode {
    // This binary is also the render worker every command renders through: an office template
    // or image that allocates or loops without end stops in that bounded child, not here.
    if let Some(code) = render::worker::serve_if_asked() {
        return code;
    }
    if let Some(program) = render::worker::WorkerProgram::this_binary() {
        render::worker::register(program);
    }
    let cli = match cli_vi::parse::<Cli>() {
        Ok(cli) => cli,
        Err(code) => return code,
    };
    match run(cli) {
        Ok(code) => code,
        Err(error) if error.chain().any(|e| e.is::<StdoutClosed>()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("Lỗi: {}", error_chain(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: many errors already quote their cause in their
/// own text ("không nạp được mẫu Typst: <lỗi>"), which `{:#}` would print a second time.
fn error_chain(error: &anyhow::Error) -> String {
    let mut text = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

fn run(cli: Cli) -> Result<ExitCode> {
    let clock = SystemClock;
    match cli.command {
        Command::Check {
            period,
            directory,
            render,
            templates,
            config,
        } => {
            let today = clock.today_in(VIETNAM);
            // With --config, the period is read against the config's directory, as `send` reads
            // it (--directory still wins): otherwise check could pass a period that send refuses.
            let settings = config
                .as_deref()
                .map(input::config::load_without_secrets)
                .transpose()?;
            let directory =
                directory.or_else(|| settings.as_ref().and_then(|s| s.directory.clone()));
            let p = match input::load_period(&period, directory.as_deref(), today) {
                Ok(p) => p,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let mut failed = false;
            for unreached in p.unreached() {
                failed = true;
                eprintln!("{}: {}", period.display(), describe_unreached(&unreached));
            }
            // A word its table column cannot hold would run over the margin: refused now, not at
            // render. Measured against the built-in templates' places; with the office's own
            // templates (--templates) every document is laid out and page-checked below instead.
            if templates.is_none() {
                for problem in render::fit::problems(&p) {
                    failed = true;
                    eprintln!("{}: {problem}", period.display());
                }
            }
            if let (Some(config_path), Some(settings)) = (&config, &settings) {
                if let Some(signing) = &settings.signing {
                    let mut to_sign = vanban::issue::signatures::ToSign::default();
                    for kind in vanban::model::DocumentKind::ALL {
                        to_sign.add(
                            &p.settings(kind).signer.name,
                            vanban::issue::signatures::IssuingBody::of(&p, kind),
                        );
                    }
                    for problem in vanban::issue::signatures::setting_problems(signing, &to_sign) {
                        failed = true;
                        eprintln!("{}: [signing]: {problem}", config_path.display());
                    }
                    // On the DOCX route the signature and seal go in the room the office's
                    // DOCX leaves above the signer's name: a template without it would fail
                    // every send, after the numbers are taken.
                    if settings.pdf_from == render::PdfFrom::Docx {
                        let dir = templates.clone().or_else(|| settings.templates_dir.clone());
                        let docx = render::DocxRenderer::new(&Templates { override_dir: dir })?;
                        let mut said = std::collections::BTreeSet::new();
                        for document in render::plan(&p, None, &|_, _| None) {
                            let filled = docx.render(&document)?;
                            let images = render::docx_pdf::signature::SignatureImages {
                                signature: "/chu-ky.png".into(),
                                seal: Some("/con-dau.png".into()),
                            };
                            let signer = &document.context.signer.name;
                            if let Err(e) =
                                render::docx_pdf::convert_signed(&filled, signer, images)
                            {
                                failed = true;
                                let text = format!("{}: {e}", document.label_vi());
                                if said.insert(text.clone()) {
                                    eprintln!("{text}");
                                }
                            }
                        }
                    }
                }
                // A warning, not a failure: `send --new-issuer` may be what the office means.
                if settings.state.exists() {
                    let store = Store::open_state(&settings.state)?;
                    let key = vanban::issue::filing::issuer_key(&p.issuer);
                    if let Err(e) = send::refuse_a_changed_issuer(&store, p.id(), &key) {
                        eprintln!("{}: cảnh báo: {e}", period.display());
                    }
                }
            }
            // The office's templates are checked whenever given: both formats, every document.
            if render || templates.is_some() {
                let formats = match templates {
                    Some(_) => Formats::Both,
                    None => Formats::Pdf,
                };
                let templates = templates.map(Templates::with_overrides).unwrap_or_default();
                // The PDF checked is the one `render` would make: from the DOCX if the config says
                // so, under its limits.
                let (pdf_from, limits) = match &settings {
                    Some(config) => (config.pdf_from, render_limits(&config.limits)),
                    None => (render::PdfFrom::Typst, render::Limits::default()),
                };
                let backends = Backends::with_pdf_from(&templates, formats, limits, pdf_from)?;
                let documents = render::plan(&p, None, &|_, _| None);
                // A template's mistake fails every document the same way: said once.
                let mut said = std::collections::BTreeSet::new();
                for renderer in backends.renderers() {
                    for document in &documents {
                        if let Err(error) = renderer.render(document) {
                            failed = true;
                            let text = error.to_string();
                            if said.insert(text.clone()) {
                                eprintln!("{text}");
                            }
                        }
                    }
                }
                if !failed {
                    outln!(
                        "{}: {} văn bản đúng thể thức Nghị định 30/2020/NĐ-CP.",
                        period.display(),
                        documents.len()
                    )?;
                }
                for note in backends.notes() {
                    eprintln!("Lưu ý: {note}");
                }
                for note in stale_template_notes(templates.override_dir.as_deref()) {
                    eprintln!("Lưu ý: {note}");
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
            outln!(
                "{}: hợp lệ — {} chương trình, {} nhiệm vụ, {} đơn vị nhận công văn.",
                period.display(),
                p.programs.len(),
                p.tasks.len(),
                p.units_with_tasks().len()
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Render {
            period,
            out,
            only,
            format,
            directory,
            templates,
            config,
            dump_context,
        } => {
            let config = config
                .map(|c| input::config::load_without_secrets(&c))
                .transpose()?;
            let config = config.as_ref();
            let out = out
                .or_else(|| config.map(|c| c.output_dir.clone()))
                .unwrap_or_else(|| PathBuf::from("out"));
            let directory = directory.or_else(|| config.and_then(|c| c.directory.clone()));
            let templates = templates.or_else(|| config.and_then(|c| c.templates_dir.clone()));
            let today = clock.today_in(VIETNAM);
            let period_data = match input::load_period(&period, directory.as_deref(), today) {
                Ok(p) => p,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let templates = templates.map(Templates::with_overrides).unwrap_or_default();
            let limits = config.map(|c| render_limits(&c.limits)).unwrap_or_default();
            let pdf_from = config.map(|c| c.pdf_from).unwrap_or_default();
            let backends = Backends::with_pdf_from(&templates, format.into(), limits, pdf_from)?;
            let documents = render::plan(&period_data, only.map(Into::into), &|_, _| None);
            if let Some(dir) = &dump_context {
                dump_contexts(dir, &documents, &templates)?;
            }
            let dir = out.join(period_data.key());
            // As render::render_to_dir, with its progress as each file is made, so a long batch
            // is not silent: a bar at a terminal, else a line on stderr per file (the list on
            // stdout comes once all are in place).
            let renderers = backends.renderers();
            let total = documents.len() * renderers.len();
            let done = std::sync::atomic::AtomicUsize::new(0);
            let staging = render::Staging::new(&dir)?;
            vanban::progress::bar_on_terminal();
            let progress = vanban::progress::Progress::start(total, "tệp", "đã tạo");
            render::render_each(&documents, &renderers, render::default_threads(), &|file| {
                let name = file.file_name.clone();
                staging.write(&file)?;
                let n = done.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                match progress.shows_bar() {
                    true => progress.item_done(true),
                    false => eprintln!("đã tạo {n}/{total}: {name}"),
                }
                Ok(())
            })?;
            progress.finish();
            let written = staging.commit()?;
            for path in &written {
                outln!("{}", path.display())?;
            }
            outln!("Đã tạo {} tệp trong {}.", written.len(), dir.display())?;
            for note in backends
                .notes()
                .into_iter()
                .chain(stale_template_notes(templates.override_dir.as_deref()))
            {
                eprintln!("Lưu ý: {note}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { config } => {
            let config = input::config::load(&config)?;
            vanban::schedule::service::init_logging_in(vanban::schedule::service::log_zone(
                &config,
            ));
            warn_stale_templates(&config);
            vanban::schedule::run::serve(&config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { config } => {
            let config = input::config::load_without_secrets(&config)?;
            // Listing must not create the database of a service that never ran.
            let store = match config.state.exists() {
                true => Some(Store::open_state(&config.state)?),
                false => None,
            };
            let conn = store.as_ref().map(Store::conn);
            let text =
                vanban::schedule::listing::describe_jobs(&config, conn.as_ref(), clock.now())?;
            out!("{text}")?;
            Ok(ExitCode::SUCCESS)
        }
        Command::RunJob { name, config } => {
            let config = input::config::load(&config)?;
            vanban::schedule::service::init_logging_in(vanban::schedule::service::log_zone(
                &config,
            ));
            let result = vanban::schedule::run::run_job_now(&config, &name)?;
            outln!(
                "Tác vụ \"{name}\" (kỳ {}): {}\n{}",
                result.firing.period_key(),
                result.outcome,
                result.detail
            )?;
            Ok(match result.outcome {
                RunOutcome::Ok => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            })
        }
        Command::Send {
            period,
            config,
            dry_run,
            resend,
            only,
            new_issuer,
        } => send_command(&clock, &period, &config, dry_run, resend, only, new_issuer),
        Command::Submit {
            period,
            config,
            only,
            by,
        } => submit_command(&clock, &period, &config, &only, &by),
        Command::Approve {
            period,
            config,
            only,
            unit,
            by,
            note,
        } => decide_command(
            &clock,
            &period,
            &config,
            &only,
            unit.as_deref(),
            Decision::Approved,
            &by,
            note.as_deref(),
        ),
        Command::Return {
            period,
            config,
            only,
            unit,
            by,
            reason,
        } => decide_command(
            &clock,
            &period,
            &config,
            &only,
            unit.as_deref(),
            Decision::Returned,
            &by,
            Some(&reason),
        ),
        Command::Replace {
            document,
            by,
            reason,
        } => {
            let Some((config, store, period_data)) = open_document_period(&document, &clock)?
            else {
                return Ok(ExitCode::FAILURE);
            };
            let id =
                replacement::select(&period_data, document.kind.into(), document.unit.as_deref())?;
            let done = replacement::replace(&store, &period_data, &id, &by, &reason, clock.now())?;
            let approve = if config.approval.required {
                ", sau khi nội dung mới được duyệt (vanban approve),"
            } else {
                ""
            };
            outln!(
                "Văn bản số {} ({}) {done}.\nLần gửi sau cấp số mới cho văn bản thay thế{approve} \
                 rồi gửi cho mọi nơi đã nhận bản cũ.",
                done.number,
                approval::document_label(&id),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Copy { document, by, out } => {
            let Some((config, store, period_data)) = open_document_period(&document, &clock)?
            else {
                return Ok(ExitCode::FAILURE);
            };
            let dir = config.output_dir.join(period_data.key());
            let request = copies::CopyRequest {
                kind: document.kind.into(),
                unit: document.unit.as_deref(),
                made_by: &by,
                out: out.as_deref(),
            };
            let made = copies::make_copy(
                &store,
                &clock,
                &period_data,
                config.signing.as_ref(),
                &dir,
                &request,
            )?;
            outln!(
                "Đã sao y {} số {}: {}\nChữ ký số của {} ({}), lúc {}; đã ghi sổ bản sao.",
                made.document,
                made.number,
                made.path.display(),
                made.body,
                made.subject,
                vanban::clock::local_time(made.at),
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Status { period, config } => {
            let config = input::config::load_without_secrets(&config)?;
            // Read only: a database that does not exist yet is not created.
            let store = if config.state.exists() {
                Store::open_state(&config.state)?
            } else {
                Store::open_in_memory()?
            };
            let alive = InstanceLock::is_held_state(&config.state)?;
            let today = clock.today_in(VIETNAM);
            match vanban::deliver::status::period_status(&config, &store, &period, today, alive) {
                Ok(mut status) => {
                    // An approval the period file or a template has since outdated, and an
                    // issued document whose draft changed after its number, are shown as such:
                    // the drafts of approved and issued documents are rendered and compared.
                    {
                        let backends = office_backends(&config)?;
                        let renderers = backends.renderers();
                        let env = IssueEnv {
                            store: &store,
                            clock: &clock,
                            numbering: config.numbering,
                            renderers: &renderers,
                            signing: None,
                        };
                        vanban::deliver::status::check_drafts(
                            &mut status,
                            &env,
                            &config,
                            &period,
                            today,
                        )?;
                    }
                    outln!("{status}")?;
                    Ok(ExitCode::SUCCESS)
                }
                Err(send::DeliverError::Period(problems)) => {
                    eprintln!("{problems}");
                    Ok(ExitCode::FAILURE)
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Convert {
            file,
            to,
            out,
            directory,
            force,
        } => convert_command(&clock, &file, to, out, directory.as_deref(), force),
        Command::Templates {
            command: TemplatesCommand::Export { dir, directory },
        } => {
            let written = export_templates(&dir, &clock)?;
            let units = match directory {
                Some(path) => match input::load_directory(&path) {
                    Ok(d) => d,
                    Err(problems) => {
                        eprintln!("{problems}");
                        return Ok(ExitCode::FAILURE);
                    }
                },
                None => Default::default(),
            };
            let form = input::blank_form(&units, clock.today_in(VIETNAM))?;
            let path = dir.join("bieu-mau-so-ket.xlsx");
            render::templates::write_atomically(&path, &form)
                .with_context(|| format!("không ghi được {}", path.display()))?;
            outln!("{}", path.display())?;
            outln!(
                "Đã ghi {} tệp mẫu vào {}: typst/ (mẫu PDF), {}/ (mẫu Word), email/ (mẫu thư), \
                 {} (lời văn chung của cả bản PDF và bản Word: muốn đổi câu chữ, sửa ở đây) và \
                 biểu mẫu Excel bieu-mau-so-ket.xlsx. Sửa các tệp cần đổi (xóa tệp không sửa), rồi \
                 dùng --templates {} hoặc đặt templates_dir trong vanban.toml; kiểm tra bằng \
                 vanban check <tệp kỳ> --templates {}. {} ghi phiên bản của các mẫu này (đừng \
                 xóa): sau khi nâng cấp vanban, check chỉ ra mẫu nào đã cũ.",
                written + 1,
                dir.display(),
                render::docx::SUBDIR,
                render::wording::FILE,
                dir.display(),
                dir.display(),
                render::template_versions::STAMP_FILE,
            )?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Register { command } => register_command(&clock, command),
        Command::Db { command } => db_command(command),
        Command::Web(command) => web_command(command),
    }
}

fn send_command(
    clock: &SystemClock,
    period: &Path,
    config: &Path,
    dry_run: bool,
    resend: Option<String>,
    only: Vec<KindArg>,
    new_issuer: bool,
) -> Result<ExitCode> {
    // A dry run never connects, so it needs no password.
    let config = match dry_run {
        true => input::config::load_without_secrets(config)?,
        false => input::config::load(config)?,
    };
    // One line per message on stderr as it goes (deliver::dispatch), in the office's time; a
    // bar instead of the successes' lines when stderr is a terminal.
    vanban::schedule::service::init_logging_in(vanban::schedule::service::log_zone(&config));
    vanban::progress::bar_on_terminal();
    let lock = InstanceLock::acquire_state(&config.state, clock.now())?;
    let store = Store::open_state(&config.state)?;
    let backends = office_backends(&config)?;
    let renderers = backends.renderers();
    // SIGTERM or Ctrl-C: finish and record the message in flight, then stop. A second Ctrl-C
    // exits at once (the ledger then shows that message as unknown, never as lost).
    let stop = Arc::new(StopSignal::new());
    stop_on_signals(Arc::clone(&stop))?;
    let sleep = |delay: Duration| stop.wait_timeout(delay);
    let env = SendEnv {
        config: &config,
        store: &store,
        lock: &lock,
        clock,
        renderers: &renderers,
        sleep: &sleep,
    };
    let options = SendOptions {
        dry_run,
        resend,
        only: only.into_iter().map(Into::into).collect(),
        new_issuer,
    };
    match send::send_period(&env, period, &options, &stop) {
        Ok(report) => {
            outln!("{report}")?;
            Ok(if report.all_delivered() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Err(send::DeliverError::Period(problems)) => {
            eprintln!("{problems}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// `vanban submit`: the clerk's "trình duyệt" from a terminal, the same step as the scheduled
/// render job and the page's button (`deliver::submit`).
fn submit_command(
    clock: &SystemClock,
    period: &Path,
    config: &Path,
    only: &[KindArg],
    by: &str,
) -> Result<ExitCode> {
    let config = input::config::load(config)?;
    on_drafts(clock, period, &config, |env, period_data| {
        let kinds: Vec<DocumentKind> = only.iter().map(|k| (*k).into()).collect();
        let submission =
            vanban::deliver::submit::submit_drafts(&config, env, period_data, &kinds, by.trim())?;
        outln!("{submission}")?;
        Ok(if submission.failed() {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// The draft commands' common ground (`submit`, `approve`, `return`): the period read, the
/// state opened, and the same renderers as `send`, so the drafts hashed here are the ones
/// `send` compares. A period with problems prints them and exits 1. Says so when
/// `[approval] required = false` makes the step advisory.
fn on_drafts(
    clock: &SystemClock,
    period: &Path,
    config: &vanban::config::Config,
    work: impl FnOnce(&IssueEnv<'_>, &vanban::model::Period) -> Result<ExitCode>,
) -> Result<ExitCode> {
    let store = Store::open_state(&config.state)?;
    let today = clock.today_in(VIETNAM);
    let period_data = match input::load_period(period, config.directory.as_deref(), today) {
        Ok(p) => p,
        Err(problems) => {
            eprintln!("{problems}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let backends = office_backends(config)?;
    let renderers = backends.renderers();
    let env = IssueEnv {
        store: &store,
        clock,
        numbering: config.numbering,
        renderers: &renderers,
        signing: None,
    };
    let code = work(&env, &period_data)?;
    if !config.approval.required {
        outln!(
            "Lưu ý: {} đặt [approval] required = false nên send không đòi ý kiến duyệt.",
            config.path.display()
        )?;
    }
    Ok(code)
}

/// `vanban approve` / `vanban return`: renders the chosen drafts as `send` would and records
/// the decision on each, with the SHA-256 of exactly that content.
#[allow(clippy::too_many_arguments)]
fn decide_command(
    clock: &SystemClock,
    period: &Path,
    config: &Path,
    only: &[KindArg],
    unit: Option<&str>,
    decision: Decision,
    by: &str,
    note: Option<&str>,
) -> Result<ExitCode> {
    let config = input::config::load_without_secrets(config)?;
    on_drafts(clock, period, &config, |env, period_data| {
        let kinds: Vec<DocumentKind> = only.iter().map(|k| (*k).into()).collect();
        let ids = approval::select(period_data, &kinds, unit)?;
        let reports = approval::decide(env, period_data, &ids, decision, by, note)?;
        let verb = match decision {
            Decision::Returned => "Trả lại",
            _ => "Duyệt",
        };
        outln!("{verb} dự thảo kỳ {} — {}:", period_data.key(), by.trim())?;
        for report in &reports {
            outln!("  {report}")?;
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn convert_command(
    clock: &SystemClock,
    file: &Path,
    to: ConvertTo,
    out: Option<PathBuf>,
    directory: Option<&Path>,
    force: bool,
) -> Result<ExitCode> {
    let (format, extension) = match to {
        ConvertTo::Toml => (input::Format::Toml, "toml"),
        ConvertTo::Xlsx => (input::Format::Xlsx, "xlsx"),
    };
    let out = out.unwrap_or_else(|| file.with_extension(extension));
    if out.exists() && !force {
        anyhow::bail!("{} đã có; dùng --force để ghi đè", out.display());
    }
    match input::convert_period(file, directory, clock.today_in(VIETNAM), format) {
        Ok(bytes) => {
            render::templates::write_atomically(&out, &bytes)
                .with_context(|| format!("không ghi được {}", out.display()))?;
            outln!("{}", out.display())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(input::ConvertError::Period(problems)) => {
            eprintln!("{problems}");
            Ok(ExitCode::FAILURE)
        }
        Err(e) => Err(e.into()),
    }
}

/// Writes the built-in templates under `dir` and returns how many files it wrote.
/// What an office's templates folder says of files fallen behind the built-ins after an
/// upgrade (render/template_versions.rs), one line each, "thư mục mẫu …: …".
fn stale_template_notes(dir: Option<&Path>) -> Vec<String> {
    let Some(dir) = dir else {
        return Vec::new();
    };
    match render::template_versions::stale(dir) {
        Ok(Some(stale)) => stale
            .iter()
            .map(|s| format!("thư mục mẫu {}: {s}", dir.display()))
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => vec![format!("thư mục mẫu {}: {e}", dir.display())],
    }
}

/// At a service's start, the office's templates that fell behind an upgrade, in the log.
fn warn_stale_templates(config: &vanban::config::Config) {
    for note in stale_template_notes(config.templates_dir.as_deref()) {
        tracing::warn!("{note}");
    }
}

fn export_templates(dir: &Path, clock: &dyn Clock) -> Result<usize> {
    let mut written = 0;
    let files = render::template_versions::builtin_files().context("không tạo được mẫu DOCX")?;
    // The wording first: it is the file an office edits to reword both formats.
    for (name, bytes) in &files {
        let path = dir.join(name);
        render::templates::write_atomically(&path, bytes)
            .with_context(|| format!("không ghi được {}", path.display()))?;
        outln!("{}", path.display())?;
        written += 1;
    }
    // What was exported, and by which version: after an upgrade, `check --templates` tells
    // which files fell behind.
    let at = vanban::clock::local_time(clock.now());
    let path = dir.join(render::template_versions::STAMP_FILE);
    render::templates::write_atomically(
        &path,
        render::template_versions::stamp(&files, &at).as_bytes(),
    )
    .with_context(|| format!("không ghi được {}", path.display()))?;
    outln!("{}", path.display())?;
    Ok(written + 1)
}

/// Writes each document's context (what its templates see) as `<file stem>.json` to `dir`.
fn dump_contexts(
    dir: &Path,
    documents: &[render::PlannedDocument],
    templates: &Templates,
) -> Result<()> {
    let json = render::JsonRenderer::new(templates)?;
    let staging = render::Staging::new(dir)?;
    render::render_each(documents, &[&json], 1, &|file| staging.write(&file))?;
    staging.commit()?;
    Ok(())
}

/// Both formats' renderers for what the office's configuration says: its templates
/// (`templates_dir`, else the built-in ones), its limits and where its PDF comes from.
fn office_backends(config: &vanban::config::Config) -> Result<Backends> {
    let templates = config
        .templates_dir
        .clone()
        .map(Templates::with_overrides)
        .unwrap_or_default();
    Ok(Backends::with_pdf_from(
        &templates,
        Formats::Both,
        render_limits(&config.limits),
        config.pdf_from,
    )?)
}

/// The config's `[limits]` for the renderers.
fn render_limits(limits: &vanban::config::TemplateLimits) -> render::Limits {
    render::Limits::from_config(limits)
}
