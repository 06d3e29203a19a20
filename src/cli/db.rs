//! `vanban db`: the state database's schema brought up to date (`migrate`), and SQLite state
//! copied to an empty PostgreSQL database (`copy`).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use vanban::input;
use vanban::state::{PgTarget, Store, copy, scrub_url};

use super::args::DbCommand;

pub fn run(command: DbCommand) -> Result<ExitCode> {
    match command {
        DbCommand::Migrate(args) => {
            let config = input::config::load_without_secrets(&args.config)?;
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
            let source_path = Path::new(source);
            if !source_path.is_file() {
                anyhow::bail!("không có tệp SQLite {source} để chép");
            }
            if !PgTarget::is_url(&to) {
                anyhow::bail!(
                    "đích phải là địa chỉ PostgreSQL (postgres://người_dùng@máy_chủ/tên_csdl), không phải «{to}»"
                );
            }
            if scrub_url(&to) != to {
                anyhow::bail!(
                    "không ghi mật khẩu trong địa chỉ {}; hãy dùng biến môi trường VANBAN_DB_PASSWORD hoặc --password-file",
                    scrub_url(&to)
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
