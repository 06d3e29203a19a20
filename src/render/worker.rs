//! Rendering in child processes bounded in memory and CPU time: an office's template (or an image
//! a document draws) that allocates or loops without end kills its own render process, never the
//! process that serves the page, runs the jobs or sends, which reports it in Vietnamese and goes
//! on.
//!
//! A worker is the vanban binary itself, started as `vanban render-worker` (a subcommand the
//! command line never shows). It sets its own limits first thing, before it reads a byte of
//! work: the code is compiled without `unsafe`, which rules out `CommandExt::pre_exec` (setting
//! them between fork and exec), and `prlimit` on the child's pid from the parent would leave the
//! child running unlimited until the parent gets to it. `setrlimit` through the `rlimit` crate's
//! safe API needs no privilege, no cgroup delegation and no helper program, so it works the same
//! under systemd, in a container and in CI.
//!
//! - `RLIMIT_AS` (address space): `render_max_memory_mb`. An allocation past it fails; Rust then
//!   aborts the worker with "memory allocation of … failed" on its stderr, which the parent reads
//!   to tell a memory stop from another death. glibc's per-thread arenas reserve 64 MB of address
//!   space each, so workers run with `MALLOC_ARENA_MAX=2` and the limit tracks what is used.
//! - `RLIMIT_CPU`: `render_max_cpu_seconds` per document. The soft limit is raised before each
//!   document to the CPU time used so far plus that budget (the hard limit stays unlimited so it
//!   can be raised); past it the kernel kills the worker with SIGXCPU, even if the parent is gone.
//! - The deadline (`typst_max_seconds`): the parent kills the worker when a document's answer is
//!   late, so the work stops there, instead of a Typst thread spinning on after the error.
//! - `RLIMIT_CORE` 0: an aborted worker writes no core file of its address space.
//!
//! Workers are kept in a small pool (at most one per core) and serve one document at a time for
//! as long as the pool lives: the fonts (embedded in the binary) and templates are loaded once
//! per worker, not per document (`cargo bench --bench isolation` measures what a document costs
//! on this path against the in-process renderer). A worker that died or was killed is replaced
//! at the next document. Workers get an empty environment (no SMTP password, no PIN reaches the
//! process that runs an office's template) and a process group of their own, so a Ctrl-C at the
//! terminal stops the parent's work the way the parent decides, not its renders mid-document.
//!
//! The wire, on the worker's stdin and stdout: frames of a magic, a length and bytes; each
//! request and answer a JSON head followed by binary frames (the images a document draws; the
//! file, the text or the page images it made).

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::pdf::{PdfEngine, PdfError};
use super::templates::Templates;
use super::{
    BackendError, Backends, DocumentContext, Formats, Limits, NoteCounts, PdfFrom, PlannedDocument,
    RenderError, Renderer, TemplateImage,
};
use crate::model::DocumentKind;

/// The hidden subcommand of the vanban binary that serves renders on its stdin and stdout.
pub const SUBCOMMAND: &str = "render-worker";

/// Marks every frame, so a stray write to the worker's stdout is caught as such.
const MAGIC: &[u8; 4] = b"VBW1";

/// The largest file (or text, or page image) a worker may hand back: a Decree-30 document is a
/// few hundred KB, a signed one a few MB. Checked before the parent reserves anything for it.
const MAX_OUTPUT: u64 = 128 << 20;

/// The largest request a worker reads (the parent's own: a document's data and its images).
const MAX_REQUEST: u64 = 512 << 20;

/// How long a new worker may take to load the fonts and templates before it is given up.
const STARTUP: Duration = Duration::from_secs(60);

/// How much of a worker's stderr is kept to tell why it died.
const STDERR_TAIL: usize = 8 << 10;

/// How many log records of one document a worker hands back, and how long each may be.
const MAX_LOGS: usize = 200;
const MAX_LOG_BYTES: usize = 64 << 10;

/// A worker unused this long is stopped (a new one starts in milliseconds when needed): the
/// service renders in bursts, twice a year, and its idle workers would otherwise hold their
/// memory between them.
const IDLE: Duration = Duration::from_secs(120);
const REAP_EVERY: Duration = Duration::from_secs(30);

/// The worker's own margin on the deadline: the parent's kill is the one that normally stops a
/// late document; the worker's in-process deadline is the second line.
const WORKER_DEADLINE_SLACK: Duration = Duration::from_secs(2);

/// What one render process may use (the config's `render_max_memory_mb` and
/// `render_max_cpu_seconds`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessLimits {
    /// Address space of a worker, in MB.
    pub max_memory_mb: u64,
    /// CPU time of one document.
    pub max_cpu: Duration,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        let defaults = crate::config::TemplateLimits::default();
        Self {
            max_memory_mb: defaults.render_max_memory_mb,
            max_cpu: Duration::from_secs(defaults.render_max_cpu_seconds),
        }
    }
}

