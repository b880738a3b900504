//! `browser`: a real headless Chromium for validators, used as a person would through
//! agent-browser's vocabulary: open a URL, read the page as an accessibility outline with
//! element refs, click, fill, press, select, wait for text or a request, screenshot (the page,
//! the whole page or one element) into the session's evidence folder, and read the console
//! and network logs.
//!
//! The runner, not the model, keeps the record: every request the page makes (method, URL,
//! status) and every console message and uncaught exception are appended, as they happen, to
//! `browser-network.jsonl` and `browser-console.jsonl` in the evidence folder, and kept in
//! memory for the evidence check (`analysis::evidence`).

pub mod cdp;
pub mod snapshot;

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};

use super::terminal::EvidenceDir;
use super::ToolOutput;
use crate::agent::cancel::CancellationToken;
use crate::analysis::evidence::{parse_item, path_and_query, url_matches, Item, NetworkExpectation};
use crate::model::evidence::{ConsoleMessage, FileRole, RecordedFile, RecordedRequest, CONSOLE_LOG, NETWORK_LOG};
use cdp::{Chromium, Event};
use snapshot::RefTable;

pub const VIEWPORT: (u32, u32) = (1280, 800);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
/// How long `open` waits for a page to load unless told.
const OPEN_WAIT: Duration = Duration::from_secs(30);
pub const MAX_WAIT_S: u64 = 120;
/// How long an action waits for the page to settle (navigation, requests it started).
const SETTLE_MAX: Duration = Duration::from_secs(5);
const SNAPSHOT_BYTES: usize = 40 * 1024;
const TEXT_BYTES: usize = 10 * 1024;

/// The tool's schema (`input_schema`).
pub fn schema() -> Value {
    json!({"type": "object", "properties": {
        "action": {"enum": ["open", "snapshot", "text", "click", "fill", "press", "select", "wait", "screenshot", "console", "network", "eval", "back", "reload"], "description": "open: go to `url`; snapshot: the page as an outline with element refs (e1, e2…); text: the page's visible text; click / fill (`text`) / select (`value`) an element by `ref` or CSS `selector`; press: a `key` (Enter, Tab, Escape, ArrowDown, Control+a…), into an element when `ref`/`selector` is given; wait: until `text` shows or a `request` (`POST /login`, `POST /login -> 302`) was made; screenshot: save the page (`full_page`: all of it; `ref`/`selector`: one element) as evidence under `name`; console / network: what the page logged and requested (recorded by the runner); eval: run a JavaScript `expression` and get its JSON value."},
        "url": {"type": "string", "minLength": 1},
        "ref": {"type": "string", "minLength": 1, "description": "An element ref from the latest snapshot, e.g. e3."},
        "selector": {"type": "string", "minLength": 1, "description": "A CSS selector, when no ref fits."},
        "text": {"type": "string"},
        "value": {"type": "string", "description": "select: the option's value or label."},
        "key": {"type": "string", "minLength": 1},
        "request": {"type": "string", "minLength": 1},
        "name": {"type": "string", "minLength": 1, "maxLength": 80, "description": "screenshot: the evidence file's label."},
        "full_page": {"type": "boolean"},
        "expression": {"type": "string", "minLength": 1},
        "timeout_s": {"type": "integer", "minimum": 1, "maximum": MAX_WAIT_S}
    }, "required": ["action"], "additionalProperties": false})
}

/// What the event reader keeps of the page.
struct PageState {
    /// Requests with their outcome, in the order the outcome came.
    requests: Vec<RecordedRequest>,
    /// Requests without an outcome yet: method, URL, resource type.
    inflight: HashMap<String, (String, String, String)>,
    console: Vec<ConsoleMessage>,
    /// The top frame is loading a document.
    loading: bool,
    /// Changes on every event that says the page is doing something.
    activity: u64,
    network_log: Option<File>,
    console_log: Option<File>,
    page_frame: Option<String>,
    /// Documents the top frame has shown (its navigations).
    documents: u64,
}

impl PageState {
    fn finish(&mut self, entry: RecordedRequest) {
        if let Some(f) = self.network_log.as_mut() {
            let mut line = serde_json::to_vec(&entry).unwrap_or_default();
            line.push(b'\n');
            let _ = f.write_all(&line);
        }
        self.requests.push(entry);
    }

    fn log(&mut self, message: ConsoleMessage) {
        if let Some(f) = self.console_log.as_mut() {
            let mut line = serde_json::to_vec(&message).unwrap_or_default();
            line.push(b'\n');
            let _ = f.write_all(&line);
        }
        self.console.push(message);
    }

