//! `client` against moto: the real binary writes the Handoff API's client records to the state table,
//! and the bridge's own DynamoDB client store (what the authorizer and the API function read) finds
//! them as the operator meant: a new client's key admitted and its IAM role mapped, a rotation with its
//! overlap, a disabled client refused; the key shown once and only its hash stored.
//!
//! Needs `scripts/setup-venv.sh` (moto); no handler processes.

mod common;

use bridge::aws::DynamoClientStore;
use bridge::handoff::auth::store::ClientStore;
use bridge::handoff::auth::{ApiKey, ClientId, ClientRecord, Denial, IamPrincipal};
use common::{run_binary, sdk_config};
use local_aws::{Stack, StackOptions};

const TABLE: &str = "whatsapp-bridge-state";
const HOUR_MS: u64 = 3_600_000;

async fn start_stack() -> Stack {
    let options = StackOptions {
        echo_logs: false,
        ..StackOptions::default()
    }
    .without_handlers();
    assert!(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../.venv")
            .exists(),
        "no .venv: run scripts/setup-venv.sh"
    );
    Stack::start(options).await.expect("local stack starts")
}

/// Runs the built `client` as an operator would, the table named by `STATE_TABLE_NAME`.
async fn client(moto: &str, args: &[&str]) -> (i32, String) {
    run_binary(
        env!("CARGO_BIN_EXE_client"),
        args,
        &[("AWS_ENDPOINT_URL_DYNAMODB", moto), ("STATE_TABLE_NAME", TABLE)],
    )
    .await
}

fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    u64::try_from(since_epoch.unwrap().as_millis()).unwrap()
}

