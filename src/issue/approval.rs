//! Approval of drafts before anything is numbered or sent: what a draft's content is (the
//! SHA-256 of its files exactly as a dry run renders them — rendering is deterministic), the
//! decisions recorded on it (submitted, approved, returned: who, when, note, content), and the
//! gate `send` asks: is this document approved, with the content it has now?

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::state::{OptionalExtension, params};
use chrono::{DateTime, Utc};

use super::filing::{self, DocFile, DocId, IssueEnv, IssueError, issuer_key, sha256_hex};
use super::register::{Register, RegisterError};
use crate::clock::local_time;
use crate::model::{DocumentKind, Period};
use crate::render;
use crate::state::{Store, StoreError, time_from_row, time_to_sql};
use crate::vi;
use crate::vi::names::shown;

#[derive(Debug, thiserror::Error)]
pub enum ApprovalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Register(Box<RegisterError>),
    #[error("không dựng được dự thảo để đối chiếu: {0}")]
    Render(Box<IssueError>),
    #[error(
        "đơn vị «{unit}» không có {} trong kỳ {period} (đơn vị không có nhiệm vụ, hoặc mã đơn \
         vị sai)",
        per_unit_names()
    )]
    NoLetter { unit: String, period: String },
    #[error("kỳ {period} không có văn bản nào được chọn để duyệt")]
    NothingSelected { period: String },
    #[error("cần ghi tên người {what} (--by)")]
    NoName { what: &'static str },
    #[error("tên người {what} (--by) không dùng được: {error}")]
    BadName {
        what: &'static str,
        error: crate::vi::names::NameError,
    },
    #[error("trả lại dự thảo cần ghi lý do (--reason) để văn thư biết sửa gì")]
    NoReason,
    #[error("{0}: văn bản này đã ban hành (đã có số), không duyệt hay trả lại được nữa")]
    AlreadyIssued(String),
    /// The decision names the content the approver was shown, and the drafts render otherwise
    /// now (or some were never shown): nothing is recorded, for any of them.
    #[error("{}", not_as_shown(.changed, .unseen))]
    NotAsShown {
        changed: Vec<String>,
        unseen: Vec<String>,
    },
}

fn not_as_shown(changed: &[String], unseen: &[String]) -> String {
    let mut parts = Vec::new();
    if !changed.is_empty() {
        parts.push(format!(
            "nội dung đã thay đổi, hãy xem lại: {} — bản dựng từ tệp kỳ báo cáo hiện tại khác bản \
             đã hiện cho người duyệt (tệp kỳ báo cáo, tệp kèm theo hoặc mẫu đã đổi sau đó)",
            changed.join(", ")
        ));
    }
    if !unseen.is_empty() {
        parts.push(format!(
            "chưa có bản nháp nào của {} được hiện cho người duyệt",
            unseen.join(", ")
        ));
    }
    format!(
        "{}. Chưa ghi quyết định nào; văn thư tạo lại bản nháp, người duyệt xem rồi quyết định lại",
        parts.join("; ")
    )
}

impl From<RegisterError> for ApprovalError {
    fn from(error: RegisterError) -> Self {
        ApprovalError::Register(Box::new(error))
    }
}

impl From<IssueError> for ApprovalError {
    fn from(error: IssueError) -> Self {
        ApprovalError::Render(Box::new(error))
    }
}

/// What a decision says of a draft.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Sent to the approvers (by the render job); waits for them.
    Submitted,
    Approved,
    /// Sent back to the clerk, with a reason.
    Returned,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Submitted => "submitted",
            Decision::Approved => "approved",
            Decision::Returned => "returned",
        }
    }

    fn from_db(text: &str) -> Option<Decision> {
        Some(match text {
            "submitted" => Decision::Submitted,
            "approved" => Decision::Approved,
            "returned" => Decision::Returned,
            _ => return None,
        })
    }

    pub fn label_vi(self) -> &'static str {
        match self {
            Decision::Submitted => "chờ duyệt",
            Decision::Approved => "đã duyệt",
            Decision::Returned => "bị trả lại",
        }
    }
}

