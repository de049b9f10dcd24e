//! The Lambda side: Runtime API endpoints, invocation queues and handler process supervision.
//!
//! Each handler process gets its own Runtime API listener — as every Lambda execution environment
//! has its own endpoint — but all processes of a function pull from one shared invocation queue,
//! so `--concurrency N` runs N invocations at once. A listener per process is what lets the twin
//! know which invocation a process was working on when it dies: that invocation fails (like a
//! crashed Lambda environment) and the process is restarted. Timeouts are enforced from the moment
//! a process takes an invocation, by killing the process, which is again what Lambda does.
//!
//! Processes run in their own process group with `PR_SET_PDEATHSIG`, and every pid is recorded in
//! a [`ChildRegistry`] so that `Drop` of the stack can kill them synchronously: nothing is left
//! running even if the twin is torn down without an orderly async shutdown.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::measure::mono_us;
use crate::netio::{ConnHandle, KillableListener};
use crate::time::{log_stream_date, now_ms};

/// Lines kept per function; older ones are dropped so a long soak cannot exhaust memory.
const MAX_LOG_LINES: usize = 50_000;

/// `errorType`s Lambda itself reports when the execution environment, not the handler, failed.
const EXIT_ERROR: &str = "Runtime.ExitError";
const TIMED_OUT: &str = "Sandbox.Timedout";
/// Not a Lambda error type: the twin runs no process for this function.
pub const NO_PROCESS: &str = "LocalAws.NoHandlerProcess";

/// The functions of the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FunctionName {
    WhatsappHandler,
    ConnectHandler,
    /// The Handoff API, invoked synchronously by the HTTP API front (`http_api`).
    HandoffApi,
    /// The HTTP API's Lambda authorizer.
    HandoffAuthorizer,
    /// Sends the Handoff API's webhooks; fed by the webhook queue through an SQS event source
    /// mapping (`sqs_source`).
    WebhookSender,
}

impl FunctionName {
    pub const ALL: [FunctionName; 5] = [
        FunctionName::WhatsappHandler,
        FunctionName::ConnectHandler,
        FunctionName::HandoffApi,
        FunctionName::HandoffAuthorizer,
        FunctionName::WebhookSender,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FunctionName::WhatsappHandler => "WhatsappHandler",
            FunctionName::ConnectHandler => "ConnectHandler",
            FunctionName::HandoffApi => "HandoffApi",
            FunctionName::HandoffAuthorizer => "HandoffAuthorizer",
            FunctionName::WebhookSender => "WebhookSender",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str().eq_ignore_ascii_case(s))
    }
}

impl std::fmt::Display for FunctionName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Pids of every process the twin started, for synchronous cleanup.
#[derive(Debug, Default)]
pub struct ChildRegistry {
    pids: Mutex<HashSet<i32>>,
}

impl ChildRegistry {
    pub fn add(&self, pid: u32) {
        self.pids.lock().unwrap_or_else(|e| e.into_inner()).insert(pid as i32);
    }

    pub fn remove(&self, pid: u32) {
        self.pids
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(pid as i32));
    }

    /// SIGKILLs every registered process group.
    pub fn kill_all(&self) {
        let pids: Vec<i32> = self.pids.lock().unwrap_or_else(|e| e.into_inner()).drain().collect();
        for pid in pids {
            kill_group(pid as u32);
        }
    }
}

/// Kills a child and everything in its process group (children are group leaders).
pub fn kill_group(pid: u32) {
    // SAFETY: killpg only sends a signal; a stale pid at worst hits an empty group (ESRCH).
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

/// Configures a command the way the twin runs every child: own process group, dies with the
/// twin, killed when its handle is dropped.
pub fn isolate(cmd: &mut tokio::process::Command) {
    cmd.kill_on_drop(true).process_group(0);
    // SAFETY: prctl is async-signal-safe and the closure touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
}

/// Why an invocation failed, in the shape Lambda reports it: the `errorType`/`errorMessage` document
/// a runtime posts to `/invocation/{id}/error`, or one Lambda itself writes when the environment
/// crashed or timed out. Kept structured because the Invoke API and the on-failure destination
/// record both hand it back as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    pub error_type: String,
    pub error_message: String,
}

