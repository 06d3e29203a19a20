//! Rendering: which documents a period yields, their contexts, and the backends (PDF by Typst,
//! DOCX by template filling) that turn a context into a file, in the manner of mdBook's
//! `Renderer` between the book and its outputs.

pub mod context;
pub mod docx;
pub mod docx_pdf;
pub mod fit;
pub mod page_check;
pub mod parity;
pub mod pdf;
pub mod stamp;
pub mod template_versions;
pub mod templates;
pub mod wording;
pub mod worker;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use context::DocumentContext;
pub use docx::DocxRenderer;
use pdf::{PdfEngine, PdfError, PdfLimits};
use templates::write_atomically;

pub use crate::config::PdfFrom;
use crate::model::{Addressed, DocumentKind, Period, Unit};

/// One document to produce: its kind, addressee (letters) and context.
#[derive(Debug, Clone)]
pub struct PlannedDocument {
    pub kind: DocumentKind,
    /// The unit an assignment letter goes to.
    pub unit: Option<String>,
    /// File name without extension, e.g. "03-cong-van-bqlda".
    pub file_stem: String,
    pub context: DocumentContext,
    /// The issue date: the PDF's `datetime.today()`.
    pub date: NaiveDate,
    /// Images the PDF template draws besides its data (the signer's signature and the
    /// organisation's seal of a document issued with signing on), served at their virtual paths;
    /// the context names the paths. Drafts have none.
    pub images: Vec<TemplateImage>,
}

/// A file the PDF template reads at a virtual path, e.g. "/chu-ky.png".
#[derive(Clone)]
pub struct TemplateImage {
    pub path: String,
    pub bytes: std::sync::Arc<[u8]>,
}

impl std::fmt::Debug for TemplateImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TemplateImage({}, {} bytes)",
            self.path,
            self.bytes.len()
        )
    }
}

impl PlannedDocument {
    /// "cong-van bqlda" style label for messages.
    pub fn label(&self) -> String {
        match &self.unit {
            Some(unit) => format!("{} ({unit})", self.kind.slug()),
            None => self.kind.slug().to_string(),
        }
    }

    /// "Công văn giao nhiệm vụ – Xã Quảng Tân": what a clerk reads in reports.
    pub fn label_vi(&self) -> String {
        match self.context.letter.as_ref().map(|l| &l.unit.name) {
            Some(unit) => format!("{} – {unit}", self.kind.name_vi()),
            None => self.kind.name_vi().to_owned(),
        }
    }
}

/// The documents of a period, kind by kind in the order of [`DocumentKind::ALL`]: one of each
/// kind addressed once, and one per unit of a kind addressed to each unit (a letter per unit
/// with tasks). `number` gives a document its number (from the register); None leaves the period
/// file's.
pub fn plan(
    period: &Period,
    only: Option<DocumentKind>,
    number: &dyn Fn(DocumentKind, Option<&str>) -> Option<u32>,
) -> Vec<PlannedDocument> {
    let mut documents = Vec::new();
    let date = period.documents.date;
    for kind in DocumentKind::ALL {
        if only.is_some_and(|k| k != kind) {
            continue;
        }
        let mut push = |unit: Option<&Unit>| {
            let id = unit.map(|u| u.id.as_str());
            documents.push(PlannedDocument {
                kind,
                unit: id.map(str::to_owned),
                file_stem: kind.spec().file_stem(period.half, id),
                context: context::build(period, kind, unit, number(kind, id)),
                date,
                images: Vec::new(),
            });
        };
        match kind.spec().addressed {
            Addressed::Once => push(None),
            Addressed::EachUnit(units) => units(period).into_iter().for_each(|u| push(Some(u))),
        }
    }
    documents
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{document}: {error}")]
    Pdf { document: String, error: PdfError },
    #[error("{document}: không tạo được dữ liệu cho mẫu: {error}")]
    Context {
        document: String,
        error: serde_json::Error,
    },
    #[error("{document}: {message}")]
    Docx { document: String, message: String },
    #[error(
        "{document}: lỗi nội bộ khi tạo văn bản ({message}); cả đợt dừng lại, chưa ghi tệp nào"
    )]
    Panic { document: String, message: String },
    #[error("không ghi được {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A render worker's error, as the worker said it (its text names the document).
    #[error("{0}")]
    Worker(String),
    #[error(
        "{document}: tạo văn bản từ mẫu {template} cần quá {limit_mb} MB bộ nhớ nên đã bị dừng (render_max_memory_mb trong [limits] của vanban.toml); kiểm tra vòng lặp hoặc danh sách nhân đôi trong mẫu{images}"
    )]
    OutOfMemory {
        document: String,
        template: String,
        limit_mb: u64,
        /// ", hoặc ảnh … quá lớn" when the document draws images, else empty.
        images: &'static str,
    },
    #[error(
        "{document}: tạo văn bản từ mẫu {template} dùng quá {seconds} giây CPU nên đã bị dừng (render_max_cpu_seconds trong [limits] của vanban.toml); kiểm tra vòng lặp trong mẫu"
    )]
    CpuTime {
        document: String,
        template: String,
        seconds: u64,
    },
    #[error(
        "{document}: tiến trình tạo văn bản dừng bất thường ({detail}); cả đợt dừng lại, chưa ghi tệp nào"
    )]
    WorkerDied { document: String, detail: String },
    #[error("không chạy được tiến trình tạo văn bản ({program}): {detail}")]
    WorkerStart { program: String, detail: String },
}

