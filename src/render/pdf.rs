//! PDF by Typst, in-process: one engine loads the fonts and parses the templates once and then
//! serves any number of documents, each reading its data from a virtual `/data.json`.

use std::collections::HashMap;

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
    library: LazyHash<Library>,
    fonts: FontStore,
    sources: HashMap<FileId, Source>,
    origins: HashMap<FileId, String>,
    data_id: FileId,
    pdf_a: bool,
    check_pages: bool,
}

fn file_id(path: &str) -> Result<FileId, PdfError> {
    let vpath = VirtualPath::new(path).map_err(|_| PdfError::BadPath(path.to_string()))?;
    Ok(RootedPath::new(VirtualRoot::Project, vpath).intern())
}

/// The main template of each document kind.
pub fn template_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::ReviewReport => "review-report.typ",
        DocumentKind::ConclusionNotice => "conclusion-notice.typ",
        DocumentKind::AssignmentLetter => "assignment-letter.typ",
    }
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
            library: LazyHash::new(Library::builder().build()),
            fonts: FontStore::embedded(),
            sources,
            origins,
            data_id: file_id(DATA_PATH)?,
            pdf_a: true,
            check_pages: true,
        })
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
    pub fn render(
        &self,
        kind: DocumentKind,
        data: &[u8],
        today: NaiveDate,
    ) -> Result<Vec<u8>, PdfError> {
        let world = DocumentWorld {
            engine: self,
            main: file_id(&format!("/{}", template_name(kind)))?,
            data: Bytes::new(data.to_vec()),
            today,
        };
        let warned = typst::compile::<PagedDocument>(&world);
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
                    self.describe(&world, font_warnings.into_iter()),
                ));
            }
            Err(errors) => return Err(PdfError::Compile(self.describe(&world, errors.iter()))),
        };
        if self.check_pages {
            super::page_check::check(&super::page_check::frames::layout(&document))?;
        }
        let standards = if self.pdf_a {
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
            ..PdfOptions::default()
        };
        let pdf = typst_pdf::pdf(&document, &options)
            .map_err(|errors| PdfError::Export(self.describe(&world, errors.iter())));
        // Without eviction memory grows by about 1 MB per render (typst-findings.md). Keeping
        // the entries of the previous render lets consecutive documents share what they have in
        // common (the frame, the header of a batch of letters): letters render in about 3.4 ms
        // instead of 5.2, and RSS stays flat (benches/render.rs).
        typst::comemo::evict(CACHE_MAX_AGE);
        pdf
    }

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
            engine: self,
            main: file_id(&format!("/{}", template_name(kind)))?,
            data: Bytes::new(data.to_vec()),
            today,
        };
        let document = typst::compile::<PagedDocument>(&world)
            .output
            .map_err(|errors| PdfError::Compile(self.describe(&world, errors.iter())))?;
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

    /// Diagnostics as "template:line:column: message", at most MAX_DIAGNOSTICS of them.
    fn describe<'a>(
        &self,
        world: &DocumentWorld<'_>,
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

    fn locate(&self, world: &DocumentWorld<'_>, span: typst::syntax::DiagSpan) -> String {
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
struct DocumentWorld<'a> {
    engine: &'a PdfEngine,
    main: FileId,
    data: Bytes,
    today: NaiveDate,
}

impl World for DocumentWorld<'_> {
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
        self.engine
            .sources
            .get(&id)
            .cloned()
            .ok_or_else(|| FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.engine.data_id {
            return Ok(self.data.clone());
        }
        // Templates may also be read as bytes (e.g. `read("nd30.typ")`).
        self.engine
            .sources
            .get(&id)
            .map(|s| Bytes::from_string(s.text().to_string()))
            .ok_or_else(|| FileError::NotFound(id.vpath().get_without_slash().into()))
    }

    fn font(&self, index: usize) -> Option<Font> {
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
}
