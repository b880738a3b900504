//! The server's log never blocks the server. Editors are not obliged to read a server's
//! stderr, and a pipe nobody reads fills at 64 KiB: a log line written from a protocol task
//! would then block that task for ever (two panics with backtraces were enough to freeze the
//! whole server). So log lines go through a bounded queue to one thread that writes them;
//! when the queue is full they are dropped and counted, and the count is logged once the
//! writer catches up. Panics are logged through the same queue instead of by the default
//! hook, which writes to stderr directly.

use std::io::Write;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

/// Lines waiting for the writer, at most.
const QUEUE_LINES: usize = 4096;

/// The queue in front of stderr.
#[derive(Clone)]
pub struct StderrQueue {
    tx: SyncSender<Vec<u8>>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Lines queued and not written yet.
    pending: AtomicUsize,
    /// Lines dropped since the last report.
    dropped: AtomicU64,
}

static QUEUE: OnceLock<StderrQueue> = OnceLock::new();

impl StderrQueue {
    /// The process's queue, with its writer thread started on first use.
    pub fn global() -> &'static StderrQueue {
        QUEUE.get_or_init(|| StderrQueue::new(std::io::stderr()))
    }

    /// A queue whose lines `out` receives on a thread of its own.
    pub fn new<W: Write + Send + 'static>(mut out: W) -> StderrQueue {
        let (tx, rx) = sync_channel::<Vec<u8>>(QUEUE_LINES);
        let counts = Arc::new(Counts::default());
        let seen = counts.clone();
        let spawned = std::thread::Builder::new().name("missions-log".into()).spawn(move || {
            for line in rx {
                let dropped = seen.dropped.swap(0, Ordering::SeqCst);
                if dropped > 0 {
                    let _ = writeln!(out, "missions: {dropped} log line(s) dropped: stderr was not read fast enough");
                }
                let _ = out.write_all(&line);
                let _ = out.flush();
                seen.pending.fetch_sub(1, Ordering::SeqCst);
            }
        });
        if let Err(e) = spawned {
            // Without the thread every line is dropped (and counted): still never blocking.
            eprintln!("missions: cannot start the log writer: {e}");
        }
        StderrQueue { tx, counts }
    }

    /// Queues one line (or several); never waits.
    pub fn push(&self, line: &[u8]) {
        self.counts.pending.fetch_add(1, Ordering::SeqCst);
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(line.to_vec()) {
            self.counts.pending.fetch_sub(1, Ordering::SeqCst);
            self.counts.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Waits at most `limit` for the queued lines to be written (before the process exits).
    pub fn drain(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while self.counts.pending.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Lines dropped and not reported yet.
    pub fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::SeqCst)
    }
}

/// One formatted event: tracing-subscriber writes it whole, then drops the writer.
pub struct QueuedLine {
    queue: StderrQueue,
    buf: Vec<u8>,
}

impl Write for QueuedLine {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for QueuedLine {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.queue.push(&self.buf);
        }
    }
}

impl<'a> MakeWriter<'a> for StderrQueue {
    type Writer = QueuedLine;

    fn make_writer(&'a self) -> QueuedLine {
        QueuedLine { queue: self.clone(), buf: Vec::new() }
    }
}

/// Panics anywhere in the process are logged as one error event (with a backtrace when
/// `RUST_BACKTRACE` asks for one) through the queue, never written to stderr directly.
pub fn log_panics() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        let thread = std::thread::current().name().unwrap_or("unnamed").to_string();
        let backtrace = std::backtrace::Backtrace::capture();
        let backtrace = match backtrace.status() {
            std::backtrace::BacktraceStatus::Captured => format!("\n{backtrace}"),
            _ => String::new(),
        };
        tracing::error!("panic in thread {thread} at {at}: {message}{backtrace}");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// A writer that blocks until released, like a pipe nobody reads.
    struct Stuck(Arc<Mutex<()>>, Arc<Mutex<Vec<u8>>>);

    impl Write for Stuck {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let _wait = self.0.lock().unwrap();
            self.1.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_reader_that_never_reads_costs_lines_not_time_and_the_loss_is_reported() {
        let gate = Arc::new(Mutex::new(()));
        let written = Arc::new(Mutex::new(Vec::new()));
        let held = gate.lock().unwrap();
        let queue = StderrQueue::new(Stuck(gate.clone(), written.clone()));
        let started = Instant::now();
        for i in 0..(QUEUE_LINES * 3) {
            queue.push(format!("line {i}\n").as_bytes());
        }
        assert!(started.elapsed() < Duration::from_secs(5), "pushing never waits for the writer");
        assert!(queue.dropped() >= QUEUE_LINES as u64, "the lines that did not fit were dropped: {}", queue.dropped());
        drop(held);
        queue.drain(Duration::from_secs(10));
        queue.push(b"after\n");
        queue.drain(Duration::from_secs(10));
        let text = String::from_utf8(written.lock().unwrap().clone()).unwrap();
        assert!(
            text.contains("line 0\n")
                && text.contains("log line(s) dropped: stderr was not read fast enough\n")
                && text.ends_with("after\n"),
            "{}",
            &text[text.len() - 200..]
        );
    }
}
