//! The delivery ledger: every delivery's state, written before and after its hand-over to the
//! transport (whatever the channel: an SMTP exchange, a package handed to a document exchange),
//! so nothing is sent twice and no outcome is lost or guessed after a crash.

use std::fmt;

use crate::state::{Conn, DbError, DbResult, OptionalExtension, params};
use chrono::{DateTime, Utc};

use crate::model::PeriodId;
use crate::state::InstanceLock;
use crate::state::{DbName, Store, StoreError, opt_time_from_row, time_from_row, time_to_sql};

/// What is delivered to whom: the same key whichever job or command sends it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeliveryKey {
    /// The issuing body's id or name, e.g. "UBND huyện Đầm Hà".
    pub issuer: String,
    /// The period; stored as its key, "2024-h1".
    pub period: PeriodId,
    /// e.g. "assignment-letter".
    pub document: String,
    /// A unit id from the directory, e.g. "bqlda".
    pub recipient: String,
}

impl DeliveryKey {
    pub fn new(
        issuer: impl Into<String>,
        period: PeriodId,
        document: impl Into<String>,
        recipient: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            period,
            document: document.into(),
            recipient: recipient.into(),
        }
    }
}

impl fmt::Display for DeliveryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} / {} / {} → {}",
            self.issuer, self.period, self.document, self.recipient
        )
    }
}

/// The answer to "may I send this now?".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// Recorded as sending; send, then call [`Ledger::mark_sent`] or [`Ledger::mark_failed`]
    /// with this attempt number.
    Proceed { attempt: u32 },
    /// Delivered before; not sent again without `--resend`.
    AlreadySent {
        at: DateTime<Utc>,
        message_id: String,
    },
    /// A process died while sending it: the server may or may not have it. Report it; only a
    /// deliberate resend clears it.
    Unknown {
        /// When that sending began.
        since: DateTime<Utc>,
        /// The id to look for in the other side's log (an email's Message-ID).
        message_id: String,
    },
    /// Being sent right now by an attempt that has not finished (or [`Ledger::recover`] was not
    /// called after a crash). Never started twice, not even for a resend.
    InProgress {
        since: DateTime<Utc>,
        message_id: String,
    },
}

/// A delivery's state, that of its newest attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sending,
    Sent,
    Failed,
    Unknown,
}

impl DeliveryState {
    fn as_sql(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Unknown => "unknown",
        }
    }

    fn from_sql(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "sent" => Self::Sent,
            "failed" => Self::Failed,
            "unknown" => Self::Unknown,
            _ => return None,
        })
    }

    /// For `status` and messages.
    pub fn label_vi(self) -> &'static str {
        match self {
            Self::Pending => "chờ gửi",
            Self::Sending => "đang gửi",
            Self::Sent => "đã gửi",
            Self::Failed => "gửi lỗi",
            Self::Unknown => "không rõ kết quả",
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label_vi())
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    Sending,
    Sent {
        at: DateTime<Utc>,
        server_reply: String,
    },
    Failed {
        at: DateTime<Utc>,
        reason: String,
        /// A 5xx refusal: not retried in this run.
        permanent: bool,
    },
    Unknown {
        /// When [`Ledger::recover`] found it left "sending".
        found_at: DateTime<Utc>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// 1, 2, ... per delivery.
    pub number: u32,
    /// Asked for on purpose after the delivery was sent or unknown.
    pub resend: bool,
    pub message_id: String,
    pub started_at: DateTime<Utc>,
    pub outcome: AttemptOutcome,
    /// The instance ("host:pid") that made it, on a shared PostgreSQL database.
    pub instance: Option<String>,
}

/// One row of `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    pub key: DeliveryKey,
    pub state: DeliveryState,
    pub planned_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first; empty while pending.
    pub attempts: Vec<Attempt>,
}

impl DeliveryRecord {
    pub fn latest(&self) -> Option<&Attempt> {
        self.attempts.last()
    }

