//! Template files: built-in ones compiled into the binary, any of which an office can override
//! by putting a file of the same name under its own templates directory.

use std::path::PathBuf;

/// Built-in Typst templates, by file name under `templates/typst/`.
pub const TYPST: &[(&str, &str)] = &[
    ("nd30.typ", include_str!("../../templates/typst/nd30.typ")),
    (
        "review-report.typ",
        include_str!("../../templates/typst/review-report.typ"),
    ),
    (
        "conclusion-notice.typ",
        include_str!("../../templates/typst/conclusion-notice.typ"),
    ),
    (
        "assignment-letter.typ",
        include_str!("../../templates/typst/assignment-letter.typ"),
    ),
];

/// Built-in email templates (Tera, plain text), by file name under `templates/email/`: a subject
/// and a body per message type.
pub const EMAIL: &[(&str, &str)] = &[
    (
        "letter-and-notice.subject.txt",
        include_str!("../../templates/email/letter-and-notice.subject.txt"),
    ),
    (
        "letter-and-notice.body.txt",
        include_str!("../../templates/email/letter-and-notice.body.txt"),
    ),
    (
        "review-report.subject.txt",
        include_str!("../../templates/email/review-report.subject.txt"),
    ),
    (
        "review-report.body.txt",
        include_str!("../../templates/email/review-report.body.txt"),
    ),
];

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("không đọc được mẫu {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("mẫu {path} không phải văn bản UTF-8")]
    NotUtf8 { path: PathBuf },
    #[error("không ghi được {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One template's text and where it came from, for error messages.
#[derive(Debug, Clone)]
pub struct TemplateFile {
    pub name: String,
    /// "templates/typst/nd30.typ (có sẵn)" or the override's path.
    pub origin: String,
    pub bytes: Vec<u8>,
}

impl TemplateFile {
    pub fn text(&self) -> Result<&str, TemplateError> {
        std::str::from_utf8(&self.bytes).map_err(|_| TemplateError::NotUtf8 {
            path: PathBuf::from(&self.origin),
        })
    }
}

/// Where templates are looked up: the override directory first, then the built-in set.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    pub override_dir: Option<PathBuf>,
}

impl Templates {
    pub fn builtin() -> Self {
        Self { override_dir: None }
    }

    pub fn with_overrides(dir: impl Into<PathBuf>) -> Self {
        Self {
            override_dir: Some(dir.into()),
        }
    }

    /// Looks up `subdir/name`; `builtin` is the embedded content, if any.
    pub fn resolve(
        &self,
        subdir: &str,
        name: &str,
        builtin: Option<&[u8]>,
    ) -> Result<Option<TemplateFile>, TemplateError> {
        if let Some(dir) = &self.override_dir {
            let path = dir.join(subdir).join(name);
            match std::fs::read(&path) {
                Ok(bytes) => {
                    return Ok(Some(TemplateFile {
                        name: name.to_string(),
                        origin: path.display().to_string(),
                        bytes,
                    }));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(TemplateError::Read { path, source }),
            }
        }
        Ok(builtin.map(|bytes| TemplateFile {
            name: name.to_string(),
            origin: format!("templates/{subdir}/{name} (có sẵn)"),
            bytes: bytes.to_vec(),
        }))
    }

    /// Every Typst template, overrides applied.
    pub fn typst(&self) -> Result<Vec<TemplateFile>, TemplateError> {
        TYPST
            .iter()
            .map(|(name, text)| {
                self.resolve("typst", name, Some(text.as_bytes()))
                    .map(|t| t.into_iter())
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|v| v.into_iter().flatten().collect())
    }
}

impl Templates {
    /// One email template by file name (see [`EMAIL`]), the override applied.
    pub fn email(&self, name: &str) -> Result<Option<TemplateFile>, TemplateError> {
        let builtin = EMAIL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text.as_bytes());
        self.resolve("email", name, builtin)
    }
}

/// Writes a file whole or not at all, with fsync (one helper for every file vanban writes).
pub use crate::files::write_atomically;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::DocumentKind;

    #[test]
    fn every_kind_has_its_typst_template_built_in() {
        for kind in DocumentKind::ALL {
            let name = kind.spec().typst_template;
            assert!(TYPST.iter().any(|(n, _)| *n == name), "{kind:?}: {name}");
        }
    }
}