/// What a renderer noted while rendering, by template: how often each Word element a PDF made
/// from DOCX could not carry appeared.
pub type NoteCounts = std::collections::BTreeMap<String, std::collections::BTreeMap<String, usize>>;

/// Adds `more` to `all`.
pub(crate) fn add_notes(all: &mut NoteCounts, more: NoteCounts) {
    for (template, counts) in more {
        let into = all.entry(template).or_default();
        for (name, n) in counts {
            *into.entry(name).or_default() += n;
        }
    }
}

/// An output backend: turns a planned document into the bytes of one file.
pub trait Renderer: Sync {
    /// "pdf", "docx": also the file extension.
    fn name(&self) -> &'static str;
    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError>;

    /// The document's text as this format lays it out, for the guard that both formats say the
    /// same ([`parity`]): the PDF's pages in layout order, the DOCX's paragraphs one a line.
    /// None for a format that has no words to compare.
    fn text(&self, _document: &PlannedDocument) -> Result<Option<String>, RenderError> {
        Ok(None)
    }

    /// What the clerk should know about the files rendered so far (Vietnamese lines), e.g. the
    /// Word formatting a PDF made from the DOCX could not carry. Most renderers have none.
    fn notes(&self) -> Vec<String> {
        Vec::new()
    }

    /// What [`notes`](Self::notes) gathered so far, as counts, taken out (none left): how a
    /// render worker hands each document's notes to the process that prints them.
    fn take_notes(&self) -> NoteCounts {
        NoteCounts::new()
    }
}

pub struct PdfRenderer {
    engine: PdfEngine,
}

impl PdfRenderer {
    pub fn new(engine: PdfEngine) -> Self {
        Self { engine }
    }
}

impl Renderer for PdfRenderer {
    fn name(&self) -> &'static str {
        "pdf"
    }

    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
        let data = serde_json::to_vec(&document.context).map_err(|error| RenderError::Context {
            document: document.label_vi(),
            error,
        })?;
        let images: Vec<(&str, &[u8])> = document
            .images
            .iter()
            .map(|i| (i.path.as_str(), &i.bytes[..]))
            .collect();
        self.engine
            .render_with_files(document.kind, &data, document.date, &images)
            .map_err(|error| RenderError::Pdf {
                document: document.label_vi(),
                error,
            })
    }

    fn text(&self, document: &PlannedDocument) -> Result<Option<String>, RenderError> {
        let data = serde_json::to_vec(&document.context).map_err(|error| RenderError::Context {
            document: document.label_vi(),
            error,
        })?;
        self.engine
            .text(document.kind, &data, document.date)
            .map(Some)
            .map_err(|error| RenderError::Pdf {
                document: document.label_vi(),
                error,
            })
    }
}

/// Which files each document becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Formats {
    Pdf,
    Docx,
    /// A DOCX beside every PDF (the default: offices edit before they sign).
    #[default]
    Both,
}

