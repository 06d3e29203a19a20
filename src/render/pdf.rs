//! PDF by Typst, in-process: one engine loads the fonts and parses the templates once and then
//! serves any number of documents, each reading its data from a virtual `/data.json`.

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration as StdDuration;

use chrono::{Datelike, NaiveDate};
use typst::diag::{FileError, FileResult, Severity, SourceDiagnostic};
use typst::foundations::{Bytes, Datetime, Duration};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World, WorldExt};
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, PdfStandard, PdfStandards, Timestamp};

use super::templates::{TemplateError, TemplateFile, Templates};
use super::wording::{Wording, WordingError};
use crate::model::DocumentKind;

/// The fonts shipped in `fonts/` and embedded in the binary. Decree 30 prescribes Times New
/// Roman; Liberation Serif is metric-compatible with it and free to embed.
const FONTS: &[&[u8]] = &[
    include_bytes!("../../fonts/LiberationSerif-Regular.ttf"),
    include_bytes!("../../fonts/LiberationSerif-Bold.ttf"),
    include_bytes!("../../fonts/LiberationSerif-Italic.ttf"),
    include_bytes!("../../fonts/LiberationSerif-BoldItalic.ttf"),
];

/// The path templates read their data from; fixed, because typst interns file ids for the
/// life of the process (at most 2^16 of them).
const DATA_PATH: &str = "/data.json";

/// The path of a document's own main source ([`PdfEngine::render_source`]); fixed for the same
/// reason as [`DATA_PATH`].
const OWN_MAIN_PATH: &str = "/document.typ";

/// Memo-cache entries unused for this many renders are dropped (see `render`).
const CACHE_MAX_AGE: usize = 1;

/// How many Typst errors to show: one missing bracket can cascade into a hundred.
const MAX_DIAGNOSTICS: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("đường dẫn mẫu không hợp lệ: {0}")]
    BadPath(String),
    #[error("lỗi mẫu Typst:\n{0}")]
    Compile(String),
    #[error("lỗi xuất PDF:\n{0}")]
    Export(String),
    /// The laid-out pages break a Decree-30 rule (render/page_check.rs).
    #[error(transparent)]
    Layout(#[from] super::page_check::PageCheckError),
    #[error(
        "mẫu Typst tạo ra {pages} trang, quá giới hạn {limit} trang một văn bản (typst_max_pages trong [limits] của vanban.toml)"
    )]
    TooManyPages { pages: usize, limit: usize },
    #[error(
        "mẫu Typst chạy quá {seconds} giây cho một văn bản nên đã bị dừng (typst_max_seconds trong [limits] của vanban.toml); kiểm tra vòng lặp trong mẫu"
    )]
    TooSlow { seconds: u64 },
    #[error("bộ tạo PDF gặp lỗi nội bộ: {0}; chưa ghi tệp nào")]
    Panic(String),
    #[error(transparent)]
    Wording(Box<WordingError>),
}

// Boxed: the wording's errors carry a file, a key and a detail, and this one travels up every
// render call.
impl From<WordingError> for PdfError {
    fn from(error: WordingError) -> Self {
        PdfError::Wording(Box::new(error))
    }
}

/// What one document may cost: Typst has no timeout of its own (typst-findings.md), and an
/// office's template can loop or lay out pages without end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PdfLimits {
    pub max_pages: usize,
    pub max_time: StdDuration,
}

impl Default for PdfLimits {
    /// The longest real document (a year-end report) has about 20 pages and renders in well
    /// under a second; these leave room for any office while stopping a runaway template.
    fn default() -> Self {
        Self {
            max_pages: 200,
            max_time: StdDuration::from_secs(30),
        }
    }
}

/// The text of a caught panic, for the error message.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "không rõ nguyên nhân".into())
}

