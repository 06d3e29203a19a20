//! `vanban templates export`: the built-in templates, their version stamp and the blank Excel
//! form written out for an office to edit.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;
use vanban::render;

use super::args::TemplatesCommand;

pub fn run(clock: &SystemClock, command: TemplatesCommand) -> Result<ExitCode> {
    let TemplatesCommand::Export { dir, directory } = command;
    let written = export_templates(&dir, clock)?;
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

/// Writes the built-in templates under `dir` and returns how many files it wrote.
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
