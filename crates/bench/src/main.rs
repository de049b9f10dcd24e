//! `bench`: measures what a bridged message costs beyond the AWS calls it must make (issue #7).
//!
//! Brings up moto, the twin and the real handler binaries (release by default) with the handlers'
//! DynamoDB and S3 traffic routed through the twin, so every AWS call is logged and timed; then, in
//! one reproducible sequence: cold starts, the six kinds of event at no added latency (overhead and
//! calls), peak RSS after text and around a large video, the same events with 20 ms added to every
//! call (duration against the floor), and the binaries' sizes. Prints a table and writes
//! `target/bench/results.json`. `--smoke` runs tiny counts against the debug binaries (a test).

mod idle;
mod report;
mod stats;
mod workload;

use clap::Parser;
use std::path::PathBuf;
use std::time::Instant;

use report::{CaseResult, ColdStartResult, MemoryResult, Results};
use workload::{Case, MB, Workload};

#[derive(Debug, Parser)]
#[command(about = "Benchmark the handler binaries against the local twin (issue #7)")]
struct Options {
    /// Tiny counts against the debug binaries (what `make test` runs).
    #[arg(long)]
    smoke: bool,
    /// Cargo profile whose handler binaries to run [default: release; debug with --smoke].
    #[arg(long)]
    profile: Option<String>,
    /// Directory of the handler binaries (overrides --profile).
    #[arg(long)]
    bin_dir: Option<PathBuf>,
    /// Where to write the results [default: <target>/bench/results.json].
    #[arg(long)]
    out: Option<PathBuf>,
    /// Events per text case [default: 100; smoke 2].
    #[arg(long)]
    events: Option<usize>,
    /// Events per media case [default: 30; smoke 1].
    #[arg(long)]
    media_events: Option<usize>,
    /// Events per case with added latency [default: 20; smoke 1].
    #[arg(long)]
    latency_events: Option<usize>,
    /// Cold starts per handler [default: 20; smoke 2].
    #[arg(long)]
    starts: Option<usize>,
    /// Milliseconds added to every AWS call in the latency phase.
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Use this running moto server instead of starting one (e.g. to watch its log).
    #[arg(long)]
    moto_url: Option<String>,
    /// Size of the video in decimal MB [default: 16; smoke 2].
    #[arg(long)]
    video_mb: Option<usize>,
    /// Measure with idle cores free to sleep (by default they are kept awake while measuring: see
    /// `crates/bench/src/idle.rs`).
    #[arg(long)]
    let_cores_sleep: bool,
    /// An extra environment variable for the handlers, `NAME=VALUE` (repeatable): to compare settings.
    #[arg(long = "env", value_parser = name_value)]
    env: Vec<(String, String)>,
}

fn name_value(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=')
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .ok_or_else(|| format!("{raw:?} is not NAME=VALUE"))
}

struct Counts {
    events: usize,
    media_events: usize,
    latency_events: usize,
    starts: usize,
    video_bytes: usize,
}

impl Options {
    fn counts(&self) -> Counts {
        let pick =
            |given: Option<usize>, full: usize, smoke: usize| given.unwrap_or(if self.smoke { smoke } else { full });
        Counts {
            events: pick(self.events, 100, 2).max(1),
            media_events: pick(self.media_events, 30, 1).max(1),
            latency_events: pick(self.latency_events, 20, 1).max(1),
            starts: pick(self.starts, 20, 2).max(1),
            video_bytes: pick(self.video_mb, 16, 2).max(1) * MB,
        }
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| local_aws::stack::repo_root().join("target"))
}

#[tokio::main]
async fn main() {
    let options = Options::parse();
    match run(options).await {
        Ok(()) => {}
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(1);
        }
    }
}

fn progress(what: &str) {
    eprintln!("[bench] {what}");
}