    /// Attempts that reached the server, oldest first: more than one after a resend.
    pub fn sends(&self) -> impl Iterator<Item = &Attempt> {
        self.attempts
            .iter()
            .filter(|a| matches!(a.outcome, AttemptOutcome::Sent { .. }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Sổ gửi {db}: không có lần gửi số {attempt} của {key}")]
    NoSuchAttempt {
        db: DbName,
        key: Box<DeliveryKey>,
        attempt: u32,
    },
    #[error(
        "Sổ gửi {db}: lần gửi số {attempt} của {key} đang ở trạng thái «{state}», không phải \
         «đang gửi» hay «không rõ kết quả»; không ghi đè kết quả đã có"
    )]
    NotInFlight {
        db: DbName,
        key: Box<DeliveryKey>,
        attempt: u32,
        state: DeliveryState,
    },
    #[error(
        "Tệp khóa {lock} không phải khóa của cơ sở dữ liệu {db}; chỉ tiến trình giữ khóa của chính \
         cơ sở dữ liệu này mới được chuyển các lần gửi dở dang sang «không rõ kết quả»"
    )]
    WrongLock { db: DbName, lock: String },
    #[error("Sổ gửi {db} có trạng thái lạ «{found}» ở {key}; tệp có thể đã bị sửa tay")]
    Corrupt {
        db: DbName,
        key: Box<DeliveryKey>,
        found: String,
    },
}

/// The ledger over a [`Store`]. Transactions are short and never span a hand-over.
#[derive(Debug, Clone, Copy)]
pub struct Ledger<'a> {
    store: &'a Store,
}

impl<'a> Ledger<'a> {
    pub fn new(store: &'a Store) -> Self {
        Self { store }
    }

    /// Records the delivery as due (pending) if the ledger does not know it yet, so `status`
    /// lists it before anything is tried. Returns whether it was new.
    pub fn plan(&self, key: &DeliveryKey, now: DateTime<Utc>) -> Result<bool, LedgerError> {
        let inserted = self
            .store
            .immediate(|tx| insert_pending(tx, key, now).map(Ok::<_, LedgerError>))??;
        Ok(inserted)
    }

    /// Decides whether to send and, if so, records "sending" with this attempt's id (an
    /// email's Message-ID, a package's id) before the hand-over starts. `resend` is the user's explicit `--resend`: it
    /// allows a delivery that was sent or whose outcome is unknown, and is recorded.
    pub fn begin(
        &self,
        key: &DeliveryKey,
        message_id: &str,
        now: DateTime<Utc>,
        resend: bool,
    ) -> Result<Begin, LedgerError> {
        let db = self.store.name().clone();
        let outcome = self.store.immediate(|tx| {
            insert_pending(tx, key, now)?;
            let (id, state_text, attempts): (i64, String, u32) = tx.query_row(
                "SELECT id, state, attempts FROM deliveries
                 WHERE issuer = ?1 AND period = ?2 AND document = ?3 AND recipient = ?4",
                key_params(key),
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?;
            let Some(state) = DeliveryState::from_sql(&state_text) else {
                return Ok(Err(LedgerError::Corrupt {
                    db: db.clone(),
                    key: Box::new(key.clone()),
                    found: state_text,
                }));
            };
            let newest = || {
                tx.query_row(
                    "SELECT started_at, message_id FROM delivery_attempts
                     WHERE delivery_id = ?1 ORDER BY attempt DESC LIMIT 1",
                    [id],
                    |r| Ok((time_from_row(r, 0)?, r.get::<_, String>(1)?)),
                )
            };
            let last_sent: Option<(DateTime<Utc>, String)> = tx
                .query_row(
                    "SELECT finished_at, message_id FROM delivery_attempts
                     WHERE delivery_id = ?1 AND state = 'sent' ORDER BY attempt DESC LIMIT 1",
                    [id],
                    |r| Ok((time_from_row(r, 0)?, r.get(1)?)),
                )
                .optional()?;

            if state == DeliveryState::Sending {
                let (since, message_id) = newest()?;
                return Ok(Ok(Begin::InProgress { since, message_id }));
            }
            if !resend {
                if state == DeliveryState::Unknown {
                    let (since, message_id) = newest()?;
                    return Ok(Ok(Begin::Unknown { since, message_id }));
                }
                // "Sent" means sent at least once, even if a later resend failed.
                if let Some((at, message_id)) = last_sent {
                    return Ok(Ok(Begin::AlreadySent { at, message_id }));
                }
            }
            let is_resend = resend && (state == DeliveryState::Unknown || last_sent.is_some());
            let attempt = attempts + 1;
            tx.execute(
                "INSERT INTO delivery_attempts
                     (delivery_id, attempt, resend, message_id, started_at, state, instance)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'sending', ?6)",
                params![
                    id,
                    attempt,
                    is_resend,
                    message_id,
                    time_to_sql(&now),
                    self.store.instance()
                ],
            )?;
            tx.execute(
                "UPDATE deliveries SET state = 'sending', attempts = ?2, updated_at = ?3
                 WHERE id = ?1",
                params![id, attempt, time_to_sql(&now)],
            )?;
            Ok(Ok(Begin::Proceed { attempt }))
        })??;
        Ok(outcome)
    }

