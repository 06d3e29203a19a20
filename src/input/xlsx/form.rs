//! The form (biểu mẫu): which sheets, columns and rows the workbook has and which key of the
//! period file each one fills. Reading and writing both follow this one description, so the
//! exported form and the reader cannot drift apart.

/// How a cell's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// A whole number (year, half, document number, decimals).
    Integer,
    /// A figure: a number cell, or text in Vietnamese notation ("74,4", "61.864").
    Number,
    Date,
    /// Unit or group codes from the directory, separated by commas or line breaks.
    Codes,
    /// A person: the name in the value column, the title in the next.
    Person,
    /// Repeatable row: each row adds one text to a list.
    Texts,
    /// Repeatable row: each row adds one person to a list.
    Persons,
}

/// One row of the "Thông tin chung" sheet: its label, the key path it fills, how it is read
/// and a hint (an example) for the clerk.
#[derive(Debug, Clone)]
pub struct InfoRow {
    pub label: String,
    pub path: String,
    pub kind: Kind,
    pub hint: &'static str,
}

pub const INFO: &str = "Thông tin chung";
pub const FUNDS: &str = "Nguồn vốn";
pub const INDICATORS: &str = "Chỉ tiêu";
pub const RESULTS: &str = "Kết quả";
pub const NEXT: &str = "Nhiệm vụ tiếp theo";
pub const TASKS: &str = "Kết luận";
pub const UNITS: &str = "Đơn vị";

/// The sheets in the order the form shows them. "Đơn vị" is written for the validation lists
/// and never read: the directory file is the source of units.
pub const SHEETS: &[&str] = &[INFO, FUNDS, INDICATORS, RESULTS, NEXT, TASKS, UNITS];

/// Header of the "Thông tin chung" sheet: label, value, title (for persons), hint.
pub const INFO_HEADERS: [&str; 4] = ["Mục", "Nội dung", "Chức vụ (nếu là người)", "Hướng dẫn"];

/// A column of a table sheet.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    /// Other headers accepted for this column when reading.
    pub aliases: &'static [&'static str],
    pub role: Role,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Row number: not data. "Ví dụ" here marks the example row, which is skipped.
    Number,
    /// A key of the row's table, read as `Kind`.
    Key(&'static str, Kind),
    /// Computed by formula for the office's convenience; vanban recomputes and ignores it.
    Derived,
    /// Free notes: ignored.
    Note,
}

const fn col(header: &'static str, role: Role) -> Column {
    Column {
        header,
        aliases: &[],
        role,
    }
}

pub const FUND_COLUMNS: &[Column] = &[
    col("STT", Role::Number),
    col("Mã chương trình", Role::Key("id", Kind::Text)),
    col("Tên chương trình", Role::Key("name", Kind::Text)),
    col(
        "Vốn được giao (triệu đồng)",
        Role::Key("allocated", Kind::Number),
    ),
    col(
        "Vốn đã giải ngân (triệu đồng)",
        Role::Key("disbursed", Kind::Number),
    ),
    col("Tỷ lệ giải ngân (%)", Role::Derived),
    col("Ghi chú", Role::Note),
];

pub const INDICATOR_COLUMNS: &[Column] = &[
    col("STT", Role::Number),
    col("Chương trình", Role::Key("program", Kind::Text)),
    col("Chỉ tiêu", Role::Key("name", Kind::Text)),
    col("ĐVT", Role::Key("unit", Kind::Text)),
    col("Kế hoạch năm", Role::Key("plan", Kind::Number)),
    Column {
        header: "Thực hiện 6 tháng",
        aliases: &["Thực hiện cả năm", "Thực hiện"],
        role: Role::Key("value", Kind::Number),
    },
    col("Tổng số để tính tỷ lệ", Role::Key("share_of", Kind::Number)),
    col("Số chữ số thập phân", Role::Key("decimals", Kind::Integer)),
    col("% kế hoạch", Role::Derived),
    col("Tỷ lệ (%)", Role::Derived),
    col("Ghi chú", Role::Note),
];

pub const RESULT_COLUMNS: &[Column] = &[
    col("STT", Role::Number),
    col("Phần", Role::Key("part", Kind::Text)),
    col("Chương trình", Role::Key("program", Kind::Text)),
    col("Nội dung", Role::Key("text", Kind::Text)),
];

