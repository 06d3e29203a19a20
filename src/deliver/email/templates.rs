//! Email subjects and bodies: plain-text Tera templates (`templates/email/`, overridable by name
//! under `templates_dir/email/`), rendered strictly over one context per message, so a typo in a
//! template is an error before anything is sent, never an empty gap in a letter.

use std::collections::HashMap;

use serde::Serialize;
use tera::{Context, Tera};

use crate::deliver::plan::MessageKind;
pub use crate::issue::filing::number_text;
use crate::model::DocumentKind;
use crate::render::context::{IssuerText, PeriodText};
use crate::render::templates::{TemplateError, Templates};
use crate::vi;

/// A message kind's subject and body template names.
fn template_names(kind: MessageKind) -> (String, String) {
    (
        format!("{}.subject.txt", kind.slug()),
        format!("{}.body.txt", kind.slug()),
    )
}

#[derive(Debug, Clone, Serialize)]
pub struct EmailUnit {
    pub id: String,
    pub name: String,
    pub short: String,
    pub emails: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EmailSender {
    pub name: String,
    pub address: String,
}

/// One attached document as the email names it.
#[derive(Debug, Clone, Serialize)]
pub struct EmailDocument {
    /// "assignment-letter", "conclusion-notice", "review-report".
    pub kind: &'static str,
    /// "Công văn", "Thông báo", "Báo cáo".
    pub title: String,
    /// "02/TB-UBND"; before a number is issued (dry run) "…/TB-UBND".
    pub number: String,
    pub numbered: bool,
    pub symbol: String,
    /// "25/6/2024".
    pub date: String,
    /// "ngày 25 tháng 6 năm 2024".
    pub date_long: String,
    /// The excerpt (trích yếu) as printed under the title, or the "V/v ..." line.
    pub excerpt: String,
    /// The excerpt with its first letter lowered, to follow "về".
    pub about: String,
    /// The issuing body's full name.
    pub issuer: String,
    pub signer_title: String,
    pub signer_name: String,
    /// Assignment letters: how many tasks the unit has; 0 otherwise.
    pub tasks: usize,
    /// Assignment letters: "Báo cáo kết quả thực hiện về ... trước ngày ..."; "" otherwise.
    pub report_line: String,
    /// Attachment file names of this document.
    pub files: Vec<String>,
}

/// Everything an email template can use.
#[derive(Debug, Clone, Serialize)]
pub struct EmailContext {
    /// The recipient.
    pub unit: EmailUnit,
    pub period: PeriodText,
    /// The period's issuer.
    pub issuer: IssuerText,
    pub sender: EmailSender,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub letter: Option<EmailDocument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<EmailDocument>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<EmailDocument>,
    /// The attached documents, in attachment order.
    pub documents: Vec<EmailDocument>,
    /// Every attachment's file name, in order.
    pub attachments: Vec<String>,
    /// A deliberate `--resend`.
    pub resend: bool,
    /// A dry run: numbers are not issued.
    pub draft: bool,
}

/// The title word of a document kind, as it starts a reference ("Thông báo số ...").
pub fn title_of(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::ReviewReport => "Báo cáo",
        DocumentKind::ConclusionNotice => "Thông báo",
        DocumentKind::AssignmentLetter => "Công văn",
    }
}

/// The excerpt in mid-sentence: first letter lowered, final punctuation dropped.
pub fn about(excerpt: &str) -> String {
    vi::lower_first(excerpt.trim().trim_end_matches(['.', ';', ',']))
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("không có mẫu thư {name}")]
    Missing { name: String },
    #[error("mẫu thư {origin} viết sai:\n{message}")]
    Syntax { origin: String, message: String },
    #[error("mẫu thư {origin} dùng biến không có trong dữ liệu thư: {variables}")]
    MissingVariables { origin: String, variables: String },
    #[error("không điền được mẫu thư {origin}:\n{message}")]
    Render { origin: String, message: String },
    #[error("mẫu thư {origin} cho tiêu đề thư rỗng")]
    EmptySubject { origin: String },
    /// The office's wording file, whose reporting line the letter's email repeats.
    #[error("{0}")]
    Wording(String),
}

/// The compiled email templates.
pub struct EmailTemplates {
    tera: Tera,
    /// Template name → where it came from, for errors.
    origins: HashMap<String, String>,
    /// The office's wording: an email repeats sentences of the documents it carries (the
    /// letter's reporting line), and must say them as the documents do.
    pub(crate) wording: crate::render::wording::Wording,
}

impl std::fmt::Debug for EmailTemplates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailTemplates")
            .field("origins", &self.origins)
            .finish_non_exhaustive()
    }
}