    /// Records what one protocol event says about the page.
    fn on_event(&mut self, e: Event) {
        if e.session_id.is_none() {
            return;
        }
        let p = &e.params;
        let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
        self.activity += 1;
        match e.method.as_str() {
            "Network.requestWillBeSent" => {
                let id = text(&p["requestId"]);
                if let Some(redirect) = p.get("redirectResponse").filter(|r| r.is_object()) {
                    if let Some((method, url, kind)) = self.inflight.remove(&id) {
                        let url = redirect["url"].as_str().map(str::to_string).unwrap_or(url);
                        self.finish(RecordedRequest {
                            method,
                            url,
                            status: redirect["status"].as_u64().map(|s| s as u16),
                            error: None,
                            resource_type: kind,
                        });
                    }
                }
                self.inflight.insert(id, (text(&p["request"]["method"]), text(&p["request"]["url"]), text(&p["type"])));
            }
            "Network.responseReceived" => {
                if let Some((method, url, kind)) = self.inflight.remove(&text(&p["requestId"])) {
                    let kind = p["type"].as_str().map(str::to_string).unwrap_or(kind);
                    self.finish(RecordedRequest {
                        method,
                        url,
                        status: p["response"]["status"].as_u64().map(|s| s as u16),
                        error: None,
                        resource_type: kind,
                    });
                }
            }
            "Network.loadingFailed" => {
                if let Some((method, url, kind)) = self.inflight.remove(&text(&p["requestId"])) {
                    let error = if p["canceled"].as_bool() == Some(true) {
                        "canceled".to_string()
                    } else {
                        text(&p["errorText"])
                    };
                    self.finish(RecordedRequest { method, url, status: None, error: Some(error), resource_type: kind });
                }
            }
            "Runtime.consoleAPICalled" => {
                let level = match p["type"].as_str().unwrap_or("log") {
                    "error" | "assert" => "error",
                    "warning" => "warning",
                    "info" => "info",
                    "debug" => "debug",
                    _ => "log",
                };
                let words: Vec<String> = p["args"].as_array().into_iter().flatten().map(remote_object_text).collect();
                let url = p["stackTrace"]["callFrames"][0]["url"].as_str().unwrap_or_default().to_string();
                self.log(ConsoleMessage { level: level.into(), text: words.join(" "), source: "console".into(), url });
            }
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let described = d["exception"]["description"].as_str().map(str::to_string);
                let text = described.unwrap_or_else(|| text(&d["text"]));
                self.log(ConsoleMessage {
                    level: "error".into(),
                    text,
                    source: "exception".into(),
                    url: d["url"].as_str().unwrap_or_default().to_string(),
                });
            }
            "Log.entryAdded" => {
                let entry = &p["entry"];
                let level = match entry["level"].as_str().unwrap_or("info") {
                    "verbose" => "debug",
                    other => other,
                };
                self.log(ConsoleMessage {
                    level: level.to_string(),
                    text: text(&entry["text"]),
                    source: text(&entry["source"]),
                    url: text(&entry["url"]),
                });
            }
            "Page.frameStartedLoading" if self.is_page_frame(p) => self.loading = true,
            "Page.frameStoppedLoading" if self.is_page_frame(p) => self.loading = false,
            "Page.frameNavigated"
                if p["frame"]["id"].as_str().is_some_and(|f| self.page_frame.as_deref() == Some(f)) =>
            {
                self.documents += 1
            }
            _ => {}
        }
    }

    fn is_page_frame(&self, p: &Value) -> bool {
        p["frameId"].as_str().is_some_and(|f| self.page_frame.as_deref() == Some(f))
    }
}

/// A `Runtime.RemoteObject` as console text.
fn remote_object_text(v: &Value) -> String {
    match &v["value"] {
        Value::String(s) => s.clone(),
        Value::Null => v["description"]
            .as_str()
            .or(v["unserializableValue"].as_str())
            .or(v["type"].as_str())
            .unwrap_or_default()
            .to_string(),
        other => other.to_string(),
    }
}

/// One session's browser: one page, its record, its refs and screenshots.
pub struct Browser {
    chromium: Chromium,
    session: String,
    state: Arc<Mutex<PageState>>,
    refs: RefTable,
    evidence: EvidenceDir,
    screenshots: Vec<RecordedFile>,
}

impl Browser {
    /// Starts Chromium (see [`cdp::find_chromium`]) with a page of [`VIEWPORT`], recording into
    /// `evidence.dir`; the browser's own output goes to `log`. `continue_logs`: append to the
    /// logs (a browser started again in the same session) instead of starting them afresh.
    pub async fn launch(evidence: &EvidenceDir, log: &Path, continue_logs: bool) -> Result<Browser, String> {
        let program = cdp::find_chromium()?;
        Browser::launch_with(&program, evidence, log, continue_logs).await
    }