/// How to start a worker: the vanban binary and the arguments that make it one.
#[derive(Debug, Clone)]
pub struct WorkerProgram {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

impl WorkerProgram {
    /// The vanban binary at `program`, e.g. `env!("CARGO_BIN_EXE_vanban")` in a test.
    pub fn at(program: impl Into<PathBuf>) -> Self {
        Self {
            program: program.into(),
            args: vec![SUBCOMMAND.into()],
        }
    }

    /// The running binary, for `main`. On Linux `/proc/self/exe`: the very file this process
    /// runs, even after an upgrade replaced or removed it, so a long-running service never talks
    /// to a worker of another version.
    pub fn this_binary() -> Option<Self> {
        let proc_exe = PathBuf::from("/proc/self/exe");
        if proc_exe.exists() {
            return Some(Self::at(proc_exe));
        }
        std::env::current_exe().ok().map(Self::at)
    }
}

static PROGRAM: OnceLock<WorkerProgram> = OnceLock::new();

/// Makes every [`Backends`] and [`Previews`](super::Previews) this process builds afterwards
/// render in workers started from `program`. The vanban binary calls it before any command runs,
/// so every command and the service go through the bounded path; the library's own tests and
/// benches, which do not, render in-process. The first call wins.
pub fn register(program: WorkerProgram) {
    let _ = PROGRAM.set(program);
}

/// The program [`register`] set, if any.
pub fn registered() -> Option<&'static WorkerProgram> {
    PROGRAM.get()
}

/// Runs the worker if this process was started as one (`vanban render-worker …`): for `main`,
/// before it parses the command line.
pub fn serve_if_asked() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(SUBCOMMAND)) {
        return None;
    }
    Some(serve(args))
}

// ---------------------------------------------------------------------------------------------
// The wire.

fn write_frame(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(MAGIC)?;
    out.write_all(&(bytes.len() as u64).to_le_bytes())?;
    out.write_all(bytes)
}

/// One frame, or None at the end of the stream. A frame over `max` is refused before anything
/// is reserved for it; the bytes are read as they come, never trusted for a capacity.
fn read_frame(input: &mut impl Read, max: u64) -> io::Result<Option<Vec<u8>>> {
    let mut head = [0u8; 12];
    let mut got = 0;
    while got < head.len() {
        match input.read(&mut head[got..])? {
            0 if got == 0 => return Ok(None),
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    if &head[..4] != MAGIC {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "dữ liệu lạ trên kênh của tiến trình tạo văn bản",
        ));
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&head[4..]);
    let len = u64::from_le_bytes(len);
    if len > max {
        return Err(io::Error::new(io::ErrorKind::FileTooLarge, len.to_string()));
    }
    let mut bytes = Vec::new();
    input.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(Some(bytes))
}

/// What a worker is set up with: the same inputs as the in-process [`Backends`].
#[derive(Debug, Serialize, Deserialize)]
struct Setup {
    templates_dir: Option<PathBuf>,
    pdf: bool,
    docx: bool,
    pdf_from_docx: bool,
    /// Only page images (the web page's thumbnails, from the Typst templates).
    previews: bool,
    docx_max_uncompressed: u64,
    docx_max_entries: usize,
    docx_max_filled: usize,
    max_pages: usize,
    max_time_ms: u64,
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum Op {
    Render,
    Text,
    Pages { pixels_per_pt: f64 },
}

#[derive(Debug, Serialize, Deserialize)]
struct Request {
    op: Op,
    /// "pdf" or "docx": which of the worker's renderers.
    renderer: String,
    kind: String,
    unit: Option<String>,
    file_stem: String,
    date: NaiveDate,
    context: DocumentContext,
    /// The virtual paths of the document's images; their bytes follow, a frame each.
    images: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
enum Outcome {
    /// So many frames follow (a file, a text, or the page images).
    Done { frames: usize },
    /// The document's error as the worker's renderer said it.
    Failed { message: String },
}

#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    outcome: Outcome,
    /// The worker's log records for this document, to be logged by the parent.
    logs: Vec<String>,
    /// What the renderer noted of this document (Word formatting a PDF from DOCX left out).
    notes: NoteCounts,
    /// The worker stops after this answer (a document stopped at its deadline may have left a
    /// Typst thread running in it; one that ran out of memory may have left its heap in pieces).
    retire: bool,
    /// The document failed because an allocation was refused under the memory limit (a caught
    /// panic saying so): the parent reports the limit, not the panic.
    out_of_memory: bool,
}

// ---------------------------------------------------------------------------------------------
// The worker's side.

fn serve(args: impl Iterator<Item = OsString>) -> ExitCode {
    let Some(limits) = parse_args(args) else {
        eprintln!("{SUBCOMMAND}: thiếu --max-memory-mb hoặc --max-cpu-seconds");
        return ExitCode::FAILURE;
    };
    if let Err(e) = apply_limits(&limits) {
        eprintln!("{SUBCOMMAND}: không đặt được giới hạn tài nguyên: {e}");
        return ExitCode::FAILURE;
    }
    capture_logs();
    match serve_requests(&limits) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{SUBCOMMAND}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = OsString>) -> Option<ProcessLimits> {
    let (mut memory, mut cpu) = (None, None);
    while let Some(arg) = args.next() {
        let value: Option<u64> = args.next().and_then(|v| v.to_str()?.parse().ok());
        match arg.to_str() {
            Some("--max-memory-mb") => memory = value,
            Some("--max-cpu-seconds") => cpu = value,
            _ => return None,
        }
    }
    Some(ProcessLimits {
        max_memory_mb: memory?,
        max_cpu: Duration::from_secs(cpu?),
    })
}

fn apply_limits(limits: &ProcessLimits) -> io::Result<()> {
    use rlimit::Resource;
    // A hard limit set from outside (ulimit, systemd's LimitAS=) cannot be raised: the lower of
    // the two holds.
    let (_, hard) = Resource::AS.get()?;
    let bytes = limits.max_memory_mb.saturating_mul(1 << 20).min(hard);
    Resource::AS.set(bytes, bytes)?;
    Resource::CORE.set(0, 0)?;
    cpu_budget(limits.max_cpu)
}

/// The CPU time this process has used (user and system, all threads), from /proc/self/stat.
fn cpu_used() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime), in clock ticks: USER_HZ, 100 on every Linux ABI.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks.saturating_mul(10)))
}

