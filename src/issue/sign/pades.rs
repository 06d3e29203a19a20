//! PAdES signature as an incremental update: the signature dictionary with /ByteRange and a
//! /Contents placeholder, a widget (/F 4; invisible with an empty appearance, or visible with an
//! [`Appearance`] whose fonts come embedded; PDF/A-2b either way), the AcroForm
//! with /SigFlags 3, and a cross-reference section of the same kind as the file's own (table or
//! stream). The bytes before the update are never touched, so earlier signatures stay intact.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Utc};
use lopdf::{Dictionary, Document, Object, ObjectId, StringFormat};
use sha2::{Digest, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("Không đọc được tệp PDF để ký: {0}.")]
    Unreadable(String),
    #[error("Tệp PDF để ký thiếu {0}.")]
    Missing(&'static str),
    #[error("Tệp PDF đã mã hóa (có mật khẩu): không ký được.")]
    Encrypted,
    #[error("Chữ ký (CMS) dài {needed} byte, vượt chỗ dành sẵn {reserved} byte trong PDF.")]
    ContentsTooSmall { needed: usize, reserved: usize },
}

/// What the signature dictionary says about one signature.
#[derive(Debug, Clone)]
pub struct SignatureInfo {
    /// The field name (/T), unique in the document, ASCII.
    pub field_name: String,
    /// Who signs, for /Name (readers show the certificate's name anyway).
    pub name: String,
    /// Why, for /Reason, e.g. "Ký ban hành" or "Văn thư đóng dấu (chữ ký số của cơ quan)".
    pub reason: Option<String>,
    /// Signing time for /M (PAdES: the time is here, never in the CMS).
    pub time: DateTime<Utc>,
}

/// A PDF with the signature placeholder appended; [`Prepared::digest`] is what the CMS signs and
/// [`Prepared::finish`] writes the CMS into the placeholder.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    /// Offset of the first hex digit of /Contents and the number of hex digits reserved.
    contents_at: usize,
    contents_len: usize,
}

impl Prepared {
    /// SHA-256 of the bytes the /ByteRange covers (everything but the /Contents hex string).
    pub fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(&self.bytes[..self.contents_at - 1]);
        hasher.update(&self.bytes[self.contents_at + self.contents_len + 1..]);
        hasher.finalize().into()
    }

    pub fn finish(mut self, cms: &[u8]) -> Result<Vec<u8>, PdfError> {
        if cms.len() * 2 > self.contents_len {
            return Err(PdfError::ContentsTooSmall {
                needed: cms.len(),
                reserved: self.contents_len / 2,
            });
        }
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for (i, b) in cms.iter().enumerate() {
            self.bytes[self.contents_at + 2 * i] = HEX[usize::from(b >> 4)];
            self.bytes[self.contents_at + 2 * i + 1] = HEX[usize::from(b & 15)];
        }
        Ok(self.bytes)
    }
}

/// A visible signature: what page 1 shows of it (Decree 30 box 14, the organisation's signature on
/// an electronic copy or a separate attachment, shows its stamp text top right). The picture is
/// the first page of a small PDF the caller typesets (fonts embedded, as PDF/A asks); its content
/// becomes the widget's appearance, its resources are copied into the update.
#[derive(Debug, Clone)]
pub struct Appearance {
    width: f32,
    height: f32,
    /// The page's content stream: its dictionary (filters kept) and its encoded bytes.
    content: lopdf::Stream,
    resources: Object,
    /// Every object the resources reach, by their ids in the source PDF.
    objects: BTreeMap<ObjectId, Object>,
    placement: Placement,
}

/// Where an appearance goes on page 1, in points: its right edge `right` from the page's right
/// edge, its bottom `bottom_from_top` below the page's top edge, but its top never nearer the top
/// edge than `min_top` (a taller stamp then reaches further down).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub right: f32,
    pub bottom_from_top: f32,
    pub min_top: f32,
}

/// At most this many objects and bytes of a stamp's resources: it is a few lines of text.
const APPEARANCE_MAX_OBJECTS: usize = 200;
const APPEARANCE_MAX_BYTES: usize = 4 << 20;

