//! The PDF made from the office's filled DOCX (`pdf_from = "docx"`): the DOCX the filler
//! produces is read ([`read`]: the WordprocessingML subset administrative templates use) and
//! written as Typst source ([`emit`]), then compiled by the same [`PdfEngine`] as the built-in
//! templates, under the same limits, Decree-30 page check and PDF/A-2b export. An office that
//! reworks a template's layout in Word gets that layout in its PDF without LibreOffice.

pub mod emit;
pub mod read;

use std::collections::BTreeMap;

use super::docx::DocxRenderer;
use super::pdf::PdfEngine;
use super::{PlannedDocument, RenderError, Renderer};

/// A DOCX converted to Typst source, with what the conversion left out.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub source: String,
    /// Word elements whose formatting the PDF does not carry (their words are kept), with counts.
    pub ignored: BTreeMap<String, usize>,
}

impl Conversion {
    /// "w:numPr ×3, w:shd ×1": the ignored elements, for a log line or a dump.
    pub fn ignored_summary(&self) -> String {
        self.ignored
            .iter()
            .map(|(name, n)| format!("{name} ×{n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Converts a filled DOCX to Typst source.
pub fn convert(docx: &[u8]) -> Result<Conversion, read::ReadError> {
    let model = read::read(docx)?;
    Ok(Conversion {
        source: emit::document(&model),
        ignored: model.ignored,
    })
}

/// The PDF backend of `pdf_from = "docx"`: fills the DOCX template, converts it, compiles it.
pub struct DocxPdfRenderer {
    docx: DocxRenderer,
    engine: PdfEngine,
    /// The elements every conversion so far left out, by template: for the note at the end of
    /// a batch (`render` prints it; the service logs each document's).
    ignored: std::sync::Mutex<BTreeMap<String, BTreeMap<String, usize>>>,
}

impl DocxPdfRenderer {
    pub fn new(docx: DocxRenderer, engine: PdfEngine) -> Self {
        Self {
            docx,
            engine,
            ignored: Default::default(),
        }
    }
}

impl Renderer for DocxPdfRenderer {
    fn name(&self) -> &'static str {
        "pdf"
    }

    fn notes(&self) -> Vec<String> {
        let all = self.ignored.lock().unwrap_or_else(|e| e.into_inner());
        all.iter()
            .map(|(template, counts)| {
                let list: Vec<String> = counts.iter().map(|(k, n)| format!("{k} ×{n}")).collect();
                format!(
                    "{template}: PDF làm từ DOCX chưa thể hiện được định dạng Word sau (chữ vẫn đủ): {}",
                    list.join(", ")
                )
            })
            .collect()
    }

    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
        // The signature and seal images of a signed document are drawn by the Typst templates
        // only; a PDF from the DOCX would leave without them. Refused before anything is made.
        if !document.images.is_empty() {
            return Err(RenderError::Docx {
                document: document.label(),
                message:
                    "pdf_from = \"docx\" chưa vẽ được hình chữ ký và con dấu của văn bản ký số; \
                          khi ký số, đặt pdf_from = \"typst\" trong vanban.toml"
                        .into(),
            });
        }
        let filled = self.docx.render(document)?;
        let conversion = convert(&filled).map_err(|e| RenderError::Docx {
            document: document.label(),
            message: format!("không chuyển được DOCX sang PDF: {e}"),
        })?;
        if !conversion.ignored.is_empty() {
            let template = self.docx.template(document.kind).name().to_string();
            let mut all = self.ignored.lock().unwrap_or_else(|e| e.into_inner());
            let counts = all.entry(template).or_default();
            for (name, n) in &conversion.ignored {
                *counts.entry(name.clone()).or_default() += n;
            }
            drop(all);
            // Named, never silent: the words are in the PDF, this formatting is not.
            tracing::warn!(
                document = %document.label(),
                ignored = %conversion.ignored_summary(),
                "PDF từ DOCX: định dạng Word chưa chuyển được (chữ vẫn giữ)"
            );
        }
        // The whole source, for an IT officer looking into a layout (RUST_LOG=debug).
        tracing::debug!(document = %document.label(), source = %conversion.source, "PDF từ DOCX: mã Typst");
        // The PDF's title and author, as the Typst templates set them (nd30.typ).
        let source = format!(
            "#set document(title: {}, author: {})\n{}",
            emit::string(&document.context.excerpt),
            emit::string(&document.context.issuer.name),
            conversion.source
        );
        self.engine
            .render_source(source, document.date)
            .map_err(|error| RenderError::Pdf {
                document: document.label(),
                error,
            })
    }
}

#[cfg(test)]
mod tests;