/// Lets the next document use `budget` of CPU time from now: the soft limit becomes what was
/// used so far plus the budget.
fn cpu_budget(budget: Duration) -> io::Result<()> {
    let used = cpu_used().ok_or_else(|| io::Error::other("không đọc được /proc/self/stat"))?;
    let soft = used.as_secs() + 1 + budget.as_secs();
    // The hard limit is left as it is (unlimited unless set from outside), so the next
    // document's soft limit can be raised again.
    let (_, hard) = rlimit::Resource::CPU.get()?;
    rlimit::Resource::CPU.set(soft.min(hard), hard)
}

static LOGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Log records of a worker go to its parent with each answer, which logs them as its own
/// (the service's log, with its time zone and format), instead of to the worker's stderr.
fn capture_logs() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| LogWriter)
        .with_ansi(false)
        .without_time()
        .with_target(false)
        .try_init();
}

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut logs = LOGS.lock().unwrap_or_else(|e| e.into_inner());
        if logs.len() < MAX_LOGS {
            let text = String::from_utf8_lossy(&buf[..buf.len().min(MAX_LOG_BYTES)]);
            logs.push(text.trim_end().to_owned());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What a worker renders with, built from its [`Setup`].
struct Served {
    backends: Option<Backends>,
    previews: Option<PdfEngine>,
}

fn build(setup: &Setup) -> Result<Served, BackendError> {
    let templates = Templates {
        override_dir: setup.templates_dir.clone(),
    };
    let mut limits = Limits::default();
    limits.docx.max_uncompressed = setup.docx_max_uncompressed;
    limits.docx.max_entries = setup.docx_max_entries;
    limits.docx.max_filled = setup.docx_max_filled;
    limits.pdf.max_pages = setup.max_pages;
    limits.pdf.max_time = Duration::from_millis(setup.max_time_ms) + WORKER_DEADLINE_SLACK;
    if setup.previews {
        return Ok(Served {
            backends: None,
            previews: Some(PdfEngine::new(&templates)?),
        });
    }
    let formats = match (setup.pdf, setup.docx) {
        (true, true) => Formats::Both,
        (true, false) => Formats::Pdf,
        _ => Formats::Docx,
    };
    let pdf_from = match setup.pdf_from_docx {
        true => PdfFrom::Docx,
        false => PdfFrom::Typst,
    };
    Ok(Served {
        backends: Some(Backends::in_process(&templates, formats, limits, pdf_from)?),
        previews: None,
    })
}

fn serve_requests(limits: &ProcessLimits) -> io::Result<()> {
    let mut input = io::stdin().lock();
    let mut output = io::stdout().lock();
    let Some(setup) = read_frame(&mut input, MAX_REQUEST)? else {
        return Ok(());
    };
    let setup: Setup = serde_json::from_slice(&setup).map_err(io::Error::other)?;
    let served = match build(&setup) {
        Ok(served) => served,
        Err(e) => {
            let answer = reply(Outcome::Failed {
                message: e.to_string(),
            });
            write_frame(&mut output, &serde_json::to_vec(&answer)?)?;
            return output.flush();
        }
    };
    write_frame(
        &mut output,
        &serde_json::to_vec(&reply(Outcome::Done { frames: 0 }))?,
    )?;
    output.flush()?;
    // The parent closes stdin (or is gone) when it no longer needs this worker.
    while let Some(head) = read_frame(&mut input, MAX_REQUEST)? {
        let request: Request = serde_json::from_slice(&head).map_err(io::Error::other)?;
        let mut images = Vec::with_capacity(request.images.len().min(16));
        for path in &request.images {
            let bytes = read_frame(&mut input, MAX_REQUEST)?
                .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
            images.push(TemplateImage {
                path: path.clone(),
                bytes: bytes.into(),
            });
        }
        cpu_budget(limits.max_cpu)?;
        let (answer, frames) = handle(&served, request, images);
        write_frame(&mut output, &serde_json::to_vec(&answer)?)?;
        for frame in &frames {
            write_frame(&mut output, frame)?;
        }
        output.flush()?;
        if answer.retire {
            // A compile thread stopped at its deadline may still be running: leaving takes it
            // along.
            return Ok(());
        }
    }
    Ok(())
}

fn reply(outcome: Outcome) -> Answer {
    Answer {
        outcome,
        logs: std::mem::take(&mut *LOGS.lock().unwrap_or_else(|e| e.into_inner())),
        notes: NoteCounts::new(),
        retire: false,
        out_of_memory: false,
    }
}

fn handle(served: &Served, request: Request, images: Vec<TemplateImage>) -> (Answer, Vec<Vec<u8>>) {
    let Some(kind) = DocumentKind::from_slug(&request.kind) else {
        return (
            reply(Outcome::Failed {
                message: format!("loại văn bản lạ: {}", request.kind),
            }),
            Vec::new(),
        );
    };
    let document = PlannedDocument {
        kind,
        unit: request.unit,
        file_stem: request.file_stem,
        context: request.context,
        date: request.date,
        images,
    };
    let renderer: Option<&dyn Renderer> = served.backends.as_ref().and_then(|b| {
        b.renderers()
            .into_iter()
            .find(|r| r.name() == request.renderer)
    });
    let op = request.op;
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(
        || -> Result<Vec<Vec<u8>>, RenderError> {
            match (op, renderer, &served.previews) {
                (Op::Render, Some(r), _) => r.render(&document).map(|bytes| vec![bytes]),
                (Op::Text, Some(r), _) => Ok(r
                    .text(&document)?
                    .map(String::into_bytes)
                    .into_iter()
                    .collect()),
                (Op::Pages { pixels_per_pt }, _, Some(engine)) => {
                    previews_in_process(engine, &document, pixels_per_pt)
                }
                _ => Err(RenderError::Worker(format!(
                    "{}: tiến trình tạo văn bản không có bộ tạo {}",
                    document.label_vi(),
                    request.renderer
                ))),
            }
        },
    ))
    .unwrap_or_else(|payload| {
        Err(RenderError::Panic {
            document: document.label_vi(),
            message: super::pdf::panic_text(payload.as_ref()),
        })
    });
    let notes = renderer.map(|r| r.take_notes()).unwrap_or_default();
    match result {
        Ok(frames) => {
            let mut answer = reply(Outcome::Done {
                frames: frames.len(),
            });
            answer.notes = notes;
            (answer, frames)
        }
        Err(error) => {
            let retire = matches!(
                error,
                RenderError::Pdf {
                    error: PdfError::TooSlow { .. },
                    ..
                }
            );
            let message = error.to_string();
            let out_of_memory = says_out_of_memory(&message);
            let mut answer = reply(Outcome::Failed { message });
            answer.notes = notes;
            answer.retire = retire || out_of_memory;
            answer.out_of_memory = out_of_memory;
            (answer, Vec::new())
        }
    }
}

