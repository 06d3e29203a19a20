//! The command line's arguments (clap): every command and its options, and the groups several
//! commands share (the period and its configuration, the kinds chosen with `--only`, the person
//! named by `--by`), each defined once. Doc comments on commands and options are the Vietnamese
//! help a clerk reads; `cli_vi` puts clap's own words into Vietnamese around them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vanban::model::DocumentKind;
use vanban::render::Formats;

/// vanban: báo cáo sơ kết, thông báo kết luận và công văn giao nhiệm vụ theo Nghị định 30/2020/NĐ-CP.
#[derive(Parser)]
#[command(name = "vanban", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Kiểm tra tệp kỳ báo cáo và danh bạ; in mọi lỗi; mã thoát 1 nếu có lỗi.
    Check(CheckArgs),
    /// Kết xuất văn bản của kỳ báo cáo ra tệp.
    Render(RenderArgs),
    /// Cấp số, kết xuất văn bản chính thức và gửi thư, mỗi thư đúng một lần.
    #[command(mut_arg("only", |a| a.help("Chỉ các thư mang loại văn bản này (ghi được nhiều lần)")))]
    Send(SendArgs),
    /// Trình duyệt: ghi các dự thảo hiện tại là đã trình và gửi thư kèm dự thảo cho người duyệt
    /// ([approval] approvers); dự thảo không đổi thì không trình lại.
    #[command(mut_arg("only", |a| a.help("Chỉ trình loại văn bản này (có thể ghi nhiều lần)")))]
    #[command(mut_arg("by", |a| a.help("Họ tên người trình (văn thư, chuyên viên)")))]
    Submit(SubmitArgs),
    /// Duyệt dự thảo: ghi ý kiến duyệt (người duyệt, thời điểm, ghi chú và SHA-256 của đúng
    /// nội dung dự thảo hiện tại) cho các văn bản của kỳ; chỉ văn bản đã duyệt mới được gửi.
    #[command(mut_arg("only", |a| a.help("Chỉ duyệt loại văn bản này (có thể ghi nhiều lần)")))]
    #[command(mut_arg("unit", |a| a.help("Chỉ duyệt công văn gửi đơn vị này (mã đơn vị trong danh bạ)")))]
    #[command(mut_arg("by", |a| a.help("Họ tên người duyệt")))]
    Approve(ApproveArgs),
    /// Thay thế một văn bản đã ban hành: ghi người quyết định, thời điểm và lý do; lần gửi
    /// sau (khi nội dung mới đã được duyệt) cấp số mới cho văn bản thay thế và gửi cho mọi nơi
    /// đã nhận bản cũ; số cũ vẫn ở sổ đăng ký, ghi là đã bị thay thế.
    #[command(mut_arg("by", |a| a.help("Họ tên người quyết định thay thế")))]
    Replace(ReplaceArgs),
    /// Sao y điện tử một văn bản đã ban hành: tệp PDF đã ban hành (giữ nguyên chữ ký số của
    /// người ký và của cơ quan) được ký thêm chữ ký số của cơ quan ban hành, hiện ở góc trên bên
    /// phải trang đầu: «Sao y», tên cơ quan, thời gian ký (Nghị định 30/2020, Phụ lục I, ô 14).
    /// Bản sao được ghi sổ (ai làm, lúc nào, tệp nào). Cần khóa ký số của cơ quan trong mục
    /// [signing] của tệp cấu hình.
    #[command(mut_arg("by", |a| a.help("Họ tên người làm bản sao (văn thư)")))]
    Copy(CopyArgs),
    /// Trả lại dự thảo cho văn thư kèm lý do; văn bản bị trả lại không được gửi.
    #[command(mut_arg("only", |a| a.help("Chỉ trả lại loại văn bản này (có thể ghi nhiều lần)")))]
    #[command(mut_arg("unit", |a| a.help("Chỉ trả lại công văn gửi đơn vị này (mã đơn vị trong danh bạ)")))]
    #[command(mut_arg("by", |a| a.help("Họ tên người trả lại")))]
    Return(ReturnArgs),
    /// Từng nơi nhận: đã gửi (lúc nào, Message-ID), lỗi (vì sao), chờ gửi hay chưa rõ; các số
    /// đã cấp.
    Status(PeriodConfig),
    /// Dịch vụ chạy theo lịch: chạy từng tác vụ của vanban.toml khi đến giờ, đến khi nhận
    /// SIGTERM/SIGINT.
    Run(ConfigFile),
    /// Liệt kê các tác vụ của vanban.toml, ba lần chạy tới và lần chạy gần nhất.
    Jobs(ConfigFile),
    /// Chạy ngay một tác vụ như bộ lập lịch sẽ chạy (ghi là chạy tay).
    RunJob(RunJobArgs),
    /// Chuyển tệp kỳ báo cáo giữa TOML và biểu mẫu Excel; kỳ báo cáo được kiểm tra trước, chỉ
    /// tệp hợp lệ mới được chuyển.
    Convert(ConvertArgs),
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

