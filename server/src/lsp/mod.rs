//! `missions lsp`: the language server (design §4). Protocol layer only: every tower-lsp-server
//! and ls-types type stays in this module; the answers come from `analysis`.
//!
//! Tasks and data flow:
//! - [`intercept`] sees every incoming message in arrival order and turns didOpen / didChange /
//!   didClose into events for the document owner, numbering them (the *generation*);
//! - [`documents`] owns the open documents, applies events in order and publishes an immutable
//!   snapshot of them;
//! - [`analyzer`] analyses the newest snapshot (edits arriving meanwhile coalesce), publishes
//!   diagnostics and an immutable analysis snapshot;
//! - request handlers wait (bounded) for the analysis of the generation they arrived after, then
//!   answer from that snapshot with panics caught;
//! - [`mission_task`] runs a mission's loop (`missions.start`, see [`commands`]) on a thread of
//!   its own and forwards its progress_log events as `missions/event` and, when the client
//!   shows work-done progress, as `$/progress` reports ([`work_progress`]; the client's cancel
//!   pauses the run);
//! - [`questions`]: a run waiting for the planner's answers opens mission.md at them; saving
//!   it with every answer resumes planning;
//! - [`mirror`]: a mission file written on disk (by the runner) while its buffer has unsaved
//!   edits gets the change merged into the buffer with `workspace/applyEdit`;
//! - [`settings`] keeps the editor's `missions.*` settings (asked for with
//!   `workspace/configuration`, pushed with `workspace/didChangeConfiguration`), which runs
//!   started here layer over missions.toml.

mod actions;
mod analyzer;
mod commands;
mod completion;
mod convert;
mod definition;
mod documents;
mod edits;
mod folder;
mod guard;
mod highlight;
mod hover;
mod initialize;
mod inlay;
mod intercept;
mod lens;
mod links;
pub mod logging;
mod mirror;
mod mission_task;
mod questions;
mod rename;
mod repository;
mod settings;
mod status;
mod symbols;
mod tokens;
mod transport;
mod watched;
mod work_progress;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tower_lsp_server::jsonrpc::Result as RpcResult;
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer, LspService, Server};

use analyzer::Snapshot;
use convert::Encoding;
use documents::DocEvent;

/// How many requests tower-lsp-server runs at once. Document events never wait for these slots
/// (see `intercept`), and handlers are bounded, so this only limits request parallelism.
const MAX_CONCURRENT_REQUESTS: usize = 32;

/// The longest a request waits for the analysis of the edits sent before it; after that it
/// answers from the newest analysis there is.
const SNAPSHOT_WAIT: Duration = Duration::from_secs(2);

/// The longest the server waits, when it stops, for its running missions to pause.
const RUNS_PAUSE_WAIT: Duration = Duration::from_secs(20);

/// State shared by the handlers.
pub(crate) struct Shared {
    client: Client,
    /// Negotiated at `initialize`; UTF-16 until then.
    encoding: Arc<OnceLock<Encoding>>,
    /// Workspace folders, from `initialize`.
    roots: Arc<OnceLock<Vec<PathBuf>>>,
    /// Number of document events accepted so far (see `intercept`).
    accepted: Arc<AtomicU64>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    /// To the document owner, for watched-file events (weak: the owner stops with the server).
    events: mpsc::WeakUnboundedSender<DocEvent>,
    /// Whether the client registers `workspace/didChangeWatchedFiles` for us; from `initialize`.
    client_watches: OnceLock<bool>,
    /// Set by `initialized`; mission commands wait for it (nothing is sent before it).
    initialized: OnceLock<bool>,
    /// The mission loops this server runs (see `mission_task`).
    missions: mission_task::Missions,
    /// Which views the client can be asked to request again (see `analyzer`); from `initialize`.
    refresh: Arc<OnceLock<analyzer::Refresh>>,
    /// What edits the client takes (see `mirror`); from `initialize`.
    edit_support: Arc<OnceLock<mirror::EditSupport>>,
    /// To the mirror, for saves (weak: the mirror stops with the document owner).
    mirror_events: mpsc::WeakUnboundedSender<mirror::MirrorEvent>,
}

impl Shared {
    fn encoding(&self) -> Encoding {
        self.encoding.get().copied().unwrap_or(Encoding::Utf16)
    }

    /// Whether workspace edits carry document versions (see `edits`).
    fn versioned_edits(&self) -> bool {
        self.edit_support.get().is_some_and(|s| s.versioned)
    }

    /// The analysis that includes every document event received before this call.
    async fn snapshot(&self) -> Arc<Snapshot> {
        let target = self.accepted.load(Ordering::SeqCst);
        let mut rx = self.snapshots.clone();
        let waited = tokio::time::timeout(SNAPSHOT_WAIT, rx.wait_for(|s| s.generation >= target)).await;
        match waited {
            Ok(Ok(snapshot)) => snapshot.clone(),
            _ => {
                tracing::warn!(
                    "analysis of generation {target} not ready after {SNAPSHOT_WAIT:?}; answering from the newest one"
                );
                let newest = self.snapshots.borrow().clone();
                newest
            }
        }
    }
}