/// The kinds addressed to one unit each, named mid-sentence: "công văn giao nhiệm vụ" (what
/// `--unit` chooses among).
pub fn per_unit_names() -> String {
    let names: Vec<String> = DocumentKind::ALL
        .into_iter()
        .filter(|k| k.per_unit())
        .map(|k| vi::lower_first(k.spec().names.any_period))
        .collect();
    names.join(" hay ")
}

/// A document's Vietnamese name in messages: "Thông báo kết luận", "Công văn giao nhiệm vụ gửi
/// bqlda".
pub fn document_label(id: &DocId) -> String {
    let kind = id.kind.spec().names.any_period;
    match &id.unit {
        Some(unit) => format!("{kind} gửi {unit}"),
        None => kind.to_owned(),
    }
}

/// A draft as the approver sees it: its files, rendered as a dry run renders them, and the
/// hash of their list.
#[derive(Debug, Clone)]
pub struct Draft {
    pub id: DocId,
    pub issuer: String,
    pub document_key: String,
    pub files: Vec<DocFile>,
    /// SHA-256 of "name sha256\n" for each file, in order: one value naming the whole draft.
    pub content_sha256: String,
}

impl Draft {
    fn file_hashes(&self) -> Vec<(String, String)> {
        self.files
            .iter()
            .map(|f| (f.disk_name.clone(), sha256_hex(&f.bytes)))
            .collect()
    }
}

/// The hash that names a list of files.
pub fn content_hash(files: &[(String, String)]) -> String {
    let text: String = files
        .iter()
        .map(|(name, sha)| format!("{name} {sha}\n"))
        .collect();
    sha256_hex(text.as_bytes())
}

/// The period's documents chosen by `--only` and `--unit`: every document (report, notice, a
/// letter per unit with tasks) without them; `unit` keeps only that unit's letter (and the
/// kinds `only` names besides letters).
pub fn select(
    period: &Period,
    only: &[DocumentKind],
    unit: Option<&str>,
) -> Result<Vec<DocId>, ApprovalError> {
    let all: Vec<DocId> = render::plan(period, None, &|_, _| None)
        .into_iter()
        .map(|d| DocId {
            kind: d.kind,
            unit: d.unit,
        })
        .collect();
    if let Some(unit) = unit
        && !all.iter().any(|d| d.unit.as_deref() == Some(unit))
    {
        return Err(ApprovalError::NoLetter {
            unit: unit.to_owned(),
            period: period.key(),
        });
    }
    let chosen: Vec<DocId> = all
        .into_iter()
        .filter(|d| match unit {
            Some(unit) => {
                d.unit.as_deref() == Some(unit) || (!d.kind.per_unit() && only.contains(&d.kind))
            }
            None => only.is_empty() || only.contains(&d.kind),
        })
        .filter(|d| only.is_empty() || only.contains(&d.kind))
        .collect();
    if chosen.is_empty() {
        return Err(ApprovalError::NothingSelected {
            period: period.key(),
        });
    }
    Ok(chosen)
}

/// Renders the drafts of `ids` exactly as a dry run of `send` does (no number, nothing
/// reserved, nothing written). A cited document ([`crate::model::KindSpec::cites`]) is always
/// rendered with those citing it, since they cite its date: a letter's draft is the same
/// whether or not the notice was asked for too.
pub fn drafts(
    env: &IssueEnv<'_>,
    period: &Period,
    ids: &[DocId],
) -> Result<Vec<Draft>, ApprovalError> {
    let mut render_ids: Vec<DocId> = ids.to_vec();
    for cited in ids.iter().filter_map(|d| d.kind.spec().cites) {
        let cited = DocId {
            kind: cited,
            unit: None,
        };
        if !render_ids.contains(&cited) {
            render_ids.push(cited);
        }
    }
    render_ids.sort_by_key(|id| id.kind);
    let mut notes = Vec::new();
    let mut rendered = filing::prepare(
        env,
        period,
        &render_ids,
        &|_| false,
        true,
        Path::new(""),
        &mut notes,
    )?;
    Ok(ids
        .iter()
        .filter_map(|id| rendered.remove(id).map(|d| (id, d)))
        .map(|(id, d)| {
            let mut draft = Draft {
                id: id.clone(),
                issuer: issuer_key(period.issuer_of(id.kind)),
                document_key: id.register_key(period),
                files: d.files,
                content_sha256: String::new(),
            };
            draft.content_sha256 = content_hash(&draft.file_hashes());
            draft
        })
        .collect())
}

