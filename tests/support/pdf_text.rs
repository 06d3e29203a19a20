//! The text of a PDF, read in-process with hayro-interpret, the PDF interpreter typst itself
//! builds (typst-svg draws embedded PDFs with it): no poppler needed for the default tests.
//! Each glyph's Unicode comes from its font's ToUnicode CMap, the way typst's CID fonts
//! carry it; glyphs are taken in content-stream order (typst writes a block's lines in reading
//! order), with a line break where the baseline moves and a space where a gap opens on a line.
//! Included by path from the integration tests (tests/render.rs, tests/docx.rs, tests/send.rs).

// Each includer uses a different part.
#![allow(dead_code)]

use std::path::Path;

use hayro_interpret::font::Glyph;
use hayro_interpret::hayro_cmap::BfString;
use hayro_interpret::hayro_syntax::Pdf;
use hayro_interpret::{
    BlendMode, ClipPath, Context, Device, GlyphDrawMode, Image, InterpreterCache,
    InterpreterSettings, Paint, PathDrawMode, SoftMask, interpret_page,
};
use kurbo::{Affine, BezPath, Point, Rect};

/// The text of every page, pages separated by a form feed (as pdftotext does).
pub fn pdf_text(path: &Path) -> String {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let pdf = Pdf::new(data).unwrap_or_else(|e| panic!("{}: not a PDF: {e:?}", path.display()));
    let cache = InterpreterCache::new();
    let mut pages = Vec::new();
    for page in pdf.pages().iter() {
        let mut context = Context::new(
            Affine::IDENTITY,
            Rect::new(0.0, 0.0, 1.0, 1.0),
            &cache,
            pdf.xref(),
            InterpreterSettings::default(),
        );
        let mut reader = TextReader::default();
        interpret_page(page, &mut context, &mut reader);
        assert!(
            reader.unmapped == 0,
            "{}: {} glyphs without Unicode (no ToUnicode entry)",
            path.display(),
            reader.unmapped
        );
        pages.push(reader.text);
    }
    pages.join("\u{c}")
}

/// The words of a PDF with whitespace collapsed, so line breaks do not matter.
pub fn pdf_words(path: &Path) -> String {
    pdf_text(path)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Collects glyphs as text.
#[derive(Default)]
struct TextReader {
    text: String,
    /// Where the previous glyph ended: its baseline y, the x of its right edge, its em size.
    last: Option<(f64, f64, f64)>,
    unmapped: usize,
}

impl TextReader {
    fn glyph(&mut self, text: &str, transform: Affine, advance: Option<f32>) {
        // Glyph space is 1000 units to the em.
        let [a, b, c, d, _, _] = transform.as_coeffs();
        let origin = transform * Point::ORIGIN;
        let em = (c * c + d * d).sqrt() * 1000.0;
        let width = advance.map_or(0.0, |w| f64::from(w) * (a * a + b * b).sqrt());
        if let Some((y, right, last_em)) = self.last {
            let size = em.max(last_em);
            if (origin.y - y).abs() > size * 0.5 {
                self.text.push('\n');
            } else if origin.x - right > size * 0.15 || origin.x < right - size * 2.0 {
                self.text.push(' ');
            }
        }
        self.text.push_str(text);
        self.last = Some((origin.y, origin.x + width, em));
    }
}

impl<'a> Device<'a> for TextReader {
    fn set_soft_mask(&mut self, _: Option<SoftMask<'a>>) {}
    fn set_blend_mode(&mut self, _: BlendMode) {}
    fn draw_path(&mut self, _: &BezPath, _: Affine, _: &Paint<'a>, _: &PathDrawMode) {}
    fn push_clip_path(&mut self, _: &ClipPath) {}
    fn push_transparency_group(&mut self, _: f32, _: Option<SoftMask<'a>>, _: BlendMode) {}
    fn draw_glyph(
        &mut self,
        glyph: &Glyph<'a>,
        transform: Affine,
        glyph_transform: Affine,
        _: &Paint<'a>,
        _: &GlyphDrawMode,
    ) {
        let advance = match glyph {
            Glyph::Outline(outline) => outline.advance_width(),
            Glyph::Type3(_) => None,
        };
        match glyph.as_unicode() {
            Some(BfString::Char(c)) => {
                self.glyph(&c.to_string(), transform * glyph_transform, advance)
            }
            Some(BfString::String(s)) => self.glyph(&s, transform * glyph_transform, advance),
            None => self.unmapped += 1,
        }
    }
    fn draw_image(&mut self, _: Image<'a, '_>, _: Affine) {}
    fn pop_clip_path(&mut self) {}
    fn pop_transparency_group(&mut self) {}
}
