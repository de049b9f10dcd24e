//! Measurement for the benchmark (`crates/bench`): when each handler process was spawned, first
//! polled the Runtime API and first answered; when each invocation was handed out and answered;
//! every AWS call's start and end and the invocation it belongs to; the processes' memory.
//!
//! Calls are tied to invocations by `X-Amzn-Trace-Id`: the Lambda runtime exports each
//! invocation's trace id (unique per invocation here) and the AWS SDK forwards it on every request
//! made inside a Lambda function. Plain HTTP without the SDK (the attachment upload to its
//! presigned URL) carries no trace id; such a call is tied to the handler process that owns the
//! client end of its TCP connection (found in `/proc`), and through it to the invocation that
//! process was running. Times are microseconds on one monotonic clock per twin process
//! ([`mono_us`]), so they can be subtracted from each other but mean nothing on their own.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::lambda::FunctionName;
use crate::netio::ConnHandle;
use crate::twin::Shared;

/// Records kept; older ones are dropped so a soak cannot exhaust memory.
const MAX_RECORDS: usize = 200_000;

static EPOCH: OnceLock<Instant> = OnceLock::new();

/// Microseconds since this process first asked (the twin's measurement clock).
pub fn mono_us() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_micros() as u64
}

impl Serialize for FunctionName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One handler process's life.
#[derive(Debug, Clone, Serialize)]
pub struct ProcessRecord {
    pub function: FunctionName,
    pub slot: usize,
    pub pid: u32,
    pub spawned_us: u64,
    /// Its first `GET …/invocation/next` (init is over).
    pub first_poll_us: Option<u64>,
    /// Its first response or error posted for an invocation.
    pub first_response_us: Option<u64>,
    pub exited_us: Option<u64>,
}

/// One invocation as the Runtime API saw it, timed at the socket as AWS calls are: handed out when the
/// last bytes of the event were written to the runtime, finished when the first bytes of its answer
/// were read. The twin's own HTTP work on either side is time the handler spends waiting on the twin.
#[derive(Debug, Clone, Serialize)]
pub struct InvocationRecord {
    pub function: FunctionName,
    pub request_id: String,
    /// The `Root=` part of the trace id handed out with it.
    pub trace_root: String,
    pub slot: usize,
    pub pid: u32,
    /// Set again by each write of the event (see [`crate::netio::ConnClock`]).
    #[serde(rename = "handed_out_us", serialize_with = "serialize_latest")]
    handed_out: Arc<AtomicU64>,
    pub finished_us: Option<u64>,
    pub ok: Option<bool>,
    /// How long the handler process was runnable but waiting for a CPU while it had the event: on a
    /// machine it shares with the twin, moto and the other handler, part of its handler time that is
    /// neither its work nor a call. Read from the kernel (`schedstat`) when the event is handed out,
    /// while the process sleeps waiting for it, and again when its answer arrives (so it may include a
    /// moment after the answer, while the runtime sends its next poll).
    pub queued_us: Option<u64>,
    #[serde(skip)]
    queued_before_us: Option<u64>,
}

impl InvocationRecord {
    pub fn handed_out_us(&self) -> u64 {
        self.handed_out.load(Ordering::Relaxed)
    }
}

/// A function's processes and invocations.
#[derive(Debug)]
pub struct Timeline {
    function: FunctionName,
    processes: Mutex<Vec<ProcessRecord>>,
    invocations: Mutex<VecDeque<InvocationRecord>>,
}

impl Timeline {
    pub fn new(function: FunctionName) -> Self {
        Self {
            function,
            processes: Mutex::new(Vec::new()),
            invocations: Mutex::new(VecDeque::new()),
        }
    }

    fn current(processes: &mut [ProcessRecord], slot: usize) -> Option<&mut ProcessRecord> {
        processes
            .iter_mut()
            .rev()
            .find(|p| p.slot == slot && p.exited_us.is_none())
    }

    pub fn spawned(&self, slot: usize, pid: u32) {
        let mut processes = lock(&self.processes);
        if processes.len() >= MAX_RECORDS {
            processes.drain(..MAX_RECORDS / 10);
        }
        processes.push(ProcessRecord {
            function: self.function,
            slot,
            pid,
            spawned_us: mono_us(),
            first_poll_us: None,
            first_response_us: None,
            exited_us: None,
        });
    }