// ---- the groups several commands share ----

/// A period file and the office's configuration, the two every command on a period's drafts
/// and documents reads.
#[derive(Args)]
pub struct PeriodConfig {
    /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
    pub period: PathBuf,
    /// Tệp cấu hình vanban.toml.
    #[arg(long)]
    pub config: PathBuf,
}

/// The office's configuration alone, for the commands on the whole office.
#[derive(Args)]
pub struct ConfigFile {
    /// Tệp cấu hình vanban.toml.
    #[arg(long)]
    pub config: PathBuf,
}

/// The document kinds a command is limited to (`--only`, repeated); none chosen is every kind.
/// A command may word the help its own way (`mut_arg("only", …)` on it).
#[derive(Args)]
pub struct Kinds {
    /// Chỉ các văn bản thuộc loại này (có thể ghi nhiều lần).
    #[arg(long, value_enum)]
    pub only: Vec<KindArg>,
}

impl Kinds {
    pub fn kinds(&self) -> Vec<DocumentKind> {
        self.only.iter().map(|k| k.0).collect()
    }
}

/// Who does it (`--by`), recorded with the step. A command may say who that is in its help
/// (`mut_arg("by", …)` on it).
#[derive(Args)]
pub struct By {
    /// Họ tên người thực hiện, ghi vào sổ cùng thời điểm.
    #[arg(long, value_name = "HỌ_TÊN")]
    pub by: String,
}

/// One issued document of a period, for the commands that act on it (replace, copy).
#[derive(Args)]
pub struct IssuedDocument {
    #[command(flatten)]
    pub period: PeriodConfig,
    /// Loại văn bản.
    #[arg(value_enum)]
    pub kind: KindArg,
    /// Công văn gửi đơn vị này (mã đơn vị trong danh bạ; bắt buộc với công văn).
    #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
    pub unit: Option<String>,
}

// ---- each command's own ----

/// `vanban check`.
#[derive(Args)]
pub struct CheckArgs {
    /// Tệp kỳ báo cáo (TOML, JSON hoặc biểu mẫu Excel .xlsx).
    pub period: PathBuf,
    /// Danh bạ đơn vị (mặc định: directory.toml cạnh tệp kỳ báo cáo).
    #[arg(long)]
    pub directory: Option<PathBuf>,
    /// Dàn trang mọi văn bản và kiểm tra thể thức theo Nghị định 30 (không ghi tệp nào).
    #[arg(long)]
    pub render: bool,
    /// Thư mục mẫu của cơ quan (tệp ở đây thay mẫu có sẵn cùng tên): kiểm tra cả các mẫu
    /// này, mọi văn bản, cả PDF và DOCX.
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Tệp cấu hình vanban.toml: nếu có mục [signing], mọi người ký và mọi cơ quan ban hành
    /// văn bản của kỳ phải có khóa ký số và ảnh chữ ký, con dấu ở đó.
    #[arg(long)]
    pub config: Option<PathBuf>,
}

/// `vanban render`.
#[derive(Args)]
pub struct RenderArgs {
    /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
    pub period: PathBuf,
    /// Thư mục ra; văn bản ghi vào ĐẦU_RA/<năm>-h<kỳ>/ (mặc định: output_dir của tệp cấu
    /// hình, không có thì "out").
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Chỉ một loại văn bản.
    #[arg(long, value_enum)]
    pub only: Option<KindArg>,
    /// pdf, docx hoặc both (mỗi PDF kèm một DOCX).
    #[arg(long, value_enum, default_value = "both")]
    pub format: FormatArg,
    /// Danh bạ đơn vị (mặc định: directory.toml cạnh tệp kỳ báo cáo).
    #[arg(long)]
    pub directory: Option<PathBuf>,
    /// Thư mục mẫu của cơ quan: tệp ở đây thay mẫu có sẵn cùng tên (typst/, docx/, email/).
    #[arg(long)]
    pub templates: Option<PathBuf>,
    /// Tệp cấu hình vanban.toml: directory, output_dir và templates_dir của nó được dùng nếu
    /// không ghi ở đây.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Ghi thêm dữ liệu của từng văn bản (các trường mẫu dùng được) dạng JSON vào THƯ_MỤC.
    #[arg(long, value_name = "DIR")]
    pub dump_context: Option<PathBuf>,
}

