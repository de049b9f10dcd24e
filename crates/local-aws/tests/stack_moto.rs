//! `Stack` against a real moto server: table and bucket creation, reuse of a running moto, and
//! that no child process outlives the stack. Skipped (with a note) when `.venv` is not set up.

use std::time::Duration;

use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use local_aws::{Stack, StackOptions};

mod support;

fn dynamodb(url: &str) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(url)
            .credentials_provider(Credentials::new("test", "test", None, None, "test"))
            .build(),
    )
}

fn alive(pid: &str) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stack_creates_table_and_bucket_and_cleans_up() {
    let Some(opts) = support::moto_options() else { return };
    let stack = Stack::start(opts.clone()).await.expect("stack starts");
    let moto = stack.moto_url().unwrap().to_owned();
    let ddb = dynamodb(&moto);
    let table = ddb
        .describe_table()
        .table_name("whatsapp-bridge-state")
        .send()
        .await
        .unwrap();
    let t = table.table().unwrap();
    assert_eq!(t.key_schema()[0].attribute_name(), "pk");
    let ttl = ddb
        .describe_time_to_live()
        .table_name("whatsapp-bridge-state")
        .send()
        .await
        .unwrap();
    assert_eq!(
        ttl.time_to_live_description().unwrap().attribute_name(),
        Some("expires_at")
    );
    let bucket = reqwest::get(format!("{moto}/whatsapp-bridge-media")).await.unwrap();
    assert!(bucket.status().is_success(), "{}", bucket.status());

    // A second stack reuses the running moto (table and bucket already exist).
    let reuse = Stack::start(StackOptions {
        moto_url: Some(moto.clone()),
        ..opts
    })
    .await
    .expect("second stack reuses moto");
    assert_eq!(reuse.moto_url(), Some(moto.as_str()));
    let twin_ok = reqwest::get(format!("{}/_twin/config", reuse.url())).await.unwrap();
    assert!(twin_ok.status().is_success());
    drop(reuse);

    // Shutting the first stack down kills moto.
    let port = moto.rsplit(':').next().unwrap().to_owned();
    let pids: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|p| p.chars().all(|c| c.is_ascii_digit()))
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&port))
                .unwrap_or(false)
        })
        .collect();
    assert!(!pids.is_empty(), "moto process found");
    stack.shutdown().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for pid in pids {
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.contains(") Z "))
            .unwrap_or(true);
        assert!(!alive(&pid) || zombie, "moto {pid} still running");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_whose_ttl_has_passed_are_deleted_as_dynamodb_may() {
    use aws_sdk_dynamodb::types::AttributeValue;
    let Some(opts) = support::moto_options() else { return };
    let table = opts.state_table_name.clone();
    let stack = Stack::start(opts).await.expect("stack starts");
    let ddb = dynamodb(stack.moto_url().unwrap());
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for (pk, expires_at) in [("expired", now_s - 1), ("current", now_s + 3600)] {
        ddb.put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S(pk.into()))
            .item("expires_at", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .unwrap();
    }
    ddb.put_item()
        .table_name(&table)
        .item("pk", AttributeValue::S("no ttl".into()))
        .send()
        .await
        .unwrap();
    let present = async |pk: &str| {
        let got = ddb
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S(pk.into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        got.item().is_some()
    };
    let started = std::time::Instant::now();
    while present("expired").await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the expired item is deleted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(present("current").await && present("no ttl").await);
}