    /// Records that the server accepted the message. Also accepted for an attempt left
    /// "unknown", so an administrator who found the message in the server's log can settle it.
    pub fn mark_sent(
        &self,
        key: &DeliveryKey,
        attempt: u32,
        now: DateTime<Utc>,
        server_reply: &str,
    ) -> Result<(), LedgerError> {
        self.finish(key, attempt, now, "sent", server_reply, None)
    }

    /// Records a failure: `permanent` for a 5xx refusal (not retried in this run), otherwise
    /// transient (4xx, timeout, connection refused). A later `begin` may try again.
    pub fn mark_failed(
        &self,
        key: &DeliveryKey,
        attempt: u32,
        now: DateTime<Utc>,
        reason: &str,
        permanent: bool,
    ) -> Result<(), LedgerError> {
        self.finish(key, attempt, now, "failed", reason, Some(permanent))
    }

    /// Records that the attempt's outcome is unknown: the connection timed out or dropped after
    /// the message may have been handed over. The delivery becomes "unknown", as after
    /// [`Ledger::recover`]: reported, never sent again without `--resend`.
    pub fn mark_unknown(
        &self,
        key: &DeliveryKey,
        attempt: u32,
        now: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), LedgerError> {
        self.finish(key, attempt, now, "unknown", reason, None)
    }

    fn finish(
        &self,
        key: &DeliveryKey,
        attempt: u32,
        now: DateTime<Utc>,
        state: &str,
        detail: &str,
        permanent: Option<bool>,
    ) -> Result<(), LedgerError> {
        let db = self.store.name().clone();
        self.store.immediate(|tx| {
            let found: Option<(i64, String)> = tx
                .query_row(
                    "SELECT d.id, a.state FROM deliveries d
                     JOIN delivery_attempts a ON a.delivery_id = d.id
                     WHERE d.issuer = ?1 AND d.period = ?2 AND d.document = ?3
                       AND d.recipient = ?4 AND a.attempt = ?5",
                    params![
                        key.issuer,
                        key.period.key(),
                        key.document,
                        key.recipient,
                        attempt
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            let Some((id, current)) = found else {
                return Ok(Err(LedgerError::NoSuchAttempt {
                    db: db.clone(),
                    key: Box::new(key.clone()),
                    attempt,
                }));
            };
            match DeliveryState::from_sql(&current) {
                Some(DeliveryState::Sending | DeliveryState::Unknown) => {}
                Some(other) => {
                    return Ok(Err(LedgerError::NotInFlight {
                        db: db.clone(),
                        key: Box::new(key.clone()),
                        attempt,
                        state: other,
                    }));
                }
                None => {
                    return Ok(Err(LedgerError::Corrupt {
                        db: db.clone(),
                        key: Box::new(key.clone()),
                        found: current,
                    }));
                }
            }
            tx.execute(
                "UPDATE delivery_attempts
                 SET state = ?3, finished_at = ?4, detail = ?5, permanent = ?6
                 WHERE delivery_id = ?1 AND attempt = ?2",
                params![id, attempt, state, time_to_sql(&now), detail, permanent],
            )?;
            sync_state(tx, id, now)?;
            Ok(Ok(()))
        })?
    }

    /// After a crash: every delivery left "sending" becomes "unknown" and is returned, to be
    /// reported. Taking the [`InstanceLock`] proves no other live process is sending from this
    /// database, so every "sending" row belongs to a dead one.
    pub fn recover(
        &self,
        lock: &InstanceLock,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryKey>, LedgerError> {
        // On PostgreSQL other instances may be sending right now: a "sending" row proves no
        // death there, so nothing is recovered. A dead instance's in-flight message stays
        // "sending" (reported as such, never sent again); deciding it is dead is the lease's
        // job (the firing's lease), not this function's.
        if self.store.dialect() == crate::state::Dialect::Postgres {
            return Ok(Vec::new());
        }
        let guards = self.store.path().is_some_and(|p| lock.guards(p));
        if !guards {
            return Err(LedgerError::WrongLock {
                db: self.store.name().clone(),
                lock: lock.path().display().to_string(),
            });
        }
        let keys = self.store.immediate(|tx| {
            let keys = {
                let mut st = tx.prepare(
                    "SELECT issuer, period, document, recipient FROM deliveries
                     WHERE state = 'sending' ORDER BY issuer, period, document, recipient",
                )?;
                st.query_map([], |r| {
                    Ok(DeliveryKey {
                        issuer: r.get(0)?,
                        period: period_from_row(r, 1)?,
                        document: r.get(2)?,
                        recipient: r.get(3)?,
                    })
                })?
                .collect::<DbResult<Vec<_>>>()?
            };
            let at = time_to_sql(&now);
            tx.execute(
                "UPDATE delivery_attempts SET state = 'unknown', finished_at = ?1
                 WHERE state = 'sending'",
                [&at],
            )?;
            tx.execute(
                "UPDATE deliveries SET state = 'unknown', updated_at = ?1 WHERE state = 'sending'",
                [&at],
            )?;
            Ok(Ok::<_, LedgerError>(keys))
        })??;
        Ok(keys)
    }

    /// A dead instance's messages in flight (on one PostgreSQL database shared by several):
    /// each attempt it left "sending" becomes "unknown" — reported, never sent again without
    /// `--resend` — and is returned. Called by the instance that took the dead one's firing over
    /// after its lease expired, which is what proves it dead.
    pub fn abandon(
        &self,
        instance: &str,
        now: DateTime<Utc>,
    ) -> Result<Vec<DeliveryKey>, LedgerError> {
        let keys = self.store.immediate(|tx| {
            let rows = tx.query_map(
                "SELECT d.id, d.issuer, d.period, d.document, d.recipient
                 FROM deliveries d JOIN delivery_attempts a ON a.delivery_id = d.id
                 WHERE a.state = 'sending' AND a.instance = ?1
                 ORDER BY d.issuer, d.period, d.document, d.recipient",
                [instance],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        DeliveryKey {
                            issuer: r.get(1)?,
                            period: period_from_row(r, 2)?,
                            document: r.get(3)?,
                            recipient: r.get(4)?,
                        },
                    ))
                },
            )?;
            tx.execute(
                "UPDATE delivery_attempts SET state = 'unknown', finished_at = ?2
                 WHERE state = 'sending' AND instance = ?1",
                params![instance, time_to_sql(&now)],
            )?;
            for (id, _) in &rows {
                sync_state(tx, *id, now)?;
            }
            Ok(Ok::<_, LedgerError>(
                rows.into_iter().map(|(_, k)| k).collect(),
            ))
        })??;
        Ok(keys)
    }