    pub async fn launch_with(
        program: &Path,
        evidence: &EvidenceDir,
        log: &Path,
        continue_logs: bool,
    ) -> Result<Browser, String> {
        std::fs::create_dir_all(&evidence.dir).map_err(|e| format!("cannot create {}: {e}", evidence.dir.display()))?;
        let open_log = |name: &str| {
            let path = evidence.dir.join(name);
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(continue_logs)
                .truncate(!continue_logs)
                .open(&path)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))
        };
        let state = Arc::new(Mutex::new(PageState {
            requests: Vec::new(),
            inflight: HashMap::new(),
            console: Vec::new(),
            loading: false,
            activity: 0,
            network_log: Some(open_log(NETWORK_LOG)?),
            console_log: Some(open_log(CONSOLE_LOG)?),
            page_frame: None,
            documents: 0,
        }));
        let sink = state.clone();
        let extra = vec![format!("--window-size={},{}", VIEWPORT.0, VIEWPORT.1)];
        let chromium = Chromium::launch(program, &extra, log, move |e| {
            sink.lock().unwrap_or_else(|p| p.into_inner()).on_event(e)
        })?;
        let mut browser = Browser {
            chromium,
            session: String::new(),
            state,
            refs: RefTable::default(),
            evidence: evidence.clone(),
            screenshots: Vec::new(),
        };
        let started = browser.attach().await;
        match started {
            Ok(()) => Ok(browser),
            Err(e) => {
                let said = std::fs::read_to_string(log).unwrap_or_default();
                let tail: Vec<&str> = said.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev().collect();
                Err(format!(
                    "the browser did not start: {e}{}",
                    if tail.is_empty() { String::new() } else { format!("\n{}", tail.join("\n")) }
                ))
            }
        }
    }

    /// Opens the page this session drives and turns on the domains the record needs.
    async fn attach(&mut self) -> Result<(), String> {
        let target =
            self.chromium.call("Target.createTarget", json!({"url": "about:blank"}), None, CALL_TIMEOUT).await?;
        let target_id = target["targetId"].as_str().ok_or("the browser opened no page")?.to_string();
        let attached = self
            .chromium
            .call("Target.attachToTarget", json!({"targetId": target_id, "flatten": true}), None, CALL_TIMEOUT)
            .await?;
        self.session = attached["sessionId"].as_str().ok_or("the browser gave no page session")?.to_string();
        // The top frame's id is the page target's id.
        self.state().page_frame = Some(target_id);
        for method in
            ["Page.enable", "Runtime.enable", "Network.enable", "Log.enable", "DOM.enable", "Accessibility.enable"]
        {
            self.page(method, json!({})).await?;
        }
        self.page(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": VIEWPORT.0, "height": VIEWPORT.1, "deviceScaleFactor": 1, "mobile": false}),
        )
        .await?;
        Ok(())
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PageState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn page(&self, method: &str, params: Value) -> Result<Value, String> {
        self.chromium.call(method, params, Some(&self.session), CALL_TIMEOUT).await
    }

    /// Every request the page made so far, with its outcome.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    pub fn console(&self) -> Vec<ConsoleMessage> {
        self.state().console.clone()
    }

    /// The screenshots taken and the two logs, relative to `evidence/`.
    pub fn recorded_files(&self) -> Vec<RecordedFile> {
        let mut files = self.screenshots.clone();
        for (name, what) in [(NETWORK_LOG, FileRole::Network), (CONSOLE_LOG, FileRole::Console)] {
            files.push(RecordedFile {
                path: self.evidence.relative(&self.evidence.dir.join(name)),
                what,
                label: String::new(),
            });
        }
        files
    }

    pub fn log_paths(&self) -> (String, String) {
        (
            self.evidence.relative(&self.evidence.dir.join(NETWORK_LOG)),
            self.evidence.relative(&self.evidence.dir.join(CONSOLE_LOG)),
        )
    }

    /// Goes to `url` and waits until it has loaded (bounded by `timeout`).
    pub async fn open(&mut self, url: &str, timeout: Duration) -> Result<String, String> {
        let before = self.state().requests.len();
        let answer = self
            .chromium
            .call("Page.navigate", json!({"url": url}), Some(&self.session), timeout)
            .await
            .map_err(|e| format!("could not open {url}: {e}"))?;
        if let Some(error) = answer["errorText"].as_str().filter(|e| !e.is_empty()) {
            return Err(format!("could not open {url}: {error}"));
        }
        self.settle(timeout).await;
        let document = self.state().requests[before..].iter().rev().find(|r| r.resource_type == "Document").cloned();
        let status = document.and_then(|d| d.status).map(|s| format!(" (HTTP {s})")).unwrap_or_default();
        Ok(format!("opened {}{status}: {}", self.url().await, quote(&self.title().await)))
    }

    pub async fn back(&mut self) -> Result<String, String> {
        let history = self.page("Page.getNavigationHistory", json!({})).await?;
        let at = history["currentIndex"].as_i64().unwrap_or(0);
        let Some(entry) =
            history["entries"].as_array().and_then(|e| e.get((at - 1).max(0) as usize)).filter(|_| at > 0)
        else {
            return Err("there is no page to go back to".into());
        };
        self.page("Page.navigateToHistoryEntry", json!({"entryId": entry["id"]})).await?;
        self.settle(SETTLE_MAX).await;
        Ok(format!("went back to {}: {}", self.url().await, quote(&self.title().await)))
    }

    pub async fn reload(&mut self) -> Result<String, String> {
        self.page("Page.reload", json!({})).await?;
        self.settle(SETTLE_MAX).await;
        Ok(format!("reloaded {}: {}", self.url().await, quote(&self.title().await)))
    }

    async fn evaluate(&self, expression: &str) -> Result<Value, String> {
        let answer = self
            .page("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}))
            .await?;
        if let Some(details) = answer.get("exceptionDetails") {
            let why =
                details["exception"]["description"].as_str().or(details["text"].as_str()).unwrap_or("an exception");
            return Err(format!("the expression threw: {why}"));
        }
        Ok(answer["result"]["value"].clone())
    }

    pub async fn url(&self) -> String {
        self.evaluate("location.href").await.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    pub async fn title(&self) -> String {
        self.evaluate("document.title").await.ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
    }

    /// The page as an outline with refs, under its URL and title.
    pub async fn snapshot(&mut self) -> Result<String, String> {
        let tree = self.page("Accessibility.getFullAXTree", json!({})).await?;
        let nodes: Vec<Value> = tree["nodes"].as_array().cloned().unwrap_or_default();
        let document = self.state().documents;
        self.refs.set_document(document);
        let outline = snapshot::render(&nodes, &mut self.refs, SNAPSHOT_BYTES);
        Ok(format!("{} {}\n{outline}", self.url().await, quote(&self.title().await)))
    }

    /// The page's visible text.
    pub async fn text(&self) -> Result<String, String> {
        let text = self.evaluate("document.body ? document.body.innerText : ''").await?;
        let text = text.as_str().unwrap_or_default();
        Ok(clip(text, TEXT_BYTES))
    }

    /// The DOM node a ref or selector names, and how to call it in messages.
    async fn element(&self, reference: Option<&str>, selector: Option<&str>) -> Result<(i64, String), String> {
        if let Some(r) = reference {
            if self.state().documents != self.refs.document() {
                return Err(self.refs.why_unknown(r));
            }
            return self
                .refs
                .node(r)
                .map(|(n, d)| (n, format!("{} ({d})", r.trim_start_matches('@'))))
                .ok_or_else(|| self.refs.why_unknown(r));
        }
        let Some(selector) = selector else {
            return Err("name the element with `ref` (from a snapshot) or `selector`".into());
        };
        let found = self
            .page("Runtime.evaluate", json!({"expression": format!("document.querySelector({})", json!(selector))}))
            .await?;
        if let Some(details) = found.get("exceptionDetails") {
            return Err(format!(
                "`{selector}` is not a valid selector: {}",
                details["exception"]["description"].as_str().unwrap_or_default()
            ));
        }
        let Some(object) = found["result"]["objectId"].as_str() else {
            return Err(format!("no element matches `{selector}`"));
        };
        let node = self.page("DOM.describeNode", json!({"objectId": object})).await?;
        let backend = node["node"]["backendNodeId"].as_i64().ok_or("the element has no node id")?;
        Ok((backend, format!("`{selector}`")))
    }

    /// Calls `function` with `this` bound to the element.
    async fn call_on(&self, backend: i64, function: &str, args: Value) -> Result<Value, String> {
        let resolved = self.page("DOM.resolveNode", json!({"backendNodeId": backend})).await.map_err(gone)?;
        let object = resolved["object"]["objectId"]
            .as_str()
            .ok_or("the element is no longer on the page; take a new snapshot")?;
        let answer = self.page("Runtime.callFunctionOn", json!({"objectId": object, "functionDeclaration": function, "arguments": args, "returnByValue": true, "awaitPromise": true})).await?;
        if let Some(details) = answer.get("exceptionDetails") {
            return Err(details["exception"]["description"].as_str().unwrap_or("the page threw").to_string());
        }
        Ok(answer["result"]["value"].clone())
    }

    /// Scrolls the element into view; the centre of its first box, in viewport pixels.
    async fn centre(&self, backend: i64) -> Result<(f64, f64), String> {
        let _ = self.page("DOM.scrollIntoViewIfNeeded", json!({"backendNodeId": backend})).await;
        let quads = self.page("DOM.getContentQuads", json!({"backendNodeId": backend})).await.map_err(gone)?;
        let q = quads["quads"]
            .as_array()
            .and_then(|q| q.first())
            .and_then(Value::as_array)
            .ok_or("the element has no visible box (it is hidden or empty)")?;
        let xs: Vec<f64> = q.iter().step_by(2).filter_map(Value::as_f64).collect();
        let ys: Vec<f64> = q.iter().skip(1).step_by(2).filter_map(Value::as_f64).collect();
        if xs.len() != 4 || ys.len() != 4 {
            return Err("the element has no visible box (it is hidden or empty)".into());
        }
        Ok((xs.iter().sum::<f64>() / 4.0, ys.iter().sum::<f64>() / 4.0))
    }

    pub async fn click(&mut self, reference: Option<&str>, selector: Option<&str>) -> Result<String, String> {
        let (node, name) = self.element(reference, selector).await?;
        let (x, y) = self.centre(node).await?;
        let url_before = self.url().await;
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.page("Input.dispatchMouseEvent", json!({"type": kind, "x": x, "y": y, "button": "left", "buttons": if kind == "mousePressed" { 1 } else { 0 }, "clickCount": 1})).await?;
        }
        self.settle(SETTLE_MAX).await;
        Ok(format!("clicked {name}{}", self.moved(&url_before).await))
    }

    /// Replaces the element's text as typing would (input events fire).
    pub async fn fill(
        &mut self,
        reference: Option<&str>,
        selector: Option<&str>,
        text: &str,
    ) -> Result<String, String> {
        let (node, name) = self.element(reference, selector).await?;
        self.page("DOM.focus", json!({"backendNodeId": node}))
            .await
            .map_err(|e| format!("cannot focus {name}: {}", gone(e)))?;
        self.call_on(node, "function() { if (typeof this.select === 'function') this.select(); else if (this.isContentEditable) document.execCommand('selectAll'); }", json!([])).await?;
        if text.is_empty() {
            self.key("Delete").await?;
        } else {
            self.page("Input.insertText", json!({"text": text})).await?;
        }
        self.settle(SETTLE_MAX).await;
        let value = self
            .call_on(node, "function() { return 'value' in this ? this.value : this.innerText; }", json!([]))
            .await
            .unwrap_or_default();
        Ok(format!("filled {name}: it now holds {}", quote(value.as_str().unwrap_or_default())))
    }

    pub async fn press(
        &mut self,
        key: &str,
        reference: Option<&str>,
        selector: Option<&str>,
    ) -> Result<String, String> {
        let target = if reference.is_some() || selector.is_some() {
            let (node, name) = self.element(reference, selector).await?;
            self.page("DOM.focus", json!({"backendNodeId": node}))
                .await
                .map_err(|e| format!("cannot focus {name}: {}", gone(e)))?;
            format!(" in {name}")
        } else {
            String::new()
        };
        let url_before = self.url().await;
        self.key(key).await?;
        self.settle(SETTLE_MAX).await;
        Ok(format!("pressed {key}{target}{}", self.moved(&url_before).await))
    }

    async fn key(&self, key: &str) -> Result<(), String> {
        let k = cdp_key(key)?;
        let down = if k.text.is_empty() { "rawKeyDown" } else { "keyDown" };
        let mut params = json!({"type": down, "key": k.key, "code": k.code, "windowsVirtualKeyCode": k.key_code, "modifiers": k.modifiers});
        if !k.text.is_empty() {
            params["text"] = json!(k.text);
            params["unmodifiedText"] = json!(k.text);
        }
        self.page("Input.dispatchKeyEvent", params).await?;
        self.page("Input.dispatchKeyEvent", json!({"type": "keyUp", "key": k.key, "code": k.code, "windowsVirtualKeyCode": k.key_code, "modifiers": k.modifiers})).await?;
        Ok(())
    }

    /// Chooses an option of a `<select>` by value or label (input and change events fire).
    pub async fn select(
        &mut self,
        reference: Option<&str>,
        selector: Option<&str>,
        value: &str,
    ) -> Result<String, String> {
        let (node, name) = self.element(reference, selector).await?;
        const CHOOSE: &str = "function(v) { if (this.tagName !== 'SELECT') return 'it is not a <select>'; const o = [...this.options].find(o => o.value === v || o.label === v || o.textContent.trim() === v); if (!o) return 'it has no option ' + JSON.stringify(v) + ' (options: ' + [...this.options].map(o => o.label).join(', ') + ')'; this.value = o.value; this.dispatchEvent(new Event('input', {bubbles: true})); this.dispatchEvent(new Event('change', {bubbles: true})); return ''; }";
        let said = self.call_on(node, CHOOSE, json!([{"value": value}])).await?;
        if let Some(problem) = said.as_str().filter(|s| !s.is_empty()) {
            return Err(format!("cannot select in {name}: {problem}"));
        }
        self.settle(SETTLE_MAX).await;
        Ok(format!("selected {} in {name}", quote(value)))
    }

    /// Waits until `text` is on the page or a request matching `request` (`POST /login`,
    /// `POST /login -> 302|200`) was made.
    pub async fn wait(
        &mut self,
        text: Option<&str>,
        request: Option<&str>,
        timeout: Duration,
        cancel: &CancellationToken,
    ) -> Result<String, String> {
        let expectation = match request {
            Some(r) => Some(parse_request(r)?),
            None => None,
        };
        if text.is_none() && expectation.is_none() {
            return Err("`wait` needs `text` or `request`".into());
        }
        let began = Instant::now();
        loop {
            if let Some(want) = &expectation {
                let state = self.state();
                let hit = state.requests.iter().find(|r| request_fits(want, r));
                if let Some(r) = hit {
                    return Ok(format!(
                        "the page made {} {} -> {}",
                        r.method,
                        r.url,
                        r.status.map_or_else(|| r.error.clone().unwrap_or_default(), |s| s.to_string())
                    ));
                }
            }
            if let Some(t) = text {
                if self.text().await.is_ok_and(|page| page.contains(t)) {
                    return Ok(format!("{} is on the page", quote(t)));
                }
            }
            if began.elapsed() >= timeout {
                let what = match (text, request) {
                    (Some(t), None) => quote(t),
                    (None, Some(r)) => format!("a request {r}"),
                    (Some(t), Some(r)) => format!("{} or a request {r}", quote(t)),
                    (None, None) => unreachable!("checked above"),
                };
                let seen: Vec<String> = self
                    .state()
                    .requests
                    .iter()
                    .rev()
                    .take(5)
                    .map(|r| {
                        format!(
                            "{} {} -> {}",
                            r.method,
                            path_and_query(&r.url),
                            r.status.map_or_else(|| r.error.clone().unwrap_or_default(), |s| s.to_string())
                        )
                    })
                    .collect();
                return Err(format!(
                    "waited {} s for {what}: not seen. Latest requests: {}",
                    timeout.as_secs(),
                    if seen.is_empty() { "none".to_string() } else { seen.join(", ") }
                ));
            }
            tokio::select! {
                _ = cancel.cancelled() => return Err("cancelled".into()),
                _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            }
        }
    }

    /// Saves a PNG of the viewport, the whole page, or one element as `<name>.png` in the
    /// evidence folder; its path relative to `evidence/` and its size.
    pub async fn screenshot(
        &mut self,
        name: &str,
        full_page: bool,
        reference: Option<&str>,
        selector: Option<&str>,
    ) -> Result<String, String> {
        let mut params = json!({"format": "png", "captureBeyondViewport": full_page});
        if reference.is_some() || selector.is_some() {
            let (node, element) = self.element(reference, selector).await?;
            let _ = self.page("DOM.scrollIntoViewIfNeeded", json!({"backendNodeId": node})).await;
            let model = self
                .page("DOM.getBoxModel", json!({"backendNodeId": node}))
                .await
                .map_err(|e| format!("{element}: {}", gone(e)))?;
            let border: Vec<f64> =
                model["model"]["border"].as_array().into_iter().flatten().filter_map(Value::as_f64).collect();
            if border.len() != 8 {
                return Err(format!("{element} has no box to capture"));
            }
            let metrics = self.page("Page.getLayoutMetrics", json!({})).await?;
            let (page_x, page_y) = (
                metrics["cssVisualViewport"]["pageX"].as_f64().unwrap_or(0.0),
                metrics["cssVisualViewport"]["pageY"].as_f64().unwrap_or(0.0),
            );
            let xs = [border[0], border[2], border[4], border[6]];
            let ys = [border[1], border[3], border[5], border[7]];
            let (x0, x1) = (xs.iter().copied().fold(f64::MAX, f64::min), xs.iter().copied().fold(f64::MIN, f64::max));
            let (y0, y1) = (ys.iter().copied().fold(f64::MAX, f64::min), ys.iter().copied().fold(f64::MIN, f64::max));
            if x1 - x0 < 1.0 || y1 - y0 < 1.0 {
                return Err(format!("{element} is empty (nothing to capture)"));
            }
            params["clip"] =
                json!({"x": x0 + page_x, "y": y0 + page_y, "width": x1 - x0, "height": y1 - y0, "scale": 1});
            params["captureBeyondViewport"] = json!(true);
        } else if full_page {
            let metrics = self.page("Page.getLayoutMetrics", json!({})).await?;
            let size = &metrics["cssContentSize"];
            let (w, h) = (
                size["width"].as_f64().unwrap_or(VIEWPORT.0 as f64),
                size["height"].as_f64().unwrap_or(VIEWPORT.1 as f64),
            );
            params["clip"] = json!({"x": 0, "y": 0, "width": w.ceil().max(1.0), "height": h.ceil().clamp(1.0, 16_384.0), "scale": 1});
        }
        let shot = self.page("Page.captureScreenshot", params).await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .map_err(|e| format!("the browser sent an unreadable screenshot: {e}"))?;
        let (width, height) = crate::model::evidence::decode_png(&bytes)
            .map_err(|e| format!("the browser sent a screenshot that does not decode: {e}"))?;
        let path = self.evidence.dir.join(format!("{}.png", super::file_safe_name(name, "screenshot")));
        crate::model::persist::write_atomic(&path, &bytes)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        let relative = self.evidence.relative(&path);
        self.screenshots.retain(|f| f.path != relative);
        self.screenshots.push(RecordedFile {
            path: relative.clone(),
            what: FileRole::Screenshot,
            label: name.to_string(),
        });
        Ok(format!("saved a {width}×{height} screenshot as evidence: {relative}"))
    }

    /// Runs a JavaScript expression in the page; its value as JSON.
    pub async fn eval(&self, expression: &str) -> Result<String, String> {
        let value = self.evaluate(expression).await?;
        Ok(clip(&serde_json::to_string_pretty(&value).unwrap_or_default(), TEXT_BYTES))
    }

    /// Waits until the page is quiet: its top frame loaded and no request it started open,
    /// for a moment, at most `max`. Long-lived streams (EventSource, WebSocket) do not count.
    async fn settle(&self, max: Duration) {
        let began = Instant::now();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut quiet_since: Option<Instant> = None;
        let mut last_activity = u64::MAX;
        while began.elapsed() < max && !self.chromium.is_closed() {
            let (busy, activity) = {
                let s = self.state();
                let open = s
                    .inflight
                    .values()
                    .any(|(_, _, kind)| kind != "EventSource" && kind != "WebSocket" && kind != "Ping");
                (s.loading || open, s.activity)
            };
            if busy || activity != last_activity {
                quiet_since = None;
                last_activity = activity;
            } else if quiet_since.get_or_insert_with(Instant::now).elapsed() >= Duration::from_millis(150) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// ` -> now at URL` when the page's address changed.
    async fn moved(&self, before: &str) -> String {
        let now = self.url().await;
        if now != before && !now.is_empty() {
            format!("; the page is now {now}: {}", quote(&self.title().await))
        } else {
            String::new()
        }
    }

    /// Closes the browser (its whole process group) and flushes the logs.
    pub async fn close(&mut self) {
        self.chromium.close().await;
        let mut s = self.state();
        // Requests that never got an answer are recorded as such.
        let open: Vec<(String, String, String)> = s.inflight.drain().map(|(_, v)| v).collect();
        for (method, url, kind) in open {
            s.finish(RecordedRequest {
                method,
                url,
                status: None,
                error: Some("no response before the session ended".into()),
                resource_type: kind,
            });
        }
        let s = &mut *s;
        for f in [&mut s.network_log, &mut s.console_log].into_iter().flatten() {
            let _ = f.sync_all();
        }
    }

    pub fn process_group(&self) -> i32 {
        self.chromium.pgid()
    }

    pub fn profile(&self) -> PathBuf {
        self.chromium.profile().to_path_buf()
    }
}

fn parse_request(r: &str) -> Result<NetworkExpectation, String> {
    match parse_item(&format!("network({r})")) {
        Item::Network(Some(n)) if n.target.starts_with('/') || n.target.contains("://") => Ok(n),
        _ => Err(format!("`request` must look like `POST /login` or `POST /login -> 302|200`, not `{r}`")),
    }
}

fn request_fits(want: &NetworkExpectation, r: &RecordedRequest) -> bool {
    want.method.as_ref().is_none_or(|m| r.method.eq_ignore_ascii_case(m))
        && url_matches(&want.target, &r.url)
        && (want.statuses.is_empty()
            || r.status.is_some_and(|s| {
                want.statuses.iter().any(|p| match p {
                    crate::analysis::evidence::Status::Exact(x) => *x == s,
                    crate::analysis::evidence::Status::Class(c) => s / 100 == *c,
                })
            }))
}

fn gone(e: String) -> String {
    if e.contains("No node") || e.contains("Could not find node") || e.contains("does not belong") {
        "the element is no longer on the page; take a new snapshot".to_string()
    } else {
        e
    }
}

#[derive(Debug)]
struct CdpKey {
    key: String,
    code: String,
    key_code: u32,
    text: String,
    modifiers: u32,
}

/// A key as the DevTools protocol dispatches it: `Enter`, `ArrowDown`, `a`, `Control+a`.
fn cdp_key(spec: &str) -> Result<CdpKey, String> {
    let parts: Vec<&str> = spec.split('+').map(str::trim).collect();
    let (mods, key) = match parts.as_slice() {
        [.., last] if !last.is_empty() => (&parts[..parts.len() - 1], *last),
        _ => (&parts[..0], spec.trim()),
    };
    let mut modifiers = 0;
    for m in mods {
        modifiers |= match m.to_ascii_lowercase().as_str() {
            "alt" => 1,
            "control" | "ctrl" => 2,
            "meta" | "cmd" | "command" => 4,
            "shift" => 8,
            _ => return Err(format!("unknown modifier `{m}` in `{spec}` (Alt, Control, Meta, Shift)")),
        };
    }
    let named: Option<(&str, &str, u32, &str)> = match key.to_ascii_lowercase().as_str() {
        "enter" | "return" => Some(("Enter", "Enter", 13, "\r")),
        "tab" => Some(("Tab", "Tab", 9, "")),
        "escape" | "esc" => Some(("Escape", "Escape", 27, "")),
        "backspace" => Some(("Backspace", "Backspace", 8, "")),
        "delete" => Some(("Delete", "Delete", 46, "")),
        "space" => Some((" ", "Space", 32, " ")),
        "arrowup" | "up" => Some(("ArrowUp", "ArrowUp", 38, "")),
        "arrowdown" | "down" => Some(("ArrowDown", "ArrowDown", 40, "")),
        "arrowleft" | "left" => Some(("ArrowLeft", "ArrowLeft", 37, "")),
        "arrowright" | "right" => Some(("ArrowRight", "ArrowRight", 39, "")),
        "home" => Some(("Home", "Home", 36, "")),
        "end" => Some(("End", "End", 35, "")),
        "pageup" => Some(("PageUp", "PageUp", 33, "")),
        "pagedown" => Some(("PageDown", "PageDown", 34, "")),
        _ => None,
    };
    let (key, code, key_code, text) = match named {
        Some((k, c, n, t)) => (k.to_string(), c.to_string(), n, t.to_string()),
        None => {
            let mut chars = key.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else {
                return Err(format!("unknown key `{spec}`; use Enter, Tab, Escape, Backspace, Delete, Space, ArrowUp/Down/Left/Right, Home, End, PageUp, PageDown, one character, with Control+/Alt+/Shift+/Meta+ (type text with `fill`)"));
            };
            let upper = c.to_ascii_uppercase();
            let code = if c.is_ascii_alphabetic() {
                format!("Key{upper}")
            } else if c.is_ascii_digit() {
                format!("Digit{c}")
            } else {
                String::new()
            };
            (c.to_string(), code, if c.is_ascii_alphanumeric() { upper as u32 } else { 0 }, c.to_string())
        }
    };
    // With Control, Alt or Meta held, a key types nothing.
    let text = if modifiers & 7 != 0 { String::new() } else { text };
    Ok(CdpKey { key, code, key_code, text, modifiers })
}

fn quote(s: &str) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = one.chars().take(200).collect();
    format!("\"{cut}{}\"", if cut.len() < one.len() { "…" } else { "" })
}

fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    format!("{}\n… [{} more bytes]", super::clip(s, max), s.len() - super::clip(s, max).len())
}