#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    #[error("không nạp được mẫu Typst: {0}")]
    Pdf(#[from] PdfError),
    #[error("không nạp được mẫu DOCX: {0}")]
    Docx(#[from] docx::DocxError),
    #[error("không nạp được tệp lời văn: {0}")]
    Wording(Box<wording::WordingError>),
}

/// What one document's template may cost (the config's `[limits]`, or these defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub pdf: PdfLimits,
    pub docx: docx::fill::DocxLimits,
    /// What a render process may use (only on the bounded path, [`worker`]).
    pub process: worker::ProcessLimits,
}

impl Limits {
    /// From the config's keys, in the units an admin writes them (MB, seconds).
    pub fn from_config_units(
        docx_max_uncompressed_mb: u64,
        docx_max_entries: usize,
        docx_max_filled_mb: u64,
        typst_max_pages: usize,
        typst_max_seconds: u64,
    ) -> Self {
        Self {
            pdf: PdfLimits {
                max_pages: typst_max_pages,
                max_time: std::time::Duration::from_secs(typst_max_seconds),
            },
            docx: docx::fill::DocxLimits {
                max_uncompressed: docx_max_uncompressed_mb.saturating_mul(1 << 20),
                max_entries: docx_max_entries,
                max_filled: usize::try_from(docx_max_filled_mb.saturating_mul(1 << 20))
                    .unwrap_or(usize::MAX),
            },
            process: worker::ProcessLimits::default(),
        }
    }

    /// The config's `[limits]`, every key.
    pub fn from_config(limits: &crate::config::TemplateLimits) -> Self {
        Self {
            process: worker::ProcessLimits {
                max_memory_mb: limits.render_max_memory_mb,
                max_cpu: std::time::Duration::from_secs(limits.render_max_cpu_seconds),
            },
            ..Self::from_config_units(
                limits.docx_max_uncompressed_mb,
                limits.docx_max_entries,
                limits.docx_max_filled_mb,
                limits.typst_max_pages,
                limits.typst_max_seconds,
            )
        }
    }
}

/// The output backends, built once (fonts loaded, templates parsed) and shared by every
/// document the process renders: the CLI, `send` and the scheduled service use the same set.
/// In a process that [registered](worker::register) a render worker (the vanban binary), every
/// document is rendered in a worker process bounded in memory and CPU ([`worker`]); elsewhere
/// (the library's tests and benches) in this process.
pub struct Backends {
    pdf: Option<Box<dyn Renderer + Send>>,
    docx: Option<Box<dyn Renderer + Send>>,
    pool: Option<std::sync::Arc<worker::Pool>>,
}

impl Backends {
    pub fn new(templates: &templates::Templates, formats: Formats) -> Result<Self, BackendError> {
        Self::with_limits(templates, formats, Limits::default())
    }

    /// [`new`](Self::new) under an office's [`Limits`].
    pub fn with_limits(
        templates: &templates::Templates,
        formats: Formats,
        limits: Limits,
    ) -> Result<Self, BackendError> {
        Self::with_pdf_from(templates, formats, limits, PdfFrom::Typst)
    }

    /// [`with_limits`](Self::with_limits), the PDF made as the config's `pdf_from` says: by the
    /// Typst templates, or from the office's filled DOCX (render/docx_pdf). In render workers
    /// if this process registered one ([`worker::register`]).
    pub fn with_pdf_from(
        templates: &templates::Templates,
        formats: Formats,
        limits: Limits,
        pdf_from: PdfFrom,
    ) -> Result<Self, BackendError> {
        match worker::registered() {
            Some(program) => Self::isolated(templates, formats, limits, pdf_from, program),
            None => Self::in_process(templates, formats, limits, pdf_from),
        }
    }