impl FunctionError {
    pub fn new(error_type: &str, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.to_owned(),
            error_message: error_message.into(),
        }
    }

    /// `{"errorType": ..., "errorMessage": ...}`, the payload Lambda returns for a function error.
    pub fn to_json(&self) -> Value {
        json!({ "errorType": self.error_type, "errorMessage": self.error_message })
    }
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

type Reply = oneshot::Sender<Result<Value, FunctionError>>;

struct Invocation {
    id: String,
    body: Bytes,
    reply: Reply,
}

struct Pending {
    slot: usize,
    reply: Reply,
}

struct Slot {
    index: usize,
    port: u16,
    /// Wakes the supervisor to kill the process (timeout).
    kill: Notify,
    /// How many restarts were asked for (`/_twin/processes/restart`): the supervisor replaces the
    /// process at once whenever this moves past what it last honoured.
    restart: watch::Sender<u64>,
    /// The requests honoured: the process that was running when they were made is gone, and what
    /// it ran has failed.
    replaced: watch::Sender<u64>,
}

/// One Lambda function: its queue, in-flight invocations, processes and logs.
pub struct Function {
    pub name: FunctionName,
    arn: String,
    timeout: Duration,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    pending: Mutex<HashMap<String, Pending>>,
    slots: Mutex<Vec<Arc<Slot>>>,
    logs: Mutex<Vec<String>>,
    echo_logs: bool,
    /// Process and invocation times for the benchmark (`measure`).
    pub timeline: crate::measure::Timeline,
}

