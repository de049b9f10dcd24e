//! `client`: adds the Handoff API's clients, rotates their keys, sets their webhooks, disables and
//! shows them.
//!
//! A thin command line over [`ops::client`] and the bridge's DynamoDB client store: credentials,
//! Region and endpoints come from the standard AWS configuration chain (`AWS_PROFILE`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL_DYNAMODB`). Arguments are parsed by hand, as in `replay`. A new key or webhook
//! secret is printed alone on stdout, so it can be piped straight into a secret store; everything else goes to stderr.

use aws_config::{BehaviorVersion, Region};
use bridge::aws::DynamoClientStore;
use bridge::handoff::auth::{ClientId, IamPrincipal};
use bridge::handoff::webhook::endpoint::WebhookUrl;
use ops::client::{self, ClientError};
use std::num::NonZeroU32;

const USAGE: &str = "\
client — the Handoff API's clients: add them, rotate their keys, disable them

USAGE: client [--table NAME] [--region REGION] COMMAND <id> [OPTIONS]

  add <id> [--rps N] [--iam-principal ARN]...
                         a new client, with a new key (printed once)
  rotate-key <id> [--overlap-hours H]
                         a new key (printed once); the client's other keys keep working for
                         H hours (default 24), and 0 revokes them at once
  set-webhook <id> --url URL
                         where the client's events go (https; http only to localhost); a client
                         without a webhook gets a signing secret (printed once), one with a webhook
                         keeps its secrets
  rotate-secret <id> [--overlap-hours H]
                         a new webhook signing secret (printed once); deliveries are signed with the
                         old one too for H hours (default 24)
  disable <id>           every request of the client refused (403); keys and handoffs kept
  enable <id>            the client's requests accepted again
  show <id>              status, rate, keys (their hashes' first 8 hex digits) and IAM principals

  <id>                   3 to 40 of a-z, 0-9 and -; part of every key the client holds
  --rps N                requests per second the API accepts from the client (default 10)
  --iam-principal ARN    a role (arn:aws:iam::<account>:role/<name>) or user that acts as the client
                         on the AWS_IAM routes; repeat for more; one client per principal
  --table NAME           the state table (default: $STATE_TABLE_NAME; stack output StateTableName)
  --region REGION        default: the AWS configuration
  -h, --help             this help

A new key or secret goes to stdout alone, on one line, and is never shown again: the table keeps only its
SHA-256. Changes apply on the next request (the authorizer caches nothing).
Exit code 0: done; 1: nothing changed (no such client, one already there, the table failed);
2: bad arguments.
";

const DEFAULT_RPS: u32 = 10;
const DEFAULT_OVERLAP_HOURS: u64 = 24;
const HOUR_MS: u64 = 3_600_000;

#[derive(Debug, PartialEq, Eq)]
enum Command {
    Add {
        rps: NonZeroU32,
        principals: Vec<IamPrincipal>,
    },
    RotateKey {
        overlap_hours: u64,
    },
    SetWebhook {
        url: WebhookUrl,
    },
    RotateSecret {
        overlap_hours: u64,
    },
    Disable,
    Enable,
    Show,
}

#[derive(Debug, PartialEq, Eq)]
struct Args {
    command: Command,
    id: ClientId,
    table: Option<String>,
    region: Option<String>,
}

/// What was asked for; `Ok(None)` for `--help`.
fn parse_args(raw: impl IntoIterator<Item = String>) -> Result<Option<Args>, String> {
    let (mut table, mut region, mut rps, mut overlap_hours, mut url) = (None, None, None, None, None);
    let mut principals = Vec::new();
    let mut positional = Vec::new();
    let mut raw = raw.into_iter();
    while let Some(arg) = raw.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| raw.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--table" => table = Some(value("--table")?),
            "--region" => region = Some(value("--region")?),
            "--rps" => {
                let n = value("--rps")?;
                let n = n.parse().ok().and_then(NonZeroU32::new);
                rps = Some(n.ok_or("--rps: a whole number of at least 1")?);
            }
            "--overlap-hours" => {
                let h = value("--overlap-hours")?;
                overlap_hours = Some(h.parse().map_err(|_| "--overlap-hours: a whole number of hours")?);
            }
            "--url" => {
                let raw = value("--url")?;
                url = Some(WebhookUrl::parse(&raw).map_err(|e| format!("--url: {e}"))?);
            }
            "--iam-principal" => {
                let arn = value("--iam-principal")?;
                let principal = IamPrincipal::parse(&arn)
                    .ok_or_else(|| format!("--iam-principal {arn}: not an IAM role's or user's ARN"))?;
                principals.push(principal);
            }
            other if other.starts_with('-') => return Err(format!("unknown argument {other}")),
            _ => positional.push(arg),
        }
    }
    let [name, id] = <[String; 2]>::try_from(positional).map_err(|_| "a command and a client id are needed")?;
    let id = ClientId::parse(&id).map_err(|e| format!("{id}: {e}"))?;
    let adds = rps.is_some() || !principals.is_empty();
    let command = match name.as_str() {
        "add" => Command::Add {
            rps: rps.unwrap_or(NonZeroU32::new(DEFAULT_RPS).expect("not zero")),
            principals,
        },
        "rotate-key" => Command::RotateKey {
            overlap_hours: overlap_hours.unwrap_or(DEFAULT_OVERLAP_HOURS),
        },
        "set-webhook" => Command::SetWebhook {
            url: url.take().ok_or("set-webhook needs --url")?,
        },
        "rotate-secret" => Command::RotateSecret {
            overlap_hours: overlap_hours.unwrap_or(DEFAULT_OVERLAP_HOURS),
        },
        "disable" => Command::Disable,
        "enable" => Command::Enable,
        "show" => Command::Show,
        other => return Err(format!("unknown command {other}")),
    };
    if adds && !matches!(command, Command::Add { .. }) {
        return Err("--rps and --iam-principal go with add".into());
    }
    if overlap_hours.is_some() && !matches!(command, Command::RotateKey { .. } | Command::RotateSecret { .. }) {
        return Err("--overlap-hours goes with rotate-key and rotate-secret".into());
    }
    if url.is_some() {
        return Err("--url goes with set-webhook".into());
    }
    Ok(Some(Args {
        command,
        id,
        table,
        region,
    }))
}