    pub fn exited(&self, pid: u32) {
        let now = mono_us();
        if let Some(p) = lock(&self.processes)
            .iter_mut()
            .rev()
            .find(|p| p.pid == pid && p.exited_us.is_none())
        {
            p.exited_us = Some(now);
        }
    }

    pub fn polled(&self, slot: usize, at_us: u64) {
        if let Some(p) = Self::current(&mut lock(&self.processes), slot) {
            p.first_poll_us.get_or_insert(at_us);
        }
    }

    /// Records an invocation handed out now; the returned cell is to be set to when the event's last
    /// bytes leave (by [`crate::netio::ConnClock::track_response_end`]).
    pub fn handed_out(&self, slot: usize, request_id: &str, trace_id: &str) -> Arc<AtomicU64> {
        let handed_out = Arc::new(AtomicU64::new(mono_us()));
        let pid = Self::current(&mut lock(&self.processes), slot).map_or(0, |p| p.pid);
        let queued_before_us = (pid != 0).then(|| queued_us(pid)).flatten();
        let mut invocations = lock(&self.invocations);
        if invocations.len() >= MAX_RECORDS {
            invocations.drain(..MAX_RECORDS / 10);
        }
        invocations.push_back(InvocationRecord {
            function: self.function,
            request_id: request_id.to_owned(),
            trace_root: trace_root(trace_id).unwrap_or_default(),
            slot,
            pid,
            handed_out: handed_out.clone(),
            finished_us: None,
            ok: None,
            queued_us: None,
            queued_before_us,
        });
        handed_out
    }

    /// `at_us`: when the runtime's answer started to arrive.
    pub fn finished(&self, request_id: &str, ok: bool, at_us: u64) {
        let pid = {
            let mut invocations = lock(&self.invocations);
            let Some(inv) = invocations
                .iter_mut()
                .rev()
                .find(|i| i.request_id == request_id && i.finished_us.is_none())
            else {
                return;
            };
            inv.finished_us = Some(at_us);
            inv.ok = Some(ok);
            inv.queued_us = inv
                .queued_before_us
                .and_then(|before| Some(queued_us(inv.pid)?.saturating_sub(before)));
            inv.pid
        };
        if let Some(p) = lock(&self.processes)
            .iter_mut()
            .rev()
            .find(|p| p.pid == pid && p.exited_us.is_none())
        {
            p.first_response_us.get_or_insert(at_us);
        }
    }

    pub fn processes(&self) -> Vec<ProcessRecord> {
        lock(&self.processes).clone()
    }

    pub fn invocations_since(&self, since_us: u64) -> Vec<InvocationRecord> {
        lock(&self.invocations)
            .iter()
            .filter(|i| i.handed_out_us() >= since_us)
            .cloned()
            .collect()
    }

    pub fn clear_invocations(&self) {
        lock(&self.invocations).clear();
    }

    fn live_pids(&self) -> Vec<u32> {
        lock(&self.processes)
            .iter()
            .filter(|p| p.exited_us.is_none())
            .map(|p| p.pid)
            .collect()
    }
}

/// One AWS call served by the twin or its moto proxy, from its request's first bytes read to its
/// response's last bytes written.
#[derive(Debug, Clone, Serialize)]
pub struct CallTiming {
    pub service: String,
    pub operation: String,
    pub status: u16,
    pub start_us: u64,
    /// Set again by each write of the response (see [`crate::netio::ConnClock`]).
    #[serde(rename = "end_us", serialize_with = "serialize_latest")]
    end: Arc<AtomicU64>,
    #[serde(skip)]
    trace_root: Option<String>,
    #[serde(skip)]
    pid: Option<u32>,
}

/// A time that the writes of a response keep moving, as it stands now.
fn serialize_latest<S: serde::Serializer>(time: &Arc<AtomicU64>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(time.load(Ordering::Relaxed))
}

/// Every timed call, oldest first.
#[derive(Debug, Default)]
pub struct CallTimings(Mutex<VecDeque<CallTiming>>);

impl CallTimings {
    fn push(&self, call: CallTiming) {
        let mut calls = lock(&self.0);
        if calls.len() >= MAX_RECORDS {
            calls.drain(..MAX_RECORDS / 10);
        }
        calls.push_back(call);
    }

    pub fn clear(&self) {
        lock(&self.0).clear();
    }