impl EmailTemplates {
    /// Reads and compiles every message kind's subject and body, overrides applied.
    pub fn load(templates: &Templates) -> Result<Self, EmailError> {
        let mut tera = Tera::default();
        // Plain text: nothing is HTML, so nothing is escaped, whatever a file is called.
        tera.autoescape_on(Vec::<&str>::new());
        let mut origins = HashMap::new();
        for kind in MessageKind::ALL {
            let (subject, body) = template_names(kind);
            for name in [subject, body] {
                let file = templates
                    .email(&name)?
                    .ok_or_else(|| EmailError::Missing { name: name.clone() })?;
                let text = vi::nfc(file.text()?);
                tera.add_raw_template(&name, &text)
                    .map_err(|e| EmailError::Syntax {
                        origin: file.origin.clone(),
                        message: error_text(&e),
                    })?;
                origins.insert(name, file.origin);
            }
        }
        let wording = crate::render::wording::Wording::load(templates)
            .map_err(|e| EmailError::Wording(e.to_string()))?;
        Ok(Self {
            tera,
            origins,
            wording,
        })
    }

    /// The subject (one line, spaces collapsed) and the body (NFC, ending in one newline).
    pub fn render(
        &self,
        kind: MessageKind,
        context: &EmailContext,
    ) -> Result<(String, String), EmailError> {
        let (subject_name, body_name) = template_names(kind);
        let origin = |name: &str| self.origins.get(name).cloned().unwrap_or_default();
        let tera_context = Context::from_serialize(context).map_err(|e| EmailError::Render {
            origin: origin(&subject_name),
            message: error_text(&e),
        })?;
        let render = |name: &str| -> Result<String, EmailError> {
            // Tera lets an undefined top-level name through in `if` and filters; an office's
            // typo there would silently drop a sentence, so every name must exist.
            let mut missing: Vec<&str> = self
                .tera
                .get_template_variables(name)
                .map_err(|e| EmailError::Render {
                    origin: origin(name),
                    message: error_text(&e),
                })?
                .into_iter()
                .filter(|v| !tera_context.contains_key(v))
                .collect();
            if !missing.is_empty() {
                missing.sort_unstable();
                return Err(EmailError::MissingVariables {
                    origin: origin(name),
                    variables: missing.join(", "),
                });
            }
            self.tera
                .render(name, &tera_context)
                .map_err(|e| EmailError::Render {
                    origin: origin(name),
                    message: error_text(&e),
                })
        };
        let subject = render(&subject_name)?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if subject.is_empty() {
            return Err(EmailError::EmptySubject {
                origin: origin(&subject_name),
            });
        }
        let body = render(&body_name)?;
        let body = format!("{}\n", body.trim_matches('\n'));
        Ok((vi::nfc(&subject), vi::nfc(&body)))
    }
}

