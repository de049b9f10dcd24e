//! `local-aws` binary: runs the offline stack (moto + twin + handlers) until Ctrl-C.
//!
//! Arguments are parsed by hand: there are a dozen flags, and a CLI crate would be the largest
//! dependency of the twin for no behaviour the tests rely on.

use std::path::PathBuf;
use std::time::Duration;

use local_aws::{FunctionName, Stack, StackOptions};

const USAGE: &str = "\
local-aws — offline twin of Connect, Connect Participant, EUM Social, SNS and Lambda

USAGE: local-aws [OPTIONS]

  --port PORT               twin port on 127.0.0.1 (default 4566, 0 = any free port)
  --moto-url URL            reuse a running moto server instead of starting one
  --moto-bin PATH           moto launcher (default <repo>/scripts/moto-server)
  --no-moto                 do not use moto at all
  --whatsapp-handler PATH   WhatsappHandler binary (default target/debug/whatsapp-handler)
  --connect-handler PATH    ConnectHandler binary (default target/debug/connect-handler)
  --handoff-api PATH        HandoffApi binary behind the HTTP API on /v1/ (default
                            target/debug/handoff-api; not started if it is not built)
  --handoff-authorizer PATH its Lambda authorizer (default target/debug/handoff-authorizer)
  --webhook-sender PATH     WebhookSender binary, fed by the webhook SQS queue (default
                            target/debug/webhook-sender; not started if it is not built)
  --concurrency N           handler processes per function (default 1)
  --no-handlers             only serve the APIs; start no handler process
  --table NAME              DynamoDB table (default whatsapp-bridge-state)
  --bucket NAME             S3 bucket (default whatsapp-bridge-media)
  --env KEY=VALUE           extra handler environment (repeatable)
  --greeting TEXT           contact-flow greeting ('' = none)
  --function-timeout SECS   Lambda timeout of both handlers (default: the template's, 300 and 30)
  --aws-time-scale N        AWS's durations divided by N (function timeouts, Lambda's retry
                            schedule of 1 and 2 minutes, maximum event age), proportions kept
  --concurrent-stream       deliver a contact's streamed items concurrently, in no set order
  --quiet-handlers          do not echo handler output to stderr
  -h, --help                this help
";

fn parse_args() -> Result<StackOptions, String> {
    let mut opts = StackOptions {
        port: 4566,
        ..StackOptions::default()
    };
    let mut time_scale = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                print!("{USAGE}");
                std::process::exit(0);
            }
            "--port" => opts.port = value("--port")?.parse().map_err(|e| format!("--port: {e}"))?,
            "--moto-url" => opts.moto_url = Some(value("--moto-url")?),
            "--moto-bin" => opts.moto_bin = PathBuf::from(value("--moto-bin")?),
            "--no-moto" => opts.no_moto = true,
            "--whatsapp-handler" => opts.whatsapp_handler = Some(PathBuf::from(value("--whatsapp-handler")?)),
            "--connect-handler" => opts.connect_handler = Some(PathBuf::from(value("--connect-handler")?)),
            "--handoff-api" => opts.handoff_api = Some(PathBuf::from(value("--handoff-api")?)),
            "--handoff-authorizer" => opts.handoff_authorizer = Some(PathBuf::from(value("--handoff-authorizer")?)),
            "--webhook-sender" => opts.webhook_sender = Some(PathBuf::from(value("--webhook-sender")?)),
            "--concurrency" => {
                opts.concurrency = value("--concurrency")?
                    .parse()
                    .map_err(|e| format!("--concurrency: {e}"))?
            }
            "--no-handlers" => opts = opts.without_handlers(),
            "--table" => opts.state_table_name = value("--table")?,
            "--bucket" => opts.media_bucket_name = value("--bucket")?,
            "--env" => {
                let kv = value("--env")?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--env expects KEY=VALUE, got {kv}"))?;
                opts.extra_env.push((k.to_owned(), v.to_owned()));
            }
            "--greeting" => {
                let g = value("--greeting")?;
                opts.twin.greeting = (!g.is_empty()).then_some(g);
            }
            "--function-timeout" => {
                let secs: u64 = value("--function-timeout")?
                    .parse()
                    .map_err(|e| format!("--function-timeout: {e}"))?;
                opts.twin.whatsapp_handler_timeout = Duration::from_secs(secs);
                opts.twin.connect_handler_timeout = Duration::from_secs(secs);
            }
            "--aws-time-scale" => {
                let factor: u32 = value("--aws-time-scale")?
                    .parse()
                    .map_err(|e| format!("--aws-time-scale: {e}"))?;
                if factor == 0 {
                    return Err("--aws-time-scale must be at least 1".into());
                }
                time_scale = Some(factor);
            }
            "--concurrent-stream" => opts.twin.concurrent_stream = true,
            "--quiet-handlers" => opts.echo_logs = false,
            other => return Err(format!("unknown argument {other}\n\n{USAGE}")),
        }
    }
    // Scaled last, so that it also scales a --function-timeout given after it.
    if let Some(factor) = time_scale {
        opts.twin = opts.twin.with_aws_time_scale(factor);
    }
    Ok(opts)
}

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LOCAL_AWS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("local-aws: {e}");
            std::process::exit(2);
        }
    };
    let stack = match Stack::start(opts).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("local-aws: {e}");
            std::process::exit(1);
        }
    };
    println!("local-aws listening on {}", stack.url());
    println!(
        "  AWS_ENDPOINT_URL_CONNECT=AWS_ENDPOINT_URL_CONNECTPARTICIPANT=AWS_ENDPOINT_URL_SOCIALMESSAGING=AWS_ENDPOINT_URL_LAMBDA={}",
        stack.url()
    );
    if let Some(moto) = stack.moto_url() {
        println!("  moto (DynamoDB, S3, SQS, SNS, KMS): {moto}");
        println!("  AWS_ENDPOINT_URL_CLOUDWATCH={} (metrics kept in moto)", stack.url());
    }
    for f in FunctionName::ALL {
        let addrs = stack.twin().runtime_addresses(f);
        if !addrs.is_empty() {
            println!("  {f} runtime API: {}", addrs.join(", "));
        }
    }
    for f in FunctionName::ALL {
        if let Some(url) = stack.dlq_url(f) {
            println!("  {f} dead-letter queue: {url}");
        }
    }
    if let (Some(queue), Some(dlq)) = (stack.webhook_queue_url(), stack.webhook_dead_letter_queue_url()) {
        println!("  webhook queue (WebhookSender): {queue}, its dead-letter queue: {dlq}");
    }
    println!(
        "  control API: {}/_twin (see docs/local-twin.md); Ctrl-C to stop",
        stack.url()
    );
    // Control calls wait for this too; saying it lets a script start sending when it is.
    tokio::select! {
        up = stack.wait_ready(Duration::from_secs(600)) => {
            if up {
                println!("ready");
            } else {
                eprintln!("local-aws: the handlers did not poll the Runtime API within 10 minutes (see their output)");
            }
        }
        _ = tokio::signal::ctrl_c() => {
            eprintln!("local-aws: shutting down");
            stack.shutdown().await;
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("local-aws: shutting down");
    stack.shutdown().await;
}