pub(crate) struct Backend {
    shared: Arc<Shared>,
}

impl Backend {
    async fn status(&self, params: status::StatusParams) -> RpcResult<serde_json::Value> {
        status::status(&self.shared, params).await
    }

    /// `window/workDoneProgress/cancel` (a notification): pauses the run showing that
    /// progress, exactly like `missions.pause`.
    async fn cancel_progress(&self, params: WorkDoneProgressCancelParams) {
        match self.shared.missions.cancel_progress(&params.token) {
            Some(Ok(answer)) => tracing::info!("progress cancelled by the client: {answer}"),
            Some(Err(e)) => tracing::info!("progress cancelled by the client: {e}"),
            None => tracing::debug!("cancel of an unknown progress token {:?}", params.token),
        }
    }
}

/// Runs the server over any byte streams until the client sends `exit` or closes the input.
/// Returns true when `shutdown` came first (the exit status the protocol asks for: 0, else 1).
pub async fn serve<I, O>(input: I, output: O) -> bool
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite,
{
    serve_until(input, output, std::future::pending()).await
}

/// [`serve`], also stopping when `stop` resolves (a signal): its runs pause first all the same.
pub async fn serve_until<I, O>(input: I, output: O, stop: impl std::future::Future<Output = ()>) -> bool
where
    I: AsyncRead + Unpin + Send + 'static,
    O: AsyncWrite,
{
    let input = transport::well_formed(input);
    let encoding = Arc::new(OnceLock::new());
    let roots = Arc::new(OnceLock::new());
    let accepted = Arc::new(AtomicU64::new(0));
    let (events_tx, events_rx) = mpsc::unbounded_channel::<DocEvent>();
    let (docs_tx, docs_rx) = watch::channel(Arc::new(documents::DocsSnapshot::default()));
    let (snapshots_tx, snapshots_rx) = watch::channel(Arc::new(Snapshot::default()));
    let (disk_tx, disk_rx) = mpsc::unbounded_channel::<Vec<PathBuf>>();
    let (mirror_tx, mirror_rx) = mpsc::unbounded_channel::<mirror::MirrorEvent>();
    let edit_support = Arc::new(OnceLock::new());
    let refresh = Arc::new(OnceLock::new());

    let (service, socket) = LspService::build(|client| Backend {
        shared: Arc::new(Shared {
            client: client.clone(),
            encoding: encoding.clone(),
            roots: roots.clone(),
            accepted: accepted.clone(),
            snapshots: snapshots_rx,
            events: events_tx.downgrade(),
            client_watches: OnceLock::new(),
            initialized: OnceLock::new(),
            missions: mission_task::Missions::default(),
            edit_support: edit_support.clone(),
            refresh: refresh.clone(),
            mirror_events: mirror_tx.downgrade(),
        }),
    })
    .custom_method("missions/status", Backend::status)
    .custom_method("window/workDoneProgress/cancel", Backend::cancel_progress)
    .finish();
    let shared = service.inner().shared.clone();
    let client = shared.client.clone();
    let missions = shared.missions.clone();
    missions.set_disk_events(events_tx.downgrade());
    tokio::spawn(mirror::Follower::new(client.clone(), docs_rx.clone(), encoding.clone(), edit_support).run(mirror_rx));
    tokio::spawn(follow_disk(shared, disk_rx, mirror_tx));
    tokio::spawn(documents::own_documents(
        events_rx,
        events_tx.downgrade(),
        docs_tx,
        encoding.clone(),
        roots.clone(),
        disk_tx,
    ));
    tokio::spawn(analyzer::analyse_forever(docs_rx, snapshots_tx, client, encoding.clone(), refresh));
    let shutdown_requested = Arc::new(AtomicBool::new(false));
    let service = intercept::DocumentEvents::new(service, events_tx, accepted, shutdown_requested.clone());
    let server = Server::new(input, output, socket).concurrency_level(MAX_CONCURRENT_REQUESTS);
    tokio::select! {
        // tower-lsp-server stops reading at `exit`, even when the client keeps the input open.
        _ = server.serve(service) => tracing::info!("exit or input closed"),
        _ = stop => tracing::info!("stopped by a signal; pausing the runs"),
    }
    // An editor that closed without `shutdown` leaves its runs to pause here, not mid-step.
    missions.pause_all(RUNS_PAUSE_WAIT).await;
    shutdown_requested.load(Ordering::SeqCst)
}

/// Files changed on disk, as the document owner saw them: mission.md may hold the planner's
/// answers (`questions`), and open buffers with unsaved edits take the change (`mirror`).
async fn follow_disk(
    shared: Arc<Shared>,
    mut changes: mpsc::UnboundedReceiver<Vec<PathBuf>>,
    mirror: mpsc::UnboundedSender<mirror::MirrorEvent>,
) {
    while let Some(paths) = changes.recv().await {
        for path in &paths {
            questions::saved(shared.missions.clone(), shared.client.clone(), path.clone());
        }
        let _ = mirror.send(mirror::MirrorEvent::Disk(paths));
    }
}

