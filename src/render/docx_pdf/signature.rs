//! The signature and seal images of a document issued with digital signatures, on the PDF made
//! from the office's DOCX: drawn in the room the DOCX leaves above the signer's name (the empty
//! paragraphs between the title and the name, ô 7b), as the Typst templates draw them in theirs:
//! the signature centred, as tall as that room, the seal at real size over its left third
//! (Phụ lục I §II.7c, §II.8). The room keeps its height, so pages break as on the draft.

use super::read::{Block, Inline, Model, Paragraph};
use crate::config::same_person;

/// The images to draw, by the virtual paths the PDF engine serves them at.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureImages {
    pub signature: String,
    pub seal: Option<String>,
}

/// The room for the images, replacing the empty paragraphs that made it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignatureSpace {
    /// Points: the empty paragraphs' heights with their spacing, as Word lays them out.
    pub height: f64,
    pub images: SignatureImages,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlaceError {
    #[error(
        "không thấy tên người ký «{0}» thành một đoạn riêng trong tệp DOCX (khối chữ ký): không \
         biết đặt hình chữ ký số ở đâu; hãy để tên người ký ({{{{ signer.name }}}}) một mình một \
         đoạn dưới chức vụ"
    )]
    NoName(String),
    #[error(
        "tệp DOCX không có chỗ trống phía trên tên người ký «{0}» (các đoạn trống giữa chức vụ \
         và tên) để đặt hình chữ ký số và con dấu; hãy để lại chỗ trống như mẫu có sẵn"
    )]
    NoRoom(String),
}

/// The paragraph's words, without surrounding space.
fn text(p: &Paragraph) -> String {
    let mut s = String::new();
    for inline in &p.content {
        match inline {
            Inline::Text(t, _) => s.push_str(t),
            Inline::Tab | Inline::LineBreak => s.push(' '),
            Inline::PageNumber(_) | Inline::PageBreak => {}
        }
    }
    s.trim().to_owned()
}

fn is_empty(block: &Block) -> bool {
    matches!(block, Block::Paragraph(p) if text(p).is_empty()
        && !p.content.iter().any(|i| matches!(i, Inline::PageBreak)))
}

/// Where a paragraph naming the signer stands: the path of table cells to its block list and
/// its index there.
type Found = (Vec<(usize, usize, usize)>, usize);

fn find(blocks: &[Block], name: &str, path: &mut Vec<(usize, usize, usize)>, out: &mut Vec<Found>) {
    for (i, block) in blocks.iter().enumerate() {
        match block {
            Block::Paragraph(p) if same_person(&text(p), name) => out.push((path.clone(), i)),
            Block::Paragraph(_) | Block::Signature(_) => {}
            Block::Table(t) => {
                for (r, row) in t.rows.iter().enumerate() {
                    for (c, cell) in row.cells.iter().enumerate() {
                        path.push((i, r, c));
                        find(&cell.blocks, name, path, out);
                        path.pop();
                    }
                }
            }
        }
    }
}

fn list_at<'m>(
    blocks: &'m mut Vec<Block>,
    path: &[(usize, usize, usize)],
) -> Option<&'m mut Vec<Block>> {
    let Some(((i, r, c), rest)) = path.split_first() else {
        return Some(blocks);
    };
    match blocks.get_mut(*i)? {
        Block::Table(t) => list_at(&mut t.rows.get_mut(*r)?.cells.get_mut(*c)?.blocks, rest),
        _ => None,
    }
}

/// Replaces the empty paragraphs just above the last paragraph that is the signer's `name`
/// (the signature block ends the document) with a [`SignatureSpace`] of their height.
pub fn place(model: &mut Model, name: &str, images: SignatureImages) -> Result<(), PlaceError> {
    let mut found = Vec::new();
    find(&model.body, name, &mut Vec::new(), &mut found);
    let (path, at) = found
        .pop()
        .ok_or_else(|| PlaceError::NoName(name.to_owned()))?;
    let blocks =
        list_at(&mut model.body, &path).ok_or_else(|| PlaceError::NoName(name.to_owned()))?;
    let start = blocks[..at]
        .iter()
        .rposition(|b| !is_empty(b))
        .map_or(0, |i| i + 1);
    if start == at {
        return Err(PlaceError::NoRoom(name.to_owned()));
    }
    let height: f64 = blocks[start..at]
        .iter()
        .map(|b| match b {
            Block::Paragraph(p) => {
                p.props.before
                    + super::emit::empty_height(p.props.line, p.mark.size)
                    + p.props.after
            }
            _ => 0.0,
        })
        .sum();
    blocks.splice(
        start..at,
        [Block::Signature(SignatureSpace { height, images })],
    );
    Ok(())
}