/// 32 bytes from the operating system's generator.
fn random_bytes() -> [u8; 32] {
    let mut bytes = [0; 32];
    getrandom::getrandom(&mut bytes).expect("the operating system's random generator");
    bytes
}

fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since_epoch.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

async fn run(store: &DynamoClientStore, args: Args) -> Result<(), ClientError> {
    let id = &args.id;
    match args.command {
        Command::Add { rps, principals } => {
            let key = client::add(store, id.clone(), rps, principals, now_ms(), &random_bytes()).await?;
            println!("{}", key.reveal());
            eprintln!("client {id} added; its key is above, and is shown only this once");
        }
        Command::RotateKey { overlap_hours } => {
            let overlap_ms = overlap_hours.saturating_mul(HOUR_MS);
            let key = client::rotate_key(store, id, overlap_ms, now_ms(), &random_bytes()).await?;
            println!("{}", key.reveal());
            eprintln!(
                "client {id} has a new key, above, shown only this once; its other keys work {overlap_hours} h more"
            );
        }
        Command::SetWebhook { url } => match client::set_webhook(store, id, url, &random_bytes()).await? {
            Some(secret) => {
                println!("{secret}");
                eprintln!("client {id}'s events go to the webhook; its signing secret is above, shown only this once");
            }
            None => eprintln!("client {id}'s events go to the new URL, signed with the same secrets"),
        },
        Command::RotateSecret { overlap_hours } => {
            let overlap_ms = overlap_hours.saturating_mul(HOUR_MS);
            let secret = client::rotate_secret(store, id, overlap_ms, now_ms(), &random_bytes()).await?;
            println!("{secret}");
            eprintln!("client {id}'s webhook has a new secret, above; the old one also signs for {overlap_hours} h");
        }
        Command::Disable | Command::Enable => {
            let disabled = args.command == Command::Disable;
            client::set_disabled(store, id, disabled).await?;
            eprintln!("client {id} {}", if disabled { "disabled" } else { "enabled" });
        }
        Command::Show => print!("{}", client::show(store, id, now_ms()).await?),
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            print!("{USAGE}");
            return;
        }
        Err(e) => {
            eprintln!("client: {e}\n\n{USAGE}");
            std::process::exit(2);
        }
    };
    let Some(table) = args.table.clone().or_else(|| std::env::var("STATE_TABLE_NAME").ok()) else {
        eprintln!("client: no table: pass --table or set STATE_TABLE_NAME\n\n{USAGE}");
        std::process::exit(2);
    };
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(Region::new(region.clone()));
    }
    let store = DynamoClientStore::new(aws_sdk_dynamodb::Client::new(&loader.load().await), table);
    if let Err(e) = run(&store, args).await {
        eprintln!("client: {e}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Option<Args>, String> {
        parse_args(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn each_command_takes_its_own_options() {
        let role = "arn:aws:iam::123456789012:role/AcmeBot";
        let args = parse(&format!(
            "--table t add acme-bot --rps 3 --iam-principal={role} --iam-principal {role}"
        ));
        assert_eq!(
            args.unwrap().unwrap(),
            Args {
                command: Command::Add {
                    rps: NonZeroU32::new(3).unwrap(),
                    principals: vec![IamPrincipal::parse(role).unwrap(); 2],
                },
                id: ClientId::parse("acme-bot").unwrap(),
                table: Some("t".into()),
                region: None,
            }
        );
        let rotate = parse("rotate-key acme-bot").unwrap().unwrap();
        assert_eq!(rotate.command, Command::RotateKey { overlap_hours: 24 });
        let revoke = parse("rotate-key acme-bot --overlap-hours 0 --region eu-west-1")
            .unwrap()
            .unwrap();
        assert_eq!(
            (revoke.command, revoke.region.as_deref()),
            (Command::RotateKey { overlap_hours: 0 }, Some("eu-west-1"))
        );
        assert_eq!(parse("show acme-bot").unwrap().unwrap().command, Command::Show);
        let hook = parse("set-webhook acme-bot --url https://bot.example.com/h")
            .unwrap()
            .unwrap();
        assert_eq!(
            hook.command,
            Command::SetWebhook {
                url: WebhookUrl::parse("https://bot.example.com/h").unwrap()
            }
        );
        let secret = parse("rotate-secret acme-bot --overlap-hours 2").unwrap().unwrap();
        assert_eq!(secret.command, Command::RotateSecret { overlap_hours: 2 });
        assert_eq!(parse("show acme-bot --help").unwrap(), None);
    }

    #[test]
    fn wrong_arguments_are_refused() {
        for bad in [
            "",
            "add",
            "add Acme",
            "add acme-bot extra",
            "add acme-bot --rps 0",
            "add acme-bot --rps",
            "add acme-bot --iam-principal arn:aws:sts::123456789012:assumed-role/Bot/s",
            "show acme-bot --rps 2",
            "disable acme-bot --overlap-hours 1",
            "add acme-bot --overlap-hours 1",
            "rotate-key acme-bot --overlap-hours -1",
            "delete acme-bot",
            "show acme-bot --force",
            "set-webhook acme-bot",
            "set-webhook acme-bot --url http://bot.example.com/h",
            "show acme-bot --url https://bot.example.com/h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