/// A session's browser, started on first use, run through the tool's JSON.
pub struct BrowserTool {
    evidence: EvidenceDir,
    log: PathBuf,
    browser: Option<Browser>,
    /// Set when the browser could not start, so the model is told once and clearly.
    failed: Option<String>,
    /// What browsers of this session that closed unexpectedly recorded (`None`: no browser
    /// has run yet).
    earlier: Option<SessionRecord>,
}

/// What the browser recorded in a session: its files (screenshots, the two logs, relative to
/// `evidence/`), every request and every console message.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionRecord {
    pub files: Vec<RecordedFile>,
    pub requests: Vec<RecordedRequest>,
    pub console: Vec<ConsoleMessage>,
}

impl SessionRecord {
    fn absorb(&mut self, b: &Browser) {
        for f in b.recorded_files() {
            self.files.retain(|x| x.path != f.path);
            self.files.push(f);
        }
        self.requests.extend(b.requests());
        self.console.extend(b.console());
    }
}

impl BrowserTool {
    /// `log`: where Chromium's own output goes.
    pub fn new(evidence: EvidenceDir, log: PathBuf) -> Self {
        BrowserTool { evidence, log, browser: None, failed: None, earlier: None }
    }

    pub fn browser(&self) -> Option<&Browser> {
        self.browser.as_ref()
    }

