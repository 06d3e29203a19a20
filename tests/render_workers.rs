//! The render worker (src/render/worker.rs) against the in-process renderer: the same bytes, the
//! same text and notes, the same page thumbnails. Apart from tests/render_bounds.rs, whose tests
//! measure this process's peak memory and so render nothing here.

use std::path::PathBuf;
use std::time::Duration;

use chrono::NaiveDate;
use vanban::model::DocumentKind;
use vanban::render::templates::Templates;
use vanban::render::worker::{ProcessLimits, WorkerProgram};
use vanban::render::{self, Backends, Formats, Limits, PdfFrom, PlannedDocument};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn program() -> WorkerProgram {
    WorkerProgram::at(env!("CARGO_BIN_EXE_vanban"))
}

fn sample_documents(only: Option<DocumentKind>) -> Vec<PlannedDocument> {
    let today = NaiveDate::from_ymd_opt(2024, 6, 25).unwrap();
    let period =
        vanban::input::load_period(&root().join("samples/dam-ha-2024-h1.toml"), None, today)
            .unwrap();
    render::plan(&period, only, &|_, _| None)
}

/// A loop that never touches the compiler's world.
const SPINNING: &str =
    "#let n = 0\n#for i in range(100000) { for j in range(100000) { n = n + 1 } }\n#n\n";

/// The worker renders what this process would, byte for byte (approval binds drafts by their
/// SHA-256, so the path a render takes must not change a file), in both formats and from both
/// PDF sources, the parity text included.
#[test]
fn a_worker_renders_the_same_bytes_as_this_process() {
    let documents = sample_documents(None);
    let templates = Templates::builtin();
    for pdf_from in [PdfFrom::Typst, PdfFrom::Docx] {
        let here =
            Backends::in_process(&templates, Formats::Both, Limits::default(), pdf_from).unwrap();
        let there = Backends::isolated(
            &templates,
            Formats::Both,
            Limits::default(),
            pdf_from,
            &program(),
        )
        .unwrap();
        let ours = render::render_all(&documents, &here.renderers(), 2).unwrap();
        let theirs = render::render_all(&documents, &there.renderers(), 2).unwrap();
        assert_eq!(ours.len(), 24);
        for (a, b) in ours.iter().zip(&theirs) {
            assert_eq!(a.file_name, b.file_name);
            assert!(a.bytes == b.bytes, "{pdf_from:?}: {} differs", a.file_name);
        }
        for (a, b) in here.renderers().iter().zip(there.renderers()) {
            assert_eq!(
                a.text(&documents[2]).unwrap(),
                b.text(&documents[2]).unwrap()
            );
        }
        assert_eq!(here.notes(), there.notes());
    }
}

/// The web page's thumbnails go through a worker too once the process registered one: the same
/// pages, and a template that loops is stopped at its deadline there.
#[test]
fn page_thumbnails_render_in_a_worker_under_the_deadline() {
    let document = sample_documents(Some(DocumentKind::ConclusionNotice)).remove(0);
    let in_process = render::Previews::new(&Templates::builtin(), Limits::default())
        .unwrap()
        .pages(&document, 0.5)
        .unwrap();
    vanban::render::worker::register(program());
    let previews = render::Previews::new(&Templates::builtin(), Limits::default()).unwrap();
    let pages = previews.pages(&document, 0.5).unwrap();
    assert!(!pages.is_empty() && pages[0].starts_with(b"\x89PNG"));
    assert_eq!(pages, in_process);

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("typst")).unwrap();
    std::fs::write(dir.path().join("typst/conclusion-notice.typ"), SPINNING).unwrap();
    let mut limits = Limits::default();
    limits.pdf.max_time = Duration::from_secs(1);
    limits.process = ProcessLimits {
        max_memory_mb: 1024,
        max_cpu: Duration::from_secs(600),
    };
    let previews = render::Previews::new(&Templates::with_overrides(dir.path()), limits).unwrap();
    let error = previews.pages(&document, 0.5).unwrap_err();
    assert!(error.to_string().contains("typst_max_seconds"), "{error}");
}