/// Fonts loaded once; the book's index i is `fonts[i]`.
struct FontStore {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

impl FontStore {
    fn embedded() -> Self {
        let fonts: Vec<Font> = FONTS
            .iter()
            .flat_map(|data| Font::iter(Bytes::new(*data)))
            .collect();
        let book = LazyHash::new(FontBook::from_fonts(&fonts));
        Self { book, fonts }
    }
}

/// Typst compiler state shared by every render: library, fonts, parsed templates.
pub struct PdfEngine {
    shared: Arc<Shared>,
    /// The fixed sentences, rendered into each document's data (`wording`).
    wording: Wording,
    pdf_a: bool,
    check_pages: bool,
    limits: PdfLimits,
}

/// What a document's compile thread needs; behind an `Arc` so a compile stopped at its deadline
/// can be left to wind down on its own thread while the caller goes on.
struct Shared {
    library: LazyHash<Library>,
    fonts: FontStore,
    sources: HashMap<FileId, Source>,
    origins: HashMap<FileId, String>,
    data_id: FileId,
}

fn file_id(path: &str) -> Result<FileId, PdfError> {
    let vpath = VirtualPath::new(path).map_err(|_| PdfError::BadPath(path.to_string()))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

/// The main template of each document kind.
pub fn template_name(kind: DocumentKind) -> &'static str {
    kind.spec().typst_template
}

impl PdfEngine {
    pub fn new(templates: &Templates) -> Result<Self, PdfError> {
        let mut sources = HashMap::new();
        let mut origins = HashMap::new();
        for TemplateFile {
            name,
            origin,
            bytes,
        } in templates.typst()?
        {
            let id = file_id(&format!("/{name}"))?;
            let text = String::from_utf8(bytes).map_err(|_| TemplateError::NotUtf8 {
                path: origin.clone().into(),
            })?;
            sources.insert(id, Source::new(id, text));
            origins.insert(id, origin);
        }
        Ok(Self {
            wording: Wording::load(templates)?,
            shared: Arc::new(Shared {
                library: LazyHash::new(Library::builder().build()),
                fonts: FontStore::embedded(),
                sources,
                origins,
                data_id: file_id(DATA_PATH)?,
            }),
            pdf_a: true,
            check_pages: true,
            limits: PdfLimits::default(),
        })
    }

    /// Pages and time one document may take (the config's `[limits]`).
    pub fn set_limits(&mut self, limits: PdfLimits) {
        self.limits = limits;
    }

    /// The document's data with its fixed sentences rendered in (`wording`, from loi-van.toml),
    /// as the templates read them. Data that is not a document's context (no `kind`: a test's
    /// bare data, or bad JSON that Typst then locates) or already carries its wording goes as it
    /// is.
    fn worded(&self, kind: DocumentKind, data: &[u8]) -> Result<Bytes, PdfError> {
        let Ok(mut value) = serde_json::from_slice::<serde_json::Value>(data) else {
            return Ok(Bytes::new(data.to_vec()));
        };
        if value.get("kind").is_none() || value.get("wording").is_some() {
            return Ok(Bytes::new(data.to_vec()));
        }
        self.wording.apply(kind, &mut value)?;
        let worded = serde_json::to_vec(&value).map_err(|e| PdfError::Export(e.to_string()))?;
        Ok(Bytes::new(worded))
    }

    /// Whether to write PDF/A-2b (the default: archival copies of official documents).
    pub fn set_pdf_a(&mut self, on: bool) {
        self.pdf_a = on;
    }

    /// Whether to refuse a document whose pages break Decree 30 (the default; off only to
    /// measure the check's cost or to look at a broken layout).
    pub fn set_page_check(&mut self, on: bool) {
        self.check_pages = on;
    }

    /// Renders one document from its JSON context. `today` answers the template's
    /// `datetime.today()`: the injected issue date, never the machine's clock.
    ///
    /// The compile runs on its own thread under a deadline: Typst cannot be interrupted, so at
    /// the deadline the caller gets [`PdfError::TooSlow`] at once and the world is cancelled:
    /// the compile's next font, file or source access panics, which unwinds it out of layout
    /// (a loop that never touches the world runs on until it ends, its result thrown away).
    /// That is this in-process engine's limit; the commands and the service render in worker
    /// processes killed at the deadline and bounded in memory ([`super::worker`]).
    /// A panic inside Typst or krilla (e.g. krilla's "not a char boundary") is caught and
    /// returned as [`PdfError::Panic`].
    pub fn render(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
    ) -> Result<Vec<u8>, PdfError> {
        self.render_with_files(kind, data, today, &[])
    }