/// How to run a function's handler processes.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    pub binary: PathBuf,
    pub concurrency: usize,
    /// Environment of every process, except the per-process Runtime API address and log stream.
    pub env: Vec<(String, String)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Function {
    pub fn new(name: FunctionName, arn: String, timeout: Duration, echo_logs: bool) -> Arc<Self> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        Arc::new(Self {
            name,
            arn,
            timeout,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            pending: Mutex::new(HashMap::new()),
            slots: Mutex::new(Vec::new()),
            logs: Mutex::new(Vec::new()),
            echo_logs,
            timeline: crate::measure::Timeline::new(name),
        })
    }

    /// Whether any process serves this function.
    pub fn has_processes(&self) -> bool {
        !lock(&self.slots).is_empty()
    }

    /// Resolves once the process of every slot has polled the Runtime API (its init is over) or has
    /// exited (its init failed: what an event gets then is what it will keep getting).
    pub async fn settled(&self) {
        loop {
            let slots = lock(&self.slots).len();
            let processes = self.timeline.processes();
            let settled = (0..slots).all(|slot| {
                processes
                    .iter()
                    .any(|p| p.slot == slot && (p.first_poll_us.is_some() || p.exited_us.is_some()))
            });
            if settled {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runtime API addresses (`127.0.0.1:port`) of the processes.
    pub fn runtime_addresses(&self) -> Vec<String> {
        lock(&self.slots)
            .iter()
            .map(|s| format!("127.0.0.1:{}", s.port))
            .collect()
    }

    pub fn push_log(&self, line: String) {
        let mut logs = lock(&self.logs);
        if logs.len() >= MAX_LOG_LINES {
            logs.drain(..MAX_LOG_LINES / 10);
        }
        logs.push(line);
    }

    pub fn logs(&self) -> Vec<String> {
        lock(&self.logs).clone()
    }

    pub fn clear_logs(&self) {
        lock(&self.logs).clear();
    }

    /// The unqualified function ARN (what the Runtime API reports as the invoked function).
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// Runs one invocation and returns the handler's response or its error text.
    pub async fn invoke(&self, event: &Value) -> Result<Value, String> {
        let id = uuid::Uuid::new_v4().to_string();
        self.invoke_as(&id, event).await.map_err(|e| e.to_string())
    }

    /// Runs one invocation under the given request id. Lambda keeps one request id across the
    /// retries of an asynchronous event, and that id is what ties the on-failure record to the
    /// function's logs, so the caller decides it.
    pub async fn invoke_as(&self, request_id: &str, event: &Value) -> Result<Value, FunctionError> {
        if !self.has_processes() {
            return Err(FunctionError::new(
                NO_PROCESS,
                format!(
                    "{} has no handler process (the twin was started without handlers)",
                    self.name
                ),
            ));
        }
        let (reply, rx) = oneshot::channel();
        let id = request_id.to_owned();
        let body = Bytes::from(event.to_string());
        self.queue_tx
            .send(Invocation {
                id: id.clone(),
                body,
                reply,
            })
            .map_err(|_| FunctionError::new(NO_PROCESS, format!("{} is shut down", self.name)))?;
        // The deadline proper starts when a process takes the invocation; this bound only stops
        // a caller from waiting forever on a function whose processes cannot start.
        let bound = self.timeout * 4 + Duration::from_secs(60);
        match tokio::time::timeout(bound, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(FunctionError::new(
                EXIT_ERROR,
                format!("{}: invocation {id} was abandoned", self.name),
            )),
            Err(_) => {
                lock(&self.pending).remove(&id);
                Err(FunctionError::new(
                    NO_PROCESS,
                    format!(
                        "{}: no handler process took invocation {id} within {bound:?}",
                        self.name
                    ),
                ))
            }
        }
    }

    /// Kills the running processes so that their supervisors start them again without delay, and
    /// returns once every one is gone and what it ran has failed (so an event sent next cannot reach
    /// a process about to die); returns how many processes were replaced by then.
    pub async fn restart_processes(&self) -> usize {
        let slots = lock(&self.slots).clone();
        let asked: Vec<u64> = slots
            .iter()
            .map(|slot| {
                slot.restart.send_modify(|n| *n += 1);
                *slot.restart.borrow()
            })
            .collect();
        let mut restarted = 0;
        for (slot, asked) in slots.iter().zip(asked) {
            let mut replaced = slot.replaced.subscribe();
            // A supervisor stopped by shutdown never answers: it is not counted.
            let honoured = tokio::time::timeout(Duration::from_secs(10), replaced.wait_for(|n| *n >= asked)).await;
            restarted += usize::from(matches!(honoured, Ok(Ok(_))));
        }
        restarted
    }

    /// Fails whatever the process in `slot` was working on.
    fn fail_slot(&self, slot: usize, why: &str) {
        let mut pending = lock(&self.pending);
        let ids: Vec<String> = pending
            .iter()
            .filter(|(_, p)| p.slot == slot)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            if let Some(p) = pending.remove(&id) {
                let _ = p
                    .reply
                    .send(Err(FunctionError::new(EXIT_ERROR, format!("{}: {why}", self.name))));
            }
        }
    }

    /// Binds one Runtime API listener per process and starts the supervisors.
    pub async fn start_processes(
        self: &Arc<Self>,
        spec: ProcessSpec,
        registry: Arc<ChildRegistry>,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<()> {
        for _ in 0..spec.concurrency.max(1) {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let port = listener.local_addr()?.port();
            let slot = {
                let mut slots = lock(&self.slots);
                let slot = Arc::new(Slot {
                    index: slots.len(),
                    port,
                    kill: Notify::new(),
                    restart: watch::channel(0).0,
                    replaced: watch::channel(0).0,
                });
                slots.push(slot.clone());
                slot
            };
            let ctx = SlotCtx {
                function: self.clone(),
                slot: slot.clone(),
            };
            let mut stop = shutdown.clone();
            tokio::spawn(async move {
                // Served like the AWS endpoints, so an invocation is timed at the socket (see `measure`).
                let app = runtime_router(ctx).into_make_service_with_connect_info::<ConnHandle>();
                let _ = axum::serve(KillableListener(listener), app)
                    .with_graceful_shutdown(async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
            });
            tokio::spawn(supervise(
                self.clone(),
                slot,
                spec.clone(),
                registry.clone(),
                shutdown.clone(),
            ));
        }
        Ok(())
    }
}

#[derive(Clone)]
struct SlotCtx {
    function: Arc<Function>,
    slot: Arc<Slot>,
}

fn runtime_router(ctx: SlotCtx) -> Router {
    Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .route("/2018-06-01/runtime/invocation/{id}/error", post(invocation_error))
        .route("/2018-06-01/runtime/init/error", post(init_error))
        .with_state(ctx)
}

fn trace_id() -> String {
    let u = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        now_ms() / 1000,
        &u[..24],
        &u[16..32]
    )
}

/// When the request being served on `conn` started to arrive.
fn arrived_us(conn: &ConnHandle) -> u64 {
    conn.clock.request_started_us().unwrap_or_else(mono_us)
}

async fn next_invocation(State(ctx): State<SlotCtx>, ConnectInfo(conn): ConnectInfo<ConnHandle>) -> Response {
    let f = &ctx.function;
    f.timeline.polled(ctx.slot.index, arrived_us(&conn));
    // A runtime that polls again has finished (or abandoned) what it was given before.
    f.fail_slot(
        ctx.slot.index,
        "the runtime asked for the next event without answering the previous one",
    );
    loop {
        let inv = {
            let mut rx = f.queue_rx.lock().await;
            rx.recv().await
        };
        let Some(inv) = inv else {
            return (StatusCode::INTERNAL_SERVER_ERROR, "queue closed").into_response();
        };
        if inv.reply.is_closed() {
            continue;
        }
        let deadline = now_ms() + f.timeout.as_millis() as u64;
        lock(&f.pending).insert(
            inv.id.clone(),
            Pending {
                slot: ctx.slot.index,
                reply: inv.reply,
            },
        );
        tokio::spawn(watchdog(f.clone(), ctx.slot.clone(), inv.id.clone()));
        let trace = trace_id();
        conn.clock
            .track_response_end(f.timeline.handed_out(ctx.slot.index, &inv.id, &trace));
        let mut headers = HeaderMap::new();
        let mut put = |k: &'static str, v: String| {
            if let Ok(v) = HeaderValue::from_str(&v) {
                headers.insert(k, v);
            }
        };
        put("lambda-runtime-aws-request-id", inv.id);
        put("lambda-runtime-deadline-ms", deadline.to_string());
        put("lambda-runtime-invoked-function-arn", f.arn.clone());
        put("lambda-runtime-trace-id", trace);
        put("content-type", "application/json".into());
        return (StatusCode::OK, headers, inv.body).into_response();
    }
}

async fn watchdog(f: Arc<Function>, slot: Arc<Slot>, id: String) {
    tokio::time::sleep(f.timeout).await;
    let timed_out = lock(&f.pending).remove(&id);
    if let Some(p) = timed_out {
        let _ = p.reply.send(Err(FunctionError::new(
            TIMED_OUT,
            format!(
                "{}: Task timed out after {:.2} seconds",
                f.name,
                f.timeout.as_secs_f64()
            ),
        )));
        slot.kill.notify_waiters();
    }
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({ "status": "OK" }))).into_response()
}

