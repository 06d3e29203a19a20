//! The `vanban` command line: parses arguments, calls the library, reports errors.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};

use vanban::clock::{Clock, SystemClock, VIETNAM};
use vanban::deliver::store::Store;
use vanban::input;
use vanban::input::config::Config;
use vanban::model::DocumentKind;
use vanban::render::{self, PdfRenderer, Renderer, pdf::PdfEngine, templates::Templates};
use vanban::schedule::RunOutcome;

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
        #[arg(long, value_enum, default_value = "pdf")]
        format: FormatArg,
        #[arg(long)]
        directory: Option<PathBuf>,
        /// A folder whose files override the built-in templates by name (typst/, docx/, email/).
        #[arg(long)]
        templates: Option<PathBuf>,
    },
    /// The scheduled service: run each job of vanban.toml when due, until SIGTERM/SIGINT.
    Run {
        #[arg(long)]
        config: PathBuf,
    },
    /// List the jobs of vanban.toml with their next three firings and last run.
    Jobs {
        #[arg(long)]
        config: PathBuf,
    },
    /// Run one job now, as the scheduler would (recorded as a manual run).
    RunJob {
        /// The job's name in vanban.toml.
        name: String,
        #[arg(long)]
        config: PathBuf,
    },
    /// Templates: copy the built-in ones out for an office to edit.
    Templates {
        #[command(subcommand)]
        command: TemplatesCommand,
    },
}

#[derive(Subcommand)]
enum TemplatesCommand {
    /// Write the built-in templates to DIR (typst/, email/ ...).
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
            format: _,
            directory,
            templates,
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
            let engine = PdfEngine::new(&templates).context("không nạp được mẫu Typst")?;
            let pdf = PdfRenderer::new(engine);
            let renderers: Vec<&dyn Renderer> = vec![&pdf];
            let documents = render::plan(&period_data, only.map(Into::into), &|_, _| None);
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
        Command::Run { config } => {
            vanban::schedule::service::init_logging();
            let config = Config::load(&config)?;
            vanban::schedule::service::serve(&config)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Jobs { config } => {
            let config = Config::load(&config)?;
            // Listing must not create the database of a service that never ran.
            let store = match config.state.exists() {
                true => Some(Store::open(&config.state)?),
                false => None,
            };
            let text = vanban::schedule::listing::describe_jobs(
                &config,
                store.as_ref().map(Store::conn),
                clock.now(),
            )?;
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Command::RunJob { name, config } => {
            vanban::schedule::service::init_logging();
            let config = Config::load(&config)?;
            let result = vanban::schedule::service::run_job_now(&config, &name)?;
            println!(
                "Tác vụ \"{name}\" (kỳ {}): {}\n{}",
                result.firing.period_key(),
                result.outcome,
                result.detail
            );
            Ok(match result.outcome {
                RunOutcome::Ok => ExitCode::SUCCESS,
                _ => ExitCode::FAILURE,
            })
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
    for (name, text) in render::templates::TYPST {
        let path = dir.join("typst").join(name);
        render::templates::write_atomically(&path, text.as_bytes())
            .with_context(|| format!("không ghi được {}", path.display()))?;
        println!("{}", path.display());
    }
    Ok(())
}