    /// [`render`](Self::render) with files the template may read besides its data (virtual
    /// path, bytes): the signature and seal images of an issued document.
    pub fn render_with_files(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
        files: &[(&str, &[u8])],
    ) -> Result<Vec<u8>, PdfError> {
        let (pdf_a, check_pages, max_pages) = (self.pdf_a, self.check_pages, self.limits.max_pages);
        self.on_compile_thread(kind, data, today, files, move |world| {
            compile_and_export(world, pdf_a, check_pages, max_pages, true)
        })
    }

    /// The text of a document's pages as Typst laid them out, in layout order, without the page
    /// numbers in the top margin: what the wording guard compares with the DOCX's words. Under
    /// the same deadline as [`render`](Self::render).
    pub fn text(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
    ) -> Result<String, PdfError> {
        let max_pages = self.limits.max_pages;
        self.on_compile_thread(kind, data, today, &[], move |world| {
            let document = typst::compile::<PagedDocument>(world)
                .output
                .map_err(|errors| PdfError::Compile(world.engine.describe(world, errors.iter())))?;
            if document.pages().len() > max_pages {
                return Err(PdfError::TooManyPages {
                    pages: document.pages().len(),
                    limit: max_pages,
                });
            }
            Ok(super::parity::layout_text(
                &super::page_check::frames::layout(&document),
            ))
        })
    }

    /// Runs `job` on a compile thread of its own under the deadline (see [`render`](Self::render)).
    fn on_compile_thread<T: Send + 'static>(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
        files: &[(&str, &[u8])],
        job: impl FnOnce(&DocumentWorld) -> Result<T, PdfError> + Send + 'static,
    ) -> Result<T, PdfError> {
        let files = files
            .iter()
            .map(|(path, bytes)| Ok((file_id(path)?, Bytes::new(bytes.to_vec()))))
            .collect::<Result<Vec<_>, PdfError>>()?;
        let world = DocumentWorld {
            engine: Arc::clone(&self.shared),
            main: file_id(&format!("/{}", template_name(kind)))?,
            own_main: None,
            data: self.worded(kind, data)?,
            files,
            today,
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        self.compile_under_limits(world, job)
    }

    /// Compiles a whole Typst source made for one document (not a template: the PDF converted
    /// from an office's DOCX, render/docx_pdf) under the same limits, page check and PDF/A
    /// export as a template's document.
    pub fn render_source(&self, source: String, today: NaiveDate) -> Result<Vec<u8>, PdfError> {
        self.render_own_source(source, today, self.check_pages, &[], true)
    }

    /// [`render_source`](Self::render_source) with files the source reads besides itself
    /// (virtual path, bytes): the signature and seal images of a signed document.
    pub fn render_source_with_files(
        &self,
        source: String,
        today: NaiveDate,
        files: &[(&str, &[u8])],
    ) -> Result<Vec<u8>, PdfError> {
        self.render_own_source(source, today, self.check_pages, files, true)
    }

    /// [`render_source`](Self::render_source) for a piece that is not a page of a document (the
    /// stamp of a signature, render/stamp.rs): the Decree 30 page check does not apply to it.
    pub(crate) fn render_piece(
        &self,
        source: String,
        today: NaiveDate,
    ) -> Result<Vec<u8>, PdfError> {
        // Untagged: its content becomes a signature's appearance, outside any structure tree.
        self.render_own_source(source, today, false, &[], false)
    }

    fn render_own_source(
        &self,
        source: String,
        today: NaiveDate,
        check_pages: bool,
        files: &[(&str, &[u8])],
        tagged: bool,
    ) -> Result<Vec<u8>, PdfError> {
        let id = file_id(OWN_MAIN_PATH)?;
        let files = files
            .iter()
            .map(|(path, bytes)| Ok((file_id(path)?, Bytes::new(bytes.to_vec()))))
            .collect::<Result<Vec<_>, PdfError>>()?;
        let world = DocumentWorld {
            engine: Arc::clone(&self.shared),
            main: id,
            own_main: Some(Source::new(id, source)),
            data: Bytes::new(Vec::new()),
            files,
            today,
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        let (pdf_a, max_pages) = (self.pdf_a, self.limits.max_pages);
        self.compile_under_limits(world, move |world| {
            compile_and_export(world, pdf_a, check_pages, max_pages, tagged)
        })
    }

    /// Runs `job` on `world` on a compile thread of its own under the deadline (see
    /// [`render`](Self::render)).
    fn compile_under_limits<T: Send + 'static>(
        &self,
        world: DocumentWorld,
        job: impl FnOnce(&DocumentWorld) -> Result<T, PdfError> + Send + 'static,
    ) -> Result<T, PdfError> {
        let cancelled = Arc::clone(&world.cancelled);
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        let spawned = std::thread::Builder::new()
            .name("typst".into())
            // Typst recurses deeply on nested content; the main thread's size, not a worker's 2 MiB.
            .stack_size(8 << 20)
            .spawn(move || {
                let result =
                    catch_unwind(AssertUnwindSafe(|| job(&world))).unwrap_or_else(|payload| {
                        if world.cancelled.load(Ordering::Relaxed) {
                            Err(PdfError::Panic("đã dừng".into()))
                        } else {
                            Err(PdfError::Panic(panic_text(payload.as_ref())))
                        }
                    });
                // Without eviction memory grows by about 1 MB per render (typst-findings.md).
                // Keeping the entries of the previous render lets consecutive documents share
                // what they have in common (the frame, the header of a batch of letters):
                // letters render in about 3.4 ms instead of 5.2, and RSS stays flat
                // (benches/render.rs).
                typst::comemo::evict(CACHE_MAX_AGE);
                // The receiver is gone when the deadline passed: nothing to report to.
                let _ = sender.send(result);
            })
            .map_err(|e| PdfError::Panic(e.to_string()))?;
        drop(spawned);
        match receiver.recv_timeout(self.limits.max_time) {
            Ok(result) => result,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                cancelled.store(true, Ordering::Relaxed);
                Err(PdfError::TooSlow {
                    seconds: self.limits.max_time.as_secs(),
                })
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                Err(PdfError::Panic("luồng tạo PDF dừng bất thường".into()))
            }
        }
    }
}

