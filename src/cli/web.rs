//! The web page's commands: `vanban serve` (the page and the scheduler in one process) and
//! `vanban users add` (its accounts).

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use vanban::clock::{Clock, SystemClock};
use vanban::input;
use vanban::shutdown::{StopSignal, stop_on_signals};
use vanban::state::Store;
use vanban::web::{self, auth, store::WebStore};

use super::args::{RoleArg, UsersCommand, WebCommand};
use super::shared::warn_stale_templates;

pub fn run(command: WebCommand) -> Result<ExitCode> {
    match command {
        WebCommand::Serve(args) => {
            let config = input::config::load(&args.config)?;
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
            let config = input::config::load_without_secrets(&config.config)?;
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