/// The one key a command printed, alone on stdout.
fn printed_key(stdout: &str) -> ApiKey {
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    ApiKey::parse(lines[0]).expect("a key")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_adds_rotates_disables_and_shows_a_client() {
    let stack = start_stack().await;
    let moto = stack.moto_url().expect("moto runs").to_owned();
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk_config(&moto));
    let store = DynamoClientStore::new(dynamodb.clone(), TABLE.into());
    let acme = ClientId::parse("acme-bot").unwrap();
    let load = || async { store.load_client(&acme).await.unwrap().expect("the client's record") };
    let role = "arn:aws:iam::123456789012:role/bots/AcmeBot";

    let (code, stdout) = client(&moto, &["add", "acme-bot", "--rps", "3", "--iam-principal", role]).await;
    assert_eq!(code, 0);
    let first = printed_key(&stdout);
    assert_eq!(first.client_id(), &acme);
    let added = load().await;
    assert_eq!(added.admits(&first.hash(), now_ms()), Ok(()));
    assert_eq!((added.requests_per_second.get(), added.disabled), (3, false));
    let session = IamPrincipal::caller("arn:aws:sts::123456789012:assumed-role/AcmeBot/i-0abc").unwrap();
    let mapped = store.client_of(&session).await.unwrap();
    assert_eq!(mapped.map(|record| record.id), Some(acme.clone()));

    // The table holds the key's hash, and nothing of the key itself.
    let item = dynamodb
        .get_item()
        .table_name(TABLE)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("client#acme-bot".into()),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let stored = format!("{item:?}");
    let secret = &first.reveal()["wcb_acme-bot_".len()..];
    assert!(
        stored.contains(&first.hash().to_hex()) && !stored.contains(secret),
        "{stored}"
    );

    let (code, stdout) = client(&moto, &["add", "acme-bot"]).await;
    assert_eq!((code, stdout.as_str()), (1, ""), "an existing client is not replaced");

    let (code, _) = client(&moto, &["--table", "no-such-table", "rotate-key", "acme-bot"]).await;
    assert_eq!(code, 1, "--table wins over STATE_TABLE_NAME");
    let before = now_ms();
    let (code, stdout) = client(&moto, &["rotate-key", "acme-bot", "--overlap-hours", "2"]).await;
    assert_eq!(code, 0);
    let second = printed_key(&stdout);
    let rotated = load().await;
    let now = now_ms();
    assert_eq!(
        rotated.admits(&first.hash(), now),
        Ok(()),
        "the old key works through the overlap"
    );
    assert_eq!(rotated.admits(&second.hash(), now), Ok(()));
    let expires = rotated.keys[0].expires_ms.expect("the old key expires");
    assert!((before + 2 * HOUR_MS..=now + 2 * HOUR_MS).contains(&expires));
    assert_eq!(rotated.admits(&first.hash(), now + 2 * HOUR_MS), Err(Denial::Expired));

    let (code, shown) = client(&moto, &["show", "acme-bot"]).await;
    assert_eq!(code, 0);
    for line in [
        "client   acme-bot",
        "status   enabled",
        "rate     3 requests/s",
        "iam      arn:aws:iam::123456789012:role/AcmeBot",
    ] {
        assert!(shown.lines().any(|l| l == line), "{line:?} in {shown}");
    }
    for key in [&first, &second] {
        let hex = key.hash().to_hex();
        assert!(shown.contains(&format!("key      {}…", &hex[..8])), "{shown}");
        assert!(
            !shown.contains(&hex[..9]),
            "never more of a hash than 8 digits: {shown}"
        );
    }

    let (code, _) = client(&moto, &["disable", "acme-bot"]).await;
    assert_eq!(code, 0);
    let disabled: ClientRecord = load().await;
    assert_eq!(disabled.admits(&second.hash(), now_ms()), Err(Denial::Disabled));
    assert_eq!(
        ClientRecord {
            disabled: false,
            ..disabled
        },
        rotated,
        "nothing else changed"
    );
    let (_, shown) = client(&moto, &["show", "acme-bot"]).await;
    assert!(shown.lines().any(|l| l == "status   disabled"), "{shown}");
    let (code, _) = client(&moto, &["enable", "acme-bot"]).await;
    assert_eq!(code, 0);
    assert_eq!(load().await.admits(&second.hash(), now_ms()), Ok(()));

    assert_eq!(client(&moto, &["rotate-key", "ghost-bot"]).await.0, 1);
    assert_eq!(client(&moto, &["add", "Acme"]).await.0, 2);
    assert_eq!(
        store.load_client(&ClientId::parse("ghost-bot").unwrap()).await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_gives_a_client_a_webhook_and_rotates_its_secret() {
    use bridge::handoff::dispatch::EndpointStore;
    let stack = start_stack().await;
    let moto = stack.moto_url().expect("moto runs").to_owned();
    let store = DynamoClientStore::new(aws_sdk_dynamodb::Client::new(&sdk_config(&moto)), TABLE.into());
    let url = "https://bot.example.com/connect-events";

    let (code, _) = client(&moto, &["set-webhook", "ghost-bot", "--url", url]).await;
    assert_eq!(code, 1, "no such client");
    let (code, _) = client(&moto, &["add", "acme-bot"]).await;
    assert_eq!(code, 0);
    let (code, _) = client(&moto, &["rotate-secret", "acme-bot"]).await;
    assert_eq!(code, 1, "no webhook to rotate");
    let (code, first) = client(&moto, &["set-webhook", "acme-bot", "--url", url]).await;
    assert_eq!(code, 0);
    let first = first.trim().to_owned();
    assert!(first.starts_with("whsec_"), "the secret, alone: {first}");
    let endpoint = store.load_webhook("acme-bot").await.unwrap().expect("a webhook");
    assert_eq!(endpoint.url.as_str(), url);
    endpoint.signing_at(now_ms()).expect("signs with the printed secret");

    let moved = "https://bot.example.com/v2/connect-events";
    let (code, stdout) = client(&moto, &["set-webhook", "acme-bot", "--url", moved]).await;
    assert_eq!((code, stdout.as_str()), (0, ""), "a new URL keeps the secret");
    let (code, second) = client(&moto, &["rotate-secret", "acme-bot", "--overlap-hours", "1"]).await;
    assert_eq!(code, 0);
    let endpoint = store.load_webhook("acme-bot").await.unwrap().unwrap();
    assert_eq!(endpoint.url.as_str(), moved);
    let secrets: Vec<&str> = endpoint.secrets.iter().map(|s| s.secret.as_str()).collect();
    assert_eq!(
        secrets,
        [first.as_str(), second.trim()],
        "the old one signs through the overlap"
    );
    assert!(endpoint.secrets[0].expires_ms.is_some());
}