impl Appearance {
    /// Reads the first page of `pdf` as an appearance placed by `placement`.
    pub fn from_pdf(pdf: &[u8], placement: Placement) -> Result<Appearance, PdfError> {
        let unreadable = |what: &str| PdfError::Unreadable(format!("hình chữ ký: {what}"));
        let doc = Document::load_mem(pdf).map_err(|e| unreadable(&e.to_string()))?;
        let page_id = *doc
            .get_pages()
            .get(&1)
            .ok_or_else(|| unreadable("không có trang"))?;
        let page = doc
            .get_object(page_id)
            .and_then(Object::as_dict)
            .map_err(|_| unreadable("trang hỏng"))?;
        let media_box = page
            .get(b"MediaBox")
            .and_then(Object::as_array)
            .map_err(|_| unreadable("thiếu /MediaBox"))?;
        let number = |i: usize| {
            media_box
                .get(i)
                .and_then(|o| o.as_float().ok())
                .ok_or_else(|| unreadable("/MediaBox hỏng"))
        };
        let (x0, y0, x1, y1) = (number(0)?, number(1)?, number(2)?, number(3)?);
        if x0 != 0.0 || y0 != 0.0 || x1 <= 0.0 || y1 <= 0.0 {
            return Err(unreadable("/MediaBox không bắt đầu ở gốc tọa độ"));
        }
        let content = match page.get(b"Contents") {
            Ok(Object::Reference(id)) => doc
                .get_object(*id)
                .and_then(Object::as_stream)
                .map_err(|_| unreadable("nội dung trang hỏng"))?
                .clone(),
            Ok(_) => lopdf::Stream::new(
                Dictionary::new(),
                doc.get_page_content_with_limit(page_id, APPEARANCE_MAX_BYTES)
                    .map_err(|e| unreadable(&e.to_string()))?,
            ),
            Err(_) => return Err(unreadable("trang trống")),
        };
        let resources = match page.get(b"Resources") {
            Ok(Object::Reference(id)) => doc
                .get_object(*id)
                .map_err(|_| unreadable("/Resources hỏng"))?
                .clone(),
            Ok(other) => other.clone(),
            Err(_) => Object::Dictionary(Dictionary::new()),
        };
        let mut objects = BTreeMap::new();
        let mut pending = Vec::new();
        references(&resources, &mut pending);
        let mut bytes = 0;
        while let Some(id) = pending.pop() {
            if objects.contains_key(&id) {
                continue;
            }
            let object = doc
                .get_object(id)
                .map_err(|_| unreadable("thiếu đối tượng"))?
                .clone();
            references(&object, &mut pending);
            bytes += match &object {
                Object::Stream(s) => s.content.len(),
                _ => 0,
            };
            objects.insert(id, object);
            if objects.len() > APPEARANCE_MAX_OBJECTS || bytes > APPEARANCE_MAX_BYTES {
                return Err(unreadable("quá lớn"));
            }
        }
        Ok(Appearance {
            width: x1,
            height: y1,
            content,
            resources,
            objects,
            placement,
        })
    }

    /// Width and height in points.
    pub fn size(&self) -> (f32, f32) {
        (self.width, self.height)
    }

    /// The widget's rectangle, in the page's own coordinates, on a page whose visible box is
    /// `page_box` and which a reader turns by `rotate` degrees clockwise (/Rotate): placed at
    /// the top right of the page as the reader shows it.
    pub fn rect(&self, page_box: [f32; 4], rotate: u16) -> [f32; 4] {
        let [x0, y0, x1, y1] = page_box;
        // The page as shown: its width and height after the turn.
        let (width, height) = match rotate {
            90 | 270 => (y1 - y0, x1 - x0),
            _ => (x1 - x0, y1 - y0),
        };
        let right = width - self.placement.right;
        let top = (height - self.placement.bottom_from_top + self.height)
            .min(height - self.placement.min_top);
        // Shown coordinates (from the shown page's lower left) back to the page's own.
        let own = |sx: f32, sy: f32| match rotate {
            90 => (x1 - sy, y0 + sx),
            180 => (x1 - sx, y1 - sy),
            270 => (x0 + sy, y1 - sx),
            _ => (x0 + sx, y0 + sy),
        };
        let (ax, ay) = own(right - self.width, top - self.height);
        let (bx, by) = own(right, top);
        [ax.min(bx), ay.min(by), ax.max(bx), ay.max(by)]
    }

