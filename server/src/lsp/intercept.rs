//! Every message from the client passes here first, in arrival order (tower-lsp-server invokes
//! the service's `call` for each as it is read):
//! - document events: tower-lsp-server runs handlers concurrently (and at most
//!   `concurrency_level` at once), so didOpen/didChange/didClose are taken here, numbered and
//!   sent to the document owner before anything else happens, and never wait for a slot;
//! - a handler that panics, anywhere, is answered with an internal error (-32603) and the
//!   server goes on: unwinding out of tower-lsp-server's futures would end the whole session;
//! - what tower-lsp-server gets wrong for the protocol: requests that `transport` found invalid
//!   are answered -32600 (it marks them with [`INVALID_REQUEST`]), and requests named `$/…` are
//!   answered -32601 (tower-lsp-server ignores them as if they were notifications).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::FutureExt;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::mpsc;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Request, Response};
use tower_lsp_server::ls_types::{DidChangeTextDocumentParams, DidCloseTextDocumentParams, DidOpenTextDocumentParams};
use tower_lsp_server::ExitedError;
use tower_service::Service;

use super::documents::DocEvent;

/// The method name `transport` gives a request it found invalid; its params are
/// `{"reason": …}`. Answered here with -32600 and never passed on.
pub const INVALID_REQUEST: &str = "missions/$invalidRequest";

pub struct DocumentEvents<S> {
    inner: S,
    events: mpsc::UnboundedSender<DocEvent>,
    accepted: Arc<AtomicU64>,
    /// Whether `shutdown` came before the session ended: the exit status (see `serve`).
    shutdown_requested: Arc<AtomicBool>,
}

impl<S> DocumentEvents<S> {
    pub fn new(
        inner: S,
        events: mpsc::UnboundedSender<DocEvent>,
        accepted: Arc<AtomicU64>,
        shutdown_requested: Arc<AtomicBool>,
    ) -> Self {
        DocumentEvents { inner, events, accepted, shutdown_requested }
    }

    /// Numbers and sends one document event; the number is what requests wait for.
    fn send(&self, make: impl FnOnce(u64) -> DocEvent) {
        let generation = self.accepted.load(Ordering::SeqCst) + 1;
        if self.events.send(make(generation)).is_ok() {
            self.accepted.store(generation, Ordering::SeqCst);
        } else {
            tracing::error!("the document owner has stopped; document event dropped");
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<Option<Response>, ExitedError>> + Send>>;

fn decode<T: DeserializeOwned>(method: &str, params: Option<Value>) -> Option<T> {
    match serde_json::from_value(params.unwrap_or(Value::Null)) {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!("{method} with invalid params ignored: {e}");
            None
        }
    }
}

impl<S> Service<Request> for DocumentEvents<S>
where
    S: Service<Request, Response = Option<Response>, Error = ExitedError>,
    S::Future: Send + 'static,
{
    type Response = Option<Response>;
    type Error = ExitedError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let method = request.method();
        if let Some(id) = request.id().cloned() {
            if method == INVALID_REQUEST {
                let reason = request
                    .params()
                    .and_then(|p| p["reason"].as_str())
                    .unwrap_or("not a valid JSON-RPC 2.0 request")
                    .to_string();
                return answer(Response::from_error(
                    id,
                    Error { code: ErrorCode::InvalidRequest, message: reason.into(), data: None },
                ));
            }
            if method.starts_with("$/") {
                tracing::info!("request {method} answered MethodNotFound");
                return answer(Response::from_error(id, Error::method_not_found()));
            }
        }
        let is_doc_event =
            matches!(method, "textDocument/didOpen" | "textDocument/didChange" | "textDocument/didClose");
        // A request with one of these names is not a notification: let tower-lsp-server answer it.
        if !is_doc_event || request.id().is_some() {
            let method = method.to_string();
            let id = request.id().cloned();
            let inner = &mut self.inner;
            let response = match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(request))) {
                Ok(response) => response,
                Err(panic) => return answer_panic(&method, id, panic.as_ref()),
            };
            match method.as_str() {
                "initialized" => {
                    let _ = self.events.send(DocEvent::Ready);
                }
                "shutdown" => self.shutdown_requested.store(true, Ordering::SeqCst),
                _ => {}
            }
            return Box::pin(async move {
                match AssertUnwindSafe(response).catch_unwind().await {
                    Ok(answered) => answered,
                    Err(panic) => Ok(panicked(&method, id, panic.as_ref())),
                }
            });
        }
        let (method, _, params) = request.into_parts();
        match method.as_ref() {
            "textDocument/didOpen" => {
                if let Some(p) = decode::<DidOpenTextDocumentParams>(&method, params) {
                    let doc = p.text_document;
                    self.send(|generation| DocEvent::Open {
                        generation,
                        uri: doc.uri,
                        text: doc.text,
                        version: doc.version,
                    });
                }
            }
            "textDocument/didChange" => {
                if let Some(p) = decode::<DidChangeTextDocumentParams>(&method, params) {
                    self.send(|generation| DocEvent::Change {
                        generation,
                        uri: p.text_document.uri,
                        version: p.text_document.version,
                        changes: p.content_changes,
                    });
                }
            }
            _ => {
                if let Some(p) = decode::<DidCloseTextDocumentParams>(&method, params) {
                    self.send(|generation| DocEvent::Close { generation, uri: p.text_document.uri });
                }
            }
        }
        Box::pin(std::future::ready(Ok(None)))
    }
}

fn answer(response: Response) -> BoxFuture {
    Box::pin(std::future::ready(Ok(Some(response))))
}

fn answer_panic(
    method: &str,
    id: Option<tower_lsp_server::jsonrpc::Id>,
    panic: &(dyn std::any::Any + Send),
) -> BoxFuture {
    Box::pin(std::future::ready(Ok(panicked(method, id, panic))))
}

/// A handler panicked: an internal error for a request, nothing for a notification.
fn panicked(
    method: &str,
    id: Option<tower_lsp_server::jsonrpc::Id>,
    panic: &(dyn std::any::Any + Send),
) -> Option<Response> {
    tracing::error!("{method} panicked: {}", super::guard::panic_reason(panic));
    id.map(|id| Response::from_error(id, super::guard::internal_error(method)))
}