/// `vanban send`.
#[derive(Args)]
pub struct SendArgs {
    #[command(flatten)]
    pub period: PeriodConfig,
    /// Chỉ ghi mỗi thư thành tệp .eml vào hộp thư đi, không gửi; không cấp số nào.
    #[arg(long)]
    pub dry_run: bool,
    /// Gửi lại thư của đơn vị này, có chủ ý (ghi vào sổ là gửi lại).
    #[arg(long, value_name = "UNIT")]
    pub resend: Option<String>,
    #[command(flatten)]
    pub kinds: Kinds,
    /// Cơ quan ban hành trong tệp kỳ là cơ quan khác với cơ quan đã cấp số các văn bản của
    /// kỳ này, có chủ ý: cấp số và gửi lại dưới cơ quan mới.
    #[arg(long)]
    pub new_issuer: bool,
}

/// `vanban submit`.
#[derive(Args)]
pub struct SubmitArgs {
    #[command(flatten)]
    pub period: PeriodConfig,
    #[command(flatten)]
    pub kinds: Kinds,
    #[command(flatten)]
    pub by: By,
}

/// The drafts an approver decides on: kinds and, for the letters, one unit.
#[derive(Args)]
pub struct Drafts {
    #[command(flatten)]
    pub period: PeriodConfig,
    #[command(flatten)]
    pub kinds: Kinds,
    /// Chỉ công văn gửi đơn vị này (mã đơn vị trong danh bạ).
    #[arg(long, value_name = "MÃ_ĐƠN_VỊ")]
    pub unit: Option<String>,
    #[command(flatten)]
    pub by: By,
}

/// `vanban approve`.
#[derive(Args)]
pub struct ApproveArgs {
    #[command(flatten)]
    pub drafts: Drafts,
    /// Ghi chú kèm ý kiến duyệt.
    #[arg(long, value_name = "GHI_CHÚ")]
    pub note: Option<String>,
}

/// `vanban return`.
#[derive(Args)]
pub struct ReturnArgs {
    #[command(flatten)]
    pub drafts: Drafts,
    /// Lý do trả lại (bắt buộc): văn thư sửa theo lý do này.
    #[arg(long, value_name = "LÝ_DO")]
    pub reason: String,
}

/// `vanban replace`.
#[derive(Args)]
pub struct ReplaceArgs {
    #[command(flatten)]
    pub document: IssuedDocument,
    #[command(flatten)]
    pub by: By,
    /// Lý do thay thế (bắt buộc).
    #[arg(long, value_name = "LÝ_DO")]
    pub reason: String,
}

/// `vanban copy`.
#[derive(Args)]
pub struct CopyArgs {
    #[command(flatten)]
    pub document: IssuedDocument,
    #[command(flatten)]
    pub by: By,
    /// Nơi ghi bản sao (mặc định: ĐẦU_RA/<kỳ>/ban-sao/<văn bản>-sao-y-<thời điểm>.pdf).
    #[arg(long, value_name = "TỆP")]
    pub out: Option<PathBuf>,
}

/// `vanban run-job`.
#[derive(Args)]
pub struct RunJobArgs {
    /// Tên tác vụ trong vanban.toml.
    pub name: String,
    #[command(flatten)]
    pub config: ConfigFile,
}