    /// The appearance's /Matrix on a page turned by `rotate`: turned the other way, so the
    /// stamp reads upright as the page is shown.
    fn matrix(rotate: u16) -> Option<[i64; 6]> {
        match rotate {
            90 => Some([0, 1, -1, 0, 0, 0]),
            180 => Some([-1, 0, 0, -1, 0, 0]),
            270 => Some([0, -1, 1, 0, 0, 0]),
            _ => None,
        }
    }
}

/// Every indirect reference inside `object`, appended to `out`.
fn references(object: &Object, out: &mut Vec<ObjectId>) {
    match object {
        Object::Reference(id) => out.push(*id),
        Object::Array(items) => items.iter().for_each(|o| references(o, out)),
        Object::Dictionary(dict) => dict.iter().for_each(|(_, o)| references(o, out)),
        Object::Stream(stream) => stream.dict.iter().for_each(|(_, o)| references(o, out)),
        _ => {}
    }
}

/// `object` with every reference renumbered by `ids`.
fn renumbered(object: &Object, ids: &BTreeMap<ObjectId, ObjectId>) -> Object {
    let dict = |d: &Dictionary| {
        let mut out = Dictionary::new();
        for (k, v) in d.iter() {
            out.set(k.clone(), renumbered(v, ids));
        }
        out
    };
    match object {
        Object::Reference(id) => Object::Reference(ids.get(id).copied().unwrap_or(*id)),
        Object::Array(items) => Object::Array(items.iter().map(|o| renumbered(o, ids)).collect()),
        Object::Dictionary(d) => Object::Dictionary(dict(d)),
        Object::Stream(s) => {
            let mut stream = s.clone();
            stream.dict = dict(&s.dict);
            Object::Stream(stream)
        }
        other => other.clone(),
    }
}

/// Placeholder for the four /ByteRange numbers, patched in place once offsets are known.
const BYTE_RANGE_PLACEHOLDER: &str = "[0 0000000000 0000000000 0000000000]";

/// What an incremental update needs of a PDF's structure: the catalog, page 1, the form and the
/// cross-reference section to chain to. Read once from the file; after an update,
/// [`prepare_next`] returns the structure as the update left it, so a second signature needs no
/// second parse of the whole file (half the cost of signing).
#[derive(Debug, Clone)]
pub struct Structure {
    root_id: ObjectId,
    catalog: Dictionary,
    page_id: ObjectId,
    page: Dictionary,
    /// Page 1's visible box (its crop box, else its media box; its own or inherited), where
    /// a visible signature is placed, and its /Rotate (0, 90, 180 or 270).
    page_box: [f32; 4],
    rotate: u16,
    /// Page 1's /Annots when it is an indirect array: its id and items.
    annots: Option<(ObjectId, Vec<Object>)>,
    /// The AcroForm when it is an indirect object: its id and dictionary.
    acroform: Option<(ObjectId, Dictionary)>,
    /// The AcroForm's /Fields, resolved.
    fields: Vec<Object>,
    /// The fields' names (/T), so a new signature never takes one already there (an attachment
    /// that is itself a signed document has a "ChuKyCoQuan" of its own).
    field_names: Vec<Vec<u8>>,
    /// The first object number free for new objects.
    size: u32,
    info: Option<Object>,
    id: Option<Object>,
    xref_start: usize,
    xref_stream: bool,
}

