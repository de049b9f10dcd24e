//! `replay`: re-delivers the events of a dead-letter queue to the bridge's handlers.
//!
//! A thin command line over [`ops::replay`]: credentials, region and endpoints come from the
//! standard AWS configuration chain (so `AWS_PROFILE`, `AWS_ENDPOINT_URL_SQS` and
//! `AWS_ENDPOINT_URL_LAMBDA` work as with any SDK tool). Arguments are parsed by hand, as in
//! `local-aws`: four flags do not justify a CLI crate.

use aws_config::{BehaviorVersion, Region};
use ops::replay::{Options, replay_queue};

const USAGE: &str = "\
replay — re-deliver dead-lettered events to the bridge's Lambda functions

USAGE: replay --queue-url URL [--function-name NAME] [--max N] [--dry-run] [--region REGION]

  --queue-url URL        the dead-letter queue (stack outputs *DlqUrl)
  --function-name NAME   function for messages that name none (the *SubscriptionDlq queues, and
                         WebhookDeadLetterQueue: WebhookSender's name);
                         for Lambda destination records only a filter: others are skipped
  --max N                stop after N messages
  --dry-run              receive and report, but neither invoke nor delete
  --region REGION        default: the AWS configuration, else the queue URL's region
  -h, --help             this help

A message is deleted only when the function accepted it; everything else stays in the queue.
Prints one line per message and `replayed N, failed M, skipped K`. Exit code 0: nothing needs
attention; 1: an event failed again (or the queue could not be read); 2: bad arguments;
3: messages that cannot be replayed as they are were left in the queue.
";

struct Args {
    queue_url: String,
    region: Option<String>,
    options: Options,
}

fn parse_args() -> Result<Args, String> {
    let mut queue_url = None;
    let mut region = None;
    let mut options = Options::default();
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
            "--queue-url" => queue_url = Some(value("--queue-url")?),
            "--function-name" => options.function_name = Some(value("--function-name")?),
            "--max" => {
                let n: usize = value("--max")?.parse().map_err(|e| format!("--max: {e}"))?;
                options.max = Some(n);
            }
            "--dry-run" => options.dry_run = true,
            "--region" => region = Some(value("--region")?),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let queue_url = queue_url.ok_or("--queue-url is required")?;
    Ok(Args {
        queue_url,
        region,
        options,
    })
}

/// `us-east-1` from `https://sqs.us-east-1.amazonaws.com/123456789012/name`.
fn region_of_queue_url(url: &str) -> Option<String> {
    let host = url.split("://").nth(1)?.split('/').next()?;
    let mut parts = host.split('.');
    if parts.next()? != "sqs" {
        return None;
    }
    parts.next().map(str::to_owned)
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("replay: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = &args.region {
        loader = loader.region(Region::new(r.clone()));
    }
    let mut config = loader.load().await;
    if config.region().is_none() {
        let Some(r) = region_of_queue_url(&args.queue_url) else {
            eprintln!("replay: no region configured and none in the queue URL; pass --region");
            std::process::exit(2);
        };
        config = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(r))
            .load()
            .await;
    }
    let sqs = aws_sdk_sqs::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    if args.options.dry_run {
        println!("dry run: nothing is invoked or deleted");
    }
    let summary = replay_queue(&sqs, &lambda, &args.queue_url, &args.options, |report| {
        println!("{report}");
    })
    .await;
    if let Some(why) = &summary.aborted {
        eprintln!("replay: stopped: {why}");
    }
    println!("{}", summary.line());
    std::process::exit(summary.exit_code());
}

#[cfg(test)]
mod tests {
    use super::region_of_queue_url;

    #[test]
    fn region_comes_from_aws_queue_urls_only() {
        assert_eq!(
            region_of_queue_url("https://sqs.eu-west-1.amazonaws.com/123456789012/x").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(region_of_queue_url("http://127.0.0.1:5000/123456789012/x"), None);
        assert_eq!(region_of_queue_url("nonsense"), None);
    }
}