pub const NEXT_COLUMNS: &[Column] = &[
    col("STT", Role::Number),
    col("Phần", Role::Key("part", Kind::Text)),
    col("Nội dung", Role::Key("text", Kind::Text)),
];

pub const TASK_COLUMNS: &[Column] = &[
    col("STT", Role::Number),
    col("Đơn vị chủ trì", Role::Key("to", Kind::Codes)),
    col("Đơn vị phối hợp", Role::Key("with", Kind::Codes)),
    col("Nội dung nhiệm vụ", Role::Key("text", Kind::Text)),
    col("Hạn hoàn thành", Role::Key("due", Kind::Date)),
    col("Ghi chú", Role::Note),
];

pub const UNIT_HEADERS: [&str; 3] = ["Mã", "Tên đơn vị", "Loại"];

/// The columns of a table sheet (None for "Thông tin chung" and "Đơn vị").
pub fn columns(sheet: &str) -> Option<&'static [Column]> {
    match sheet {
        FUNDS => Some(FUND_COLUMNS),
        INDICATORS => Some(INDICATOR_COLUMNS),
        RESULTS => Some(RESULT_COLUMNS),
        NEXT => Some(NEXT_COLUMNS),
        TASKS => Some(TASK_COLUMNS),
        _ => None,
    }
}

/// "Phần" of the "Kết quả" sheet, and the text list each fills.
pub const RESULT_PARTS: &[(&str, &str)] = &[
    ("Công tác lãnh đạo, chỉ đạo", "report.leadership"),
    ("Kết quả nổi bật", "report.achievements"),
    ("Tồn tại, hạn chế", "report.shortcomings"),
];
/// The part of a program's own results (the row names the program).
pub const PROGRAM_RESULT_PART: &str = "Kết quả của chương trình";

/// "Phần" of the "Nhiệm vụ tiếp theo" sheet.
pub const NEXT_PARTS: &[(&str, &str)] = &[
    ("Nhiệm vụ kỳ tới", "report.next_tasks"),
    ("Đề xuất, kiến nghị", "report.proposals"),
    ("Kết luận: đánh giá chung", "conclusions.assessment"),
    ("Kết luận: chỉ đạo chung", "conclusions.directions"),
];

/// Marks the example row in the STT column.
pub const EXAMPLE_MARK: &str = "Ví dụ";

fn row(label: &str, path: &str, kind: Kind, hint: &'static str) -> InfoRow {
    InfoRow {
        label: label.to_string(),
        path: path.to_string(),
        kind,
        hint,
    }
}