/// One recorded decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRecord {
    pub decision: Decision,
    pub by: String,
    pub at: DateTime<Utc>,
    pub note: Option<String>,
    pub content_sha256: String,
    /// Each file's name and SHA-256, as decided on.
    pub files: Vec<(String, String)>,
}

/// What recording a decision did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    Recorded,
    /// The same decision on the same content was already the latest: nothing new is written.
    AlreadyDone {
        by: String,
        at: DateTime<Utc>,
    },
    /// Issued already (it has its number): left as it is.
    Issued,
}

/// Where a document stands for `send`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Approved, with the content it has now.
    Approved,
    /// No decision yet, submitted and waiting, or returned and changed since (the new version
    /// waits).
    Waiting,
    Returned {
        by: String,
        at: DateTime<Utc>,
        reason: String,
    },
    /// Approved, but the draft rendered now differs from what was approved (the period file
    /// or a template changed since).
    Changed { by: String, at: DateTime<Utc> },
}

impl Gate {
    pub fn label_vi(&self) -> &'static str {
        match self {
            Gate::Approved => "đã duyệt",
            Gate::Waiting => "chờ duyệt",
            Gate::Returned { .. } => "bị trả lại",
            Gate::Changed { .. } => "nội dung đã thay đổi sau khi duyệt",
        }
    }
}

impl fmt::Display for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Gate::Approved | Gate::Waiting => f.write_str(self.label_vi()),
            // Names and reasons as stored, hidden characters written out (`vi::names::shown`):
            // one stored by an older version cannot turn the line around.
            Gate::Returned { by, at, reason } => write!(
                f,
                "bị trả lại: {} ({}, lúc {})",
                shown(reason),
                shown(by),
                local_time(*at)
            ),
            Gate::Changed { by, at } => write!(
                f,
                "nội dung đã thay đổi sau khi duyệt ({} duyệt lúc {}; tệp kỳ báo cáo hoặc mẫu \
                 đã đổi): cần duyệt lại",
                shown(by),
                local_time(*at)
            ),
        }
    }
}

/// The decisions of the state database.
pub struct Approvals<'a> {
    store: &'a Store,
}