    /// Every document rendered in this process: no bound on its memory, and a compile stopped
    /// at its deadline runs on until it ends (see [`PdfEngine::render`]). For tests, benches and
    /// the render worker itself.
    pub fn in_process(
        templates: &templates::Templates,
        formats: Formats,
        limits: Limits,
        pdf_from: PdfFrom,
    ) -> Result<Self, BackendError> {
        // The wording both formats read, checked first: its mistake is the office's wording
        // file's, not a template's.
        wording::Wording::load(templates).map_err(|e| BackendError::Wording(Box::new(e)))?;
        let pdf: Option<Box<dyn Renderer + Send>> = match formats {
            Formats::Pdf | Formats::Both => {
                let mut engine = PdfEngine::new(templates)?;
                engine.set_limits(limits.pdf);
                Some(match pdf_from {
                    PdfFrom::Typst => Box::new(PdfRenderer::new(engine)),
                    PdfFrom::Docx => Box::new(docx_pdf::DocxPdfRenderer::new(
                        DocxRenderer::with_limits(templates, limits.docx)?,
                        engine,
                    )),
                })
            }
            Formats::Docx => None,
        };
        let docx: Option<Box<dyn Renderer + Send>> = match formats {
            Formats::Docx | Formats::Both => {
                Some(Box::new(DocxRenderer::with_limits(templates, limits.docx)?))
            }
            Formats::Pdf => None,
        };
        Ok(Self {
            pdf,
            docx,
            pool: None,
        })
    }

    /// Every document rendered in a worker process started from `program`, under
    /// `limits.process` ([`worker`]). The templates are loaded here once first, so a broken one
    /// is reported now, as by [`in_process`](Self::in_process), not at the first document.
    pub fn isolated(
        templates: &templates::Templates,
        formats: Formats,
        limits: Limits,
        pdf_from: PdfFrom,
        program: &worker::WorkerProgram,
    ) -> Result<Self, BackendError> {
        drop(Self::in_process(templates, formats, limits, pdf_from)?);
        let pool = worker::Pool::new(program, templates, formats, limits, pdf_from, false);
        let isolated = |name| -> Box<dyn Renderer + Send> {
            Box::new(worker::IsolatedRenderer::new(
                std::sync::Arc::clone(&pool),
                name,
            ))
        };
        Ok(Self {
            pdf: matches!(formats, Formats::Pdf | Formats::Both).then(|| isolated("pdf")),
            docx: matches!(formats, Formats::Docx | Formats::Both).then(|| isolated("docx")),
            pool: Some(pool),
        })
    }

    /// The render workers alive now (none in-process): to see that a stopped one is gone.
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pool.as_ref().map(|p| p.pids()).unwrap_or_default()
    }

    /// Every renderer's [`Renderer::notes`], for the end of a batch.
    pub fn notes(&self) -> Vec<String> {
        self.renderers().iter().flat_map(|r| r.notes()).collect()
    }

    /// The renderers, PDF first.
    pub fn renderers(&self) -> Vec<&dyn Renderer> {
        let mut renderers: Vec<&dyn Renderer> = Vec::new();
        renderers.extend(self.pdf.as_deref().map(|r| r as &dyn Renderer));
        renderers.extend(self.docx.as_deref().map(|r| r as &dyn Renderer));
        renderers
    }
}

/// The page images of documents (the web page's thumbnails), from the Typst templates, as
/// [`Backends`] renders: in a bounded worker process when this process registered one.
pub struct Previews(PreviewsBy);

enum PreviewsBy {
    InProcess(PdfEngine),
    Workers(std::sync::Arc<worker::Pool>),
}

impl Previews {
    /// With the office's templates (the Typst ones), in workers if this process registered one.
    /// The templates are loaded here first either way, so a broken one is reported now.
    pub fn new(templates: &templates::Templates, limits: Limits) -> Result<Self, BackendError> {
        let engine = PdfEngine::new(templates)?;
        Ok(Self(match worker::registered() {
            Some(program) => PreviewsBy::Workers(worker::Pool::new(
                program,
                templates,
                Formats::Pdf,
                limits,
                PdfFrom::Typst,
                true,
            )),
            None => PreviewsBy::InProcess(engine),
        }))
    }

    /// Each page of `document` as a PNG, `pixels_per_pt` pixels per point.
    pub fn pages(
        &self,
        document: &PlannedDocument,
        pixels_per_pt: f64,
    ) -> Result<Vec<Vec<u8>>, RenderError> {
        match &self.0 {
            PreviewsBy::InProcess(engine) => {
                worker::previews_in_process(engine, document, pixels_per_pt)
            }
            PreviewsBy::Workers(pool) => worker::previews_isolated(pool, document, pixels_per_pt),
        }
    }
}