    /// Every delivery of an issuer's period with its full history, ordered by document and
    /// recipient.
    pub fn status(
        &self,
        issuer: &str,
        period: PeriodId,
    ) -> Result<Vec<DeliveryRecord>, LedgerError> {
        let db = self.store.name().clone();
        let period_key = period.key();
        let (rows, attempts) = self.store.read(|tx| {
            let rows = {
                let mut st = tx.prepare(
                    "SELECT id, document, recipient, state, planned_at, updated_at
                     FROM deliveries WHERE issuer = ?1 AND period = ?2
                     ORDER BY document, recipient",
                )?;
                st.query_map([issuer, period_key.as_str()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        time_from_row(r, 4)?,
                        time_from_row(r, 5)?,
                    ))
                })?
                .collect::<DbResult<Vec<_>>>()?
            };
            let attempts = {
                let mut st = tx.prepare(
                    "SELECT a.delivery_id, a.attempt, a.resend, a.message_id, a.started_at,
                            a.state, a.finished_at, a.detail, a.permanent, a.instance
                     FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
                     WHERE d.issuer = ?1 AND d.period = ?2
                     ORDER BY a.delivery_id, a.attempt",
                )?;
                st.query_map([issuer, period_key.as_str()], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, u32>(1)?,
                        r.get::<_, bool>(2)?,
                        r.get::<_, String>(3)?,
                        time_from_row(r, 4)?,
                        r.get::<_, String>(5)?,
                        opt_time_from_row(r, 6)?,
                        r.get::<_, Option<String>>(7)?,
                        r.get::<_, Option<bool>>(8)?,
                        r.get::<_, Option<String>>(9)?,
                    ))
                })?
                .collect::<DbResult<Vec<_>>>()?
            };
            Ok((rows, attempts))
        })?;

        let mut records = Vec::with_capacity(rows.len());
        for (id, document, recipient, state, planned_at, updated_at) in rows {
            let key = DeliveryKey::new(issuer, period, document, recipient);
            let corrupt = |found: &str| LedgerError::Corrupt {
                db: db.clone(),
                key: Box::new(key.clone()),
                found: found.to_owned(),
            };
            let state = DeliveryState::from_sql(&state).ok_or_else(|| corrupt(&state))?;
            let mut history = Vec::new();
            for (
                _,
                number,
                resend,
                message_id,
                started_at,
                a_state,
                finished,
                detail,
                permanent,
                instance,
            ) in attempts.iter().filter(|a| a.0 == id)
            {
                let outcome = match (a_state.as_str(), finished) {
                    ("sending", _) => AttemptOutcome::Sending,
                    ("sent", Some(at)) => AttemptOutcome::Sent {
                        at: *at,
                        server_reply: detail.clone().unwrap_or_default(),
                    },
                    ("failed", Some(at)) => AttemptOutcome::Failed {
                        at: *at,
                        reason: detail.clone().unwrap_or_default(),
                        permanent: permanent.unwrap_or(false),
                    },
                    ("unknown", Some(at)) => AttemptOutcome::Unknown { found_at: *at },
                    (other, _) => return Err(corrupt(other)),
                };
                history.push(Attempt {
                    number: *number,
                    resend: *resend,
                    message_id: message_id.clone(),
                    started_at: *started_at,
                    outcome,
                    instance: instance.clone(),
                });
            }
            records.push(DeliveryRecord {
                key,
                state,
                planned_at,
                updated_at,
                attempts: history,
            });
        }
        Ok(records)
    }
}

