//! `vanban render`: the period's documents written to `<out>/<period>/`, with progress as each
//! file is made.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Result;
use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;
use vanban::progress::{self, Progress};
use vanban::render::{self, Backends, templates::Templates};

use super::args::RenderArgs;
use super::shared::render_limits;

pub fn run(clock: &SystemClock, args: RenderArgs) -> Result<ExitCode> {
    let RenderArgs {
        period,
        out,
        only,
        format,
        directory,
        templates,
        config,
        dump_context,
    } = args;
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
    // As render::render_to_dir, with its progress as each file is made, so a long batch is not
    // silent: a bar at a terminal, else a line on stderr per file (the list on stdout comes
    // once all are in place).
    let renderers = backends.renderers();
    let total = documents.len() * renderers.len();
    let done = AtomicUsize::new(0);
    let staging = render::Staging::new(&dir)?;
    progress::bar_on_terminal();
    let progress = Progress::start(total, "tệp", "đã tạo");
    render::render_each(&documents, &renderers, render::default_threads(), &|file| {
        let name = file.file_name.clone();
        staging.write(&file)?;
        let n = done.fetch_add(1, Ordering::SeqCst) + 1;
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
        .chain(vanban::check::stale_template_notes(
            templates.override_dir.as_deref(),
        ))
    {
        eprintln!("Lưu ý: {note}");
    }
    Ok(ExitCode::SUCCESS)
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
