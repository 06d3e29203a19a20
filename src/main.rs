//! The `vanban` command line: parses arguments, calls the library, reports errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::input;
use vanban::model::DocumentKind;
use vanban::render::{
    self, DocxRenderer, PdfRenderer, Renderer, pdf::PdfEngine, templates::Templates,
};

/// vanban: báo cáo sơ kết, thông báo kết luận và công văn giao nhiệm vụ theo Nghị định 30/2020/NĐ-CP.
#[derive(Parser)]
#[command(name = "vanban", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a period file and its directory; print every problem; exit 1 if any.
    Check {
        /// The period file (TOML or JSON).
        period: PathBuf,
        /// The directory of units (default: directory.toml beside the period file).
        #[arg(long)]
        directory: Option<PathBuf>,
    },
    /// Render the period's documents to files.
    Render {
        period: PathBuf,
        /// Output folder; documents go to OUT/<year>-h<half>/.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Only one kind of document.
        #[arg(long, value_enum)]
        only: Option<KindArg>,
        /// pdf, docx or both (a DOCX beside every PDF).
        #[arg(long, value_enum, default_value = "both")]
        format: FormatArg,
        #[arg(long)]
        directory: Option<PathBuf>,
        /// A folder whose files override the built-in templates by name (typst/, docx/, email/).
        #[arg(long)]
        templates: Option<PathBuf>,
        /// Also write each document's context as JSON to DIR (for benchmarks and template authors).
        #[arg(long, hide = true)]
        dump_context: Option<PathBuf>,
    },
    /// Templates: copy the built-in ones out for an office to edit.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Write the built-in templates to DIR (typst/, docx/, email/ ...).
    Export { dir: PathBuf },
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    ReviewReport,
    ConclusionNotice,
    AssignmentLetter,
}

impl From<KindArg> for DocumentKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::ReviewReport => DocumentKind::ReviewReport,
            KindArg::ConclusionNotice => DocumentKind::ConclusionNotice,
            KindArg::AssignmentLetter => DocumentKind::AssignmentLetter,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Pdf,
    Docx,
    Both,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("Lỗi: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let clock = SystemClock;
    match cli.command {
        Command::Check { period, directory } => {
            let today = clock.today_in(VIETNAM);
            match input::load_period(&period, directory.as_deref(), today) {
                Ok(p) => {
                    println!(
                        "{}: hợp lệ — {} chương trình, {} nhiệm vụ, {} đơn vị nhận công văn.",
                        period.display(),
                        p.programs.len(),
                        p.tasks.len(),
                        p.units_with_tasks().len()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(problems) => {
                    eprintln!("{problems}");
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Command::Render {
            period,
            out,
            only,
            format,
            directory,
            templates,
            dump_context,
        } => {
            let today = clock.today_in(VIETNAM);
            let period_data = match input::load_period(&period, directory.as_deref(), today) {
                Ok(p) => p,
                Err(problems) => {
                    eprintln!("{problems}");
                    return Ok(ExitCode::FAILURE);
                }
            };
            let templates = templates.map(Templates::with_overrides).unwrap_or_default();
            let pdf = match format {
                FormatArg::Pdf | FormatArg::Both => Some(PdfRenderer::new(
                    PdfEngine::new(&templates).context("không nạp được mẫu Typst")?,
                )),
                FormatArg::Docx => None,
            };
            let docx = match format {
                FormatArg::Docx | FormatArg::Both => {
                    Some(DocxRenderer::new(&templates).context("không nạp được mẫu DOCX")?)
                }
                FormatArg::Pdf => None,
            };
            let mut renderers: Vec<&dyn Renderer> = Vec::new();
            renderers.extend(pdf.as_ref().map(|r| r as &dyn Renderer));
            renderers.extend(docx.as_ref().map(|r| r as &dyn Renderer));
            let documents = render::plan(&period_data, only.map(Into::into), &|_, _| None);
            if let Some(dir) = &dump_context {
                dump_contexts(dir, &documents)?;
            }
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let files = render::render_all(&documents, &renderers, threads)?;
            let dir = out.join(period_data.key());
            let written = render::write_all(&dir, &files)?;
            for path in &written {
                println!("{}", path.display());
            }
            println!("Đã tạo {} tệp trong {}.", written.len(), dir.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Templates {
            command: TemplatesCommand::Export { dir },
        } => {
            export_templates(&dir)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn export_templates(dir: &Path) -> Result<()> {
    let docx = render::docx::builtin_templates().context("không tạo được mẫu DOCX")?;
    let files = render::templates::TYPST
        .iter()
        .map(|(name, text)| (dir.join("typst").join(name), text.as_bytes()))
        .chain(
            docx.iter()
                .map(|(name, bytes)| (dir.join(render::docx::SUBDIR).join(name), &bytes[..])),
        );
    for (path, bytes) in files {
        render::templates::write_atomically(&path, bytes)
            .with_context(|| format!("không ghi được {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}

/// Writes each planned document's context as `<file stem>.json`.
fn dump_contexts(dir: &Path, documents: &[render::PlannedDocument]) -> Result<()> {
    for document in documents {
        let path = dir.join(format!("{}.json", document.file_stem));
        let json = serde_json::to_vec_pretty(&document.context)?;
        render::templates::write_atomically(&path, &json)
            .with_context(|| format!("không ghi được {}", path.display()))?;
    }
    Ok(())
}