/// Tera's message with its causes, which carry the line, column and source excerpt.
fn error_text(error: &tera::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!("\n{cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(kind: DocumentKind, number: Option<u32>, symbol: &str) -> EmailDocument {
        let excerpt = match kind {
            DocumentKind::AssignmentLetter => "V/v triển khai nhiệm vụ theo kết luận",
            DocumentKind::ConclusionNotice => "Kết luận của đồng chí Chủ tịch",
            DocumentKind::ReviewReport => "Sơ kết 6 tháng đầu năm 2024",
        };
        EmailDocument {
            kind: kind.slug(),
            title: title_of(kind).to_owned(),
            number: number_text(number, symbol),
            numbered: number.is_some(),
            symbol: symbol.to_owned(),
            date: "25/6/2024".to_owned(),
            date_long: "ngày 25 tháng 6 năm 2024".to_owned(),
            excerpt: excerpt.to_owned(),
            about: about(excerpt),
            issuer: "Ủy ban nhân dân huyện Đầm Hà".to_owned(),
            signer_title: "PHÓ CHỦ TỊCH".to_owned(),
            signer_name: "Trần Anh Cường".to_owned(),
            tasks: if kind == DocumentKind::AssignmentLetter {
                2
            } else {
                0
            },
            report_line: String::new(),
            files: vec![format!("{} {}.pdf", number_text(number, symbol), "x")],
        }
    }

    fn context(kind: MessageKind, resend: bool) -> EmailContext {
        let letter = document(DocumentKind::AssignmentLetter, Some(5), "UBND-NLN");
        let notice = document(DocumentKind::ConclusionNotice, Some(2), "TB-UBND");
        let report = document(DocumentKind::ReviewReport, None, "BC-UBND");
        let (letter, notice, report) = match kind {
            MessageKind::LetterAndNotice => (Some(letter), Some(notice), None),
            MessageKind::ReviewReport => (None, None, Some(report)),
        };
        let documents: Vec<EmailDocument> = [&letter, &notice, &report]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        EmailContext {
            unit: EmailUnit {
                id: "bqlda".into(),
                name: "Ban Quản lý dự án đầu tư xây dựng huyện".into(),
                short: "Ban QLDA".into(),
                emails: vec!["bqlda@damha.example".into()],
            },
            period: PeriodText {
                key: "2024-h1".into(),
                year: 2024,
                half: 1,
                label: "6 tháng đầu năm 2024".into(),
                next_label: "6 tháng cuối năm 2024".into(),
                review: "sơ kết".into(),
                meeting_name: "Hội nghị sơ kết".into(),
            },
            issuer: IssuerText {
                name: "Ủy ban nhân dân huyện Đầm Hà".into(),
                short: "UBND huyện Đầm Hà".into(),
                place: "Đầm Hà".into(),
            },
            sender: EmailSender {
                name: "Văn phòng HĐND và UBND huyện Đầm Hà".into(),
                address: "vanphong@damha.example".into(),
            },
            attachments: documents.iter().flat_map(|d| d.files.clone()).collect(),
            documents,
            letter,
            notice,
            report,
            resend,
            draft: false,
        }
    }

    #[test]
    fn builtin_templates_render_subject_and_body() {
        let templates = EmailTemplates::load(&Templates::builtin()).unwrap();
        let (subject, body) = templates
            .render(
                MessageKind::LetterAndNotice,
                &context(MessageKind::LetterAndNotice, false),
            )
            .unwrap();
        assert_eq!(
            subject,
            "Công văn số 05/UBND-NLN V/v triển khai nhiệm vụ theo kết luận"
        );
        assert!(
            body.starts_with("Kính gửi: Ban Quản lý dự án đầu tư xây dựng huyện.\n\nVăn phòng"),
            "{body}"
        );
        assert!(body.contains("- Công văn số 05/UBND-NLN ngày 25/6/2024 của Ủy ban nhân dân huyện Đầm Hà V/v triển khai nhiệm vụ theo kết luận;\n"), "{body}");
        assert!(
            body.contains("- Thông báo số 02/TB-UBND ngày 25/6/2024 của Ủy ban nhân dân huyện Đầm Hà về kết luận của đồng chí Chủ tịch.\n"),
            "{body}"
        );
        assert!(
            body.contains(
                "Tệp đính kèm:\n- 05/UBND-NLN x.pdf\n- 02/TB-UBND x.pdf\n\nTrân trọng./."
            ),
            "{body}"
        );
        assert!(!body.contains("gửi lại"), "{body}");
        assert!(body.ends_with("vanphong@damha.example\n"), "{body}");
        assert!(!body.contains("{#"), "comments are not printed: {body}");

        let (_, resent) = templates
            .render(
                MessageKind::LetterAndNotice,
                &context(MessageKind::LetterAndNotice, true),
            )
            .unwrap();
        assert!(resent.contains("Thư này gửi lại"), "{resent}");

        let (subject, body) = templates
            .render(
                MessageKind::ReviewReport,
                &context(MessageKind::ReviewReport, false),
            )
            .unwrap();
        assert_eq!(subject, "Báo cáo số …/BC-UBND sơ kết 6 tháng đầu năm 2024");
        assert!(
            body.contains("các nhiệm vụ 6 tháng cuối năm 2024."),
            "{body}"
        );
    }

    fn with_override(name: &str, text: &str) -> (tempfile::TempDir, Templates) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("email")).unwrap();
        std::fs::write(dir.path().join("email").join(name), text).unwrap();
        let templates = Templates::with_overrides(dir.path());
        (dir, templates)
    }

    #[test]
    fn an_override_replaces_the_builtin_by_name() {
        let (_dir, templates) = with_override(
            "review-report.subject.txt",
            "Gửi {{ unit.short }}:\n  {{ report.title }}  {{ report.number }}\n",
        );
        let templates = EmailTemplates::load(&templates).unwrap();
        let (subject, _) = templates
            .render(
                MessageKind::ReviewReport,
                &context(MessageKind::ReviewReport, false),
            )
            .unwrap();
        assert_eq!(subject, "Gửi Ban QLDA: Báo cáo …/BC-UBND");
    }

    #[test]
    fn a_missing_variable_is_an_error_naming_the_template() {
        // Printed: Tera's own error, with line and column.
        let (_dir, templates) = with_override(
            "letter-and-notice.body.txt",
            "Kính gửi {{ unit.name }}\n{{ unit.chuc_vu }}\n",
        );
        let templates = EmailTemplates::load(&templates).unwrap();
        let error = templates
            .render(
                MessageKind::LetterAndNotice,
                &context(MessageKind::LetterAndNotice, false),
            )
            .unwrap_err()
            .to_string();
        assert!(error.contains("letter-and-notice.body.txt"), "{error}");
        assert!(error.contains("chuc_vu"), "{error}");

        // In a condition, or a document the message does not carry: refused before rendering.
        let (_dir, templates) = with_override(
            "letter-and-notice.body.txt",
            "{% if khan %}KHẨN{% endif %} {{ report.number }}",
        );
        let templates = EmailTemplates::load(&templates).unwrap();
        let error = templates
            .render(
                MessageKind::LetterAndNotice,
                &context(MessageKind::LetterAndNotice, false),
            )
            .unwrap_err();
        assert!(
            matches!(&error, EmailError::MissingVariables { variables, .. } if variables == "khan, report"),
            "{error}"
        );
    }

    #[test]
    fn a_syntax_error_is_reported_at_load() {
        let (_dir, templates) =
            with_override("review-report.body.txt", "Kính gửi {{ unit.name }\n");
        let error = EmailTemplates::load(&templates).unwrap_err().to_string();
        assert!(error.contains("review-report.body.txt"), "{error}");
        assert!(error.contains("viết sai"), "{error}");
    }
}