impl<'a> Approvals<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// The newest decision on a document, if any.
    pub fn latest(
        &self,
        issuer: &str,
        document_key: &str,
    ) -> Result<Option<DecisionRecord>, ApprovalError> {
        let record = self.store.read(|tx| {
            let row = tx
                .query_row(
                    "SELECT id, decision, by_name, at, note, content_sha256
                     FROM approval_decisions WHERE issuer = ?1 AND document_key = ?2
                     ORDER BY id DESC LIMIT 1",
                    params![issuer, document_key],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            time_from_row(r, 3)?,
                            r.get::<_, Option<String>>(4)?,
                            r.get::<_, String>(5)?,
                        ))
                    },
                )
                .optional()?;
            let Some((id, decision, by, at, note, content_sha256)) = row else {
                return Ok(None);
            };
            let mut stmt = tx.prepare(
                "SELECT name, sha256 FROM approval_files WHERE decision_id = ?1 ORDER BY position",
            )?;
            let files = stmt
                .query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<(String, String)>, _>>()?;
            // The CHECK constraint allows only the three words.
            let decision = Decision::from_db(&decision).unwrap_or(Decision::Submitted);
            // Read as every listing prints them: a name or note an older version stored with
            // invisible or control characters comes back with them written out.
            Ok(Some(DecisionRecord {
                decision,
                by: shown(&by).into_owned(),
                at,
                note: note.map(|n| shown(&n).into_owned()),
                content_sha256,
                files,
            }))
        })?;
        Ok(record)
    }

    /// Records `decision` on `draft`. The same decision on the same content again (a second
    /// `approve`, a render job that fires twice) writes nothing and says so.
    pub fn record(
        &self,
        draft: &Draft,
        decision: Decision,
        by: &str,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Recorded, ApprovalError> {
        let by = &checked_name(decision, by)?;
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        if decision == Decision::Returned && note.is_none() {
            return Err(ApprovalError::NoReason);
        }
        if let Some(latest) = self.latest(&draft.issuer, &draft.document_key)?
            && latest.decision == decision
            && latest.content_sha256 == draft.content_sha256
            && (decision != Decision::Returned
                || latest.note.as_deref() == note.map(shown).as_deref())
        {
            return Ok(Recorded::AlreadyDone {
                by: latest.by,
                at: latest.at,
            });
        }
        let files = draft.file_hashes();
        self.store.write(|tx| {
            let id: i64 = tx.query_row(
                "INSERT INTO approval_decisions
                 (issuer, document_key, decision, by_name, at, note, content_sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) RETURNING id",
                params![
                    draft.issuer,
                    draft.document_key,
                    decision.as_str(),
                    by,
                    time_to_sql(&now),
                    note,
                    draft.content_sha256
                ],
                |r| r.get(0),
            )?;
            for (position, (name, sha)) in files.iter().enumerate() {
                tx.execute(
                    "INSERT INTO approval_files (decision_id, position, name, sha256)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id, position as i64, name, sha],
                )?;
            }
            Ok(())
        })?;
        Ok(Recorded::Recorded)
    }

    /// Where `draft` stands: approved with this content, waiting, returned, or changed.
    pub fn gate(&self, draft: &Draft) -> Result<Gate, ApprovalError> {
        let Some(latest) = self.latest(&draft.issuer, &draft.document_key)? else {
            return Ok(Gate::Waiting);
        };
        Ok(match latest.decision {
            Decision::Submitted => Gate::Waiting,
            // The clerk changed a returned draft: the new version waits for the approver.
            Decision::Returned if latest.content_sha256 != draft.content_sha256 => Gate::Waiting,
            Decision::Returned => Gate::Returned {
                by: latest.by,
                at: latest.at,
                reason: latest.note.unwrap_or_default(),
            },
            Decision::Approved if latest.content_sha256 == draft.content_sha256 => Gate::Approved,
            Decision::Approved => Gate::Changed {
                by: latest.by,
                at: latest.at,
            },
        })
    }
}

/// The name of who decides, as the record keeps names (`vi::names`): in NFC, without
/// surrounding spaces, invisible and control characters refused.
fn checked_name(decision: Decision, by: &str) -> Result<String, ApprovalError> {
    let what = match decision {
        Decision::Returned => "trả lại",
        Decision::Submitted => "trình",
        Decision::Approved => "duyệt",
    };
    crate::vi::names::person_name(by).map_err(|error| match error {
        crate::vi::names::NameError::Empty => ApprovalError::NoName { what },
        error => ApprovalError::BadName { what, error },
    })
}

/// One document's decision as `approve`/`return` report it.
#[derive(Debug, Clone)]
pub struct DecisionReport {
    pub id: DocId,
    pub content_sha256: String,
    pub recorded: Recorded,
}

impl fmt::Display for DecisionReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = document_label(&self.id);
        let short = self.content_sha256.get(..16).unwrap_or_default();
        match &self.recorded {
            Recorded::Recorded => write!(f, "{label}: đã ghi (nội dung sha256 {short}…)"),
            Recorded::AlreadyDone { by, at } => write!(
                f,
                "{label}: đã ghi trước đó với đúng nội dung này ({}, lúc {}); không ghi thêm",
                shown(by),
                local_time(*at)
            ),
            Recorded::Issued => write!(f, "{label}: đã ban hành (đã có số), bỏ qua"),
        }
    }
}

/// `vanban approve` / `vanban return`: renders the chosen drafts and records `decision` on
/// each, as they are now. Issued documents are refused: an approval after the number would
/// approve nothing.
pub fn decide(
    env: &IssueEnv<'_>,
    period: &Period,
    ids: &[DocId],
    decision: Decision,
    by: &str,
    note: Option<&str>,
) -> Result<Vec<DecisionReport>, ApprovalError> {
    decide_checked(env, period, ids, decision, by, note, None)
}