impl Structure {
    /// Parses `pdf` and reads what an update needs.
    pub fn read(pdf: &[u8]) -> Result<Structure, PdfError> {
        let doc = Document::load_mem(pdf).map_err(|e| PdfError::Unreadable(e.to_string()))?;
        if doc.trailer.get(b"Encrypt").is_ok() {
            return Err(PdfError::Encrypted);
        }
        let root_id = doc
            .trailer
            .get(b"Root")
            .and_then(Object::as_reference)
            .map_err(|_| PdfError::Missing("mục lục gốc (/Root)"))?;
        let catalog = doc
            .get_object(root_id)
            .and_then(Object::as_dict)
            .map_err(|_| PdfError::Missing("mục lục gốc (/Root)"))?
            .clone();
        let page_id = *doc
            .get_pages()
            .get(&1)
            .ok_or(PdfError::Missing("trang đầu"))?;
        let page = doc
            .get_object(page_id)
            .and_then(Object::as_dict)
            .map_err(|_| PdfError::Missing("trang đầu"))?
            .clone();
        let page_box = inherited_box(&doc, page_id, b"CropBox")
            .or_else(|| inherited_box(&doc, page_id, b"MediaBox"))
            .unwrap_or(A4);
        let rotate = inherited(&doc, page_id, b"Rotate")
            .and_then(|r| r.as_i64().ok())
            .map_or(0, |r| r.rem_euclid(360) as u16);
        let rotate = if rotate.is_multiple_of(90) { rotate } else { 0 };
        let annots = match page.get(b"Annots") {
            Ok(Object::Reference(id)) => Some((
                *id,
                doc.get_object(*id)
                    .and_then(Object::as_array)
                    .cloned()
                    .unwrap_or_default(),
            )),
            _ => None,
        };
        let (acroform, form) = match catalog.get(b"AcroForm") {
            Ok(Object::Reference(id)) => {
                let dict = doc
                    .get_object(*id)
                    .and_then(Object::as_dict)
                    .map_err(|_| PdfError::Missing("biểu mẫu (/AcroForm)"))?
                    .clone();
                (Some((*id, dict.clone())), dict)
            }
            Ok(Object::Dictionary(d)) => (None, d.clone()),
            _ => (None, Dictionary::new()),
        };
        let fields = match form.get(b"Fields") {
            Ok(Object::Array(a)) => a.clone(),
            Ok(Object::Reference(id)) => doc
                .get_object(*id)
                .and_then(Object::as_array)
                .cloned()
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let field_names = fields
            .iter()
            .filter_map(|f| {
                let field = match f {
                    Object::Reference(id) => doc.get_object(*id).ok()?,
                    other => other,
                };
                match field.as_dict().ok()?.get(b"T").ok()? {
                    Object::String(name, _) => Some(name.clone()),
                    _ => None,
                }
            })
            .collect();
        Ok(Structure {
            root_id,
            field_names,
            catalog,
            page_id,
            page,
            page_box,
            rotate,
            annots,
            acroform,
            fields,
            size: doc.reference_table.size.max(doc.max_id + 1),
            info: doc.trailer.get(b"Info").ok().cloned(),
            id: doc.trailer.get(b"ID").ok().cloned(),
            xref_start: doc.xref_start,
            xref_stream: matches!(
                doc.reference_table.cross_reference_type,
                lopdf::xref::XrefType::CrossReferenceStream
            ),
        })
    }
}

/// A4 in points, for a page whose media box cannot be read.
const A4: [f32; 4] = [0.0, 0.0, 595.276, 841.89];

/// A page attribute looked up through the /Parent chain as PDF inheritance has it, references
/// resolved.
fn inherited<'d>(doc: &'d Document, page_id: ObjectId, key: &[u8]) -> Option<&'d Object> {
    let mut id = page_id;
    for _ in 0..32 {
        let node = doc.get_object(id).and_then(Object::as_dict).ok()?;
        if let Ok(value) = node.get(key) {
            return match value {
                Object::Reference(r) => doc.get_object(*r).ok(),
                v => Some(v),
            };
        }
        id = node.get(b"Parent").and_then(Object::as_reference).ok()?;
    }
    None
}

/// A page's box (/MediaBox, /CropBox), normalised so the first corner is the lower left.
fn inherited_box(doc: &Document, page_id: ObjectId, key: &[u8]) -> Option<[f32; 4]> {
    let array = inherited(doc, page_id, key)?.as_array().ok()?;
    if array.len() != 4 {
        return None;
    }
    let mut v = [0.0; 4];
    for (slot, value) in v.iter_mut().zip(array) {
        *slot = match value {
            Object::Reference(r) => doc.get_object(*r).ok()?.as_float().ok()?,
            v => v.as_float().ok()?,
        };
    }
    Some([
        v[0].min(v[2]),
        v[1].min(v[3]),
        v[0].max(v[2]),
        v[1].max(v[3]),
    ])
}

