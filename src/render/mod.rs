//! Rendering: which documents a period yields, their contexts, and the backends (PDF by Typst,
//! DOCX by template filling) that turn a context into a file, in the manner of mdBook's
//! `Renderer` between the book and its outputs.

pub mod context;
pub mod docx;
pub mod pdf;
pub mod templates;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;

pub use context::DocumentContext;
pub use docx::DocxRenderer;
use pdf::{PdfEngine, PdfError};
use templates::write_atomically;

use crate::model::{DocumentKind, Half, Period};

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
}

impl PlannedDocument {
    /// "cong-van bqlda" style label for messages.
    pub fn label(&self) -> String {
        match &self.unit {
            Some(unit) => format!("{} ({unit})", self.kind.slug()),
            None => self.kind.slug().to_string(),
        }
    }
}

/// The documents of a period: the report, the notice, and a letter per unit with tasks.
/// `number` gives a document its number (from the register); None leaves the period file's.
pub fn plan(
    period: &Period,
    only: Option<DocumentKind>,
    number: &dyn Fn(DocumentKind, Option<&str>) -> Option<u32>,
) -> Vec<PlannedDocument> {
    let wanted = |kind| only.is_none_or(|k| k == kind);
    let mut documents = Vec::new();
    let date = period.documents.date;
    let review = match period.half {
        Half::First => "bao-cao-so-ket",
        Half::Whole => "bao-cao-tong-ket",
    };
    if wanted(DocumentKind::ReviewReport) {
        let kind = DocumentKind::ReviewReport;
        documents.push(PlannedDocument {
            kind,
            unit: None,
            file_stem: format!("01-{review}"),
            context: context::build(period, kind, None, number(kind, None)),
            date,
        });
    }
    if wanted(DocumentKind::ConclusionNotice) {
        let kind = DocumentKind::ConclusionNotice;
        documents.push(PlannedDocument {
            kind,
            unit: None,
            file_stem: "02-thong-bao-ket-luan".into(),
            context: context::build(period, kind, None, number(kind, None)),
            date,
        });
    }
    if wanted(DocumentKind::AssignmentLetter) {
        let kind = DocumentKind::AssignmentLetter;
        for unit in period.units_with_tasks() {
            documents.push(PlannedDocument {
                kind,
                unit: Some(unit.id.clone()),
                file_stem: format!("03-cong-van-{}", unit.id),
                context: context::build(period, kind, Some(unit), number(kind, Some(&unit.id))),
                date,
            });
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
    #[error("không ghi được {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// An output backend: turns a planned document into the bytes of one file.
pub trait Renderer: Sync {
    /// "pdf", "docx": also the file extension.
    fn name(&self) -> &'static str;
    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError>;
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
            document: document.label(),
            error,
        })?;
        self.engine
            .render(document.kind, &data, document.date)
            .map_err(|error| RenderError::Pdf {
                document: document.label(),
                error,
            })
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

/// Renders every document with every renderer, on `threads` worker threads. All documents are
/// rendered before anything is written, so a template error leaves no partial batch behind.
pub fn render_all(
    documents: &[PlannedDocument],
    renderers: &[&dyn Renderer],
    threads: usize,
) -> Result<Vec<RenderedFile>, RenderError> {
    let jobs: Vec<(&PlannedDocument, &dyn Renderer)> = documents
        .iter()
        .flat_map(|d| renderers.iter().map(move |r| (d, *r)))
        .collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    let threads = threads.clamp(1, jobs.len().max(1));
    let mut results: Vec<Option<Result<RenderedFile, RenderError>>> = Vec::new();
    results.resize_with(jobs.len(), || None);
    let results = std::sync::Mutex::new(results);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((document, renderer)) = jobs.get(i) else {
                        break;
                    };
                    let rendered = renderer.render(document).map(|bytes| RenderedFile {
                        file_name: format!("{}.{}", document.file_stem, renderer.name()),
                        kind: document.kind,
                        unit: document.unit.clone(),
                        bytes,
                    });
                    let failed = rendered.is_err();
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(rendered);
                    if failed {
                        // Stop the other workers early: the batch is lost anyway.
                        next.store(usize::MAX / 2, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut files = Vec::with_capacity(results.len());
    for result in results.into_iter().flatten() {
        files.push(result?);
    }
    Ok(files)
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