/// The page images of a document from the Typst templates, in this process.
pub(super) fn previews_in_process(
    engine: &PdfEngine,
    document: &PlannedDocument,
    pixels_per_pt: f64,
) -> Result<Vec<Vec<u8>>, RenderError> {
    let data = serde_json::to_vec(&document.context).map_err(|error| RenderError::Context {
        document: document.label_vi(),
        error,
    })?;
    engine
        .render_png_pages(document.kind, &data, document.date, pixels_per_pt)
        .map_err(|error| RenderError::Pdf {
            document: document.label_vi(),
            error,
        })
}

// ---------------------------------------------------------------------------------------------
// The parent's side.

/// The workers of one [`Backends`] (or [`Previews`](super::Previews)), started as documents
/// need them, at most one per core, each serving one document at a time.
pub(crate) struct Pool {
    program: WorkerProgram,
    setup: Vec<u8>,
    process: ProcessLimits,
    deadline: Duration,
    /// The template each renderer reads for each kind, to name in a memory or CPU stop.
    templates: Vec<(&'static str, DocumentKind, String)>,
    max_workers: usize,
    state: Mutex<PoolState>,
    freed: Condvar,
}

#[derive(Default)]
struct PoolState {
    idle: Vec<Worker>,
    /// Every worker alive, idle or busy, by pid.
    live: BTreeSet<u32>,
    /// Workers being started (not counted in `live` yet).
    starting: usize,
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    frames: mpsc::Receiver<io::Result<Vec<u8>>>,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// When it last finished a document.
    idle_since: Instant,
}

/// Why an exchange with a worker did not give an answer.
enum Failure {
    /// No answer by the deadline: the worker was killed.
    Late,
    /// The worker's end closed: it died (its exit status and stderr tell how).
    Gone,
    /// It answered something that is not an answer, or too much.
    Garbled(String),
}

impl Pool {
    pub(crate) fn new(
        program: &WorkerProgram,
        templates: &Templates,
        formats: Formats,
        limits: Limits,
        pdf_from: PdfFrom,
        previews: bool,
    ) -> Arc<Self> {
        let setup = Setup {
            templates_dir: templates.override_dir.clone(),
            pdf: matches!(formats, Formats::Pdf | Formats::Both),
            docx: matches!(formats, Formats::Docx | Formats::Both),
            pdf_from_docx: pdf_from == PdfFrom::Docx,
            previews,
            docx_max_uncompressed: limits.docx.max_uncompressed,
            docx_max_entries: limits.docx.max_entries,
            docx_max_filled: limits.docx.max_filled,
            max_pages: limits.pdf.max_pages,
            max_time_ms: u64::try_from(limits.pdf.max_time.as_millis()).unwrap_or(u64::MAX),
        };
        let origin = |subdir: &str, name: &str| {
            templates
                .resolve(subdir, name, Some(&[]))
                .ok()
                .flatten()
                .map_or_else(|| format!("{subdir}/{name}"), |f| f.origin)
        };
        let mut names = Vec::new();
        for kind in DocumentKind::ALL {
            let typst = origin("typst", super::pdf::template_name(kind));
            let docx = origin(super::docx::SUBDIR, super::docx::builtin::file_name(kind));
            let pdf = match (previews, pdf_from) {
                (false, PdfFrom::Docx) => docx.clone(),
                _ => typst,
            };
            names.push(("pdf", kind, pdf));
            names.push(("docx", kind, docx));
        }
        let pool = Arc::new(Self {
            program: program.clone(),
            // Plain data of our own: it always serializes.
            setup: serde_json::to_vec(&setup).unwrap_or_default(),
            process: limits.process,
            deadline: limits.pdf.max_time,
            templates: names,
            max_workers: super::default_threads(),
            state: Mutex::default(),
            freed: Condvar::new(),
        });
        // Ends within REAP_EVERY of the pool's end. Without it (no thread to be had) idle
        // workers stay until the pool ends: only memory is lost.
        let weak = Arc::downgrade(&pool);
        let _ = std::thread::Builder::new()
            .name("render-worker-reaper".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(REAP_EVERY);
                    let Some(pool) = weak.upgrade() else { break };
                    pool.reap(IDLE);
                }
            });
        pool
    }

    /// The pids of the workers alive now.
    pub(crate) fn pids(&self) -> Vec<u32> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.live.iter().copied().collect()
    }

    fn template(&self, renderer: &str, kind: DocumentKind) -> String {
        self.templates
            .iter()
            .find(|(r, k, _)| *r == renderer && *k == kind)
            .map(|(_, _, t)| t.clone())
            .unwrap_or_default()
    }

    /// Renders `document` with the worker's `renderer` as `op`: the frames it answered, and
    /// what it noted.
    fn call(
        &self,
        renderer: &'static str,
        op: Op,
        document: &PlannedDocument,
    ) -> Result<(Vec<Vec<u8>>, NoteCounts), RenderError> {
        let request = Request {
            op,
            renderer: renderer.into(),
            kind: document.kind.slug().into(),
            unit: document.unit.clone(),
            file_stem: document.file_stem.clone(),
            date: document.date,
            context: document.context.clone(),
            images: document.images.iter().map(|i| i.path.clone()).collect(),
        };
        let head = serde_json::to_vec(&request).map_err(|error| RenderError::Context {
            document: document.label_vi(),
            error,
        })?;
        let mut worker = self.acquire(renderer, document)?;
        let exchanged = worker.exchange(&head, &document.images, self.deadline);
        let answer = match exchanged {
            Ok(answer) => answer,
            Err(failure) => return Err(self.failed(worker, failure, renderer, document)),
        };
        let (answer, frames) = answer;
        relay_logs(&answer.logs);
        if answer.retire {
            self.discard(worker);
        } else {
            self.release(worker);
        }
        match answer.outcome {
            Outcome::Done { .. } => Ok((frames, answer.notes)),
            Outcome::Failed { .. } if answer.out_of_memory => Err(out_of_memory(
                document,
                self.template(renderer, document.kind),
                self.process,
                !document.images.is_empty(),
            )),
            Outcome::Failed { message } => Err(RenderError::Worker(message)),
        }
    }

    /// An idle worker, or a new one if fewer than `max_workers` are alive; else waits for one.
    fn acquire(
        &self,
        renderer: &'static str,
        document: &PlannedDocument,
    ) -> Result<Worker, RenderError> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            while let Some(mut worker) = state.idle.pop() {
                // One that died while idle (killed from outside) is replaced.
                match worker.child.try_wait() {
                    Ok(None) => return Ok(worker),
                    _ => {
                        state.live.remove(&worker.child.id());
                        let _ = worker.child.wait();
                    }
                }
            }
            if state.live.len() + state.starting < self.max_workers {
                break;
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        // Counted before it starts, so concurrent callers do not start more than allowed.
        state.starting += 1;
        drop(state);
        let started = self.start(renderer, document);
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.starting -= 1;
        if let Ok(worker) = &started {
            state.live.insert(worker.child.id());
        }
        drop(state);
        if started.is_err() {
            self.freed.notify_one();
        }
        started
    }

    fn start(
        &self,
        renderer: &'static str,
        document: &PlannedDocument,
    ) -> Result<Worker, RenderError> {
        let start_error = |detail: String| RenderError::WorkerStart {
            program: self.program.program.display().to_string(),
            detail,
        };
        let mut command = Command::new(&self.program.program);
        command
            .args(&self.program.args)
            .arg("--max-memory-mb")
            .arg(self.process.max_memory_mb.to_string())
            .arg("--max-cpu-seconds")
            .arg(self.process.max_cpu.as_secs().max(1).to_string())
            .env_clear()
            .env("MALLOC_ARENA_MAX", "2")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(filter) = std::env::var_os("RUST_LOG") {
            command.env("RUST_LOG", filter);
        }
        // `ps` shows "vanban render-worker …", not the path it was started by (/proc/self/exe).
        std::os::unix::process::CommandExt::arg0(&mut command, "vanban");
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command.spawn().map_err(|e| start_error(e.to_string()))?;
        let (Some(stdin), Some(mut stdout), Some(mut stderr_pipe)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_error("không mở được kênh tới tiến trình".into()));
        };
        let (sender, frames) = mpsc::channel();
        let reader = std::thread::Builder::new()
            .name("render-worker-out".into())
            .spawn(move || {
                loop {
                    match read_frame(&mut stdout, MAX_OUTPUT) {
                        Ok(Some(frame)) => {
                            if sender.send(Ok(frame)).is_err() {
                                break;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = sender.send(Err(e));
                            break;
                        }
                    }
                }
            });
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let tail = Arc::clone(&stderr);
        let drain = std::thread::Builder::new()
            .name("render-worker-err".into())
            .spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stderr_pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                    tail.extend_from_slice(&buf[..n]);
                    let excess = tail.len().saturating_sub(STDERR_TAIL);
                    tail.drain(..excess);
                }
            });
        if let Err(e) = reader.and(drain) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(start_error(e.to_string()));
        }
        let mut worker = Worker {
            child,
            stdin,
            frames,
            stderr,
            idle_since: Instant::now(),
        };
        let ready = write_frame(&mut worker.stdin, &self.setup)
            .and_then(|()| worker.stdin.flush())
            .map_err(|_| Failure::Gone)
            .and_then(|()| worker.answer(Instant::now() + STARTUP.max(self.deadline)));
        match ready {
            Ok((answer, _)) => {
                relay_logs(&answer.logs);
                match answer.outcome {
                    Outcome::Done { .. } => Ok(worker),
                    // The templates changed on disk since they were checked here.
                    Outcome::Failed { message } => {
                        worker.stop();
                        Err(RenderError::Worker(message))
                    }
                }
            }
            Err(failure) => {
                let error = self.failure_error(&mut worker, failure, renderer, document);
                worker.stop();
                Err(error)
            }
        }
    }

    fn release(&self, mut worker: Worker) {
        worker.idle_since = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.idle.push(worker);
        drop(state);
        self.freed.notify_one();
    }

    /// Stops the workers idle for `idle` or longer.
    fn reap(&self, idle: Duration) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (stale, kept): (Vec<Worker>, Vec<Worker>) = std::mem::take(&mut state.idle)
            .into_iter()
            .partition(|w| w.idle_since.elapsed() >= idle);
        state.idle = kept;
        for worker in &stale {
            state.live.remove(&worker.child.id());
        }
        drop(state);
        for mut worker in stale {
            worker.stop();
        }
    }

    fn discard(&self, mut worker: Worker) {
        let pid = worker.child.id();
        worker.stop();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.live.remove(&pid);
        drop(state);
        self.freed.notify_one();
    }

    /// The error for a document whose worker did not answer, the worker gone for good.
    fn failed(
        &self,
        mut worker: Worker,
        failure: Failure,
        renderer: &'static str,
        document: &PlannedDocument,
    ) -> RenderError {
        let error = self.failure_error(&mut worker, failure, renderer, document);
        self.discard(worker);
        error
    }

    fn failure_error(
        &self,
        worker: &mut Worker,
        failure: Failure,
        renderer: &'static str,
        document: &PlannedDocument,
    ) -> RenderError {
        let template = self.template(renderer, document.kind);
        match failure {
            Failure::Late => {
                // Killed now, so its work stops with the answer.
                let _ = worker.child.kill();
                let _ = worker.child.wait();
                RenderError::Pdf {
                    document: document.label_vi(),
                    error: PdfError::TooSlow {
                        seconds: self.deadline.as_secs(),
                    },
                }
            }
            Failure::Garbled(detail) => RenderError::WorkerDied {
                document: document.label_vi(),
                detail,
            },
            Failure::Gone => {
                let status = worker.child.wait().ok();
                let stderr = worker.stderr_text();
                death(
                    status,
                    &stderr,
                    document,
                    template,
                    self.process,
                    !document.images.is_empty(),
                )
            }
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        for mut worker in state.idle.drain(..) {
            worker.stop();
        }
    }
}