/// Appends the signature field, its widget on page 1 and the signature dictionary to `pdf`,
/// reserving `contents_capacity` bytes for the CMS.
pub fn prepare(
    pdf: &[u8],
    info: &SignatureInfo,
    contents_capacity: usize,
) -> Result<Prepared, PdfError> {
    let structure = Structure::read(pdf)?;
    Ok(prepare_next(&structure, pdf, info, contents_capacity, None).0)
}

/// [`prepare`] on a PDF whose structure is known: `structure` must be what [`Structure::read`]
/// (or the previous `prepare_next`) says of `pdf`. Returns the structure after this update.
pub fn prepare_next(
    structure: &Structure,
    pdf: &[u8],
    info: &SignatureInfo,
    contents_capacity: usize,
    appearance: Option<&Appearance>,
) -> (Prepared, Structure) {
    let mut after = structure.clone();
    let root_id = structure.root_id;
    let page_id = structure.page_id;
    let mut next_id = structure.size;
    let mut fresh = || {
        let id = (next_id, 0u16);
        next_id += 1;
        id
    };
    let sig_id = fresh();
    let appearance_id = fresh();
    let widget_id = fresh();

    // Objects written in this update, by id: fresh ones and rewritten ones (same id, newer body).
    let mut written: BTreeMap<ObjectId, Vec<u8>> = BTreeMap::new();

    // The AcroForm: rewrite it where it lives (indirect) or give the catalog a new indirect one.
    let (acroform_id, mut acroform, catalog_changes) = match &structure.acroform {
        Some((id, dict)) => (*id, dict.clone(), false),
        None => match structure.catalog.get(b"AcroForm") {
            Ok(Object::Dictionary(d)) => (fresh(), d.clone(), true),
            _ => (fresh(), Dictionary::new(), true),
        },
    };
    let mut fields = structure.fields.clone();
    fields.push(Object::Reference(widget_id));
    acroform.set("Fields", Object::Array(fields.clone()));
    acroform.set("SigFlags", Object::Integer(3));
    written.insert(
        acroform_id,
        serialize(&Object::Dictionary(acroform.clone())),
    );
    after.fields = fields;
    after.acroform = Some((acroform_id, acroform));
    if catalog_changes {
        after
            .catalog
            .set("AcroForm", Object::Reference(acroform_id));
        written.insert(
            root_id,
            serialize(&Object::Dictionary(after.catalog.clone())),
        );
    }

    // The widget goes into page 1's /Annots, wherever that array lives.
    match (&structure.annots, structure.page.get(b"Annots")) {
        (Some((annots_id, items)), _) => {
            let mut annots = items.clone();
            annots.push(Object::Reference(widget_id));
            written.insert(*annots_id, serialize(&Object::Array(annots.clone())));
            after.annots = Some((*annots_id, annots));
        }
        (None, Ok(Object::Array(a))) => {
            let mut annots = a.clone();
            annots.push(Object::Reference(widget_id));
            after.page.set("Annots", Object::Array(annots));
            written.insert(page_id, serialize(&Object::Dictionary(after.page.clone())));
        }
        (None, _) => {
            after
                .page
                .set("Annots", Object::Array(vec![Object::Reference(widget_id)]));
            written.insert(page_id, serialize(&Object::Dictionary(after.page.clone())));
        }
    }

    // PDF/A-2 wants an appearance for every widget, even an invisible one.
    let rect = match appearance {
        None => {
            written.insert(
                appearance_id,
                b"<</Type/XObject/Subtype/Form/BBox[0 0 0 0]/Resources<<>>/Length 0>>\nstream\n\nendstream"
                    .to_vec(),
            );
            [0.0; 4]
        }
        Some(appearance) => {
            // The stamp's objects get fresh numbers in this update, references renumbered.
            let ids: BTreeMap<ObjectId, ObjectId> =
                appearance.objects.keys().map(|id| (*id, fresh())).collect();
            for (old, object) in &appearance.objects {
                written.insert(ids[old], serialize(&renumbered(object, &ids)));
            }
            let mut form = appearance.content.clone();
            form.dict.set("Type", Object::Name(b"XObject".to_vec()));
            form.dict.set("Subtype", Object::Name(b"Form".to_vec()));
            form.dict.set(
                "BBox",
                Object::Array(vec![
                    Object::Integer(0),
                    Object::Integer(0),
                    Object::Real(appearance.width),
                    Object::Real(appearance.height),
                ]),
            );
            form.dict
                .set("Resources", renumbered(&appearance.resources, &ids));
            if let Some(matrix) = Appearance::matrix(structure.rotate) {
                form.dict.set(
                    "Matrix",
                    Object::Array(matrix.iter().map(|v| Object::Integer(*v)).collect()),
                );
            }
            form.dict
                .set("Length", Object::Integer(form.content.len() as i64));
            written.insert(appearance_id, serialize(&Object::Stream(form)));
            appearance.rect(structure.page_box, structure.rotate)
        }
    };
    let mut widget = Dictionary::new();
    widget.set("Type", Object::Name(b"Annot".to_vec()));
    widget.set("Subtype", Object::Name(b"Widget".to_vec()));
    widget.set("FT", Object::Name(b"Sig".to_vec()));
    // A name already taken gets "-2", "-3"…: two fields of one name would be one field.
    let taken = |name: &str| {
        let Object::String(bytes, _) = text_string(name) else {
            return false;
        };
        structure.field_names.contains(&bytes)
    };
    let mut field_name = info.field_name.clone();
    let mut n = 1;
    while taken(&field_name) {
        n += 1;
        field_name = format!("{}-{n}", info.field_name);
    }
    let title = text_string(&field_name);
    if let Object::String(bytes, _) = &title {
        after.field_names.push(bytes.clone());
    }
    widget.set("T", title);
    widget.set("V", Object::Reference(sig_id));
    widget.set("F", Object::Integer(4));
    widget.set(
        "Rect",
        Object::Array(
            rect.iter()
                .map(|v| match v.fract() == 0.0 {
                    true => Object::Integer(*v as i64),
                    false => Object::Real(*v),
                })
                .collect(),
        ),
    );
    widget.set("P", Object::Reference(page_id));
    let mut ap = Dictionary::new();
    ap.set("N", Object::Reference(appearance_id));
    widget.set("AP", Object::Dictionary(ap));
    written.insert(widget_id, serialize(&Object::Dictionary(widget)));

    let mut sig = Dictionary::new();
    sig.set("Type", Object::Name(b"Sig".to_vec()));
    sig.set("Filter", Object::Name(b"Adobe.PPKLite".to_vec()));
    sig.set("SubFilter", Object::Name(b"ETSI.CAdES.detached".to_vec()));
    sig.set(
        "M",
        Object::String(pdf_date(info.time).into_bytes(), StringFormat::Literal),
    );
    sig.set("Name", text_string(&info.name));
    if let Some(reason) = &info.reason {
        sig.set("Reason", text_string(reason));
    }
    let mut sig_body = serialize(&Object::Dictionary(sig));
    // /ByteRange and /Contents go last, written by hand so their offsets are known.
    sig_body.truncate(sig_body.len() - 2);
    let byte_range_in_sig = sig_body.len() + "/ByteRange".len();
    sig_body.extend_from_slice(b"/ByteRange");
    sig_body.extend_from_slice(BYTE_RANGE_PLACEHOLDER.as_bytes());
    sig_body.extend_from_slice(b"/Contents<");
    let contents_in_sig = sig_body.len();
    sig_body.resize(sig_body.len() + contents_capacity * 2, b'0');
    sig_body.extend_from_slice(b">>>");
    written.insert(sig_id, sig_body);

    // Append the update.
    let mut out = pdf.to_vec();
    if out.last() != Some(&b'\n') {
        out.push(b'\n');
    }
    let mut offsets: BTreeMap<ObjectId, usize> = BTreeMap::new();
    let mut sig_object_body_at = 0;
    for (id, body) in &written {
        offsets.insert(*id, out.len());
        let _ = writeln!(out, "{} {} obj", id.0, id.1);
        if *id == sig_id {
            sig_object_body_at = out.len();
        }
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    let trailer_common = {
        let mut t = Dictionary::new();
        t.set("Root", Object::Reference(root_id));
        if let Some(info) = &structure.info {
            t.set("Info", info.clone());
        }
        if let Some(id) = &structure.id {
            t.set("ID", id.clone());
        }
        t.set("Prev", Object::Integer(structure.xref_start as i64));
        t
    };
    match structure.xref_stream {
        false => {
            let xref_at = out.len();
            out.extend_from_slice(b"xref\n");
            for run in runs(&offsets) {
                let _ = writeln!(out, "{} {}", run[0].0.0, run.len());
                for (id, offset) in run {
                    let _ = write!(out, "{:010} {:05} n\r\n", offset, id.1);
                }
            }
            let mut trailer = trailer_common;
            trailer.set("Size", Object::Integer(i64::from(next_id)));
            out.extend_from_slice(b"trailer\n");
            out.extend_from_slice(&serialize(&Object::Dictionary(trailer)));
            let _ = write!(out, "\nstartxref\n{xref_at}\n%%EOF\n");
            after.size = next_id;
            after.xref_start = xref_at;
        }
        true => {
            // The update's own cross-reference stream is one more object.
            let xref_id = (next_id, 0u16);
            let xref_at = out.len();
            offsets.insert(xref_id, xref_at);
            let mut index = Vec::new();
            let mut data = Vec::new();
            for run in runs(&offsets) {
                index.push(Object::Integer(i64::from(run[0].0.0)));
                index.push(Object::Integer(run.len() as i64));
                for (id, offset) in run {
                    data.push(1u8);
                    data.extend_from_slice(&(offset as u32).to_be_bytes());
                    data.extend_from_slice(&id.1.to_be_bytes());
                }
            }
            let mut dict = trailer_common;
            dict.set("Type", Object::Name(b"XRef".to_vec()));
            dict.set("Size", Object::Integer(i64::from(next_id) + 1));
            dict.set(
                "W",
                Object::Array(vec![
                    Object::Integer(1),
                    Object::Integer(4),
                    Object::Integer(2),
                ]),
            );
            dict.set("Index", Object::Array(index));
            dict.set("Length", Object::Integer(data.len() as i64));
            let _ = writeln!(out, "{} 0 obj", xref_id.0);
            out.extend_from_slice(&serialize(&Object::Dictionary(dict)));
            out.extend_from_slice(b"\nstream\n");
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\nendstream\nendobj\n");
            let _ = write!(out, "startxref\n{xref_at}\n%%EOF\n");
            after.size = next_id + 1;
            after.xref_start = xref_at;
        }
    }

    // Patch /ByteRange: [0 a b c] where a is the offset of '<', b just after '>'.
    let contents_at = sig_object_body_at + contents_in_sig;
    let contents_len = contents_capacity * 2;
    let first_len = contents_at - 1;
    let second_at = contents_at + contents_len + 1;
    let second_len = out.len() - second_at;
    let numbers = format!("[0 {first_len} {second_at} {second_len}]");
    let padded = format!("{numbers:<width$}", width = BYTE_RANGE_PLACEHOLDER.len());
    let at = sig_object_body_at + byte_range_in_sig;
    out[at..at + padded.len()].copy_from_slice(padded.as_bytes());
    (
        Prepared {
            bytes: out,
            contents_at,
            contents_len,
        },
        after,
    )
}

/// Contiguous runs of object numbers, each a cross-reference subsection.
fn runs(offsets: &BTreeMap<ObjectId, usize>) -> Vec<Vec<(ObjectId, usize)>> {
    let mut runs: Vec<Vec<(ObjectId, usize)>> = Vec::new();
    for (id, offset) in offsets {
        match runs.last_mut() {
            Some(run) if run.last().is_some_and(|(last, _)| last.0 + 1 == id.0) => {
                run.push((*id, *offset))
            }
            _ => runs.push(vec![(*id, *offset)]),
        }
    }
    runs
}

fn serialize(object: &Object) -> Vec<u8> {
    let mut out = Vec::new();
    // Writing into a Vec cannot fail.
    let _ = lopdf::Writer::write_object(&mut out, object);
    out
}

/// A PDF text string: plain bytes for ASCII, UTF-16BE with a byte-order mark otherwise.
fn text_string(text: &str) -> Object {
    if text.is_ascii() {
        Object::String(text.as_bytes().to_vec(), StringFormat::Literal)
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        Object::String(bytes, StringFormat::Hexadecimal)
    }
}

/// PDF date in Vietnam time: D:YYYYMMDDHHmmSS+07'00'.
fn pdf_date(time: DateTime<Utc>) -> String {
    let local = time.with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    format!("D:{}+07'00'", local.format("%Y%m%d%H%M%S"))
}

/// One signature a PDF carries, as a verifier reads it.
#[derive(Debug, Clone)]
pub struct FoundSignature {
    pub field_name: String,
    pub byte_range: [usize; 4],
    /// The CMS bytes of /Contents (with the placeholder's trailing zeros).
    pub contents: Vec<u8>,
}

/// The signatures a PDF carries, in the order of the AcroForm's fields.
pub fn signatures(pdf: &[u8]) -> Result<Vec<FoundSignature>, PdfError> {
    let doc = Document::load_mem(pdf).map_err(|e| PdfError::Unreadable(e.to_string()))?;
    let root = doc
        .trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .and_then(|id| doc.get_object(id))
        .and_then(Object::as_dict)
        .map_err(|_| PdfError::Missing("mục lục gốc (/Root)"))?;
    let acroform = match root.get(b"AcroForm") {
        Ok(Object::Reference(id)) => doc.get_object(*id).and_then(Object::as_dict).ok(),
        Ok(Object::Dictionary(d)) => Some(d),
        _ => None,
    };
    let Some(fields) = acroform
        .and_then(|a| a.get(b"Fields").ok())
        .and_then(|f| f.as_array().ok())
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for field in fields {
        let Some(field) = field
            .as_reference()
            .ok()
            .and_then(|id| doc.get_object(id).ok())
            .and_then(|o| o.as_dict().ok())
        else {
            continue;
        };
        let Some(sig) = field
            .get(b"V")
            .ok()
            .and_then(|v| v.as_reference().ok())
            .and_then(|id| doc.get_object(id).ok())
            .and_then(|o| o.as_dict().ok())
        else {
            continue;
        };
        let name = field
            .get(b"T")
            .ok()
            .and_then(|t| t.as_str().ok())
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        let range: Vec<usize> = sig
            .get(b"ByteRange")
            .and_then(Object::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|n| n.as_i64().ok())
                    .map(|n| n as usize)
                    .collect()
            })
            .unwrap_or_default();
        let contents = sig
            .get(b"Contents")
            .and_then(Object::as_str)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        if let [a, b, c, d] = range[..] {
            out.push(FoundSignature {
                field_name: name,
                byte_range: [a, b, c, d],
                contents,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_split_at_gaps() {
        let offsets: BTreeMap<ObjectId, usize> = [((3, 0), 10), ((4, 0), 20), ((9, 0), 30)]
            .into_iter()
            .collect();
        let r = runs(&offsets);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0], vec![((3, 0), 10), ((4, 0), 20)]);
        assert_eq!(r[1], vec![((9, 0), 30)]);
    }

    #[test]
    fn dates_are_vietnam_time() {
        let t = DateTime::parse_from_rfc3339("2024-06-25T02:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(pdf_date(t), "D:20240625093000+07'00'");
    }

    #[test]
    fn vietnamese_names_are_utf16_text_strings() {
        let Object::String(bytes, _) = text_string("Hoàng") else {
            panic!()
        };
        assert_eq!(&bytes[..4], &[0xFE, 0xFF, 0x00, b'H']);
        let Object::String(bytes, _) = text_string("Sig1") else {
            panic!()
        };
        assert_eq!(bytes, b"Sig1");
    }
}