impl PdfEngine {
    /// The laid-out pages of a document as the page check reads them, without the PDF export
    /// or the check itself: for `cargo bench --bench render` to time the check alone
    /// against a whole render. Runs on the caller's thread, with no deadline.
    pub fn page_layout(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
    ) -> Result<super::page_check::Layout, PdfError> {
        let world = DocumentWorld {
            engine: Arc::clone(&self.shared),
            main: file_id(&format!("/{}", template_name(kind)))?,
            own_main: None,
            data: self.worded(kind, data)?,
            files: Vec::new(),
            today,
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        let document = typst::compile::<PagedDocument>(&world)
            .output
            .map_err(|errors| PdfError::Compile(self.shared.describe(&world, errors.iter())))?;
        Ok(super::page_check::frames::layout(&document))
    }
}

/// One document, compiled and written as PDF: the whole of Typst's work, run on the compile thread.
fn compile_and_export(
    world: &DocumentWorld,
    pdf_a: bool,
    check_pages: bool,
    max_pages: usize,
    tagged: bool,
) -> Result<Vec<u8>, PdfError> {
    {
        let today = world.today;
        let warned = typst::compile::<PagedDocument>(world);
        // A font the template asks for but the engine lacks must not silently fall back:
        // Decree 30 prescribes the typeface.
        let font_warnings: Vec<&SourceDiagnostic> = warned
            .warnings
            .iter()
            .filter(|w| w.message.contains("unknown font family"))
            .collect();
        let document = match warned.output {
            Ok(doc) if font_warnings.is_empty() => doc,
            Ok(_) => {
                return Err(PdfError::Compile(
                    world.engine.describe(world, font_warnings.into_iter()),
                ));
            }
            Err(errors) => {
                return Err(PdfError::Compile(
                    world.engine.describe(world, errors.iter()),
                ));
            }
        };
        // Checked before export, which costs as much again per page.
        if document.pages().len() > max_pages {
            return Err(PdfError::TooManyPages {
                pages: document.pages().len(),
                limit: max_pages,
            });
        }
        if check_pages {
            super::page_check::check(&super::page_check::frames::layout(&document))?;
        }
        let standards = if pdf_a {
            PdfStandards::new(&[PdfStandard::A_2b])
                .map_err(|e| PdfError::Export(e.message().to_string()))?
        } else {
            PdfStandards::default()
        };
        // PDF/A needs a creation date: the issue date, at midnight in Vietnam (UTC+7), so the
        // same input always gives the same file.
        let timestamp = Datetime::from_ymd_hms(
            today.year(),
            today.month() as u8,
            today.day() as u8,
            0,
            0,
            0,
        )
        .and_then(|dt| Timestamp::new_local(dt, 7 * 60));
        let options = PdfOptions {
            standards,
            timestamp,
            tagged,
            ..PdfOptions::default()
        };
        typst_pdf::pdf(&document, &options)
            .map_err(|errors| PdfError::Export(world.engine.describe(world, errors.iter())))
    }
}

impl PdfEngine {
    /// Each page as a PNG, `pixels_per_pt` pixels per point (the web page's thumbnails),
    /// compiled from the same templates and data as [`render`](Self::render)'s PDF.
    pub fn render_png_pages(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
        pixels_per_pt: f64,
    ) -> Result<Vec<Vec<u8>>, PdfError> {
        let world = DocumentWorld {
            engine: Arc::clone(&self.shared),
            main: file_id(&format!("/{}", template_name(kind)))?,
            own_main: None,
            data: self.worded(kind, data)?,
            files: Vec::new(),
            today,
            cancelled: Arc::new(AtomicBool::new(false)),
        };
        let document = typst::compile::<PagedDocument>(&world)
            .output
            .map_err(|errors| PdfError::Compile(world.engine.describe(&world, errors.iter())))?;
        let options = typst_render::RenderOptions {
            pixel_per_pt: typst::utils::Scalar::new(pixels_per_pt),
            render_bleed: false,
        };
        let pages = document
            .pages()
            .iter()
            .map(|page| {
                typst_render::render(page, &options)
                    .encode_png()
                    .map_err(|e| PdfError::Export(e.to_string()))
            })
            .collect();
        typst::comemo::evict(CACHE_MAX_AGE);
        pages
    }
}

impl Shared {
    /// Diagnostics as "template:line:column: message", at most MAX_DIAGNOSTICS of them.
    fn describe<'a>(
        &self,
        world: &DocumentWorld,
        diagnostics: impl Iterator<Item = &'a SourceDiagnostic>,
    ) -> String {
        let mut lines = Vec::new();
        for diagnostic in diagnostics.take(MAX_DIAGNOSTICS) {
            let level = match diagnostic.severity {
                Severity::Error => "lỗi",
                Severity::Warning => "cảnh báo",
            };
            let mut line = format!(
                "{}: {level}: {}",
                self.locate(world, diagnostic.span),
                diagnostic.message
            );
            for hint in &diagnostic.hints {
                line.push_str(&format!("\n  gợi ý: {}", hint.v));
            }
            for trace in &diagnostic.trace {
                line.push_str(&format!(
                    "\n  tại {}: {}",
                    self.locate(world, trace.span.into()),
                    trace.v
                ));
            }
            lines.push(line);
        }
        lines.join("\n")
    }