/// Renders `documents` into `dir` through a staging folder: all files or none.
pub fn render_to_dir(
    documents: &[PlannedDocument],
    renderers: &[&dyn Renderer],
    dir: &Path,
    threads: usize,
) -> Result<Vec<PathBuf>, RenderError> {
    let staging = Staging::new(dir)?;
    render_each(documents, renderers, threads, &|file| staging.write(&file))?;
    staging.commit()
}

/// Worker threads for a batch: every core (Typst renders are independent).
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The context itself, as pretty JSON: what the templates see (the fixed sentences of the
/// wording file included, as the Typst templates read them), for template authors and for
/// feeding the same data to other tools (bench/compare.sh runs the typst CLI on it).
pub struct JsonRenderer {
    wording: wording::Wording,
}

impl JsonRenderer {
    /// With the office's wording file if `templates` has one, else the built-in one.
    pub fn new(templates: &templates::Templates) -> Result<Self, BackendError> {
        let wording =
            wording::Wording::load(templates).map_err(|e| BackendError::Wording(Box::new(e)))?;
        Ok(Self { wording })
    }
}

impl Renderer for JsonRenderer {
    fn name(&self) -> &'static str {
        "json"
    }

    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
        let context_error = |error| RenderError::Context {
            document: document.label_vi(),
            error,
        };
        let mut value = serde_json::to_value(&document.context).map_err(context_error)?;
        self.wording
            .apply(document.kind, &mut value)
            .map_err(|error| RenderError::Pdf {
                document: document.label_vi(),
                error: pdf::PdfError::from(error),
            })?;
        serde_json::to_vec_pretty(&value).map_err(context_error)
    }
}

/// One rendered file, still in memory.
#[derive(Debug, Clone)]
pub struct RenderedFile {
    pub file_name: String,
    pub kind: DocumentKind,
    pub unit: Option<String>,
    pub bytes: Vec<u8>,
}

/// Renders every document with every renderer, on `threads` worker threads, handing each
/// file to `sink` as soon as it is ready (so a province's batch is never all in memory).
/// The first error stops the other workers and is returned.
pub fn render_each(
    documents: &[PlannedDocument],
    renderers: &[&dyn Renderer],
    threads: usize,
    sink: &(dyn Fn(RenderedFile) -> Result<(), RenderError> + Sync),
) -> Result<(), RenderError> {
    let jobs: Vec<(&PlannedDocument, &dyn Renderer)> = documents
        .iter()
        .flat_map(|d| renderers.iter().map(move |r| (d, *r)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = threads.clamp(1, jobs.len().max(1));
    let first_error: std::sync::Mutex<Option<(usize, RenderError)>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((document, renderer)) = jobs.get(i) else {
                        break;
                    };
                    // A panic in one document's rendering (a crate's bug reached by odd input)
                    // becomes that document's error: the batch stops cleanly, nothing written.
                    let rendered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        renderer.render(document)
                    }))
                    .unwrap_or_else(|payload| {
                        Err(RenderError::Panic {
                            document: document.label_vi(),
                            message: pdf::panic_text(payload.as_ref()),
                        })
                    });
                    let result = rendered
                        .map(|bytes| RenderedFile {
                            file_name: format!("{}.{}", document.file_stem, renderer.name()),
                            kind: document.kind,
                            unit: document.unit.clone(),
                            bytes,
                        })
                        .and_then(sink);
                    if let Err(error) = result {
                        let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        // Keep the error of the earliest document, so the message is stable.
                        if slot.as_ref().is_none_or(|(j, _)| i < *j) {
                            *slot = Some((i, error));
                        }
                        // Stop the other workers early: the batch is lost anyway.
                        next.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    match first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some((_, error)) => Err(error),
        None => Ok(()),
    }
}

/// Renders every document with every renderer and returns the files in document order, for
/// callers that need the bytes (attachments, hashes).
pub fn render_all(
    documents: &[PlannedDocument],
    renderers: &[&dyn Renderer],
    threads: usize,
) -> Result<Vec<RenderedFile>, RenderError> {
    let files = std::sync::Mutex::new(Vec::new());
    render_each(documents, renderers, threads, &|file| {
        files.lock().unwrap_or_else(|e| e.into_inner()).push(file);
        Ok(())
    })?;
    let mut files = files.into_inner().unwrap_or_else(|e| e.into_inner());
    let order = |f: &RenderedFile| {
        let d = documents
            .iter()
            .position(|d| f.file_name.starts_with(&format!("{}.", d.file_stem)));
        let r = renderers
            .iter()
            .position(|r| f.file_name.ends_with(&format!(".{}", r.name())));
        (d, r)
    };
    files.sort_by_key(order);
    Ok(files)
}

