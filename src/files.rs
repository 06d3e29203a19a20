//! Writing a file so that it is either wholly there or not there at all, even after a power cut:
//! the one helper for filed documents, outbox messages and rendered output.

use std::fs;
use std::io::Write;
use std::path::Path;

/// Writes `bytes` to `path` through a temporary file beside it: write, fsync the file, rename,
/// fsync the folder. A reader never sees half a file, a failure leaves nothing behind, and once
/// this returns the file survives a power cut as surely as a database row committed after it
/// (a filed document's hash is in the register; its bytes must be on disk too).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, temp) = written_beside(path, bytes)?;
    // rename(2) replaces a link at `path` itself, never the file it points to. On failure the
    // temporary file is removed when dropped.
    temp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// [`write_atomically`] for a file that must not exist yet: fails with `AlreadyExists` (and
/// leaves nothing behind) when `path` is there, even if another process made it a moment ago.
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let (dir, temp) = written_beside(path, bytes)?;
    // link(2) then unlink: never replaces an existing file.
    temp.persist_noclobber(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// `bytes` in a temporary file beside `path`, synced, and the folder they share (created if
/// need be).
fn written_beside<'p>(
    path: &'p Path,
    bytes: &[u8],
) -> std::io::Result<(&'p Path, tempfile::NamedTempFile)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    // An unpredictable name, created with O_EXCL: a link planted beside the file cannot
    // redirect the write (a predictable ".name.pid.tmp" once let one overwrite its target).
    let mut temp = tempfile::Builder::new()
        .prefix(".vanban-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    Ok((dir, temp))
}

/// Makes a rename or a new entry in `dir` durable. On systems that cannot open a folder for
/// syncing (not Linux) this is skipped: only durability after a power cut is weaker there.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    match fs::File::open(dir) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            // Some file systems refuse fsync on a directory; the rename itself has happened.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => Ok(()),
            Err(e) => Err(e),
        },
        Err(_) if cfg!(not(unix)) => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replaces_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("văn bản.pdf");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<String> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["văn bản.pdf".to_owned()]);
    }

    #[test]
    fn a_failed_write_leaves_the_old_file_and_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.eml");
        write_atomically(&path, b"old").unwrap();
        // A directory where the file should be: the rename fails.
        let blocked = dir.path().join("blocked");
        fs::create_dir_all(blocked.join("x")).unwrap();
        assert!(write_atomically(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        let temps = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".tmp")
            })
            .count();
        assert_eq!(temps, 0);
    }
    #[cfg(unix)]
    #[test]
    fn a_planted_link_is_replaced_never_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, b"keep").unwrap();
        let path = dir.path().join("01-bao-cao.pdf");
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        // The old predictable temporary name, planted too.
        let planted = dir
            .path()
            .join(format!(".01-bao-cao.pdf.{}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_atomically(&path, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        assert!(
            !fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(fs::read(&path).unwrap(), b"new");
    }
}