/// What a worker's end means for the document it was rendering.
fn death(
    status: Option<ExitStatus>,
    stderr: &str,
    document: &PlannedDocument,
    template: String,
    process: ProcessLimits,
    images: bool,
) -> RenderError {
    use std::os::unix::process::ExitStatusExt;
    const SIGKILL: i32 = 9;
    const SIGXCPU: i32 = 24;
    let signal = status.and_then(|s| s.signal());
    // A kill by the kernel's OOM killer comes without a word.
    if says_out_of_memory(stderr) || signal == Some(SIGKILL) {
        return out_of_memory(document, template, process, images);
    }
    if signal == Some(SIGXCPU) {
        return RenderError::CpuTime {
            document: document.label_vi(),
            template,
            seconds: process.max_cpu.as_secs(),
        };
    }
    let how = match (status.and_then(|s| s.code()), signal) {
        (Some(code), _) => format!("mã thoát {code}"),
        (None, Some(signal)) => format!("tín hiệu {signal}"),
        (None, None) => "không rõ".into(),
    };
    let last = stderr.lines().rev().find(|l| !l.trim().is_empty());
    RenderError::WorkerDied {
        document: document.label_vi(),
        detail: match last {
            Some(line) => format!("{how}: {}", line.trim()),
            None => how,
        },
    }
}