/// An output folder filled through a hidden staging folder beside it: files appear in the
/// real folder only when the whole batch succeeded, and a failed batch leaves nothing behind.
pub struct Staging {
    target: PathBuf,
    staging: PathBuf,
    names: std::sync::Mutex<Vec<String>>,
    committed: bool,
    /// Folders above the target this batch created, deepest first: removed again (when empty)
    /// if the batch fails, so a failed render leaves no empty `out/` behind.
    created: Vec<PathBuf>,
}

impl Staging {
    pub fn new(target: &Path) -> Result<Self, RenderError> {
        let parent = target.parent().unwrap_or(Path::new("."));
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let created: Vec<PathBuf> = parent
            .ancestors()
            .take_while(|dir| !dir.as_os_str().is_empty() && !dir.exists())
            .map(Path::to_path_buf)
            .collect();
        std::fs::create_dir_all(parent).map_err(|error| RenderError::Write {
            path: parent.to_path_buf(),
            error,
        })?;
        // A fresh folder with an unpredictable name, created exclusively: a link planted under
        // a predictable name could otherwise send the batch into another folder.
        let staging = tempfile::Builder::new()
            .prefix(&format!(".{name}.partial-"))
            .tempdir_in(parent)
            .map_err(|error| RenderError::Write {
                path: parent.join(format!(".{name}.partial-…")),
                error,
            })?
            .keep();
        Ok(Self {
            target: target.to_path_buf(),
            staging,
            names: Default::default(),
            committed: false,
            created,
        })
    }

    pub fn write(&self, file: &RenderedFile) -> Result<(), RenderError> {
        let path = self.staging.join(&file.file_name);
        crate::files::write_atomically(&path, &file.bytes)
            .map_err(|error| RenderError::Write { path, error })?;
        self.names
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(file.file_name.clone());
        Ok(())
    }

    /// Moves every staged file into the target folder (replacing older versions).
    pub fn commit(mut self) -> Result<Vec<PathBuf>, RenderError> {
        std::fs::create_dir_all(&self.target).map_err(|error| RenderError::Write {
            path: self.target.clone(),
            error,
        })?;
        let mut names = std::mem::take(&mut *self.names.lock().unwrap_or_else(|e| e.into_inner()));
        names.sort();
        let mut moved = Vec::with_capacity(names.len());
        for name in names {
            let to = self.target.join(&name);
            std::fs::rename(self.staging.join(&name), &to).map_err(|error| RenderError::Write {
                path: to.clone(),
                error,
            })?;
            moved.push(to);
        }
        self.committed = true;
        let _ = std::fs::remove_dir_all(&self.staging);
        Ok(moved)
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
            // remove_dir only removes an empty folder: anything another process put there stays.
            for dir in &self.created {
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

/// Writes rendered files into `dir`, each atomically. If one cannot be written, the ones
/// written by this call are removed again.
pub fn write_all(dir: &Path, files: &[RenderedFile]) -> Result<Vec<PathBuf>, RenderError> {
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(&file.file_name);
        if let Err(error) = write_atomically(&path, &file.bytes) {
            for done in &written {
                let _ = std::fs::remove_file(done);
            }
            return Err(RenderError::Write { path, error });
        }
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_that_fails_leaves_no_folder_it_created() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out").join("2024-h1");
        let staging = Staging::new(&target).unwrap();
        assert!(root.path().join("out").is_dir());
        drop(staging);
        assert!(!root.path().join("out").exists());

        // A folder that was there before stays, with what it held.
        std::fs::create_dir(root.path().join("out")).unwrap();
        std::fs::write(root.path().join("out/ghi-chu.txt"), "x").unwrap();
        drop(Staging::new(&target).unwrap());
        assert!(root.path().join("out/ghi-chu.txt").exists());
        assert_eq!(
            std::fs::read_dir(root.path().join("out")).unwrap().count(),
            1
        );
    }
}
