//! What `vanban check` finds in a period, as one function both the command line and the page's
//! upload run, so a clerk is told the same problems whichever way the file came in.
//!
//! [`check`] reads the period (every input problem at once), then asks of the period what a send
//! would otherwise find too late: a document that reaches nobody, a text its place in the
//! built-in templates cannot hold, a signer or issuing body without a key in `[signing]`, an
//! office DOCX with no room for the signature and seal, and, with the pages laid out, every
//! Decree-30 page problem of every document. The answer is typed ([`Report`]); its items say
//! themselves in Vietnamese exactly as `vanban check` prints them, one line each.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::config::Config;
use crate::input::{self, Problems};
use crate::issue::filing::issuer_key;
use crate::issue::signatures::{IssuingBody, ToSign, setting_problems};
use crate::model::{DocumentKind, Period, Unreached};
use crate::render::docx_pdf::{self, ConvertError, signature::SignatureImages};
use crate::render::fit::FitProblem;
use crate::render::templates::Templates;
use crate::render::{
    self, BackendError, Backends, DocxRenderer, Formats, PdfFrom, RenderError, Renderer,
    docx::DocxError,
};
use crate::state::{Store, StoreError};
use crate::workflow::send::{DeliverError, refuse_a_changed_issuer};

/// What to check, as `vanban check`'s arguments say it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The period file (TOML, JSON or the Excel form).
    pub period: &'a Path,
    /// The directory of units; `None`: `directory.toml` beside the period file.
    pub directory: Option<&'a Path>,
    /// The office's configuration (`--config`): its `[signing]` settings and PDF route are
    /// checked against the period, and its state database says who issued the period's numbers.
    pub config: Option<&'a Config>,
    /// The office's own templates (`--templates`): every document is laid out with them, in
    /// both formats, instead of measuring texts against the built-in templates' places.
    pub templates: Option<&'a Path>,
    /// Lay out every document and check its pages against Decree 30 (`--render`).
    pub render: bool,
    /// The day the period is read on (the issue date's default).
    pub today: NaiveDate,
}

/// What the check found. The period passes when [`problems`](Self::problems) is empty; the
/// warnings never fail it.
#[derive(Debug)]
pub struct Report {
    /// The period as read; `None` when it could not be (the input's problems then say why, and
    /// nothing else was checked).
    pub period: Option<Period>,
    /// What must be fixed before the period can be rendered or sent, in the order found.
    pub problems: Vec<Problem>,
    /// What the office should know and may mean (a new issuer, a renderer's note, templates
    /// fallen behind an upgrade).
    pub warnings: Vec<Warning>,
    /// With the pages laid out: how many documents were.
    pub laid_out: Option<usize>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.period.is_some() && self.problems.is_empty()
    }
}

/// One thing that must be fixed.
#[derive(Debug)]
pub enum Problem {
    /// The period file or the directory cannot be read, or breaks a rule: every such problem,
    /// with file and line, as the input says them.
    Input(Problems),
    /// A document that would reach nobody.
    Unreached { file: PathBuf, unreached: Unreached },
    /// A text wider than its place in the built-in templates.
    Fit { file: PathBuf, problem: FitProblem },
    /// A `[signing]` setting the period's documents need and do not find.
    Signing { config: PathBuf, problem: String },
    /// An office DOCX with no room for the signature and seal above the signer's name.
    SignatureRoom {
        document: String,
        error: ConvertError,
    },
    /// A document that cannot be laid out, or whose pages break a Decree-30 rule.
    Page(RenderError),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Its own last line counts the problems, as every reader of input says them.
            Problem::Input(problems) => write!(f, "{problems}"),
            Problem::Unreached { file, unreached } => {
                write!(f, "{}: {}", file.display(), describe_unreached(unreached))
            }
            Problem::Fit { file, problem } => write!(f, "{}: {problem}", file.display()),
            Problem::Signing { config, problem } => {
                write!(f, "{}: [signing]: {problem}", config.display())
            }
            Problem::SignatureRoom { document, error } => write!(f, "{document}: {error}"),
            Problem::Page(error) => write!(f, "{error}"),
        }
    }
}

/// Why a document would reach nobody, for the clerk.
fn describe_unreached(unreached: &Unreached) -> String {
    match unreached {
        Unreached::ReviewReport => {
            "báo cáo không được gửi cho ai: danh bạ cần khóa report_to = \"<mã nhóm>\" \
             (hoặc một nhóm có mã \"report_to\") với ít nhất một đơn vị có địa chỉ thư"
                .to_string()
        }
        Unreached::ConclusionNotice => {
            "thông báo kết luận không được gửi cho ai: không có đơn vị nào được giao nhiệm vụ"
                .to_string()
        }
        Unreached::AssignmentLetter(unit) => {
            format!("công văn gửi đơn vị \"{unit}\" không đến được ai: đơn vị chưa có địa chỉ thư")
        }
    }
}

/// One thing the office should know, that does not fail the check.
#[derive(Debug)]
pub enum Warning {
    /// The period's numbers were issued under another issuer than the period file now names:
    /// `send --new-issuer` may be what the office means, so it is not a problem.
    IssuerChanged { file: PathBuf, error: DeliverError },
    /// A renderer's or the templates folder's note ("Lưu ý").
    Note(String),
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::IssuerChanged { file, error } => {
                write!(f, "{}: cảnh báo: {error}", file.display())
            }
            Warning::Note(note) => write!(f, "Lưu ý: {note}"),
        }
    }
}

