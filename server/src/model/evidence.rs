//! Evidence files of a validator session (`evidence/<milestone>/<group>/`): what the runner's
//! tools record there (the browser's network and console logs, screenshots, terminal screens)
//! and what a file on disk really is (a PNG that decodes, a text, nothing). The checks against
//! a contract's `Evidence:` items are pure, in `analysis::evidence`.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Every request the browser made in a session, one JSON object a line.
pub const NETWORK_LOG: &str = "browser-network.jsonl";
/// Every console message and uncaught exception of the session's pages.
pub const CONSOLE_LOG: &str = "browser-console.jsonl";

/// One request as the browser saw it: a redirect is its own entry with the redirect's status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedRequest {
    pub method: String,
    pub url: String,
    /// `None` when no response came (a network error, or the session ended first).
    #[serde(default)]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// `Document`, `XHR`, `Fetch`, `Image`… as the DevTools protocol names it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_type: String,
}

/// A console message (`console.log`, `console.error`…), an uncaught exception (`error`) or a
/// browser log entry (a failed resource load).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConsoleMessage {
    /// `error`, `warning`, `info`, `log`, `debug`.
    pub level: String,
    pub text: String,
    /// `console`, `exception`, `network`, `javascript`… where it came from.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub url: String,
}

impl ConsoleMessage {
    pub fn is_error(&self) -> bool {
        self.level == "error"
    }
}

/// What the terminal tool kept of one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TerminalRecord {
    pub name: String,
    pub command: String,
    /// `None` while it runs, or when it was stopped before exiting.
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// The transcript, relative to `evidence/`.
    pub transcript: String,
}

/// What the runner's tools recorded in one session: the files they wrote (relative to
/// `evidence/`) and the browser's logs (`None` when no browser ran).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded {
    pub files: Vec<RecordedFile>,
    pub network: Option<Vec<RecordedRequest>>,
    pub console: Option<Vec<ConsoleMessage>>,
    pub terminals: Vec<TerminalRecord>,
}

/// A file a tool wrote: a screenshot or a terminal screen, with the name the model gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFile {
    /// Relative to `evidence/`.
    pub path: String,
    pub what: FileRole,
    /// The label the model gave it (`login-form`), matched by `screenshot(login-form)`.
    pub label: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileRole {
    Screenshot,
    TerminalScreen,
    Network,
    Console,
    Transcript,
}

/// What a file on disk turned out to be when it was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileKind {
    /// A PNG that decodes.
    Image {
        width: u32,
        height: u32,
    },
    /// UTF-8 text, with its content (at most [`TEXT_KEPT`] bytes).
    Text {
        bytes: u64,
        text: String,
    },
    /// Neither: its size.
    Binary {
        bytes: u64,
    },
    Empty,
    Missing,
    /// It claims to be something it is not (a `.png` that does not decode), or cannot be read.
    Broken(String),
}

/// How much of a text file is kept to look for a label or expected text.
pub const TEXT_KEPT: usize = 256 * 1024;
/// Larger files are not read whole.
const MAX_INSPECTED: u64 = 64 * 1024 * 1024;

/// Looks at a file: a `.png` (or anything starting with the PNG signature) must decode whole.
pub fn inspect(path: &Path) -> FileKind {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileKind::Missing,
        Err(e) => return FileKind::Broken(e.to_string()),
    };
    if meta.is_dir() {
        return FileKind::Broken("a directory, not a file".into());
    }
    if meta.len() == 0 {
        return FileKind::Empty;
    }
    if meta.len() > MAX_INSPECTED {
        return FileKind::Binary { bytes: meta.len() };
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => return FileKind::Broken(e.to_string()),
    };
    let named_png = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png"));
    if named_png || bytes.starts_with(PNG_SIGNATURE) {
        return match decode_png(&bytes) {
            Ok((width, height)) => FileKind::Image { width, height },
            Err(e) => FileKind::Broken(format!("not a PNG image that decodes ({e})")),
        };
    }
    match std::str::from_utf8(&bytes) {
        Ok(text) => {
            let mut end = text.len().min(TEXT_KEPT);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            FileKind::Text { bytes: meta.len(), text: text[..end].to_string() }
        }
        Err(_) => FileKind::Binary { bytes: meta.len() },
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// Decodes every frame's pixels (so a truncated or corrupted file fails), returning the size.
pub fn decode_png(bytes: &[u8]) -> Result<(u32, u32), String> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().map_err(|e| e.to_string())?;
    let size = reader.output_buffer_size().ok_or("the image is too large")?;
    if size > 512 * 1024 * 1024 {
        return Err("the image is too large".into());
    }
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
    Ok((info.width, info.height))
}

/// Reads a JSONL log a tool wrote; a bad line is skipped (a torn last line after a crash).
pub fn read_log<T: for<'de> Deserialize<'de>>(path: &Path) -> Option<Vec<T>> {
    let bytes = std::fs::read(path).ok()?;
    Some(super::records::parse_jsonl(&bytes).0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid 3×2 RGB PNG, encoded here so the test needs no binary fixture.
    fn png_bytes(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, width, height);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let mut w = enc.write_header().unwrap();
            w.write_image_data(&vec![200; (width * height * 3) as usize]).unwrap();
        }
        out
    }

    #[test]
    fn files_are_what_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let good = png_bytes(3, 2);
        let cut = good[..good.len() - 20].to_vec();
        let cases: Vec<(&str, Vec<u8>, FileKind)> = vec![
            ("shot.png", good.clone(), FileKind::Image { width: 3, height: 2 }),
            ("noext", good, FileKind::Image { width: 3, height: 2 }),
            ("notes.txt", b"hello".to_vec(), FileKind::Text { bytes: 5, text: "hello".into() }),
            ("empty.png", Vec::new(), FileKind::Empty),
            ("bin.dat", vec![0xff, 0xfe, 0x00], FileKind::Binary { bytes: 3 }),
        ];
        for (name, bytes, want) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            assert_eq!(inspect(&p), want, "{name}");
        }
        for (name, bytes) in [("fake.png", b"I am text, not a picture".to_vec()), ("cut.png", cut)] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            assert!(
                matches!(inspect(&p), FileKind::Broken(ref e) if e.starts_with("not a PNG")),
                "{name}: {:?}",
                inspect(&p)
            );
        }
        assert_eq!(inspect(&dir.path().join("nothing.png")), FileKind::Missing);
    }

    #[test]
    fn logs_round_trip_and_lose_only_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(NETWORK_LOG);
        let r = RecordedRequest {
            method: "POST".into(),
            url: "http://127.0.0.1:1/login".into(),
            status: Some(302),
            error: None,
            resource_type: "Document".into(),
        };
        let mut text = serde_json::to_string(&r).unwrap();
        text.push_str("\n{\"method\":\"GET\",\"ur");
        std::fs::write(&p, text).unwrap();
        assert_eq!(read_log::<RecordedRequest>(&p).unwrap(), vec![r]);
        assert!(read_log::<RecordedRequest>(&dir.path().join("none")).is_none());
    }
}
