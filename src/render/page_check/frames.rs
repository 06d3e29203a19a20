//! Reads Typst's laid-out pages into the check's neutral [`Layout`]: every text run with its
//! typeface, size and position, and every straight stroke (the rules under the motto and the
//! issuing body, table borders). Exact positions, straight from the layout: no PDF parsing.

use typst::layout::{Frame, FrameItem, Point};
use typst::text::FontStyle;
use typst::visualize::Geometry;
use typst_layout::PagedDocument;

use super::{Face, Layout, Page, Stroke, TextRun};

/// The layout of a compiled document.
pub fn layout(document: &PagedDocument) -> Layout {
    Layout {
        pages: document
            .pages()
            .iter()
            .map(|page| {
                let mut out = Page {
                    width: page.frame.width().to_pt(),
                    height: page.frame.height().to_pt(),
                    runs: Vec::new(),
                    strokes: Some(Vec::new()),
                };
                walk(&page.frame, Point::zero(), &mut out);
                out
            })
            .collect(),
    }
}

/// Collects the items of `frame`, placed at `origin` on the page. Templates only translate
/// (no rotation or scaling), so an offset is the whole transform.
fn walk(frame: &Frame, origin: Point, out: &mut Page) {
    for (pos, item) in frame.items() {
        let at = origin + *pos;
        match item {
            FrameItem::Group(group) => {
                let t = group.transform;
                walk(&group.frame, at + Point::new(t.tx, t.ty), out);
            }
            FrameItem::Text(text) => {
                let info = text.font.font().info();
                let x0 = at.x.to_pt();
                out.runs.push(TextRun {
                    text: text.text.to_string(),
                    x0,
                    x1: x0 + text.width().to_pt(),
                    baseline: at.y.to_pt(),
                    size: Some(text.size.to_pt()),
                    face: Some(Face {
                        family: info.family.clone(),
                        bold: info.variant.weight.to_number() >= 600,
                        italic: info.variant.style != FontStyle::Normal,
                    }),
                });
            }
            FrameItem::Shape(shape, _) => {
                let strokes = out.strokes.get_or_insert_with(Vec::new);
                let (x, y) = (at.x.to_pt(), at.y.to_pt());
                match &shape.geometry {
                    Geometry::Line(to) if shape.stroke.is_some() => strokes.push(Stroke {
                        x0: x.min(x + to.x.to_pt()),
                        y0: y.min(y + to.y.to_pt()),
                        x1: x.max(x + to.x.to_pt()),
                        y1: y.max(y + to.y.to_pt()),
                    }),
                    Geometry::Rect(size) => {
                        let (w, h) = (size.x.to_pt(), size.y.to_pt());
                        if shape.stroke.is_some() {
                            for (x0, y0, x1, y1) in [
                                (x, y, x + w, y),
                                (x, y + h, x + w, y + h),
                                (x, y, x, y + h),
                                (x + w, y, x + w, y + h),
                            ] {
                                strokes.push(Stroke { x0, y0, x1, y1 });
                            }
                        } else if shape.fill.is_some() && h < 2.0 {
                            // A thin filled rectangle reads as a rule.
                            strokes.push(Stroke {
                                x0: x,
                                y0: y + h / 2.0,
                                x1: x + w,
                                y1: y + h / 2.0,
                            });
                        }
                    }
                    _ => {}
                }
            }
            FrameItem::Image(..) | FrameItem::Link(..) | FrameItem::Tag(..) => {}
        }
    }
}