/// [`decide`] for an approver who was shown the drafts (the web page): `shown` holds the content
/// hash of each draft as it was shown. The drafts are rendered now, and unless each chosen one
/// that is not issued renders exactly as shown, nothing is recorded: a period file, attachment or
/// template changed after the approver looked is never approved (or returned) unseen.
pub fn decide_as_shown(
    env: &IssueEnv<'_>,
    period: &Period,
    ids: &[DocId],
    decision: Decision,
    by: &str,
    note: Option<&str>,
    shown: &BTreeMap<DocId, String>,
) -> Result<Vec<DecisionReport>, ApprovalError> {
    decide_checked(env, period, ids, decision, by, note, Some(shown))
}

fn decide_checked(
    env: &IssueEnv<'_>,
    period: &Period,
    ids: &[DocId],
    decision: Decision,
    by: &str,
    note: Option<&str>,
    shown: Option<&BTreeMap<DocId, String>>,
) -> Result<Vec<DecisionReport>, ApprovalError> {
    checked_name(decision, by)?;
    if decision == Decision::Returned && note.is_none_or(|n| n.trim().is_empty()) {
        return Err(ApprovalError::NoReason);
    }
    // An issued document is past approval: it is skipped (refused when it is all there is).
    let register = Register::new(env.store);
    let mut issued = Vec::new();
    let mut open = Vec::new();
    for id in ids {
        let issuer = issuer_key(period.issuer_of(id.kind));
        match register.find_issued(&issuer, &id.register_key(period))? {
            Some(_) => issued.push(id.clone()),
            None => open.push(id.clone()),
        }
    }
    if open.is_empty()
        && let Some(first) = issued.first()
    {
        return Err(ApprovalError::AlreadyIssued(document_label(first)));
    }
    let drafts = drafts(env, period, &open)?;
    if let Some(shown) = shown {
        let (mut changed, mut unseen) = (Vec::new(), Vec::new());
        for draft in &drafts {
            match shown.get(&draft.id) {
                Some(sha) if *sha == draft.content_sha256 => {}
                Some(_) => changed.push(document_label(&draft.id)),
                None => unseen.push(document_label(&draft.id)),
            }
        }
        if !changed.is_empty() || !unseen.is_empty() {
            return Err(ApprovalError::NotAsShown { changed, unseen });
        }
    }
    let approvals = Approvals::new(env.store);
    let now = env.clock.now();
    let mut reports: Vec<DecisionReport> = issued
        .into_iter()
        .map(|id| DecisionReport {
            id,
            content_sha256: String::new(),
            recorded: Recorded::Issued,
        })
        .collect();
    for draft in &drafts {
        reports.push(DecisionReport {
            id: draft.id.clone(),
            content_sha256: draft.content_sha256.clone(),
            recorded: approvals.record(draft, decision, by, note, now)?,
        });
    }
    reports.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(reports)
}

/// For `send`: the gate of each document in `ids` that is not issued yet (an issued document
/// was let through when it was issued and is re-sent as filed). Renders the drafts.
pub fn gates(
    env: &IssueEnv<'_>,
    period: &Period,
    ids: &[DocId],
) -> Result<BTreeMap<DocId, Gate>, ApprovalError> {
    let register = Register::new(env.store);
    let mut unissued = Vec::new();
    for id in ids {
        let issuer = issuer_key(period.issuer_of(id.kind));
        if register
            .find_issued(&issuer, &id.register_key(period))?
            .is_none()
        {
            unissued.push(id.clone());
        }
    }
    if unissued.is_empty() {
        return Ok(BTreeMap::new());
    }
    let approvals = Approvals::new(env.store);
    drafts(env, period, &unissued)?
        .iter()
        .map(|draft| Ok((draft.id.clone(), approvals.gate(draft)?)))
        .collect()
}

/// For `send`: [`gates`] of drafts already rendered (the issued ones among them are left out:
/// they go as filed).
pub fn gates_of(
    store: &Store,
    period: &Period,
    drafts: &[Draft],
) -> Result<BTreeMap<DocId, Gate>, ApprovalError> {
    let register = Register::new(store);
    let approvals = Approvals::new(store);
    let mut gates = BTreeMap::new();
    for draft in drafts {
        let issuer = issuer_key(period.issuer_of(draft.id.kind));
        if register
            .find_issued(&issuer, &draft.id.register_key(period))?
            .is_none()
        {
            gates.insert(draft.id.clone(), approvals.gate(draft)?);
        }
    }
    Ok(gates)
}