    /// Everything the session's browsers recorded; `None` when no browser ran.
    pub fn record(&self) -> Option<SessionRecord> {
        let mut record = self.earlier.clone();
        if let Some(b) = &self.browser {
            record.get_or_insert_with(SessionRecord::default).absorb(b);
        }
        record
    }

    /// Runs one call of the `browser` tool (arguments already checked against [`schema`]).
    pub async fn run(&mut self, args: &Value, cancel: &CancellationToken) -> ToolOutput {
        let action = args["action"].as_str().unwrap_or_default();
        if matches!(action, "console" | "network") && self.browser.is_none() {
            return ToolOutput::ok(format!("no page has been opened in this session, so there is no {action} log yet"));
        }
        if self.browser.is_none() {
            if let Some(why) = &self.failed {
                return ToolOutput::error(why.clone());
            }
            match Browser::launch(&self.evidence, &self.log, self.earlier.is_some()).await {
                Ok(b) => self.browser = Some(b),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return ToolOutput::error(e);
                }
            }
        }
        let b = self.browser.as_mut().expect("started above");
        let s = |k: &str| args[k].as_str().filter(|v| !v.is_empty());
        let need = |k: &str| s(k).ok_or_else(|| format!("`{action}` needs `{k}`"));
        let given = args["timeout_s"].as_u64().map(|t| Duration::from_secs(t.min(MAX_WAIT_S)));
        let timeout = given.unwrap_or(DEFAULT_WAIT);
        let result = async {
            match action {
                "open" => b.open(need("url")?, given.unwrap_or(OPEN_WAIT)).await,
                "snapshot" => b.snapshot().await,
                "text" => b.text().await,
                "click" => b.click(s("ref"), s("selector")).await,
                "fill" => b.fill(s("ref"), s("selector"), args["text"].as_str().ok_or("`fill` needs `text`")?).await,
                "press" => b.press(need("key")?, s("ref"), s("selector")).await,
                "select" => {
                    b.select(s("ref"), s("selector"), args["value"].as_str().ok_or("`select` needs `value`")?).await
                }
                "wait" => b.wait(s("text"), s("request"), timeout, cancel).await,
                "screenshot" => {
                    b.screenshot(need("name")?, args["full_page"].as_bool().unwrap_or(false), s("ref"), s("selector"))
                        .await
                }
                "console" => {
                    let messages = b.console();
                    let errors = messages.iter().filter(|m| m.is_error()).count();
                    let lines: Vec<String> = messages.iter().map(|m| format!("[{}] {}", m.level, m.text)).collect();
                    Ok(format!(
                        "{} message(s), {errors} error(s), recorded in {}\n{}",
                        messages.len(),
                        b.log_paths().1,
                        clip(&lines.join("\n"), TEXT_BYTES)
                    ))
                }
                "network" => {
                    let requests = b.requests();
                    let filter = s("text");
                    let lines: Vec<String> = requests
                        .iter()
                        .filter(|r| filter.is_none_or(|f| r.url.contains(f)))
                        .map(|r| {
                            format!(
                                "{} {} -> {}",
                                r.method,
                                r.url,
                                r.status.map_or_else(|| r.error.clone().unwrap_or_default(), |s| s.to_string())
                            )
                        })
                        .collect();
                    Ok(format!(
                        "{} request(s), recorded in {}\n{}",
                        lines.len(),
                        b.log_paths().0,
                        clip(&lines.join("\n"), TEXT_BYTES)
                    ))
                }
                "eval" => b.eval(need("expression")?).await,
                "back" => b.back().await,
                "reload" => b.reload().await,
                other => Err(format!("unknown action `{other}`")),
            }
        }
        .await;
        if b.chromium.is_closed() {
            let why = "the browser closed unexpectedly; the next call starts a new one".to_string();
            if let Some(mut gone) = self.browser.take() {
                gone.close().await;
                self.earlier.get_or_insert_with(SessionRecord::default).absorb(&gone);
            }
            return ToolOutput::error(match result {
                Ok(_) => why,
                Err(e) => format!("{e} ({why})"),
            });
        }
        result.into()
    }

    /// Closes the browser, if one was started.
    pub async fn close(&mut self) {
        if let Some(b) = self.browser.as_mut() {
            b.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_become_protocol_key_events() {
        let k = cdp_key("Enter").unwrap();
        assert_eq!(
            (k.key.as_str(), k.code.as_str(), k.key_code, k.text.as_str(), k.modifiers),
            ("Enter", "Enter", 13, "\r", 0)
        );
        let k = cdp_key("Control+a").unwrap();
        assert_eq!(
            (k.key.as_str(), k.code.as_str(), k.key_code, k.text.as_str(), k.modifiers),
            ("a", "KeyA", 65, "", 2)
        );
        let k = cdp_key("Shift+ArrowDown").unwrap();
        assert_eq!((k.key.as_str(), k.key_code, k.modifiers), ("ArrowDown", 40, 8));
        let k = cdp_key("+").unwrap();
        assert_eq!(k.text, "+");
        assert!(cdp_key("Hyper+x").unwrap_err().starts_with("unknown modifier `Hyper`"));
        assert!(cdp_key("Launch").unwrap_err().starts_with("unknown key `Launch`"));
    }

    #[test]
    fn events_become_the_record() {
        let mut s = PageState {
            requests: Vec::new(),
            inflight: HashMap::new(),
            console: Vec::new(),
            loading: false,
            activity: 0,
            network_log: None,
            console_log: None,
            page_frame: Some("F".into()),
            documents: 0,
        };
        let ev = |method: &str, params: Value| Event { method: method.into(), params, session_id: Some("S".into()) };
        s.on_event(ev("Page.frameStartedLoading", json!({"frameId": "F"})));
        assert!(s.loading);
        s.on_event(ev(
            "Network.requestWillBeSent",
            json!({"requestId": "1", "request": {"method": "POST", "url": "http://h/login"}, "type": "Document"}),
        ));
        s.on_event(ev("Network.requestWillBeSent", json!({"requestId": "1", "request": {"method": "GET", "url": "http://h/home"}, "type": "Document", "redirectResponse": {"url": "http://h/login", "status": 302}})));
        s.on_event(ev(
            "Network.responseReceived",
            json!({"requestId": "1", "type": "Document", "response": {"status": 200, "url": "http://h/home"}}),
        ));
        s.on_event(ev(
            "Network.requestWillBeSent",
            json!({"requestId": "2", "request": {"method": "GET", "url": "http://h/api"}, "type": "Fetch"}),
        ));
        s.on_event(ev("Network.loadingFailed", json!({"requestId": "2", "errorText": "net::ERR_CONNECTION_REFUSED"})));
        s.on_event(ev("Runtime.consoleAPICalled", json!({"type": "error", "args": [{"type": "string", "value": "boom"}, {"type": "number", "value": 42}, {"type": "object", "description": "Object"}]})));
        s.on_event(ev("Runtime.exceptionThrown", json!({"exceptionDetails": {"text": "Uncaught", "exception": {"description": "TypeError: x is undefined"}}})));
        s.on_event(ev("Log.entryAdded", json!({"entry": {"level": "error", "text": "Failed to load resource: the server responded with a status of 500", "source": "network", "url": "http://h/api"}})));
        s.on_event(ev("Page.frameStoppedLoading", json!({"frameId": "F"})));
        s.on_event(Event { method: "Target.targetCreated".into(), params: json!({}), session_id: None });
        assert!(!s.loading);
        let got: Vec<(String, String, Option<u16>)> =
            s.requests.iter().map(|r| (r.method.clone(), r.url.clone(), r.status)).collect();
        assert_eq!(
            got,
            [
                ("POST".to_string(), "http://h/login".to_string(), Some(302)),
                ("GET".into(), "http://h/home".into(), Some(200)),
                ("GET".into(), "http://h/api".into(), None)
            ]
        );
        assert_eq!(s.requests[2].error.as_deref(), Some("net::ERR_CONNECTION_REFUSED"));
        let console: Vec<(&str, &str)> = s.console.iter().map(|m| (m.level.as_str(), m.text.as_str())).collect();
        assert_eq!(
            console,
            [
                ("error", "boom 42 Object"),
                ("error", "TypeError: x is undefined"),
                ("error", "Failed to load resource: the server responded with a status of 500")
            ]
        );
        assert_eq!(s.activity, 10, "browser-level events are not the page's");
    }
}
