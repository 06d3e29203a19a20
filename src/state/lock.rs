//! The single-instance lock: one vanban process (run or send) per state database, held as an
//! advisory file lock that the operating system drops when the process dies.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::config::StateLocation;

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "Một tiến trình vanban khác (run hoặc send) đang dùng cơ sở dữ liệu này: tệp khóa {lock} \
         đang bị giữ{holder}. Hãy chờ tiến trình đó kết thúc rồi chạy lại."
    )]
    Held { lock: String, holder: String },
    #[error("Không tạo hoặc khóa được tệp khóa {lock}: {source}")]
    Io {
        lock: String,
        #[source]
        source: std::io::Error,
    },
}

/// Held while this process may send or recover deliveries. Dropping it (or the process dying,
/// however it dies) releases the lock; the file itself stays, which is harmless: only the lock
/// on it counts, never its existence.
#[derive(Debug)]
pub struct InstanceLock {
    // Kept open: closing the file would release the lock. None for a shared PostgreSQL
    // database, where several instances run at once and the database itself keeps them apart.
    _file: Option<File>,
    path: PathBuf,
}

impl InstanceLock {
    /// The lock file for a database: `vanban.sqlite` → `vanban.sqlite.lock`, in the same folder.
    pub fn path_for(database: &Path) -> PathBuf {
        let mut name = database.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock for `database` without waiting. `started` is written into the file with the
    /// process id, only so that a second process can say who holds it.
    pub fn acquire(database: &Path, started: DateTime<Utc>) -> Result<InstanceLock, LockError> {
        let path = Self::path_for(database);
        let shown = path.display().to_string();
        let io = |source| LockError::Io {
            lock: shown.clone(),
            source,
        };
        // Not truncated on open: the holder's note must survive until we own the lock.
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut note = String::new();
                // Informational only: an unreadable note still gives the main message.
                let holder = match file.read_to_string(&mut note) {
                    Ok(_) if !note.trim().is_empty() => format!(" ({})", note.trim()),
                    _ => String::new(),
                };
                return Err(LockError::Held {
                    lock: shown,
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(io(source)),
        }
        let note = format!(
            "pid {}, bắt đầu lúc {}",
            std::process::id(),
            started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(note.as_bytes()).map_err(io)?;
        file.flush().map_err(io)?;
        // Canonical, so the ledger can check the lock belongs to the database it recovers.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(InstanceLock {
            _file: Some(file),
            path,
        })
    }

    /// The lock for the configured state: the file lock beside a SQLite file; none on
    /// PostgreSQL, where instances run side by side (firings, numbers and messages are claimed
    /// in the database) — the returned value then guards no file.
    pub fn acquire_state(
        state: &StateLocation,
        started: DateTime<Utc>,
    ) -> Result<InstanceLock, LockError> {
        match state {
            StateLocation::File(path) => Self::acquire(path, started),
            StateLocation::Postgres { .. } => Ok(InstanceLock {
                _file: None,
                path: PathBuf::new(),
            }),
        }
    }

    /// [`InstanceLock::is_held`] for the configured state; on PostgreSQL there is no such lock.
    pub fn is_held_state(state: &StateLocation) -> Result<bool, LockError> {
        match state {
            StateLocation::File(path) => Self::is_held(path),
            StateLocation::Postgres { .. } => Ok(false),
        }
    }

    /// Whether a live process holds the lock of `database`, checked without taking it and
    /// without touching the holder's note (for `status`, which only reads). No lock file means
    /// no holder.
    pub fn is_held(database: &Path) -> Result<bool, LockError> {
        let path = Self::path_for(database);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(source) => {
                return Err(LockError::Io {
                    lock: path.display().to_string(),
                    source,
                });
            }
        };
        // A shared lock is granted only while nobody holds the exclusive one; it is dropped with
        // the file at once.
        match file.try_lock_shared() {
            Ok(()) => Ok(false),
            Err(TryLockError::WouldBlock) => Ok(true),
            Err(TryLockError::Error(source)) => Err(LockError::Io {
                lock: path.display().to_string(),
                source,
            }),
        }
    }

    /// The lock file's path (canonical).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this lock guards the database file at `database`.
    pub fn guards(&self, database: &Path) -> bool {
        if self._file.is_none() {
            return false;
        }
        let expected = Self::path_for(database);
        let expected = std::fs::canonicalize(&expected).unwrap_or(expected);
        expected == self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 25, 1, 0, 0).unwrap()
    }

    #[test]
    fn lock_file_sits_beside_the_database() {
        assert_eq!(
            InstanceLock::path_for(Path::new("/srv/vanban/vanban.sqlite")),
            PathBuf::from("/srv/vanban/vanban.sqlite.lock")
        );
    }

    #[test]
    fn second_lock_fails_with_message_and_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("vanban.sqlite");
        let first = InstanceLock::acquire(&db, t0()).unwrap();
        assert!(first.guards(&db));

        let err = InstanceLock::acquire(&db, t0()).unwrap_err();
        assert!(matches!(err, LockError::Held { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("vanban.sqlite.lock"), "{msg}");
        assert!(msg.contains("Một tiến trình vanban khác"), "{msg}");
        assert!(
            msg.contains(&format!("pid {}", std::process::id())),
            "{msg}"
        );
        assert!(msg.contains("2024-06-25T01:00:00Z"), "{msg}");

        drop(first);
        // Other tests in this process spawn subprocesses; a child forked before its exec holds
        // a copy of the lock's file description for a moment, so allow a short wait.
        let mut second = InstanceLock::acquire(&db, t0() + chrono::Duration::hours(1));
        for _ in 0..50 {
            if second.is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
            second = InstanceLock::acquire(&db, t0() + chrono::Duration::hours(1));
        }
        let second = second.unwrap();
        let note = std::fs::read_to_string(second.path()).unwrap();
        assert!(note.ends_with("bắt đầu lúc 2024-06-25T02:00:00Z"), "{note}");
    }

    #[test]
    fn is_held_sees_a_holder_without_disturbing_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("vanban.sqlite");
        assert!(!InstanceLock::is_held(&db).unwrap(), "no lock file yet");
        let lock = InstanceLock::acquire(&db, t0()).unwrap();
        assert!(InstanceLock::is_held(&db).unwrap());
        let note = std::fs::read_to_string(lock.path()).unwrap();
        assert!(
            note.contains(&format!("pid {}", std::process::id())),
            "{note}"
        );
        drop(lock);
        // See above: a child forked meanwhile may hold the description for a moment.
        let mut held = true;
        for _ in 0..50 {
            held = InstanceLock::is_held(&db).unwrap();
            if !held {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!held);
    }

    #[test]
    fn does_not_guard_another_database() {
        let dir = tempfile::tempdir().unwrap();
        let lock = InstanceLock::acquire(&dir.path().join("a.sqlite"), t0()).unwrap();
        assert!(!lock.guards(&dir.path().join("b.sqlite")));
    }

    #[test]
    fn missing_folder_is_an_io_error_naming_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("missing").join("vanban.sqlite");
        let err = InstanceLock::acquire(&db, t0()).unwrap_err();
        assert!(matches!(err, LockError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("vanban.sqlite.lock"), "{err}");
    }
}