/// Whether a worker's last words (or a caught panic's) are an allocation refused under its
/// address-space limit: Rust's allocator says "memory allocation of … failed" before it aborts;
/// a failed `try_reserve` that its caller unwraps (the image decoder's, inside a rayon thread,
/// which then aborts) says `AllocError`.
fn says_out_of_memory(text: &str) -> bool {
    ["memory allocation of", "AllocError", "out of memory"]
        .iter()
        .any(|sign| text.contains(sign))
}

fn out_of_memory(
    document: &PlannedDocument,
    template: String,
    process: ProcessLimits,
    images: bool,
) -> RenderError {
    RenderError::OutOfMemory {
        document: document.label_vi(),
        template,
        limit_mb: process.max_memory_mb,
        images: match images {
            true => ", hoặc ảnh chữ ký, con dấu của văn bản quá lớn",
            false => "",
        },
    }
}

/// Logs a worker's records as the parent's own, at their level.
fn relay_logs(logs: &[String]) {
    for record in logs {
        let record = record.trim_start();
        let (level, text) = record.split_once(' ').unwrap_or(("INFO", record));
        let text = text.trim_start();
        match level {
            "ERROR" => tracing::error!("{text}"),
            "WARN" => tracing::warn!("{text}"),
            "DEBUG" => tracing::debug!("{text}"),
            "TRACE" => tracing::trace!("{text}"),
            _ => tracing::info!("{text}"),
        }
    }
}