/// What stopped the check itself (not a problem of the period): templates that cannot be
/// loaded, a state database that cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Backend(#[from] BackendError),
    #[error(transparent)]
    Docx(#[from] DocxError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the period as `vanban check` does: see the module's comment for what is asked.
pub fn check(request: &Request<'_>) -> Result<Report, CheckError> {
    let file = request.period;
    let period = match input::load_period(file, request.directory, request.today) {
        Ok(period) => period,
        Err(problems) => {
            return Ok(Report {
                period: None,
                problems: vec![Problem::Input(problems)],
                warnings: Vec::new(),
                laid_out: None,
            });
        }
    };
    let mut problems: Vec<Problem> = period
        .unreached()
        .into_iter()
        .map(|unreached| Problem::Unreached {
            file: file.to_path_buf(),
            unreached,
        })
        .collect();
    let mut warnings = Vec::new();
    // A word its table column cannot hold would run over the margin: refused now, not at
    // render. Measured against the built-in templates' places; with the office's own templates
    // every document is laid out and page-checked below instead.
    if request.templates.is_none() {
        problems.extend(
            render::fit::problems(&period)
                .into_iter()
                .map(|problem| Problem::Fit {
                    file: file.to_path_buf(),
                    problem,
                }),
        );
    }
    if let Some(config) = request.config {
        problems.extend(signing_problems(config, &period, request.templates)?);
        // A warning, not a failure: `send --new-issuer` may be what the office means.
        if config.state.exists() {
            let store = Store::open_state(&config.state)?;
            if let Err(error) =
                refuse_a_changed_issuer(&store, period.id(), &issuer_key(&period.issuer))
            {
                warnings.push(Warning::IssuerChanged {
                    file: file.to_path_buf(),
                    error,
                });
            }
        }
    }
    // The office's templates are checked whenever given: both formats, every document.
    let mut laid_out = None;
    if request.render || request.templates.is_some() {
        let (formats, templates) = match request.templates {
            Some(dir) => (Formats::Both, Templates::with_overrides(dir)),
            None => (Formats::Pdf, Templates::default()),
        };
        // The PDF checked is the one `render` would make: from the DOCX if the config says so,
        // under its limits.
        let (pdf_from, limits) = match request.config {
            Some(config) => (config.pdf_from, render::Limits::from_config(&config.limits)),
            None => (PdfFrom::Typst, render::Limits::default()),
        };
        let backends = Backends::with_pdf_from(&templates, formats, limits, pdf_from)?;
        let documents = render::plan(&period, None, &|_, _| None);
        // A template's mistake fails every document the same way: said once.
        let mut said = BTreeSet::new();
        for renderer in backends.renderers() {
            for document in &documents {
                if let Err(error) = renderer.render(document)
                    && said.insert(error.to_string())
                {
                    problems.push(Problem::Page(error));
                }
            }
        }
        laid_out = Some(documents.len());
        warnings.extend(backends.notes().into_iter().map(Warning::Note));
        warnings.extend(
            stale_template_notes(templates.override_dir.as_deref())
                .into_iter()
                .map(Warning::Note),
        );
    }
    Ok(Report {
        period: Some(period),
        problems,
        warnings,
        laid_out,
    })
}

/// With `[signing]`: every signer and issuing body of the period's documents has its key and
/// images, and, on the DOCX route, the office's DOCX leaves room above the signer's name.
fn signing_problems(
    config: &Config,
    period: &Period,
    templates: Option<&Path>,
) -> Result<Vec<Problem>, CheckError> {
    let Some(signing) = &config.signing else {
        return Ok(Vec::new());
    };
    let mut to_sign = ToSign::default();
    for kind in DocumentKind::ALL {
        to_sign.add(
            &period.settings(kind).signer.name,
            IssuingBody::of(period, kind),
        );
    }
    let mut problems: Vec<Problem> = setting_problems(signing, &to_sign)
        .into_iter()
        .map(|problem| Problem::Signing {
            config: config.path.clone(),
            problem,
        })
        .collect();
    // On the DOCX route the signature and seal go in the room the office's DOCX leaves above
    // the signer's name: a template without it would fail every send, after the numbers are
    // taken.
    if config.pdf_from == PdfFrom::Docx {
        let dir = templates
            .map(Path::to_path_buf)
            .or_else(|| config.templates_dir.clone());
        let docx = DocxRenderer::new(&Templates { override_dir: dir })?;
        let mut said = BTreeSet::new();
        for document in render::plan(period, None, &|_, _| None) {
            let filled = docx.render(&document)?;
            let images = SignatureImages {
                signature: "/chu-ky.png".into(),
                seal: Some("/con-dau.png".into()),
            };
            let signer = &document.context.signer.name;
            if let Err(error) = docx_pdf::convert_signed(&filled, signer, images) {
                let document = document.label_vi();
                if said.insert(format!("{document}: {error}")) {
                    problems.push(Problem::SignatureRoom { document, error });
                }
            }
        }
    }
    Ok(problems)
}

/// What an office's templates folder says of files fallen behind the built-ins after an
/// upgrade (render/template_versions.rs), one line each, "thư mục mẫu …: …".
pub fn stale_template_notes(dir: Option<&Path>) -> Vec<String> {
    let Some(dir) = dir else {
        return Vec::new();
    };
    match render::template_versions::stale(dir) {
        Ok(Some(stale)) => stale
            .iter()
            .map(|s| format!("thư mục mẫu {}: {s}", dir.display()))
            .collect(),
        Ok(None) => Vec::new(),
        Err(e) => vec![format!("thư mục mẫu {}: {e}", dir.display())],
    }
}
