//! Crash-safe writes of mission files: atomic replace for whole files, one `write` per JSONL line.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// Replaces `path` with `bytes` atomically: temporary file in the same folder, fsync, rename,
/// then fsync of the folder so the rename itself survives a crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_through_temp(path, bytes, |tmp, path| fs::rename(tmp, path))
}

/// Writes `bytes` to a temporary file beside `path`, syncs it, `publish`es it under `path`,
/// then syncs the folder; the temporary file never stays behind.
fn write_through_temp(path: &Path, bytes: &[u8], publish: fn(&Path, &Path) -> io::Result<()>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = dir.join(format!(".{}.tmp-{}-{}", name.to_string_lossy(), std::process::id(), unique_suffix()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        publish(&tmp, path)?;
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    // After a rename this finds nothing; after a hard link or a failure it removes the copy.
    let _ = fs::remove_file(&tmp);
    result
}

/// Serialises `value` as droid writes its JSON files (two-space indent, no trailing newline)
/// and writes it atomically.
pub fn write_json_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    write_atomic(path, &bytes)
}

/// Like [`write_json_atomic`] with a trailing newline, as droid writes handoffs.
pub fn write_json_line_atomic<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(io::Error::other)?;
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// Writes `bytes` to `path` atomically, only if `path` does not exist yet: droid's handoffs are
/// write-once. Fails with `AlreadyExists` otherwise; no partial file is ever visible.
pub fn write_new_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    // A hard link does not replace an existing file, unlike a rename.
    write_through_temp(path, bytes, |tmp, path| fs::hard_link(tmp, path))
}

/// Appends one JSON value as a line. A torn tail left by an earlier crash (bytes after the
/// last newline) is truncated first, so every line in the file stays whole.
pub fn append_jsonl<T: serde::Serialize>(path: &Path, value: &T) -> io::Result<()> {
    let mut line = serde_json::to_vec(value).map_err(io::Error::other)?;
    line.push(b'\n');
    append_line_bytes(path, &line)
}

/// Appends `line` (which must end with `\n`) with a single `write` call.
pub fn append_line_bytes(path: &Path, line: &[u8]) -> io::Result<()> {
    debug_assert!(line.ends_with(b"\n"));
    let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
    truncate_torn_tail(&mut file)?;
    file.write_all(line)?;
    file.sync_data()
}

fn truncate_torn_tail(file: &mut File) -> io::Result<()> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Scan backwards in blocks for the last newline.
    let mut end = len;
    let mut buf = vec![0u8; 64 * 1024];
    let keep = loop {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(pos) = chunk.iter().rposition(|&b| b == b'\n') {
            break start + pos as u64 + 1;
        }
        if start == 0 {
            break 0;
        }
        end = start;
    };
    if keep == len {
        return Ok(());
    }
    // A whole JSON value without its newline (written by hand, or by a tool that does not end
    // its last line) is kept and ended; only a torn, unparseable tail is dropped.
    let mut tail = Vec::with_capacity((len - keep) as usize);
    file.seek(SeekFrom::Start(keep))?;
    file.read_to_end(&mut tail)?;
    if serde_json::from_slice::<serde::de::IgnoredAny>(&tail).is_ok() {
        file.seek(SeekFrom::End(0))?;
        return file.write_all(b"\n");
    }
    file.set_len(keep)
}

fn unique_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_new_file_is_written_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h.json");
        write_new_atomic(&path, b"one").unwrap();
        assert_eq!(write_new_atomic(&path, b"two").unwrap_err().kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file is left");
    }

    #[test]
    fn append_truncates_a_torn_tail_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        fs::write(&path, b"{\"a\":1}\n{\"b\":").unwrap();
        append_jsonl(&path, &serde_json::json!({"c": 3})).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"c\":3}\n");
    }

    #[test]
    fn a_whole_last_line_without_its_newline_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        fs::write(&path, b"{\"a\":1}\n{\"b\":2}").unwrap();
        append_jsonl(&path, &serde_json::json!({"c": 3})).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n");
    }

    #[test]
    fn append_to_a_file_with_no_newline_at_all_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        fs::write(&path, b"{\"torn\":").unwrap();
        append_jsonl(&path, &serde_json::json!(1)).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");
    }
}