    /// The calls an invocation made: those with its trace id, and untraced ones from its process
    /// while it ran.
    fn of(&self, inv: &InvocationRecord) -> Vec<(CallTiming, &'static str)> {
        let end = inv.finished_us.unwrap_or(u64::MAX);
        lock(&self.0)
            .iter()
            .filter_map(|c| match &c.trace_root {
                Some(t) if *t == inv.trace_root => Some((c.clone(), "trace")),
                None if c.pid == Some(inv.pid) && c.start_us >= inv.handed_out_us() && c.start_us <= end => {
                    Some((c.clone(), "process"))
                }
                _ => None,
            })
            .collect()
    }
}

/// `Root=1-…` of an `X-Amzn-Trace-Id` value.
fn trace_root(header: &str) -> Option<String> {
    header
        .split(';')
        .find_map(|part| part.trim().strip_prefix("Root="))
        .map(str::to_owned)
}

tokio::task_local! {
    /// What the AWS front door served on this request (service, operation, status), set by the
    /// call log so the timing layer knows what it timed.
    static SERVED: RefCell<Option<(String, String, u16)>>;
}

/// Called by the call log: names the call the current request is serving.
pub(crate) fn note_call(service: &str, operation: &str, status: u16) {
    let _ = SERVED.try_with(|s| *s.borrow_mut() = Some((service.to_owned(), operation.to_owned(), status)));
}

/// Runs a call as its own task, so that the caller hanging up (an SDK's attempt timeout) does not
/// cancel it half-way, and hands the name of the call it served back to the timing layer, which
/// runs in the caller's task.
pub(crate) async fn detached<F>(call: F) -> Response
where
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let task = tokio::spawn(SERVED.scope(RefCell::new(None), async move {
        let resp = call.await;
        (resp, SERVED.with(|s| s.borrow_mut().take()))
    }));
    match task.await {
        Ok((resp, served)) => {
            if let Some((service, operation, status)) = served {
                note_call(&service, &operation, status);
            }
            resp
        }
        Err(e) => {
            tracing::error!("serving a call failed: {e}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Pids of the running handler processes.
fn handler_pids(shared: &Shared) -> Vec<u32> {
    FunctionName::ALL
        .iter()
        .flat_map(|f| shared.sns.function(*f).timeline.live_pids())
        .collect()
}

/// The handler process that made the call on `conn`: the one holding the client end of its TCP
/// connection (`/proc/net/tcp` gives the socket's inode, `/proc/<pid>/fd` who holds it).
pub(crate) async fn caller_pid(shared: &Shared, conn: &ConnHandle) -> Option<u32> {
    let (local, peer, pids) = (conn.local, conn.peer, handler_pids(shared));
    tokio::task::spawn_blocking(move || socket_owner(local, peer, &pids))
        .await
        .ok()
        .flatten()
}

/// Middleware of the AWS endpoints: times each call and remembers whose it was.
pub(crate) async fn time_calls(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let conn = req.extensions().get::<ConnectInfo<ConnHandle>>().map(|c| c.0.clone());
    let start_us = conn
        .as_ref()
        .and_then(|c| c.clock.request_started_us())
        .unwrap_or_else(mono_us);
    let trace = req
        .headers()
        .get("x-amzn-trace-id")
        .and_then(|v| v.to_str().ok())
        .and_then(trace_root);
    let endpoints = conn.as_ref().map(|c| (c.local, c.peer));
    // Only untraced AWS calls need the /proc lookup; it runs while the call is served.
    let owner = match (&trace, endpoints) {
        (None, Some((local, peer))) if !req.uri().path().starts_with("/_twin") => {
            let pids = handler_pids(&shared);
            Some(tokio::task::spawn_blocking(move || socket_owner(local, peer, &pids)))
        }
        _ => None,
    };
    let (resp, served) = SERVED
        .scope(RefCell::new(None), async {
            let resp = next.run(req).await;
            (resp, SERVED.with(|s| s.borrow_mut().take()))
        })
        .await;
    let end = Arc::new(AtomicU64::new(mono_us()));
    if let Some(conn) = &conn {
        conn.clock.track_response_end(end.clone());
    }
    if let Some((service, operation, status)) = served {
        let pid = match owner {
            Some(lookup) => lookup.await.ok().flatten(),
            None => None,
        };
        shared.timings.push(CallTiming {
            service,
            operation,
            status,
            start_us,
            end,
            trace_root: trace,
            pid,
        });
    }
    resp
}

/// The handler process (among `pids`) holding the client end of the TCP connection `peer` → `local`.
fn socket_owner(local: SocketAddr, peer: SocketAddr, pids: &[u32]) -> Option<u32> {
    let inode = ["/proc/net/tcp", "/proc/net/tcp6"].iter().find_map(|table| {
        let text = std::fs::read_to_string(table).ok()?;
        text.lines().skip(1).find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = |addr: &str| addr.rsplit(':').next().and_then(|p| u16::from_str_radix(p, 16).ok());
            let (ours, theirs) = (port(fields.get(1)?)?, port(fields.get(2)?)?);
            (ours == peer.port() && theirs == local.port()).then(|| fields.get(9).map(|i| i.to_string()))?
        })
    })?;
    let target = format!("socket:[{inode}]");
    pids.iter().copied().find(|pid| {
        std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
            fds.flatten()
                .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|l| l.as_os_str() == target.as_str()))
        })
    })
}