/// The rows of "Thông tin chung", in the order the form shows them.
pub fn info_rows() -> Vec<InfoRow> {
    use Kind::*;
    let mut rows = vec![
        row("Năm", "period.year", Integer, "2024"),
        row(
            "Kỳ báo cáo (1 = 6 tháng đầu năm, 2 = cả năm)",
            "period.half",
            Integer,
            "1",
        ),
        row(
            "Cơ quan ban hành: tên",
            "issuer.name",
            Text,
            "Ủy ban nhân dân huyện Đầm Hà",
        ),
        row(
            "Cơ quan ban hành: chữ viết tắt trong số ký hiệu",
            "issuer.abbr",
            Text,
            "UBND",
        ),
        row(
            "Cơ quan ban hành: cơ quan cấp trên",
            "issuer.parent",
            Text,
            "Ủy ban nhân dân tỉnh Quảng Ninh (có thể bỏ trống)",
        ),
        row("Cơ quan ban hành: địa danh", "issuer.place", Text, "Đầm Hà"),
        row(
            "Cơ quan ban hành: tên viết tắt trong văn bản",
            "issuer.short",
            Text,
            "UBND huyện Đầm Hà (bỏ trống: tự viết tắt)",
        ),
        row(
            "Cơ quan ban hành: dòng trên tiêu đề",
            "issuer.header",
            Texts,
            "mỗi dòng một ô, thêm dòng nếu cần: Ủy ban nhân dân / huyện Đầm Hà",
        ),
        row(
            "Cơ quan ban hành: mã",
            "issuer.id",
            Text,
            "bỏ trống, trừ khi văn phòng đã đặt mã riêng",
        ),
        row(
            "Ban Chỉ đạo: tên",
            "committee.name",
            Text,
            "Ban Chỉ đạo thực hiện các Chương trình mục tiêu quốc gia huyện",
        ),
        row(
            "Trưởng Ban Chỉ đạo",
            "committee.head",
            Person,
            "họ tên ở cột B, chức vụ ở cột C",
        ),
        row("Hội nghị: ngày họp", "meeting.date", Date, "21/6/2024"),
        row(
            "Hội nghị: địa điểm",
            "meeting.place",
            Text,
            "có thể bỏ trống",
        ),
        row(
            "Hội nghị: người chủ trì",
            "meeting.chair",
            Person,
            "bỏ trống: Trưởng Ban Chỉ đạo",
        ),
        row(
            "Hội nghị: thành phần dự",
            "meeting.attendees",
            Text,
            "các đồng chí lãnh đạo UBND huyện, thành viên Ban Chỉ đạo",
        ),
        row(
            "Hội nghị: người báo cáo",
            "meeting.reported_by",
            Text,
            "có thể bỏ trống",
        ),
        row(
            "Hội nghị: người phát biểu",
            "meeting.speakers",
            Persons,
            "mỗi người một dòng; thêm dòng nếu cần",
        ),
        row("Ngày ban hành văn bản", "documents.date", Date, "25/6/2024"),
        row("Căn cứ", "documents.basis", Text, "có thể bỏ trống"),
    ];
    let documents = [
        ("Báo cáo", "review_report"),
        ("Thông báo kết luận", "conclusion_notice"),
        ("Công văn giao nhiệm vụ", "assignment_letter"),
    ];
    for (name, key) in documents {
        let p = |k: &str| format!("documents.{key}.{k}");
        let l = |what: &str| format!("{name}: {what}");
        if key == "assignment_letter" {
            rows.push(row(
                &l("chữ viết tắt đơn vị soạn thảo"),
                &p("unit_abbr"),
                Text,
                "NLN",
            ));
            rows.push(row(
                &l("đơn vị tổng hợp báo cáo (mã)"),
                &p("report_via"),
                Text,
                "pnn (có thể bỏ trống)",
            ));
            rows.push(row(
                &l("hạn báo cáo kết quả"),
                &p("report_due"),
                Date,
                "có thể bỏ trống",
            ));
        }
        rows.push(row(
            &l("quyền hạn ký"),
            &p("signer.authority"),
            Text,
            "TM. Ủy ban nhân dân / KT. Chủ tịch",
        ));
        rows.push(row(
            &l("người ký"),
            &p("signer"),
            Person,
            "họ tên ở cột B, chức vụ (Chủ tịch, Phó Chủ tịch) ở cột C",
        ));
        rows.push(row(
            &l("trích yếu"),
            &p("excerpt"),
            Text,
            "bỏ trống: vanban tự viết",
        ));
        rows.push(row(
            &l("nơi nhận"),
            &p("cc"),
            Texts,
            "mỗi nơi nhận một dòng; thêm dòng nếu cần",
        ));
        rows.push(row(
            &l("tệp kèm theo (PDF)"),
            &p("attachments"),
            Texts,
            "mỗi tệp một dòng, đường dẫn tính từ thư mục của tệp này; có thể bỏ trống",
        ));
        if key != "assignment_letter" {
            rows.push(row(
                &l("số văn bản"),
                &p("number"),
                Integer,
                "bỏ trống: số do sổ đăng ký cấp",
            ));
        }
        rows.push(row(&l("ký hiệu lưu"), &p("filing"), Text, "bỏ trống: TH"));
        for (what, k, hint) in [
            (
                "cơ quan ban hành riêng: tên",
                "name",
                "bỏ trống: cơ quan ban hành ở trên",
            ),
            ("cơ quan ban hành riêng: chữ viết tắt", "abbr", "VP"),
            ("cơ quan ban hành riêng: cơ quan cấp trên", "parent", ""),
            ("cơ quan ban hành riêng: địa danh", "place", ""),
            ("cơ quan ban hành riêng: tên viết tắt", "short", ""),
            ("cơ quan ban hành riêng: mã", "id", ""),
        ] {
            rows.push(row(&l(what), &p(&format!("issuer.{k}")), Text, hint));
        }
        rows.push(row(
            &l("cơ quan ban hành riêng: dòng trên tiêu đề"),
            &p("issuer.header"),
            Texts,
            "",
        ));
    }
    rows
}
