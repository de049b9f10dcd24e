//! What the benchmark found: the results document (`results.json`), the targets judged
//! against it, and the table printed at the end of a run.

use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

use crate::stats::{Summary, sequential_chain};
use crate::workload::{Call, Case, ColdStart, Sample};

#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    /// Whether idle cores were kept from sleeping while measuring (see `idle.rs`).
    pub idle_cores: String,
}

impl Machine {
    pub fn here(idle_cores: &str) -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0.0);
        Self {
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name").and_then(|v| v.split_once(':')))
                .map_or_else(|| "unknown".to_owned(), |(_, v)| v.trim().to_owned()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: (mem_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            idle_cores: idle_cores.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ColdStartResult {
    pub function: String,
    pub starts: usize,
    /// Process spawned → its first Runtime API poll (init).
    pub to_first_poll_us: Summary,
    /// The first event's handler time.
    pub first_event_us: Summary,
    /// Init plus the first event: spawn → end of the first event, without the benchmark's own pauses.
    pub to_end_of_first_event_us: Summary,
    /// The same event on a warm process (p50), for the first-event penalty.
    pub warm_event_p50_us: u64,
}

impl ColdStartResult {
    pub fn of(function: &str, starts: &[ColdStart], warm_event_p50_us: u64) -> Self {
        let poll: Vec<u64> = starts.iter().map(|s| s.to_first_poll_us).collect();
        let first: Vec<u64> = starts.iter().map(|s| s.first_event_us).collect();
        let total: Vec<u64> = starts.iter().map(|s| s.to_first_poll_us + s.first_event_us).collect();
        Self {
            function: function.to_owned(),
            starts: starts.len(),
            to_first_poll_us: Summary::of(&poll),
            first_event_us: Summary::of(&first),
            to_end_of_first_event_us: Summary::of(&total),
            warm_event_p50_us,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct LatencyResult {
    pub added_ms_per_call: u64,
    pub events: usize,
    /// Events left out of the figures because a call failed on the server's side (see `CaseResult`).
    pub events_with_server_errors: usize,
    /// Handler duration (Runtime API hand-out → response).
    pub duration_us: Summary,
    /// Of which at least one AWS call was in flight.
    pub aws_wait_us: Summary,
    /// The duration had every sequential call taken exactly the added latency: handler time − AWS
    /// wait + sequential calls × latency + streaming pace. The twin and moto need a few ms of their
    /// own per call (Python), which is not the bridge's and not part of the floor.
    pub at_latency_us: Summary,
    /// Calls the handler made one after another before answering (largest seen).
    pub sequential_calls: usize,
    /// Rounds the data dependencies force (see `Case::dependent_rounds`).
    pub dependent_rounds: u32,
    /// dependent rounds × added latency, plus any streaming call's own pace (voice note).
    pub floor_us: u64,
    /// p50 of `at_latency_us` minus the floor.
    pub over_floor_p50_us: i64,
    /// The calls in order; `∥` joins calls that were in flight together, `→` separates rounds.
    pub rounds: String,
    /// From the event handed out to the delivering call's answer, as measured.
    pub delivery_us: Summary,
    /// The same had every sequential call up to the delivery taken exactly the added latency.
    pub delivery_at_latency_us: Summary,
    /// The rounds the data force up to the delivery × the added latency (plus a voice note's pace).
    pub delivery_floor_us: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaseResult {
    pub name: String,
    pub function: String,
    pub events: usize,
    /// Events left out of the figures below because a call answered 5xx and the SDK retried it after
    /// a back-off (moto's TransactWriteItems races with concurrent writes): that wait is neither
    /// the bridge's work nor a call.
    pub events_with_server_errors: usize,
    pub handler_us: Summary,
    pub aws_wait_us: Summary,
    /// Handler time minus time waiting on AWS calls.
    pub overhead_us: Summary,
    /// What the customer (or the agent) waits for: from the event handed to the handler to the answer
    /// of the call that puts the message where it is going (`delivered_by`).
    pub delivery_us: Summary,
    pub delivered_by: String,
    /// Time the handler was runnable but waiting for a CPU, within its handler time: on this shared
    /// machine, the other processes (moto, the twin, the other handler) holding the cores. Part of the
    /// overhead, but not all of it is (a wait while one of its calls is in flight is AWS wait too).
    /// Over the events the twin could read it for (`n`).
    pub queued_us: Summary,
    /// CPU time the handler process used per event (all threads, mean over the events): the bridge's
    /// own work, SDK and runtime included, without the scheduling noise of a shared 2-core machine.
    pub cpu_per_event_us: u64,
    /// Every call of one event in start order; detached ones (made after the response) are marked.
    pub calls: Vec<String>,
    pub calls_before_response: usize,
    pub calls_after_response: usize,
    /// How many different call sequences were seen across the events (1 = always the same calls).
    pub call_patterns: usize,
    pub latency: LatencyResult,
}

/// The calls of a sample grouped into rounds: a call joins the round in flight when it started
/// before every call of that round had ended.
pub fn rounds(calls: &[Call]) -> String {
    let mut groups: Vec<(u64, Vec<String>)> = Vec::new();
    let mut sorted: Vec<&Call> = calls.iter().collect();
    sorted.sort_by_key(|c| c.start_us);
    for c in sorted {
        let label = if c.detached {
            format!("{} (after response)", c.label())
        } else {
            c.label()
        };
        match groups.last_mut() {
            Some((first_end, members)) if c.start_us < *first_end => {
                *first_end = (*first_end).min(c.end_us);
                members.push(label);
            }
            _ => groups.push((c.end_us, vec![label])),
        }
    }
    groups
        .into_iter()
        .map(|(_, m)| m.join(" ∥ "))
        .collect::<Vec<_>>()
        .join(" → ")
}

fn pattern(sample: &Sample) -> Vec<String> {
    let mut labels: Vec<String> = sample.calls.iter().map(Call::label).collect();
    labels.sort();
    labels
}

/// The samples without server errors (all of them if every one had some).
fn clean(samples: &[Sample]) -> Vec<Sample> {
    let ok: Vec<Sample> = samples.iter().filter(|s| !s.server_error()).cloned().collect();
    if ok.is_empty() { samples.to_vec() } else { ok }
}

impl CaseResult {
    pub fn of(case: Case, all: &[Sample], all_slow: &[Sample], cpu_per_event_us: u64, added_ms: u64) -> Self {
        let (samples, slow) = (&clean(all)[..], &clean(all_slow)[..]);
        let field = |f: fn(&Sample) -> u64, s: &[Sample]| Summary::of(&s.iter().map(f).collect::<Vec<_>>());
        let mut patterns: Vec<Vec<String>> = samples.iter().map(pattern).collect();
        patterns.sort();
        patterns.dedup();
        let typical = slow.first().or(samples.first());
        let calls: Vec<String> = typical
            .map(|s| {
                s.calls
                    .iter()
                    .map(|c| {
                        if c.detached {
                            format!("{} (after response)", c.label())
                        } else {
                            c.label()
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let after = typical.map_or(0, |s| s.calls.iter().filter(|c| c.detached).count());
        let duration = field(|s| s.handler_us, slow);
        let streaming = Summary::of(&slow.iter().map(|s| s.streaming_us).collect::<Vec<_>>()).p50;
        let floor_us = u64::from(case.dependent_rounds()) * added_ms * 1000 + streaming;
        let delivered =
            |s: &[Sample]| Summary::of(&s.iter().filter_map(|s| s.delivery.map(|d| d.us)).collect::<Vec<_>>());
        let added_us = added_ms * 1000;
        let delivery_at_latency = Summary::of(
            &slow
                .iter()
                .filter_map(|s| {
                    s.delivery
                        .map(|d| d.us - d.aws_wait_us + d.chain as u64 * added_us + s.streaming_us)
                })
                .collect::<Vec<_>>(),
        );
        let at_latency = Summary::of(
            &slow
                .iter()
                .map(|s| s.overhead_us() + s.chain as u64 * added_ms * 1000 + s.streaming_us)
                .collect::<Vec<_>>(),
        );
        Self {
            name: case.name().to_owned(),
            function: case.function().to_owned(),
            events: all.len(),
            events_with_server_errors: all.len() - samples.len(),
            handler_us: field(|s| s.handler_us, samples),
            aws_wait_us: field(|s| s.aws_wait_us, samples),
            overhead_us: field(Sample::overhead_us, samples),
            delivery_us: delivered(samples),
            delivered_by: case.delivering_call().to_owned(),
            queued_us: Summary::of(&samples.iter().filter_map(|s| s.queued_us).collect::<Vec<_>>()),
            cpu_per_event_us,
            calls_before_response: calls.len() - after,
            calls_after_response: after,
            calls,
            call_patterns: patterns.len(),
            latency: LatencyResult {
                added_ms_per_call: added_ms,
                events: all_slow.len(),
                events_with_server_errors: all_slow.len() - slow.len(),
                duration_us: duration,
                aws_wait_us: field(|s| s.aws_wait_us, slow),
                at_latency_us: at_latency,
                sequential_calls: slow.iter().map(|s| s.chain).max().unwrap_or(0),
                dependent_rounds: case.dependent_rounds(),
                floor_us,
                over_floor_p50_us: at_latency.p50 as i64 - floor_us as i64,
                rounds: typical.map(|s| rounds(&s.calls)).unwrap_or_default(),
                delivery_us: delivered(slow),
                delivery_at_latency_us: delivery_at_latency,
                delivery_floor_us: u64::from(case.delivery_rounds()) * added_us + streaming,
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MemoryResult {
    pub function: String,
    /// Peak RSS after the text events (init included).
    pub text_peak_kib: u64,
    pub video_bytes: usize,
    /// RSS just before the video, when the peak was reset to it.
    pub before_video_rss_kib: u64,
    pub video_peak_kib: u64,
    /// (video peak − RSS before) / video size: how many copies of the file were in memory at once.
    pub video_copies: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Binary {
    pub name: String,
    pub arch: String,
    pub path: String,
    pub bytes: u64,
}

/// The handler binaries that exist: the x86-64 ones of the profile run and of `release`, and arm64
/// builds from cargo-lambda (`target/lambda/<name>/bootstrap`) or cross-compilation.
pub fn binaries(target_dir: &Path, bin_dir: &Path) -> Vec<Binary> {
    let mut out = Vec::new();
    for name in ["whatsapp-handler", "connect-handler"] {
        let mut candidates = vec![
            (bin_dir.join(name), std::env::consts::ARCH),
            (target_dir.join("release").join(name), std::env::consts::ARCH),
            (target_dir.join("lambda").join(name).join("bootstrap"), "aarch64"),
            (
                target_dir.join("aarch64-unknown-linux-gnu/release").join(name),
                "aarch64",
            ),
        ];
        candidates.dedup_by(|a, b| a.0 == b.0);
        for (path, arch) in candidates {
            if let Ok(meta) = std::fs::metadata(&path)
                && meta.is_file()
            {
                out.push(Binary {
                    name: name.to_owned(),
                    arch: arch.to_owned(),
                    path: path.display().to_string(),
                    bytes: meta.len(),
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Micro {
    /// Criterion's benchmark id (`group/function`).
    pub name: String,
    pub median_ns: f64,
}

/// Criterion's latest medians under `<target>/criterion` (`cargo bench -p bridge`), if it ran.
pub fn micro(target_dir: &Path) -> Vec<Micro> {
    let root = target_dir.join("criterion");
    let mut out = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == "report") {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/estimates.json") {
                let median = std::fs::read_to_string(&path)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["median"]["point_estimate"].as_f64());
                let name = path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|p| p.strip_prefix(&root).ok())
                    .map(|p| p.display().to_string());
                if let (Some(name), Some(median_ns)) = (name, median) {
                    out.push(Micro { name, median_ns });
                }
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    /// `None` when this run cannot judge it (e.g. criterion did not run).
    pub met: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub mode: String,
    pub bin_dir: String,
    pub machine: Machine,
    pub duration_s: f64,
    pub cold_start: Vec<ColdStartResult>,
    pub cases: Vec<CaseResult>,
    pub memory: Vec<MemoryResult>,
    pub binaries: Vec<Binary>,
    pub micro: Vec<Micro>,
    pub targets: Vec<Target>,
}

fn ms(us: u64) -> String {
    format!("{:.2} ms", us as f64 / 1000.0)
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

impl Results {
    pub fn case(&self, name: &str) -> Option<&CaseResult> {
        self.cases.iter().find(|c| c.name == name)
    }

    /// Judges the targets against what was measured.
    pub fn judge(&mut self, slow_inbound_text: &[Sample]) {
        let mut t = Vec::new();
        if let Some(c) = self.case(Case::InboundText.name()) {
            let receipt = "socialmessaging.SendWhatsAppMessage";
            // On the message's way: the calls answered by the time it is in the chat, but the receipt.
            let on_way = slow_inbound_text
                .iter()
                .filter_map(|s| {
                    let at = s.delivery?.at_us;
                    Some(
                        s.calls
                            .iter()
                            .filter(|c| c.end_us <= at && c.label() != receipt)
                            .count(),
                    )
                })
                .max()
                .unwrap_or(0);
            // The read receipt is off the critical path when leaving it out shortens no chain.
            let on_path = slow_inbound_text.iter().any(|s| {
                let without: Vec<_> = s
                    .calls
                    .iter()
                    .filter(|c| !c.detached && c.label() != receipt)
                    .map(|c| crate::stats::Span {
                        start: c.start_us,
                        end: c.end_us,
                    })
                    .collect();
                sequential_chain(&without) < s.chain
            });
            t.push(Target {
                target: "Inbound text to an open chat: ≤ 3 AWS calls on its way into the chat, the read receipt off the critical path".into(),
                measured: format!(
                    "{on_way} calls before it is in the chat; receipt {}: {}",
                    if on_path {
                        "ON the critical path"
                    } else {
                        "off the critical path"
                    },
                    c.calls.join(", ")
                ),
                met: Some(on_way <= 3 && !on_path),
            });
        }
        if let Some(c) = self.case(Case::AgentText.name()) {
            t.push(Target {
                target: "Agent text: ≤ 3 AWS calls".into(),
                measured: format!("{} calls: {}", c.calls.len(), c.calls.join(", ")),
                met: Some(c.calls.len() <= 3),
            });
        }
        if let Some(c) = self.case(Case::InboundTextNewChat.name()) {
            let limit = c.latency.floor_us + 5_000;
            t.push(Target {
                target: format!(
                    "New chat with {} ms per call: ≤ {} dependent rounds × {} ms + 5 ms = {}",
                    c.latency.added_ms_per_call,
                    c.latency.dependent_rounds,
                    c.latency.added_ms_per_call,
                    ms(limit)
                ),
                measured: format!(
                    "p50 {} ({} sequential calls; {} p50 as measured, with the twin's and moto's own time)",
                    ms(c.latency.at_latency_us.p50),
                    c.latency.sequential_calls,
                    ms(c.latency.duration_us.p50)
                ),
                met: Some(c.latency.at_latency_us.p50 <= limit),
            });
        }
        for (case, what) in [
            (Case::InboundTextNewChat, "New chat: the first message"),
            (Case::InboundText, "Inbound text into an open chat"),
            (Case::AgentText, "Agent text"),
        ] {
            if let Some(c) = self.case(case.name()) {
                let l = &c.latency;
                let limit = 2 * l.added_ms_per_call * 1000 + 5_000;
                t.push(Target {
                    target: format!(
                        "{what} delivered with {} ms per call: ≤ 2 dependent rounds + 5 ms = {}",
                        l.added_ms_per_call,
                        ms(limit)
                    ),
                    measured: format!(
                        "p50 {}, p99 {} by {} ({} rounds the data force today; {} p50 as measured)",
                        ms(l.delivery_at_latency_us.p50),
                        ms(l.delivery_at_latency_us.p99),
                        c.delivered_by,
                        case.delivery_rounds(),
                        ms(l.delivery_us.p50)
                    ),
                    met: Some(l.delivery_at_latency_us.p50 <= limit),
                });
            }
        }
        for name in [
            Case::InboundText.name(),
            Case::InboundTextNewChat.name(),
            Case::AgentText.name(),
        ] {
            if let Some(c) = self.case(name) {
                t.push(Target {
                    target: format!("Per-event overhead p99 ≤ 2 ms ({name})"),
                    measured: format!(
                        "p50 {}, p99 {}; CPU {} per event; waiting for a CPU p50 {}, p99 {}",
                        ms(c.overhead_us.p50),
                        ms(c.overhead_us.p99),
                        ms(c.cpu_per_event_us),
                        ms(c.queued_us.p50),
                        ms(c.queued_us.p99)
                    ),
                    met: Some(c.overhead_us.p99 <= 2_000),
                });
            }
        }
        let slowest = self
            .micro
            .iter()
            .map(|m| m.median_ns)
            .fold(None, |a: Option<f64>, m| Some(a.map_or(m, |a| a.max(m))));
        t.push(Target {
            target: "Parsing + translation ≤ 50 µs per message".into(),
            measured: match slowest {
                Some(ns) => format!(
                    "slowest criterion median {:.1} µs over {} benchmarks",
                    ns / 1000.0,
                    self.micro.len()
                ),
                None => "criterion did not run (cargo bench -p bridge)".into(),
            },
            met: slowest.map(|ns| ns <= 50_000.0),
        });
        for c in &self.cold_start {
            t.push(Target {
                target: format!("Cold start to first poll ≤ 30 ms ({})", c.function),
                measured: format!(
                    "median {} over {} starts (max {})",
                    ms(c.to_first_poll_us.p50),
                    c.starts,
                    ms(c.to_first_poll_us.max)
                ),
                met: Some(c.to_first_poll_us.p50 <= 30_000),
            });
        }
        for c in &self.cold_start {
            t.push(Target {
                target: format!("SDK clients built once per process, not per event ({})", c.function),
                measured: format!(
                    "built during init; first event after a start {} (median) vs warm {}",
                    ms(c.first_event_us.p50),
                    ms(c.warm_event_p50_us)
                ),
                met: None,
            });
        }
        for m in &self.memory {
            t.push(Target {
                target: format!("Peak RSS ≤ 40 MB for text ({})", m.function),
                measured: mib(m.text_peak_kib),
                met: Some(m.text_peak_kib <= 40 * 1024),
            });
            t.push(Target {
                target: format!(
                    "A {} MB file needs no more than ~2 copies in memory ({})",
                    m.video_bytes / crate::workload::MB,
                    m.function
                ),
                measured: format!(
                    "peak {} from {} before: {:.2} copies",
                    mib(m.video_peak_kib),
                    mib(m.before_video_rss_kib),
                    m.video_copies
                ),
                met: Some(m.video_copies <= 2.5),
            });
        }
        t.push(Target {
            target: "The benchmark runs in < 5 minutes".into(),
            measured: format!("{:.0} s", self.duration_s),
            met: Some(self.duration_s < 300.0),
        });
        self.targets = t;
    }

    /// The human-readable report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "whatsapp-connect-bridge benchmark ({} run, binaries from {})",
            self.mode, self.bin_dir
        );
        let _ = writeln!(
            out,
            "machine: {} × {}, {} GiB, Linux {}, idle cores {}; run took {:.0} s\n",
            self.machine.cores,
            self.machine.cpu,
            self.machine.memory_gib,
            self.machine.kernel,
            self.machine.idle_cores,
            self.duration_s
        );
        let _ = writeln!(out, "COLD START (spawn → first poll; spawn → end of first event)");
        for c in &self.cold_start {
            let _ = writeln!(
                out,
                "  {:<16} {:>3} starts  first poll p50 {:>9} max {:>9}   end of first event p50 {:>9}   (warm event p50 {})",
                c.function,
                c.starts,
                ms(c.to_first_poll_us.p50),
                ms(c.to_first_poll_us.max),
                ms(c.to_end_of_first_event_us.p50),
                ms(c.warm_event_p50_us)
            );
        }
        let _ = writeln!(
            out,
            "\nPER EVENT (no added latency): handler time, AWS wait, overhead = handler − wait\n  \
             (events with a 5xx answer, retried by the SDK after a back-off, are counted, not measured;\n  \
             queued: the handler runnable but waiting for a CPU, which moto, the twin and the other handler hold)"
        );
        let _ = writeln!(
            out,
            "  {:<22} {:>6} {:>4} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10} {:>6}",
            "case", "events", "5xx", "handler50", "wait50", "ovh p50", "ovh p99", "cpu/event", "queued p99", "calls"
        );
        for c in &self.cases {
            let _ = writeln!(
                out,
                "  {:<22} {:>6} {:>4} {:>10} {:>10} {:>10} {:>10} {:>9} {:>10} {:>6}",
                c.name,
                c.events,
                c.events_with_server_errors,
                ms(c.handler_us.p50),
                ms(c.aws_wait_us.p50),
                ms(c.overhead_us.p50),
                ms(c.overhead_us.p99),
                ms(c.cpu_per_event_us),
                ms(c.queued_us.p99),
                c.calls.len()
            );
        }
        if let Some(c) = self.cases.first() {
            let _ = writeln!(
                out,
                "\nWITH {} ms PER CALL: duration as measured, and at exactly {} ms per sequential call, against the floor",
                c.latency.added_ms_per_call, c.latency.added_ms_per_call
            );
        }
        let _ = writeln!(
            out,
            "  {:<22} {:>6} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
            "case", "events", "measured", "at lat.50", "at lat.99", "floor", "seq.calls", "dep.rounds"
        );
        for c in &self.cases {
            let l = &c.latency;
            let _ = writeln!(
                out,
                "  {:<22} {:>6} {:>10} {:>10} {:>10} {:>10} {:>9} {:>9}",
                c.name,
                l.events,
                ms(l.duration_us.p50),
                ms(l.at_latency_us.p50),
                ms(l.at_latency_us.p99),
                ms(l.floor_us),
                l.sequential_calls,
                l.dependent_rounds
            );
        }
        if let Some(c) = self.cases.first() {
            let _ = writeln!(
                out,
                "\nDELIVERY: event handed to the handler → answer of the call that puts the message where it goes\n  \
                 (no added latency, as measured; with {} ms per call, at exactly {} ms per sequential call, against the floor)",
                c.latency.added_ms_per_call, c.latency.added_ms_per_call
            );
        }
        let _ = writeln!(
            out,
            "  {:<22} {:<38} {:>9} {:>9} {:>10} {:>10} {:>9}",
            "case", "delivered by", "p50", "p99", "at lat.50", "at lat.99", "floor"
        );
        for c in &self.cases {
            let l = &c.latency;
            let _ = writeln!(
                out,
                "  {:<22} {:<38} {:>9} {:>9} {:>10} {:>10} {:>9}",
                c.name,
                c.delivered_by,
                ms(c.delivery_us.p50),
                ms(c.delivery_us.p99),
                ms(l.delivery_at_latency_us.p50),
                ms(l.delivery_at_latency_us.p99),
                ms(l.delivery_floor_us)
            );
        }
        let _ = writeln!(out, "\nCALLS PER MESSAGE (in rounds; ∥ = in flight together)");
        for c in &self.cases {
            let _ = writeln!(out, "  {:<22} {}", c.name, c.latency.rounds);
        }
        let _ = writeln!(out, "\nMEMORY (peak RSS)");
        for m in &self.memory {
            let _ = writeln!(
                out,
                "  {:<16} text {:>10}   {} MB video: {:>10} (from {}, {:.2} copies)",
                m.function,
                mib(m.text_peak_kib),
                m.video_bytes / crate::workload::MB,
                mib(m.video_peak_kib),
                mib(m.before_video_rss_kib),
                m.video_copies
            );
        }
        let _ = writeln!(out, "\nBINARIES");
        for b in &self.binaries {
            let _ = writeln!(
                out,
                "  {:<18} {:<8} {:>10.1} MiB  {}",
                b.name,
                b.arch,
                b.bytes as f64 / 1024.0 / 1024.0,
                b.path
            );
        }
        if !self.micro.is_empty() {
            let _ = writeln!(out, "\nPARSING + TRANSLATION (criterion medians)");
            for m in &self.micro {
                let _ = writeln!(out, "  {:<52} {:>9.2} µs", m.name, m.median_ns / 1000.0);
            }
        }
        let _ = writeln!(out, "\nTARGETS");
        for t in &self.targets {
            let verdict = match t.met {
                Some(true) => "met",
                Some(false) => "NOT MET",
                None => "see docs",
            };
            let _ = writeln!(out, "  [{verdict:^8}] {} — {}", t.target, t.measured);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(op: &str, start_us: u64, end_us: u64, detached: bool) -> Call {
        Call {
            service: "dynamodb".into(),
            operation: op.into(),
            status: 200,
            start_us,
            end_us,
            detached,
        }
    }

    #[test]
    fn rounds_join_what_was_in_flight_together() {
        let calls = [
            call("PutItem", 0, 20, false),
            call("UpdateItem", 1, 21, false),
            call("Send", 22, 42, false),
            call("Done", 43, 63, false),
            call("Mark", 70, 90, true),
        ];
        assert_eq!(
            rounds(&calls),
            "dynamodb.PutItem ∥ dynamodb.UpdateItem → dynamodb.Send → dynamodb.Done → dynamodb.Mark (after response)"
        );
    }
}