/// `VmHWM` and `VmRSS` of a live process, in KiB.
fn memory_kib(pid: u32) -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return (None, None);
    };
    let field = |name: &str| {
        status.lines().find_map(|l| {
            l.strip_prefix(name)
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// One field of `/proc/<pid>/task/*/schedstat` (ns) summed over a live process's threads, in µs.
fn schedstat_us(pid: u32, field: usize) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let ns: u64 = tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().nth(field)?.parse::<u64>().ok())
        .sum();
    Some(ns / 1000)
}

/// CPU time all threads of a live process have run, in µs.
fn cpu_us(pid: u32) -> Option<u64> {
    schedstat_us(pid, 0)
}

/// Time the threads of a live process spent runnable but waiting for a CPU, in µs.
fn queued_us(pid: u32) -> Option<u64> {
    schedstat_us(pid, 1)
}

type St = State<Arc<Shared>>;

/// The measurement endpoints, nested under `/_twin`.
pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/clock", get(clock))
        .route("/invocations", get(invocations))
        .route("/processes", get(processes))
        .route("/processes/reset-peak", post(reset_peak))
        .route("/processes/restart", post(restart))
}

async fn clock() -> Response {
    axum::Json(json!({ "now_us": mono_us() })).into_response()
}

#[derive(Deserialize)]
struct SinceQuery {
    since_us: Option<u64>,
    function: Option<String>,
}

fn functions(name: Option<&str>) -> Result<Vec<FunctionName>, String> {
    match name {
        None => Ok(FunctionName::ALL.to_vec()),
        Some(n) => FunctionName::parse(n)
            .map(|f| vec![f])
            .ok_or_else(|| format!("unknown function {n} (WhatsappHandler|ConnectHandler)")),
    }
}

fn not_found(error: String) -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({ "error": error }))).into_response()
}

async fn invocations(State(s): St, Query(q): Query<SinceQuery>) -> Response {
    let functions = match functions(q.function.as_deref()) {
        Ok(f) => f,
        Err(e) => return not_found(e),
    };
    let mut all: Vec<InvocationRecord> = functions
        .iter()
        .flat_map(|f| s.sns.function(*f).timeline.invocations_since(q.since_us.unwrap_or(0)))
        .collect();
    all.sort_by_key(InvocationRecord::handed_out_us);
    let out: Vec<Value> = all
        .into_iter()
        .map(|inv| {
            let calls: Vec<Value> = s
                .timings
                .of(&inv)
                .into_iter()
                .map(|(c, by)| {
                    let mut v = json!(c);
                    v["attributed_by"] = json!(by);
                    v["detached"] = json!(inv.finished_us.is_some_and(|end| c.start_us > end));
                    v
                })
                .collect();
            let mut v = json!(inv);
            v["calls"] = Value::Array(calls);
            v
        })
        .collect();
    axum::Json(Value::Array(out)).into_response()
}

async fn processes(State(s): St) -> Response {
    let out: Vec<Value> = FunctionName::ALL
        .iter()
        .flat_map(|f| s.sns.function(*f).timeline.processes())
        .map(|p| {
            let live = p.exited_us.is_none();
            let (hwm, rss) = if live { memory_kib(p.pid) } else { (None, None) };
            let mut v = json!(p);
            v["vm_hwm_kib"] = json!(hwm);
            v["vm_rss_kib"] = json!(rss);
            v["cpu_us"] = json!(live.then(|| cpu_us(p.pid)).flatten());
            v
        })
        .collect();
    axum::Json(Value::Array(out)).into_response()
}