async fn run(options: Options) -> Result<(), String> {
    let counts = options.counts();
    let target = target_dir();
    let profile = options
        .profile
        .clone()
        .unwrap_or_else(|| if options.smoke { "debug" } else { "release" }.to_owned());
    let bin_dir = options.bin_dir.clone().unwrap_or_else(|| target.join(&profile));
    for name in ["whatsapp-handler", "connect-handler"] {
        if !bin_dir.join(name).is_file() {
            let flag = if profile == "debug" { "" } else { " --release" };
            return Err(format!(
                "{name} is not built in {} (cargo build{flag} --workspace --bins)",
                bin_dir.display()
            ));
        }
    }
    let out = options.out.clone().unwrap_or_else(|| target.join("bench/results.json"));
    // The smoke run judges nothing, and keeping both cores of a CI machine polling would only slow the
    // tests beside it.
    let cores = if options.smoke {
        idle::AwakeCores::let_sleep("--smoke")
    } else if options.let_cores_sleep {
        idle::AwakeCores::let_sleep("--let-cores-sleep")
    } else {
        idle::AwakeCores::hold()
    };
    let started = Instant::now();

    progress("starting moto, the twin and the handlers");
    let stack = local_aws::Stack::start(local_aws::StackOptions {
        whatsapp_handler: Some(bin_dir.join("whatsapp-handler")),
        connect_handler: Some(bin_dir.join("connect-handler")),
        echo_logs: false,
        proxy_moto: true,
        moto_url: options.moto_url.clone(),
        // Voice notes stream to Transcribe at 50× real time: the pace is the audio's, not the bridge's.
        extra_env: [("TRANSCRIBE_STREAM_SPEED".to_owned(), "50".to_owned())]
            .into_iter()
            .chain(options.env.iter().cloned())
            .collect(),
        ..Default::default()
    })
    .await
    .map_err(|e| format!("the local stack did not start: {e}"))?;
    let mut work = Workload::prepare(e2e::Twin::new(stack.url())).await?;

    progress(&format!("{} cold starts per handler", counts.starts));
    let mut cold = Vec::new();
    for function in ["WhatsappHandler", "ConnectHandler"] {
        let mut starts = Vec::with_capacity(counts.starts);
        for _ in 0..counts.starts {
            starts.push(work.cold_start(function).await?);
        }
        cold.push((function, starts));
    }

    let mut fast = Vec::new();
    let mut text_memory = Vec::new();
    for case in Case::ALL {
        if case.is_media() && text_memory.is_empty() {
            for function in ["WhatsappHandler", "ConnectHandler"] {
                text_memory.push(work.memory(function).await?);
            }
        }
        let count = if case.is_media() {
            counts.media_events
        } else {
            counts.events
        };
        progress(&format!("{count} × {}", case.name()));
        let cpu_before = work.cpu_us(case.function()).await?;
        let samples = work.run(case, count).await?;
        let cpu = (work.cpu_us(case.function()).await? - cpu_before) / count as u64;
        fast.push((case, samples, cpu));
    }

    progress(&format!("{} MB videos both ways", counts.video_bytes / MB));
    work.reset_peaks().await;
    let whatsapp_before = work.memory("WhatsappHandler").await?;
    work.customer_video(counts.video_bytes).await?;
    let whatsapp_video = work.memory("WhatsappHandler").await?;
    work.reset_peaks().await;
    let connect_before = work.memory("ConnectHandler").await?;
    let sent_before = work.sent_to_customer().await.len();
    work.agent_video(counts.video_bytes).await?;
    let connect_video = work.memory("ConnectHandler").await?;
    let video_sent = work
        .sent_to_customer()
        .await
        .iter()
        .skip(sent_before)
        .any(|s| s["message"]["type"] == "video");
    if !video_sent {
        return Err("the agent's video did not reach the customer".into());
    }

    progress(&format!(
        "{} ms per call: {} × each case",
        options.latency_ms, counts.latency_events
    ));
    work.set_latency(options.latency_ms).await;
    let mut slow = Vec::new();
    for case in Case::ALL {
        slow.push(work.run(case, counts.latency_events).await?);
    }
    work.set_latency(0).await;
    drop(work);
    stack.shutdown().await;

    let cases: Vec<CaseResult> = fast
        .iter()
        .zip(&slow)
        .map(|((case, samples, cpu), slow)| CaseResult::of(*case, samples, slow, *cpu, options.latency_ms))
        .collect();
    let warm = |name: &str| cases.iter().find(|c| c.name == name).map_or(0, |c| c.handler_us.p50);
    let cold_start = cold
        .iter()
        .map(|(function, starts)| {
            let warm_case = if *function == "WhatsappHandler" {
                Case::InboundText
            } else {
                Case::AgentText
            };
            ColdStartResult::of(function, starts, warm(warm_case.name()))
        })
        .collect();
    let memory_of =
        |function: &str, text: &workload::Memory, before: &workload::Memory, video: &workload::Memory| MemoryResult {
            function: function.to_owned(),
            text_peak_kib: text.peak_kib,
            video_bytes: counts.video_bytes,
            before_video_rss_kib: before.rss_kib,
            video_peak_kib: video.peak_kib,
            video_copies: (video.peak_kib.saturating_sub(before.rss_kib) * 1024) as f64 / counts.video_bytes as f64,
        };
    let memory = vec![
        memory_of("WhatsappHandler", &text_memory[0], &whatsapp_before, &whatsapp_video),
        memory_of("ConnectHandler", &text_memory[1], &connect_before, &connect_video),
    ];
    let mut results = Results {
        mode: if options.smoke { "smoke" } else { "full" }.to_owned(),
        bin_dir: bin_dir.display().to_string(),
        machine: report::Machine::here(&cores.state),
        duration_s: started.elapsed().as_secs_f64(),
        cold_start,
        cases,
        memory,
        binaries: report::binaries(&target, &bin_dir),
        micro: report::micro(&target),
        targets: Vec::new(),
    };
    results.judge(&slow[0]);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let json = serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?;
    std::fs::write(&out, json).map_err(|e| format!("{}: {e}", out.display()))?;
    println!("{}", results.table());
    println!("results: {}", out.display());
    Ok(())
}