impl Worker {
    /// Sends a request and its images, and reads the answer by the deadline.
    fn exchange(
        &mut self,
        head: &[u8],
        images: &[TemplateImage],
        deadline: Duration,
    ) -> Result<(Answer, Vec<Vec<u8>>), Failure> {
        let sent = write_frame(&mut self.stdin, head)
            .and_then(|()| {
                images
                    .iter()
                    .try_for_each(|image| write_frame(&mut self.stdin, &image.bytes))
            })
            .and_then(|()| self.stdin.flush());
        // The worker died before it read it all: its end tells why.
        if sent.is_err() {
            return Err(Failure::Gone);
        }
        self.answer(Instant::now() + deadline)
    }

    /// Reads one answer and the frames it announces, all by `until`.
    fn answer(&mut self, until: Instant) -> Result<(Answer, Vec<Vec<u8>>), Failure> {
        let head = self.frame(until)?;
        let answer: Answer = serde_json::from_slice(&head)
            .map_err(|e| Failure::Garbled(format!("câu trả lời không đọc được: {e}")))?;
        let count = match answer.outcome {
            Outcome::Done { frames } => frames,
            Outcome::Failed { .. } => 0,
        };
        let mut frames = Vec::with_capacity(count.min(1024));
        let mut total: u64 = 0;
        for _ in 0..count {
            let frame = self.frame(until)?;
            total += frame.len() as u64;
            if total > MAX_OUTPUT {
                return Err(Failure::Garbled(format!(
                    "văn bản tạo ra quá {} MB",
                    MAX_OUTPUT >> 20
                )));
            }
            frames.push(frame);
        }
        Ok((answer, frames))
    }

    fn frame(&mut self, until: Instant) -> Result<Vec<u8>, Failure> {
        let wait = until.saturating_duration_since(Instant::now());
        match self.frames.recv_timeout(wait) {
            Ok(Ok(frame)) => Ok(frame),
            Ok(Err(e)) if e.kind() == io::ErrorKind::FileTooLarge => Err(Failure::Garbled(
                format!("văn bản tạo ra quá {} MB", MAX_OUTPUT >> 20),
            )),
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(Failure::Gone),
            Ok(Err(e)) => Err(Failure::Garbled(e.to_string())),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(Failure::Late),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure::Gone),
        }
    }

    fn stderr_text(&self) -> String {
        // The reader may still be taking the last bytes of a worker that just died.
        std::thread::sleep(Duration::from_millis(20));
        let tail = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&tail).into_owned()
    }

    /// Ends the worker and reaps it.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------------