    fn locate(&self, world: &DocumentWorld, span: typst::syntax::DiagSpan) -> String {
        let Some(id) = span.id() else {
            return "(không rõ vị trí)".into();
        };
        let name = self
            .origins
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.vpath().get_without_slash().to_string());
        let Some(range) = world.range(span) else {
            return name;
        };
        let position = match self.sources.get(&id) {
            Some(source) => source
                .lines()
                .byte_to_line_column(range.start)
                .map(|(l, c)| (l + 1, c + 1)),
            // The data file: count lines in its bytes.
            None => {
                let bytes = world.data.as_slice();
                let before = &bytes[..range.start.min(bytes.len())];
                let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
                let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
                Some((line, column))
            }
        };
        match position {
            Some((line, column)) => format!("{name}:{line}:{column}"),
            None => name,
        }
    }
}

/// One document's view of the engine: its main template and its data.
struct DocumentWorld {
    engine: Arc<Shared>,
    main: FileId,
    /// A main source of the document's own (at [`OWN_MAIN_PATH`]) instead of a template.
    own_main: Option<Source>,
    data: Bytes,
    /// The document's own files besides its data (signature and seal images).
    files: Vec<(FileId, Bytes)>,
    today: NaiveDate,
    /// Set at the deadline: the next access to the world stops the compile.
    cancelled: Arc<AtomicBool>,
}