/// Resets the running processes' peak RSS to their current RSS (`/proc/<pid>/clear_refs`, Linux ≥ 4.0).
async fn reset_peak(State(s): St) -> Response {
    let pids: Vec<u32> = FunctionName::ALL
        .iter()
        .flat_map(|f| s.sns.function(*f).timeline.live_pids())
        .collect();
    let reset = pids
        .iter()
        .filter(|pid| std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok())
        .count();
    axum::Json(json!({ "reset": reset })).into_response()
}

#[derive(Deserialize)]
struct RestartBody {
    function: String,
}

/// Kills a function's running processes; each is started again at once (a cold start). Answers once
/// the old ones are gone.
async fn restart(State(s): St, body: axum::body::Bytes) -> Response {
    let parsed: Result<RestartBody, _> = serde_json::from_slice(&body);
    let name = match parsed {
        Ok(b) => b.function,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                axum::Json(json!({ "error": format!("invalid JSON body: {e}") })),
            )
                .into_response();
        }
    };
    let function = match functions(Some(&name)) {
        Ok(f) => f[0],
        Err(e) => return not_found(e),
    };
    let restarted = s.sns.function(function).restart_processes().await;
    axum::Json(json!({ "restarted": restarted })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_root_is_the_root_field() {
        assert_eq!(
            trace_root("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0").as_deref(),
            Some("1-5759e988-bd862e3fe1be46a994272793")
        );
        assert_eq!(trace_root("Parent=1"), None);
    }

    #[test]
    fn an_invocation_knows_how_long_its_process_waited_for_a_cpu() {
        let pid = std::process::id();
        assert!(cpu_us(pid).is_some_and(|us| us > 0));
        let t = Timeline::new(FunctionName::WhatsappHandler);
        t.spawned(0, pid);
        t.handed_out(0, "r1", "Root=1-a");
        t.finished("r1", true, 9);
        let queued = t.invocations_since(0)[0].queued_us;
        assert!(queued.is_some_and(|us| us < 1_000_000), "{queued:?}");
        // Not measured for a process the twin does not know.
        let t = Timeline::new(FunctionName::WhatsappHandler);
        t.handed_out(0, "r2", "Root=1-b");
        t.finished("r2", true, 9);
        assert_eq!(t.invocations_since(0)[0].queued_us, None);
    }

    #[test]
    fn an_invocation_finishes_its_process_first_response() {
        let t = Timeline::new(FunctionName::WhatsappHandler);
        t.spawned(0, 41);
        t.polled(0, 5);
        t.handed_out(0, "r1", "Root=1-a-b;Parent=c;Sampled=0");
        t.finished("r1", true, 9);
        t.polled(0, 10);
        let p = &t.processes()[0];
        assert_eq!((p.first_poll_us, p.first_response_us), (Some(5), Some(9)));
        let inv = &t.invocations_since(0)[0];
        assert_eq!((inv.pid, inv.trace_root.as_str(), inv.ok), (41, "1-a-b", Some(true)));
        t.exited(41);
        assert!(t.live_pids().is_empty());
    }

    #[test]
    fn untraced_calls_belong_to_the_process_while_it_runs() {
        let t = Timeline::new(FunctionName::WhatsappHandler);
        t.spawned(0, 7);
        t.handed_out(0, "r1", "Root=1-x");
        let inv = t.invocations_since(0).remove(0);
        let calls = CallTimings::default();
        let call = |trace: Option<&str>, pid: Option<u32>, start_us: u64| CallTiming {
            service: "s3".into(),
            operation: "PutObject".into(),
            status: 200,
            start_us,
            end: Arc::new(AtomicU64::new(start_us + 1)),
            trace_root: trace.map(str::to_owned),
            pid,
        };
        let handed_out_us = inv.handed_out_us();
        calls.push(call(Some("1-x"), None, handed_out_us));
        calls.push(call(None, Some(7), handed_out_us + 1));
        calls.push(call(None, Some(8), handed_out_us + 1));
        calls.push(call(Some("1-y"), None, handed_out_us));
        let by: Vec<&str> = calls.of(&inv).into_iter().map(|(_, by)| by).collect();
        assert_eq!(by, ["trace", "process"]);
    }
}
