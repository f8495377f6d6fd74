//! File plumbing for the PKI directory: atomic writes, private-key permissions and a directory lock.
//!
//! A reader must never see a half-written PEM file, and a key file must never exist, even for a moment, with
//! permissions wider than 0600. So every file is written to a temporary sibling created with its final mode,
//! flushed, and renamed over the target. Two processes (say `bankgate bank` and `bankgate gateway` started at the
//! same time) must not interleave their writes: callers hold [`DirLock`] while they decide and write.
//! This module must never log or return file contents.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::CertError;

/// Mode of private-key files.
pub(crate) const KEY_FILE_MODE: u32 = 0o600;
/// Mode of certificate files (public data).
pub(crate) const CERT_FILE_MODE: u32 = 0o644;
/// Mode of a PKI directory we create ourselves.
const DIR_MODE: u32 = 0o700;
/// Name of the lock file inside the PKI directory.
const LOCK_FILE: &str = ".certs.lock";

/// Creates `dir` (and its parents) if missing; a new directory is private to the user.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), CertError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(DIR_MODE);
    }
    builder.create(dir).map_err(|e| CertError::io("create directory", dir, e))
}

/// An exclusive advisory lock on a PKI directory, released on drop.
///
/// `flock`-style locks conflict between separate open file descriptions, so this serialises threads of one process
/// as well as separate processes. In a directory we may not write to (a read-only mount of prepared certificates)
/// there is nobody to race with and nothing we could write, so the lock is skipped.
pub(crate) struct DirLock {
    file: Option<File>,
}

impl DirLock {
    /// Blocks until the lock on `dir` is ours. `dir` must exist.
    pub(crate) fn acquire(dir: &Path) -> Result<DirLock, CertError> {
        let path = dir.join(LOCK_FILE);
        let file = match OpenOptions::new().create(true).truncate(false).write(true).open(&path) {
            Ok(file) => file,
            Err(e) if matches!(e.kind(), ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem) => {
                tracing::debug!(path = %path.display(), error = %e, "PKI directory is not writable; reading without a lock");
                return Ok(DirLock { file: None });
            }
            Err(e) => return Err(CertError::io("open lock file", &path, e)),
        };
        file.lock().map_err(|e| CertError::io("lock", &path, e))?;
        Ok(DirLock { file: Some(file) })
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Closing the descriptor releases the lock anyway; unlocking explicitly just makes it prompt.
        if let Some(file) = &self.file {
            let _ = file.unlock();
        }
    }
}

/// Reads a UTF-8 text file; `Ok(None)` when it does not exist.
pub(crate) fn read_optional(path: &Path) -> Result<Option<String>, CertError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(CertError::io("read", path, e)),
    }
}

/// Writes `contents` to `path` atomically: temporary sibling with mode `mode`, fsync, rename, fsync of the directory.
pub(crate) fn write_atomic(path: &Path, contents: &[u8], mode: u32) -> Result<(), CertError> {
    let (tmp_path, mut file) = create_temp_sibling(path, mode)?;
    let written = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| CertError::io("write", &tmp_path, e))
        .and_then(|()| std::fs::rename(&tmp_path, path).map_err(|e| CertError::io("rename into", path, e)));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp_path);
        return Err(e);
    }
    // Make the rename itself durable; failure here does not make the file wrong, so it is not an error.
    if let Some(parent) = path.parent()
        && let Ok(dir) = File::open(parent)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

/// Creates a fresh temporary file next to `path`, already carrying `mode`.
fn create_temp_sibling(path: &Path, mode: u32) -> Result<(PathBuf, File), CertError> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    let base = path.file_name().and_then(|n| n.to_str()).unwrap_or("certs");
    let nonce =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let mut last_error = None;
    for attempt in 0u32..16 {
        let tmp = dir.join(format!(".{base}.tmp-{}-{nonce:08x}-{attempt}", std::process::id()));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        match options.open(&tmp) {
            Ok(file) => {
                // The process umask may have narrowed the mode; make it exact (never wider than asked).
                set_mode(&tmp, mode)?;
                return Ok((tmp, file));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(CertError::io("create", &tmp, e)),
        }
    }
    let error = last_error.unwrap_or_else(|| std::io::Error::other("no free temporary name"));
    Err(CertError::io("create temporary file for", path, error))
}

/// Sets the permission bits of `path` (no-op off Unix).
pub(crate) fn set_mode(path: &Path, mode: u32) -> Result<(), CertError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| CertError::io("set permissions of", path, e))?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// If the key file at `path` is readable by group or others, narrows it to 0600 (best effort) and says so.
pub(crate) fn tighten_key_mode(path: &Path) -> Result<(), CertError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path).map_err(|e| CertError::io("inspect", path, e))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            // Best effort: on a read-only mount the key stays as it is, and the warning says so.
            match set_mode(path, KEY_FILE_MODE) {
                Ok(()) => {
                    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), "private key was readable by others; set to 0600")
                }
                Err(e) => {
                    tracing::warn!(path = %path.display(), mode = format!("{mode:o}"), error = %e, "private key is readable by others and could not be narrowed")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.pem");
        write_atomic(&path, b"first", CERT_FILE_MODE).unwrap();
        write_atomic(&path, b"second", CERT_FILE_MODE).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "second");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("a.pem")]);
    }

    #[cfg(unix)]
    #[test]
    fn key_mode_is_exact_and_loose_keys_are_tightened() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.pem");
        write_atomic(&path, b"k", KEY_FILE_MODE).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        set_mode(&path, 0o644).unwrap();
        tighten_key_mode(&path).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn missing_file_reads_as_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_optional(&dir.path().join("nope.pem")).unwrap().is_none());
    }
}