impl DocumentWorld {
    /// Unwinds a compile past its deadline out of Typst (caught by `catch_unwind` in `render`).
    fn stop_if_cancelled(&self) {
        if self.cancelled.load(Ordering::Relaxed) {
            std::panic::resume_unwind(Box::new("đã quá thời gian"));
        }
    }
}

impl World for DocumentWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.engine.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &self.engine.fonts.book
    }

    fn main(&self) -> FileId {
        self.main
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        self.stop_if_cancelled();
        if let Some(own) = self.own_main.as_ref().filter(|s| s.id() == id) {
            return Ok(own.clone());
        }
        self.engine
            .sources
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        self.stop_if_cancelled();
        if id == self.engine.data_id {
            return Ok(self.data.clone());
        }
        if let Some((_, bytes)) = self.files.iter().find(|(f, _)| *f == id) {
            return Ok(bytes.clone());
        }
        // Templates may also be read as bytes (e.g. `read("nd30.typ")`).
        self.engine
            .sources
            .get(&id)
            .map(|s| Bytes::from_string(s.text().to_string()))
            .ok_or_else(|| FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn font(&self, index: usize) -> Option<Font> {
        self.stop_if_cancelled();
        // The index can be stale or out of range: never index directly.
        self.engine.fonts.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        Datetime::from_ymd(
            self.today.year(),
            self.today.month() as u8,
            self.today.day() as u8,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_is_shared_across_threads() {
        fn is_send_sync<T: Send + Sync>() {}
        is_send_sync::<PdfEngine>();
    }

    #[test]
    fn bad_data_is_located_in_the_data_file() {
        let engine = PdfEngine::new(&Templates::builtin()).unwrap();
        let today = NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
        let error = engine
            .render(
                DocumentKind::ConclusionNotice,
                b"{\n  \"kind\": oops\n}",
                today,
            )
            .unwrap_err();
        let message = error.to_string();
        assert!(message.contains("data.json:2:"), "{message}");
    }

    fn engine_with_notice(template: &str, limits: PdfLimits) -> (tempfile::TempDir, PdfEngine) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("typst")).unwrap();
        let template = format!("#set text(font: \"Liberation Serif\")\n{template}");
        std::fs::write(dir.path().join("typst/conclusion-notice.typ"), template).unwrap();
        let mut engine = PdfEngine::new(&Templates::with_overrides(dir.path())).unwrap();
        engine.set_limits(limits);
        // These templates test the limits, not the layout: a bare page breaks Decree 30 on purpose.
        engine.set_page_check(false);
        (dir, engine)
    }

    #[test]
    fn a_template_that_lays_out_without_end_is_stopped_at_the_deadline() {
        let limits = PdfLimits {
            max_pages: 1_000_000,
            max_time: StdDuration::from_secs(1),
        };
        let (_dir, engine) = engine_with_notice(
            "#for i in range(10000000) [Trang #i #pagebreak()]\n",
            limits,
        );
        let today = NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
        let error = engine
            .render(DocumentKind::ConclusionNotice, b"{}", today)
            .unwrap_err();
        assert!(matches!(error, PdfError::TooSlow { seconds: 1 }), "{error}");
        assert!(error.to_string().contains("typst_max_seconds"), "{error}");
        // The engine is still usable: a small document renders after the stopped one.
        let (_dir, small) = engine_with_notice("Xin chào\n", limits);
        assert!(
            small
                .render(DocumentKind::ConclusionNotice, b"{}", today)
                .is_ok()
        );
    }

    #[test]
    fn pages_over_the_limit_are_an_error_before_export() {
        let limits = PdfLimits {
            max_pages: 20,
            max_time: StdDuration::from_secs(60),
        };
        let (_dir, engine) =
            engine_with_notice("#for i in range(30) [Trang #i #pagebreak()]\n", limits);
        let today = NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
        let error = engine
            .render(DocumentKind::ConclusionNotice, b"{}", today)
            .unwrap_err();
        assert!(
            matches!(error, PdfError::TooManyPages { limit: 20, .. }),
            "{error}"
        );
    }
}
