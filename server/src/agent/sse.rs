//! Server-sent events over a byte stream, with an idle timeout on the bytes. Never
//! reconnects: a broken stream is an error for the retry logic above to judge.

use crate::agent::error::{ErrorKind, ProviderError};
use eventsource_stream::{EventStreamError, Eventsource};
use futures::stream::{BoxStream, StreamExt};
use futures::Stream;
use std::fmt::Display;
use std::time::Duration;

/// One dispatched SSE event. `event` is empty when the server sent no `event:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

/// A byte stream's failure: its own error, or no bytes for the idle timeout.
enum ByteError<E> {
    Transport(E),
    Idle(Duration),
}

impl<E: Display> Display for ByteError<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteError::Transport(e) => e.fmt(f),
            ByteError::Idle(d) => write!(
                f,
                "no bytes from the server for {} s (stream_idle_timeout_s)",
                crate::agent::retry::format_secs(*d)
            ),
        }
    }
}

/// `bytes`, ending with `ByteError::Idle` when nothing arrives for `idle_timeout`. Any bytes
/// count, SSE comments and pings too: the server is alive while it sends them.
fn idle_bounded<S, B, E>(
    bytes: S,
    idle_timeout: Duration,
) -> impl Stream<Item = Result<B, ByteError<E>>> + Send + 'static
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: Send + 'static,
    E: Send + 'static,
{
    futures::stream::unfold(Some(Box::pin(bytes)), move |state| async move {
        let mut bytes = state?;
        match tokio::time::timeout(idle_timeout, bytes.next()).await {
            Err(_) => Some((Err(ByteError::Idle(idle_timeout)), None)),
            Ok(None) => None,
            Ok(Some(item)) => Some((item.map_err(ByteError::Transport), Some(bytes))),
        }
    })
}

/// Parses `bytes` into events. A transport error, and a silence (no bytes at all) longer than
/// `idle_timeout`, become `StreamInterrupted`; bytes that are not UTF-8 or not SSE become
/// `InvalidResponse`. The stream ends after the first error.
pub fn sse_events<S, B, E>(bytes: S, idle_timeout: Duration) -> BoxStream<'static, Result<SseEvent, ProviderError>>
where
    S: Stream<Item = Result<B, E>> + Send + 'static,
    B: AsRef<[u8]> + Send + 'static,
    E: Display + Send + 'static,
{
    let events = Box::pin(idle_bounded(bytes, idle_timeout).eventsource());
    futures::stream::unfold(Some(events), move |state| async move {
        let mut events = state?;
        let next = match events.next().await {
            None => return None,
            Some(Ok(ev)) => Ok(SseEvent { event: ev.event, data: ev.data }),
            Some(Err(e)) => Err(classify(e)),
        };
        let keep_going = next.is_ok();
        Some((next, keep_going.then_some(events)))
    })
    .boxed()
}

fn classify<E: Display>(e: EventStreamError<E>) -> ProviderError {
    match e {
        EventStreamError::Transport(e) => {
            ProviderError::new(ErrorKind::StreamInterrupted, format!("stream broke: {e}"))
        }
        EventStreamError::Utf8(e) => {
            ProviderError::new(ErrorKind::InvalidResponse, format!("stream is not UTF-8: {e}"))
        }
        EventStreamError::Parser(e) => {
            ProviderError::new(ErrorKind::InvalidResponse, format!("stream is not SSE: {e}"))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Feeds `text` in pieces of `chunk` bytes (splitting anywhere, even inside a UTF-8 char).
    pub(crate) fn chunked(text: &[u8], chunk: usize) -> Vec<Result<Vec<u8>, String>> {
        text.chunks(chunk.max(1)).map(|c| Ok(c.to_vec())).collect()
    }

    pub(crate) async fn collect(items: Vec<Result<Vec<u8>, String>>) -> Vec<Result<SseEvent, ProviderError>> {
        sse_events(futures::stream::iter(items), Duration::from_secs(5)).collect().await
    }

    #[tokio::test]
    async fn events_survive_any_chunk_split() {
        let text = "event: message_start\ndata: {\"a\":1}\n\n: comment\r\nevent: ping\r\ndata: {}\r\n\r\ndata: line1\ndata: line2 é\n\n";
        let want = vec![
            SseEvent { event: "message_start".into(), data: "{\"a\":1}".into() },
            SseEvent { event: "ping".into(), data: "{}".into() },
            SseEvent { event: "".into(), data: "line1\nline2 é".into() },
        ];
        for chunk in [1, 2, 3, 7, 1000] {
            let got: Vec<SseEvent> =
                collect(chunked(text.as_bytes(), chunk)).await.into_iter().map(|r| r.unwrap()).collect();
            let got: Vec<SseEvent> = got
                .into_iter()
                .map(|mut e| {
                    // The parser reports an unnamed event as "message", per the SSE spec.
                    if e.event == "message" {
                        e.event.clear();
                    }
                    e
                })
                .collect();
            assert_eq!(got, want, "chunk size {chunk}");
        }
    }

    #[tokio::test]
    async fn an_unterminated_last_event_is_dropped() {
        let got = collect(chunked(b"data: {\"done\":1}\n\ndata: {\"half", 4)).await;
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_ref().unwrap().data, "{\"done\":1}");
    }

    #[tokio::test]
    async fn transport_errors_and_bad_utf8_are_classified() {
        let got = collect(vec![Ok(b"data: 1\n\n".to_vec()), Err("connection reset".to_string())]).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].as_ref().unwrap_err().kind, ErrorKind::StreamInterrupted);

        let got = collect(vec![Ok(vec![b'd', b'a', 0xff, 0xfe, b'\n', b'\n'])]).await;
        assert_eq!(got.last().unwrap().as_ref().unwrap_err().kind, ErrorKind::InvalidResponse);
    }

    #[tokio::test]
    async fn silence_longer_than_the_idle_timeout_is_a_broken_stream() {
        let stalled = futures::stream::pending::<Result<Vec<u8>, String>>();
        let got: Vec<_> = sse_events(stalled, Duration::from_millis(20)).collect().await;
        assert_eq!(got.len(), 1);
        let e = got[0].as_ref().unwrap_err();
        assert_eq!(e.kind, ErrorKind::StreamInterrupted);
        assert!(e.message.contains("no bytes from the server for 0.02 s (stream_idle_timeout_s)"), "{}", e.message);
    }

    #[tokio::test]
    async fn keep_alive_comments_hold_the_stream_open_without_events() {
        // A comment every 30 ms for 200 ms, then an event: no 80 ms gap without bytes, so no
        // idle timeout, although the only event comes long after 80 ms.
        let pieces = futures::stream::unfold(0u32, |i| async move {
            tokio::time::sleep(Duration::from_millis(30)).await;
            match i {
                0..=6 => Some((Ok::<_, String>(b": keep-alive\n\n".to_vec()), i + 1)),
                7 => Some((Ok(b"data: {\"late\":1}\n\n".to_vec()), i + 1)),
                _ => None,
            }
        });
        let got: Vec<_> = sse_events(pieces, Duration::from_millis(80)).collect().await;
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].as_ref().unwrap().data, "{\"late\":1}");
    }
}