fn unknown_request(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorMessage": format!("Invalid request ID: {id}"),
            "errorType": "InvalidRequestID",
        })),
    )
        .into_response()
}

/// The invocation `id` that the runtime on `conn` just answered; `None`: not one handed out.
fn answered(ctx: &SlotCtx, conn: &ConnHandle, id: &str, ok: bool) -> Option<Pending> {
    let pending = lock(&ctx.function.pending).remove(id)?;
    ctx.function.timeline.finished(id, ok, arrived_us(conn));
    Some(pending)
}

async fn invocation_response(
    State(ctx): State<SlotCtx>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(p) = answered(&ctx, &conn, &id, true) else {
        return unknown_request(&id);
    };
    let value =
        serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    let _ = p.reply.send(Ok(value));
    accepted()
}

/// The error a runtime reported in a Runtime API error document (anything else is kept as text).
fn error_doc(body: &[u8]) -> FunctionError {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) => {
            let ty = v.get("errorType").and_then(Value::as_str).unwrap_or("Error");
            let msg = v.get("errorMessage").and_then(Value::as_str).unwrap_or("");
            FunctionError::new(ty, msg)
        }
        Err(_) => FunctionError::new("Error", String::from_utf8_lossy(body)),
    }
}

async fn invocation_error(
    State(ctx): State<SlotCtx>,
    ConnectInfo(conn): ConnectInfo<ConnHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let Some(p) = answered(&ctx, &conn, &id, false) else {
        return unknown_request(&id);
    };
    let _ = p.reply.send(Err(error_doc(&body)));
    accepted()
}