// Renderers over a pool.

/// A [`Renderer`] whose documents are rendered by a pool's workers, as `name` ("pdf" or "docx").
pub(crate) struct IsolatedRenderer {
    pool: Arc<Pool>,
    name: &'static str,
    notes: Mutex<NoteCounts>,
}

impl IsolatedRenderer {
    pub(crate) fn new(pool: Arc<Pool>, name: &'static str) -> Self {
        Self {
            pool,
            name,
            notes: Mutex::default(),
        }
    }

    fn call(&self, op: Op, document: &PlannedDocument) -> Result<Vec<Vec<u8>>, RenderError> {
        let (frames, notes) = self.pool.call(self.name, op, document)?;
        if !notes.is_empty() {
            let mut all = self.notes.lock().unwrap_or_else(|e| e.into_inner());
            super::add_notes(&mut all, notes);
        }
        Ok(frames)
    }
}

impl Renderer for IsolatedRenderer {
    fn name(&self) -> &'static str {
        self.name
    }

    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
        let frames = self.call(Op::Render, document)?;
        frames
            .into_iter()
            .next()
            .ok_or_else(|| RenderError::WorkerDied {
                document: document.label_vi(),
                detail: "không trả về tệp nào".into(),
            })
    }

    fn text(&self, document: &PlannedDocument) -> Result<Option<String>, RenderError> {
        let frames = self.call(Op::Text, document)?;
        frames
            .into_iter()
            .next()
            .map(|bytes| {
                String::from_utf8(bytes).map_err(|_| RenderError::WorkerDied {
                    document: document.label_vi(),
                    detail: "chữ trả về không phải UTF-8".into(),
                })
            })
            .transpose()
    }

    fn notes(&self) -> Vec<String> {
        let all = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        super::docx_pdf::describe_notes(&all)
    }
}

/// The page images of `document` from a previews pool's worker.
pub(crate) fn previews_isolated(
    pool: &Pool,
    document: &PlannedDocument,
    pixels_per_pt: f64,
) -> Result<Vec<Vec<u8>>, RenderError> {
    pool.call("pdf", Op::Pages { pixels_per_pt }, document)
        .map(|(frames, _)| frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_an_oversized_one_is_refused_before_it_is_read() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"xin chao").unwrap();
        write_frame(&mut wire, &[7u8; 100]).unwrap();
        let mut input = &wire[..];
        assert_eq!(read_frame(&mut input, 1000).unwrap().unwrap(), b"xin chao");
        let error = read_frame(&mut input, 99).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);

        let mut stray = b"hello from a println".to_vec();
        stray.extend_from_slice(&[0u8; 8]);
        assert!(read_frame(&mut &stray[..], 1000).is_err());
        assert!(read_frame(&mut &b""[..], 1000).unwrap().is_none());
    }

    #[test]
    fn the_worker_arguments_carry_both_limits() {
        let args = ["--max-memory-mb", "512", "--max-cpu-seconds", "7"].map(OsString::from);
        assert_eq!(
            parse_args(args.into_iter()),
            Some(ProcessLimits {
                max_memory_mb: 512,
                max_cpu: Duration::from_secs(7)
            })
        );
        assert_eq!(
            parse_args([OsString::from("--max-memory-mb")].into_iter()),
            None
        );
    }

    /// A stand-in worker: a `sleep` with the pipes a worker has, idle since `ago`.
    fn sleeper(ago: Duration) -> Worker {
        let mut child = Command::new("sleep")
            .arg("60")
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let (_, frames) = mpsc::channel();
        Worker {
            stdin: child.stdin.take().unwrap(),
            child,
            frames,
            stderr: Arc::default(),
            idle_since: Instant::now().checked_sub(ago).unwrap(),
        }
    }

    #[test]
    fn workers_idle_too_long_are_stopped_and_the_others_kept() {
        let pool = Pool::new(
            &WorkerProgram::at("vanban"),
            &Templates::builtin(),
            Formats::Pdf,
            Limits::default(),
            PdfFrom::Typst,
            false,
        );
        let (stale, fresh) = (sleeper(IDLE * 2), sleeper(Duration::ZERO));
        let (stale_pid, fresh_pid) = (stale.child.id(), fresh.child.id());
        {
            let mut state = pool.state.lock().unwrap();
            state.live.extend([stale_pid, fresh_pid]);
            state.idle.extend([stale, fresh]);
        }
        pool.reap(IDLE);
        assert_eq!(pool.pids(), vec![fresh_pid]);
        // Killed and reaped: its /proc entry is gone.
        assert!(!std::path::Path::new(&format!("/proc/{stale_pid}")).exists());
        assert!(std::path::Path::new(&format!("/proc/{fresh_pid}")).exists());
        drop(pool);
        assert!(!std::path::Path::new(&format!("/proc/{fresh_pid}")).exists());
    }

    #[test]
    fn this_process_cpu_time_is_read() {
        let before = cpu_used().unwrap();
        let mut x = 0u64;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        assert!(x != 1);
        assert!(cpu_used().unwrap() > before);
    }
}