/// A long-running server on glibc gets one malloc arena per thread that ever allocated, each
/// keeping freed memory: two arenas cut the 10,000-assertion peak RSS from ~80 MB to ~55 MB at
/// no measurable cost in latency. Call before the runtime starts its threads.
pub fn limit_allocator_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only tunes the allocator; called before other threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// `missions lsp`: the server on stdin/stdout; returns the process exit status.
pub async fn run_stdio() -> i32 {
    // SIGTERM, SIGHUP (and SIGINT) stop the server like its input closing: runs pause first.
    crate::runner::signals::install();
    let shutdown_first = serve_until(tokio::io::stdin(), tokio::io::stdout(), crate::runner::signals::first()).await;
    // The last lines (why it stopped) reach stderr before the process exits.
    logging::StderrQueue::global().drain(Duration::from_secs(2));
    if shutdown_first {
        0
    } else {
        1
    }
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> RpcResult<InitializeResult> {
        Ok(initialize::initialize(&self.shared, params))
    }

    async fn initialized(&self, _: InitializedParams) {
        tracing::info!("client initialized");
        let _ = self.shared.initialized.set(true);
        // Off the handler: waiting for the client's answer must not hold up other messages.
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let client_registers = shared.client_watches.get().copied().unwrap_or(false);
            watched::start(&shared, client_registers).await;
        });
        // The `missions.*` settings the runs use, asked for off the handler (see `settings`).
        self.shared.missions.settings.initialized(&self.shared.client);
    }

    async fn did_change_configuration(&self, params: DidChangeConfigurationParams) {
        self.shared.missions.settings.changed(&self.shared.client, params);
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        // Through the document owner to the analysis, `questions` and `mirror` (`follow_disk`).
        watched::changed(&self.shared, params);
    }

    async fn did_save(&self, params: DidSaveTextDocumentParams) {
        // mission.md saved with the planner's answers: planning resumes (checked off this handler).
        if let Some(path) = convert::path_of(&params.text_document.uri) {
            if let Some(mirror) = self.shared.mirror_events.upgrade() {
                let _ = mirror.send(mirror::MirrorEvent::Saved(path.clone()));
            }
            questions::saved(self.shared.missions.clone(), self.shared.client.clone(), path);
        }
    }

    async fn shutdown(&self) -> RpcResult<()> {
        // Running missions pause; their files say where the next start resumes.
        self.shared.missions.pause_all(RUNS_PAUSE_WAIT).await;
        Ok(())
    }

    async fn execute_command(&self, params: ExecuteCommandParams) -> RpcResult<Option<serde_json::Value>> {
        commands::execute(&self.shared, params).await
    }

    async fn hover(&self, params: HoverParams) -> RpcResult<Option<Hover>> {
        hover::hover(&self.shared, params).await
    }

    async fn document_highlight(&self, params: DocumentHighlightParams) -> RpcResult<Option<Vec<DocumentHighlight>>> {
        highlight::document_highlight(&self.shared, params).await
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> RpcResult<Option<GotoDefinitionResponse>> {
        definition::definition(&self.shared, params).await
    }

    async fn references(&self, params: ReferenceParams) -> RpcResult<Option<Vec<Location>>> {
        definition::references(&self.shared, params).await
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> RpcResult<Option<DocumentSymbolResponse>> {
        symbols::document_symbols(&self.shared, params).await
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> RpcResult<Option<WorkspaceSymbolResponse>> {
        symbols::workspace_symbols(&self.shared, params).await
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> RpcResult<Option<PrepareRenameResponse>> {
        rename::prepare_rename(&self.shared, params).await
    }

    async fn rename(&self, params: RenameParams) -> RpcResult<Option<WorkspaceEdit>> {
        rename::rename(&self.shared, params).await
    }

    async fn completion(&self, params: CompletionParams) -> RpcResult<Option<CompletionResponse>> {
        completion::completion(&self.shared, params).await
    }

    async fn code_lens(&self, params: CodeLensParams) -> RpcResult<Option<Vec<CodeLens>>> {
        lens::code_lens(&self.shared, params).await
    }

    async fn code_lens_resolve(&self, params: CodeLens) -> RpcResult<CodeLens> {
        lens::code_lens_resolve(&self.shared, params).await
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> RpcResult<Option<Vec<InlayHint>>> {
        inlay::inlay_hints(&self.shared, params).await
    }

    async fn code_action(&self, params: CodeActionParams) -> RpcResult<Option<CodeActionResponse>> {
        actions::code_actions(&self.shared, params).await
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> RpcResult<Option<SemanticTokensResult>> {
        tokens::semantic_tokens(&self.shared, params).await
    }

    async fn document_link(&self, params: DocumentLinkParams) -> RpcResult<Option<Vec<DocumentLink>>> {
        links::document_links(&self.shared, params).await
    }
}