/// `vanban convert`.
#[derive(Args)]
pub struct ConvertArgs {
    /// Tệp kỳ báo cáo (TOML, JSON hoặc .xlsx).
    pub file: PathBuf,
    /// Dạng cần chuyển sang.
    #[arg(long, value_enum)]
    pub to: ConvertTo,
    /// Nơi ghi (mặc định: TỆP với phần mở rộng mới).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Danh bạ đơn vị (mặc định: directory.toml cạnh tệp kỳ báo cáo).
    #[arg(long)]
    pub directory: Option<PathBuf>,
    /// Ghi đè ĐẦU_RA nếu đã có.
    #[arg(long)]
    pub force: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum ConvertTo {
    Toml,
    Xlsx,
}

#[derive(Subcommand)]
pub enum TemplatesCommand {
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

#[derive(Subcommand)]
pub enum RegisterCommand {
    /// Đánh số nối tiếp sổ đăng ký của cơ quan: số tiếp theo cấp trong NĂM là SỐ.
    #[command(mut_arg("by", |a| a.help("Người thực hiện, ghi vào lịch sử sổ")))]
    SetNext {
        /// Số tiếp theo, ví dụ 125 (từ 1 đến 99.999).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        number: u64,
        #[command(flatten)]
        config: ConfigFile,
        /// Năm của sổ, ví dụ 2026 (từ 2000 đến 2100).
        #[arg(long)]
        year: i64,
        /// Chỉ dãy số này (khi numbering = "per-type"): TB, BC, UBND … (mặc định: mọi dãy).
        #[arg(long)]
        symbol: Option<String>,
        /// Chỉ sổ của cơ quan ban hành này (mã của nó; mặc định: mọi cơ quan).
        #[arg(long)]
        issuer: Option<String>,
        #[command(flatten)]
        by: By,
    },
    /// Ghi số văn thư đã lấy từ hệ thống quản lý văn bản cho một văn bản; lệnh send sẽ cấp văn
    /// bản với số đó.
    #[command(mut_arg("by", |a| a.help("Người thực hiện, ghi vào lịch sử sổ")))]
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
        #[command(flatten)]
        config: ConfigFile,
        #[command(flatten)]
        by: By,
    },
    /// Xem sổ đăng ký của một năm: số đã cấp, số đã giữ và lịch sử thao tác trên sổ.
    Show {
        #[command(flatten)]
        config: ConfigFile,
        /// Năm của sổ, ví dụ 2026 (từ 2000 đến 2100).
        #[arg(long)]
        year: i64,
    },
}

#[derive(Subcommand)]
pub enum DbCommand {
    /// Tạo hoặc nâng cấp lược đồ của cơ sở dữ liệu trạng thái ghi ở vanban.toml (SQLite hoặc
    /// PostgreSQL); việc này cũng tự làm mỗi khi vanban mở cơ sở dữ liệu.
    Migrate(ConfigFile),
    /// Chép toàn bộ sổ gửi, sổ đăng ký, lịch sử chạy, ý kiến duyệt, chữ ký và tài khoản trang
    /// web từ tệp SQLite sang một cơ sở dữ liệu PostgreSQL trống, trong một giao dịch, rồi so
    /// từng bảng; mật khẩu PostgreSQL lấy từ biến môi trường VANBAN_DB_PASSWORD hoặc
    /// --password-file.
    Copy {
        /// Nguồn: sqlite:ĐƯỜNG_DẪN (tệp SQLite của vanban).
        #[arg(long, value_name = "NGUỒN")]
        from: String,
        /// Đích: postgres://người_dùng@máy_chủ/tên_csdl (không ghi mật khẩu ở đây).
        #[arg(long, value_name = "ĐÍCH")]
        to: String,
        /// Tệp chứa mật khẩu PostgreSQL (dòng đầu).
        #[arg(long, value_name = "TỆP")]
        password_file: Option<PathBuf>,
    },
}

/// The web page's commands, `serve` and `users`, kept together so the page's CLI is one block.
#[derive(Subcommand)]
pub enum WebCommand {
    /// Trang web cho cán bộ cùng bộ lập lịch, trong một tiến trình, đến khi nhận SIGTERM/SIGINT.
    Serve(ConfigFile),
    /// Tài khoản của trang web.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Thêm tài khoản; mật khẩu được hỏi trên màn hình (hoặc đọc từ đầu vào chuẩn).
    Add {
        /// Tên đăng nhập.
        name: String,
        /// Vai trò: clerk (văn thư), approver (lãnh đạo duyệt), admin (quản trị).
        #[arg(long, value_enum)]
        role: RoleArg,
        #[command(flatten)]
        config: ConfigFile,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Clerk,
    Approver,
    Admin,
}

/// A document kind on the command line, by its slug ("review-report"): the kinds' table lists
/// the values.
#[derive(Clone, Copy)]
pub struct KindArg(DocumentKind);

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
pub enum FormatArg {
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