fn key_params(key: &DeliveryKey) -> [String; 4] {
    [
        key.issuer.clone(),
        key.period.key(),
        key.document.clone(),
        key.recipient.clone(),
    ]
}

/// A period key column read back as the [`PeriodId`] it was written from; anything else is a
/// conversion error naming the column, never a silently different period.
fn period_from_row(row: &crate::state::Row, idx: usize) -> DbResult<PeriodId> {
    let text: String = row.get(idx)?;
    text.parse().map_err(|e| DbError::conversion(idx, e))
}

fn insert_pending(tx: &Conn<'_>, key: &DeliveryKey, now: DateTime<Utc>) -> DbResult<bool> {
    let at = time_to_sql(&now);
    let n = tx.execute(
        "INSERT INTO deliveries (issuer, period, document, recipient, state, planned_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?5)
         ON CONFLICT (issuer, period, document, recipient) DO NOTHING",
        params![key.issuer, key.period.key(), key.document, key.recipient, at],
    )?;
    Ok(n == 1)
}

/// Sets the delivery's state to its newest attempt's.
fn sync_state(tx: &Conn<'_>, id: i64, now: DateTime<Utc>) -> DbResult<()> {
    tx.execute(
        "UPDATE deliveries SET
             state = COALESCE((SELECT state FROM delivery_attempts WHERE delivery_id = ?1
                               ORDER BY attempt DESC LIMIT 1), ?3),
             updated_at = ?2
         WHERE id = ?1",
        params![id, time_to_sql(&now), DeliveryState::Pending.as_sql()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Half;
    use crate::state::testing;
    use chrono::TimeZone;
    use std::path::PathBuf;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 25, h, m, 0).unwrap()
    }

    fn key(recipient: &str) -> DeliveryKey {
        DeliveryKey::new(
            "UBND huyện Đầm Hà",
            PeriodId::new(2024, Half::First),
            "assignment-letter",
            recipient,
        )
    }

    fn db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vanban.sqlite");
        (dir, path)
    }

    fn status_of(store: &Store, k: &DeliveryKey) -> DeliveryRecord {
        Ledger::new(store)
            .status(&k.issuer, k.period)
            .unwrap()
            .into_iter()
            .find(|r| &r.key == k)
            .unwrap()
    }

    #[test]
    fn planned_delivery_is_pending_until_tried() {
        let (_dir, path) = db();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        assert!(ledger.plan(&key("bqlda"), t(8, 0)).unwrap());
        assert!(!ledger.plan(&key("bqlda"), t(8, 5)).unwrap());
        let rec = status_of(&store, &key("bqlda"));
        assert_eq!(rec.state, DeliveryState::Pending);
        assert_eq!(rec.planned_at, t(8, 0));
        assert!(rec.attempts.is_empty());
    }

    #[test]
    fn sending_then_sent_then_already_sent() {
        let (_dir, path) = db();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        let k = key("bqlda");
        assert_eq!(
            ledger.begin(&k, "<m1@vanban>", t(8, 0), false).unwrap(),
            Begin::Proceed { attempt: 1 }
        );
        assert_eq!(status_of(&store, &k).state, DeliveryState::Sending);
        ledger
            .mark_sent(&k, 1, t(8, 1), "250 2.0.0 Ok: queued")
            .unwrap();

        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Sent);
        assert_eq!(
            rec.latest().unwrap().outcome,
            AttemptOutcome::Sent {
                at: t(8, 1),
                server_reply: "250 2.0.0 Ok: queued".into()
            }
        );
        assert_eq!(
            ledger.begin(&k, "<m2@vanban>", t(9, 0), false).unwrap(),
            Begin::AlreadySent {
                at: t(8, 1),
                message_id: "<m1@vanban>".into()
            }
        );
        // The refusal recorded nothing.
        assert_eq!(status_of(&store, &k).attempts.len(), 1);
        // A second mark of the same attempt cannot overwrite the outcome.
        let err = ledger.mark_failed(&k, 1, t(9, 1), "x", true).unwrap_err();
        assert!(matches!(err, LedgerError::NotInFlight { .. }), "{err:?}");
        assert!(err.to_string().contains("vanban.sqlite"), "{err}");
    }

    #[test]
    fn resend_is_allowed_on_purpose_and_both_sends_are_kept() {
        let (_dir, path) = db();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        let k = key("bqlda");
        ledger.begin(&k, "<m1@vanban>", t(8, 0), false).unwrap();
        ledger.mark_sent(&k, 1, t(8, 1), "250 first").unwrap();
        assert_eq!(
            ledger.begin(&k, "<m1.r2@vanban>", t(10, 0), true).unwrap(),
            Begin::Proceed { attempt: 2 }
        );
        ledger.mark_sent(&k, 2, t(10, 1), "250 second").unwrap();

        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Sent);
        let sends: Vec<_> = rec.sends().collect();
        assert_eq!(sends.len(), 2);
        assert!(!sends[0].resend);
        assert!(sends[1].resend);
        assert_eq!(sends[1].message_id, "<m1.r2@vanban>");
        assert_eq!(
            ledger.begin(&k, "<m3@vanban>", t(11, 0), false).unwrap(),
            Begin::AlreadySent {
                at: t(10, 1),
                message_id: "<m1.r2@vanban>".into()
            }
        );
    }

    #[test]
    fn a_failed_resend_does_not_make_a_sent_delivery_sendable_again() {
        let store = testing::open_in_memory().unwrap();
        let ledger = Ledger::new(&store);
        let k = key("bqlda");
        ledger.begin(&k, "<m1>", t(8, 0), false).unwrap();
        ledger.mark_sent(&k, 1, t(8, 1), "250").unwrap();
        ledger.begin(&k, "<m2>", t(9, 0), true).unwrap();
        ledger
            .mark_failed(&k, 2, t(9, 1), "421 try later", false)
            .unwrap();
        assert_eq!(status_of(&store, &k).state, DeliveryState::Failed);
        assert!(matches!(
            ledger.begin(&k, "<m3>", t(10, 0), false).unwrap(),
            Begin::AlreadySent { .. }
        ));
    }

    #[test]
    fn crash_while_sending_becomes_unknown_and_is_not_resent_silently() {
        let (_dir, path) = db();
        let k = key("bqlda");
        let other = key("quang-lam");
        {
            let lock = InstanceLock::acquire(&path, t(8, 0)).unwrap();
            let store = testing::open(&path).unwrap();
            let ledger = Ledger::new(&store);
            ledger.plan(&other, t(8, 0)).unwrap();
            assert_eq!(
                ledger.begin(&k, "<m1@vanban>", t(8, 0), false).unwrap(),
                Begin::Proceed { attempt: 1 }
            );
            // The process "dies": store and lock dropped without mark_sent.
            drop(store);
            drop(lock);
        }
        let lock = InstanceLock::acquire(&path, t(9, 0)).unwrap();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        // Before recovery the row is still "sending": nobody may start it again.
        assert!(matches!(
            ledger.begin(&k, "<m2@vanban>", t(9, 0), true).unwrap(),
            Begin::InProgress { .. }
        ));
        assert_eq!(ledger.recover(&lock, t(9, 0)).unwrap(), vec![k.clone()]);
        assert!(ledger.recover(&lock, t(9, 1)).unwrap().is_empty());

        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Unknown);
        assert_eq!(
            rec.latest().unwrap().outcome,
            AttemptOutcome::Unknown { found_at: t(9, 0) }
        );
        assert_eq!(status_of(&store, &other).state, DeliveryState::Pending);
        assert_eq!(
            ledger.begin(&k, "<m2@vanban>", t(9, 5), false).unwrap(),
            Begin::Unknown {
                since: t(8, 0),
                message_id: "<m1@vanban>".into()
            }
        );
        // A deliberate resend clears it.
        assert_eq!(
            ledger.begin(&k, "<m2@vanban>", t(9, 10), true).unwrap(),
            Begin::Proceed { attempt: 2 }
        );
        ledger.mark_sent(&k, 2, t(9, 11), "250").unwrap();
        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Sent);
        assert!(rec.attempts[1].resend);
    }

    #[test]
    fn a_lost_reply_is_marked_unknown_and_only_a_resend_clears_it() {
        let (_dir, path) = db();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        let k = key("tckh");
        assert_eq!(
            ledger.begin(&k, "<m1@vanban>", t(8, 0), false).unwrap(),
            Begin::Proceed { attempt: 1 }
        );
        ledger
            .mark_unknown(&k, 1, t(8, 1), "quá thời gian chờ")
            .unwrap();
        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Unknown);
        assert_eq!(
            rec.latest().unwrap().outcome,
            AttemptOutcome::Unknown { found_at: t(8, 1) }
        );
        assert_eq!(
            ledger.begin(&k, "<m2@vanban>", t(9, 0), false).unwrap(),
            Begin::Unknown {
                since: t(8, 0),
                message_id: "<m1@vanban>".into()
            }
        );
        assert_eq!(
            ledger.begin(&k, "<m2@vanban>", t(9, 5), true).unwrap(),
            Begin::Proceed { attempt: 2 }
        );
    }

    #[test]
    fn unknown_can_be_settled_from_the_server_log() {
        let (_dir, path) = db();
        let lock = InstanceLock::acquire(&path, t(8, 0)).unwrap();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        let k = key("bqlda");
        ledger.begin(&k, "<m1>", t(8, 0), false).unwrap();
        ledger.recover(&lock, t(9, 0)).unwrap();
        ledger
            .mark_sent(&k, 1, t(9, 30), "thấy trong nhật ký máy chủ")
            .unwrap();
        assert!(matches!(
            ledger.begin(&k, "<m2>", t(10, 0), false).unwrap(),
            Begin::AlreadySent { .. }
        ));
    }

    #[test]
    fn recover_requires_the_lock_of_this_database() {
        let (dir, path) = db();
        let store = testing::open(&path).unwrap();
        let foreign = InstanceLock::acquire(&dir.path().join("other.sqlite"), t(8, 0)).unwrap();
        let err = Ledger::new(&store).recover(&foreign, t(8, 0)).unwrap_err();
        assert!(matches!(err, LedgerError::WrongLock { .. }), "{err:?}");
        assert!(err.to_string().contains("other.sqlite.lock"), "{err}");
    }

    #[test]
    fn transient_failure_then_sent_keeps_the_count() {
        let (_dir, path) = db();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        let k = key("bqlda");
        ledger.begin(&k, "<m1>", t(8, 0), false).unwrap();
        ledger
            .mark_failed(&k, 1, t(8, 0), "451 4.3.0 try again later", false)
            .unwrap();
        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Failed);
        assert_eq!(
            ledger.begin(&k, "<m1>", t(8, 2), false).unwrap(),
            Begin::Proceed { attempt: 2 }
        );
        ledger.mark_sent(&k, 2, t(8, 3), "250 ok").unwrap();
        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Sent);
        assert_eq!(rec.attempts.len(), 2);
        assert_eq!(
            rec.attempts[0].outcome,
            AttemptOutcome::Failed {
                at: t(8, 0),
                reason: "451 4.3.0 try again later".into(),
                permanent: false
            }
        );
        assert!(!rec.attempts[1].resend);
    }

    #[test]
    fn permanent_failure_is_recorded_with_the_server_text() {
        let (_dir, path) = db();
        let store = testing::open(&path).unwrap();
        let ledger = Ledger::new(&store);
        let k = key("quang-an");
        ledger.begin(&k, "<m1>", t(8, 0), false).unwrap();
        let reply = "550 5.1.1 <vanthu@quangan.example.vn>: Recipient address rejected";
        ledger.mark_failed(&k, 1, t(8, 1), reply, true).unwrap();
        drop(store);

        let store = testing::open(&path).unwrap();
        let rec = status_of(&store, &k);
        assert_eq!(rec.state, DeliveryState::Failed);
        assert_eq!(
            rec.latest().unwrap().outcome,
            AttemptOutcome::Failed {
                at: t(8, 1),
                reason: reply.into(),
                permanent: true
            }
        );
    }

    #[test]
    fn marking_an_attempt_that_never_began_is_an_error() {
        let store = testing::open_in_memory().unwrap();
        let ledger = Ledger::new(&store);
        let err = ledger
            .mark_sent(&key("bqlda"), 1, t(8, 0), "250")
            .unwrap_err();
        assert!(matches!(err, LedgerError::NoSuchAttempt { .. }), "{err:?}");
        assert!(err.to_string().contains("bqlda"), "{err}");
    }

    #[test]
    fn status_is_per_issuer_and_period_and_sorted() {
        let store = testing::open_in_memory().unwrap();
        let ledger = Ledger::new(&store);
        ledger.plan(&key("quang-lam"), t(8, 0)).unwrap();
        ledger.plan(&key("bqlda"), t(8, 0)).unwrap();
        let mut other_period = key("bqlda");
        other_period.period = PeriodId::new(2024, Half::Whole);
        ledger.plan(&other_period, t(8, 0)).unwrap();
        let mut other_issuer = key("bqlda");
        other_issuer.issuer = "UBND xã Quảng Lâm".into();
        ledger.plan(&other_issuer, t(8, 0)).unwrap();

        let recipients: Vec<_> = ledger
            .status("UBND huyện Đầm Hà", PeriodId::new(2024, Half::First))
            .unwrap()
            .into_iter()
            .map(|r| r.key.recipient)
            .collect();
        assert_eq!(recipients, ["bqlda", "quang-lam"]);
    }

    #[test]
    fn the_schema_forbids_two_attempts_in_flight() {
        let store = testing::open_in_memory().unwrap();
        let ledger = Ledger::new(&store);
        ledger.begin(&key("bqlda"), "<m1>", t(8, 0), false).unwrap();
        let dup = store.conn().execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, resend, message_id, started_at, state)
             SELECT id, 2, 0, '<m2>', 'x', 'sending' FROM deliveries",
            [],
        );
        assert!(dup.is_err());
    }

    #[test]
    fn a_dead_instances_message_in_flight_is_abandoned_as_unknown_only_its_own() {
        let store = testing::open_in_memory().unwrap();
        let ledger = Ledger::new(&store);
        let (a, b) = (key("bqlda"), key("pnn"));
        ledger.begin(&a, "<m1@vanban>", t(8, 0), false).unwrap();
        ledger.begin(&b, "<m2@vanban>", t(8, 0), false).unwrap();
        // Mark which instance made each attempt, as begin does on PostgreSQL.
        store
            .conn()
            .execute(
                "UPDATE delivery_attempts SET instance = CASE WHEN message_id = '<m1@vanban>'
                 THEN 'dead:1' ELSE 'alive:2' END",
                [],
            )
            .unwrap();
        assert_eq!(ledger.abandon("dead:1", t(8, 5)).unwrap(), vec![a.clone()]);
        assert_eq!(status_of(&store, &a).state, DeliveryState::Unknown);
        assert_eq!(status_of(&store, &b).state, DeliveryState::Sending);
        // Never sent again silently.
        assert!(matches!(
            ledger.begin(&a, "<m3@vanban>", t(9, 0), false).unwrap(),
            Begin::Unknown { .. }
        ));
        assert!(ledger.abandon("dead:1", t(8, 6)).unwrap().is_empty());
    }

    /// The same tests on PostgreSQL, except those of `recover`, which rests on the SQLite
    /// file's lock.
    #[test]
    #[ignore = "needs PostgreSQL: run .ci/run"]
    fn the_ledger_tests_on_postgres() {
        testing::on_postgres(&[
            (
                "planned_delivery_is_pending_until_tried",
                planned_delivery_is_pending_until_tried,
            ),
            (
                "sending_then_sent_then_already_sent",
                sending_then_sent_then_already_sent,
            ),
            (
                "resend_is_allowed_on_purpose_and_both_sends_are_kept",
                resend_is_allowed_on_purpose_and_both_sends_are_kept,
            ),
            (
                "a_failed_resend_does_not_make_a_sent_delivery_sendable_again",
                a_failed_resend_does_not_make_a_sent_delivery_sendable_again,
            ),
            (
                "a_lost_reply_is_marked_unknown_and_only_a_resend_clears_it",
                a_lost_reply_is_marked_unknown_and_only_a_resend_clears_it,
            ),
            (
                "transient_failure_then_sent_keeps_the_count",
                transient_failure_then_sent_keeps_the_count,
            ),
            (
                "permanent_failure_is_recorded_with_the_server_text",
                permanent_failure_is_recorded_with_the_server_text,
            ),
            (
                "marking_an_attempt_that_never_began_is_an_error",
                marking_an_attempt_that_never_began_is_an_error,
            ),
            (
                "status_is_per_issuer_and_period_and_sorted",
                status_is_per_issuer_and_period_and_sorted,
            ),
            (
                "the_schema_forbids_two_attempts_in_flight",
                the_schema_forbids_two_attempts_in_flight,
            ),
            (
                "a_dead_instances_message_in_flight_is_abandoned_as_unknown_only_its_own",
                a_dead_instances_message_in_flight_is_abandoned_as_unknown_only_its_own,
            ),
        ]);
    }
}