/// For `status`: the newest decision on each of the period's documents, without rendering.
pub fn latest_decisions(
    store: &Store,
    period: &Period,
    ids: &[DocId],
) -> Result<BTreeMap<DocId, DecisionRecord>, ApprovalError> {
    let approvals = Approvals::new(store);
    let mut out = BTreeMap::new();
    for id in ids {
        let issuer = issuer_key(period.issuer_of(id.kind));
        if let Some(record) = approvals.latest(&issuer, &id.register_key(period))? {
            out.insert(id.clone(), record);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn draft() -> Draft {
        Draft {
            id: DocId {
                kind: DocumentKind::ConclusionNotice,
                unit: None,
            },
            issuer: "ubnd/đầm hà".into(),
            document_key: "2024-h1/conclusion-notice".into(),
            files: Vec::new(),
            content_sha256: "a".repeat(64),
        }
    }

    #[test]
    fn a_decision_under_a_name_with_hidden_characters_is_refused_and_nothing_recorded() {
        let store = Store::open_in_memory().unwrap();
        let approvals = Approvals::new(&store);
        let now = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        for (decision, name) in [
            (Decision::Approved, "Hoàng Vĩnh Khuyến\u{202e}"),
            (Decision::Returned, "Hoàng\u{200b}Vĩnh Khuyến"),
            (Decision::Submitted, "Văn thư\u{1b}[2J"),
        ] {
            let err = approvals
                .record(&draft(), decision, name, Some("Sửa số liệu"), now)
                .unwrap_err();
            assert!(matches!(err, ApprovalError::BadName { .. }), "{err:?}");
            assert!(err.to_string().contains("U+"), "{err}");
        }
        assert_eq!(
            approvals
                .latest("ubnd/đầm hà", "2024-h1/conclusion-notice")
                .unwrap(),
            None
        );
        approvals
            .record(
                &draft(),
                Decision::Approved,
                " Hoàng Vĩnh Khuyến ",
                None,
                now,
            )
            .unwrap();
        let latest = approvals
            .latest("ubnd/đầm hà", "2024-h1/conclusion-notice")
            .unwrap()
            .unwrap();
        assert_eq!(latest.by, "Hoàng Vĩnh Khuyến");
    }

    #[test]
    fn a_decision_stored_before_names_were_checked_is_read_back_written_out() {
        let store = Store::open_in_memory().unwrap();
        store
            .conn()
            .execute(
                "INSERT INTO approval_decisions
                 (issuer, document_key, decision, by_name, at, note, content_sha256)
                 VALUES ('ubnd/đầm hà', '2024-h1/conclusion-notice', 'returned', ?1,
                         '2024-06-25T01:00:00.000000Z', ?2, ?3)",
                crate::state::params!["Hoa\u{202e}nauH", "sai\u{1b}[2J", "a".repeat(64)],
            )
            .unwrap();
        let latest = Approvals::new(&store)
            .latest("ubnd/đầm hà", "2024-h1/conclusion-notice")
            .unwrap()
            .unwrap();
        assert_eq!(latest.by, "Hoa\\u{202E}nauH");
        assert_eq!(latest.note.as_deref(), Some("sai\\u{001B}[2J"));
    }

    #[test]
    fn a_name_or_reason_stored_before_names_were_checked_is_shown_written_out() {
        let at = Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap();
        let returned = Gate::Returned {
            by: "Hoa\u{202e}nauH".into(),
            at,
            reason: "sai\u{1b}[2J số".into(),
        }
        .to_string();
        assert!(
            returned.starts_with("bị trả lại: sai\\u{001B}[2J số (Hoa\\u{202E}nauH, lúc "),
            "{returned}"
        );
        let changed = Gate::Changed {
            by: "Hoa\u{2066}".into(),
            at,
        }
        .to_string();
        assert!(changed.contains("(Hoa\\u{2066} duyệt lúc"), "{changed}");
    }
}
