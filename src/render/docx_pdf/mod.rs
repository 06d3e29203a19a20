//! The PDF made from the office's filled DOCX (`pdf_from = "docx"`): the DOCX the filler
//! produces is read ([`read`]: the WordprocessingML subset administrative templates use) and
//! written as Typst source ([`emit`]), then compiled by the same [`PdfEngine`] as the built-in
//! templates, under the same limits, Decree-30 page check and PDF/A-2b export. An office that
//! reworks a template's layout in Word gets that layout in its PDF without LibreOffice.

pub mod emit;
pub mod read;
pub mod signature;

use std::collections::BTreeMap;

use super::docx::DocxRenderer;
use super::pdf::PdfEngine;
use super::{NoteCounts, PlannedDocument, RenderError, Renderer};

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

/// Why a filled DOCX did not become Typst source.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error("không chuyển được DOCX sang PDF: {0}")]
    Read(#[from] read::ReadError),
    #[error(transparent)]
    Signature(#[from] signature::PlaceError),
}

/// [`convert`] for a document issued with digital signatures: the signature and seal images
/// drawn in the room above the signer's name `signer`.
pub fn convert_signed(
    docx: &[u8],
    signer: &str,
    images: signature::SignatureImages,
) -> Result<Conversion, ConvertError> {
    let mut model = read::read(docx)?;
    signature::place(&mut model, signer, images)?;
    Ok(Conversion {
        source: emit::document(&model),
        ignored: model.ignored,
    })
}

/// The note at the end of a batch, a line per template: the Word elements its PDFs left out.
pub fn describe_notes(all: &NoteCounts) -> Vec<String> {
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

/// The PDF backend of `pdf_from = "docx"`: fills the DOCX template, converts it, compiles it.
pub struct DocxPdfRenderer {
    docx: DocxRenderer,
    engine: PdfEngine,
    /// The elements every conversion so far left out, by template: for the note at the end of
    /// a batch (`render` prints it; the service logs each document's).
    ignored: std::sync::Mutex<NoteCounts>,
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
        describe_notes(&self.ignored.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn take_notes(&self) -> NoteCounts {
        std::mem::take(&mut *self.ignored.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn render(&self, document: &PlannedDocument) -> Result<Vec<u8>, RenderError> {
        let filled = self.docx.render(document)?;
        // A document issued with digital signatures shows the signature and seal images (the
        // context names their virtual paths, `document.images` holds them).
        let signer = &document.context.signer;
        let converted = match &signer.signature_image {
            Some(signature) => convert_signed(
                &filled,
                &signer.name,
                signature::SignatureImages {
                    signature: signature.clone(),
                    seal: signer.seal_image.clone(),
                },
            ),
            None => convert(&filled).map_err(ConvertError::from),
        };
        let conversion = converted.map_err(|e| RenderError::Docx {
            document: document.label(),
            message: e.to_string(),
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
        let files: Vec<(&str, &[u8])> = document
            .images
            .iter()
            .map(|image| (image.path.as_str(), &image.bytes[..]))
            .collect();
        self.engine
            .render_source_with_files(source, document.date, &files)
            .map_err(|error| RenderError::Pdf {
                document: document.label(),
                error,
            })
    }
}

#[cfg(test)]
mod tests;