async fn init_error(State(ctx): State<SlotCtx>, body: Bytes) -> Response {
    let line = format!("[local-aws] init error: {}", error_doc(&body));
    if ctx.function.echo_logs {
        eprintln!("[{}#{}] {line}", ctx.function.name, ctx.slot.index);
    }
    ctx.function.push_log(line);
    accepted()
}

fn pump<R: AsyncRead + Unpin + Send + 'static>(reader: R, f: Arc<Function>, label: String) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if f.echo_logs {
                eprintln!("[{label}] {line}");
            }
            f.push_log(line);
        }
    });
}

/// Resolves once a restart beyond the `honoured` ones was asked for. (The guard `wait_for` hands back
/// must not live in the supervisor's future, which moves between threads.)
async fn asked_again(restart: &mut watch::Receiver<u64>, honoured: u64) {
    let _ = restart.wait_for(|n| *n > honoured).await.map(drop);
}

/// Resolves once shutdown was requested (or the twin is gone).
pub(crate) async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

async fn supervise(
    f: Arc<Function>,
    slot: Arc<Slot>,
    spec: ProcessSpec,
    registry: Arc<ChildRegistry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let label = format!("{}#{}", f.name, slot.index);
    let mut backoff = Duration::from_millis(100);
    loop {
        if *shutdown.borrow() {
            return;
        }
        let started = Instant::now();
        // The process that was running when these restarts were asked for is gone.
        let asked = *slot.restart.borrow();
        slot.replaced.send_replace(asked);
        let mut restart = slot.restart.subscribe();
        let mut cmd = tokio::process::Command::new(&spec.binary);
        cmd.env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", format!("127.0.0.1:{}", slot.port))
            .env(
                "AWS_LAMBDA_LOG_STREAM_NAME",
                format!(
                    "{}/[$LATEST]{}",
                    log_stream_date(now_ms()),
                    uuid::Uuid::new_v4().simple()
                ),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        isolate(&mut cmd);
        let note = |f: &Function, msg: String| {
            let line = format!("[local-aws] {msg}");
            eprintln!("[{label}] {line}");
            f.push_log(line);
        };
        match cmd.spawn() {
            Err(e) => note(&f, format!("cannot start {}: {e}", spec.binary.display())),
            Ok(mut child) => {
                let pid = child.id().unwrap_or(0);
                registry.add(pid);
                f.timeline.spawned(slot.index, pid);
                if let Some(out) = child.stdout.take() {
                    pump(out, f.clone(), label.clone());
                }
                if let Some(err) = child.stderr.take() {
                    pump(err, f.clone(), label.clone());
                }
                let kill = slot.kill.notified();
                let outcome = tokio::select! {
                    status = child.wait() => match status {
                        Ok(s) => format!("handler process exited unexpectedly ({s})"),
                        Err(e) => format!("handler process could not be awaited: {e}"),
                    },
                    _ = kill => {
                        kill_group(pid);
                        let _ = child.wait().await;
                        "handler process was killed after a timeout".to_owned()
                    }
                    _ = asked_again(&mut restart, asked) => {
                        kill_group(pid);
                        let _ = child.wait().await;
                        registry.remove(pid);
                        f.timeline.exited(pid);
                        f.fail_slot(slot.index, "handler process was restarted on request");
                        continue;
                    }
                    _ = stopped(&mut shutdown) => {
                        kill_group(pid);
                        let _ = child.wait().await;
                        registry.remove(pid);
                        f.timeline.exited(pid);
                        f.fail_slot(slot.index, "the twin is shutting down");
                        return;
                    }
                };
                registry.remove(pid);
                f.timeline.exited(pid);
                f.fail_slot(slot.index, &outcome);
                note(&f, format!("{outcome}; restarting"));
            }
        }
        // Crash loops back off up to 5 s; a process that ran a while restarts quickly.
        backoff = if started.elapsed() > Duration::from_secs(5) {
            Duration::from_millis(100)
        } else {
            (backoff * 2).min(Duration::from_secs(5))
        };
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = asked_again(&mut restart, asked) => {}
            _ = stopped(&mut shutdown) => return,
        }
    }
}
