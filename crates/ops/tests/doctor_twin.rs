//! `doctor` against the local stack: the real binary, the real SDK clients, the twin's Connect and
//! EUM Social read-only operations and moto's DynamoDB, S3, SNS and CloudFormation, configured as
//! `template.yaml` configures them (`local_aws::provision`). A correct deployment is all ✔ with
//! exit code 0; what an operator gets wrong (TTL off, a wrong contact flow id, a number that is not
//! linked, a stack that does not exist) is ✘ with its fix and exit code 1.
//!
//! Needs `scripts/setup-venv.sh` (moto); no handler processes.

mod common;

use common::{REGION, run_binary, sdk_config};
use local_aws::{Stack, StackOptions, TwinConfig};
use serde_json::{Value, json};

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

fn moto(stack: &Stack) -> String {
    stack.moto_url().expect("moto runs").to_owned()
}

/// What the binary printed and its exit code.
struct Outcome {
    code: i32,
    lines: Vec<String>,
}

impl Outcome {
    fn line(&self, starts_with: &str) -> &str {
        self.lines
            .iter()
            .find(|l| l.starts_with(starts_with))
            .unwrap_or_else(|| panic!("no line starting with {starts_with:?} in {:#?}", self.lines))
    }

    fn failed(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| l.starts_with('✘'))
            .map(String::as_str)
            .collect()
    }
}

/// Runs the built `doctor` binary the way an operator would, its endpoints on the local stack.
async fn doctor(stack: &Stack, args: &[&str]) -> Outcome {
    let (twin, moto) = (stack.url(), moto(stack));
    let (code, stdout) = run_binary(
        env!("CARGO_BIN_EXE_doctor"),
        args,
        &[
            ("AWS_ENDPOINT_URL_CONNECT", &twin),
            ("AWS_ENDPOINT_URL_SOCIALMESSAGING", &twin),
            ("AWS_ENDPOINT_URL_DYNAMODB", &moto),
            ("AWS_ENDPOINT_URL_S3", &moto),
            ("AWS_ENDPOINT_URL_SNS", &moto),
            ("AWS_ENDPOINT_URL_CLOUDFORMATION", &moto),
        ],
    )
    .await;
    Outcome {
        code,
        lines: stdout.lines().map(str::to_owned).collect(),
    }
}

/// The flags naming the local stack's deployment (`GET /_twin/config` and `StackOptions`).
fn flags(cfg: &TwinConfig, phone_number_ids: &str) -> Vec<String> {
    let defaults = StackOptions::default();
    [
        ("--instance-id", cfg.instance_id.as_str()),
        ("--contact-flow-id", cfg.contact_flow_id.as_str()),
        ("--phone-number-ids", phone_number_ids),
        ("--table", defaults.state_table_name.as_str()),
        ("--bucket", defaults.media_bucket_name.as_str()),
        ("--eum-topic-arn", cfg.eum_topic_arn.as_str()),
        ("--connect-topic-arn", cfg.connect_stream_topic_arn.as_str()),
    ]
    .iter()
    .flat_map(|(k, v)| [k.to_string(), v.to_string()])
    .collect()
}

fn as_strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[tokio::test]
async fn a_correct_deployment_is_all_green_and_mistakes_are_reported_with_their_fixes() {
    let stack = start_stack().await;
    let cfg = stack.twin().config().clone();
    let numbers: Vec<&str> = cfg
        .business_numbers
        .iter()
        .map(|n| n.meta_phone_number_id.as_str())
        .collect();

    let green = doctor(&stack, &as_strs(&flags(&cfg, &numbers.join(",")))).await;
    assert_eq!(green.code, 0, "{:#?}", green.lines);
    assert!(green.failed().is_empty(), "{:#?}", green.failed());
    // Connect 5, two numbers on two WABAs 4, table 3, bucket 4, topics 4.
    assert_eq!(green.lines.last().map(String::as_str), Some("20 checks, 0 failed"));
    green.line(&format!("✔ Connect instance {} is ACTIVE", cfg.instance_id));
    green.line("✔ the contact flow transfers chats to a queue");
    green.line(&format!("✔ phone number {} is linked to EUM", numbers[1]));
    green.line(&format!(
        "✔ WABA {} sends its events to {}",
        cfg.business_numbers[0].waba_id, cfg.eum_topic_arn
    ));
    green.line("✔ table whatsapp-bridge-state expires items by expires_at (TTL)");
    green.line("✔ bucket whatsapp-bridge-media expires media after 1 day");
    green.line("✔ Connect stream topic: only connect.amazonaws.com may publish");
    let calls: Value = reqwest::get(format!("{}/_twin/calls", stack.url()))
        .await
        .expect("calls")
        .json()
        .await
        .expect("JSON");
    let served: Vec<&str> = calls
        .as_array()
        .expect("array")
        .iter()
        .filter(|c| c["status"] == 200)
        .filter_map(|c| c["operation"].as_str())
        .collect();
    for operation in [
        "DescribeInstance",
        "DescribeContactFlow",
        "ListLinkedWhatsAppBusinessAccounts",
        "GetLinkedWhatsAppBusinessAccount",
        "GetLinkedWhatsAppBusinessAccountPhoneNumber",
    ] {
        assert!(served.contains(&operation), "{operation} not served: {served:?}");
    }

    // An operator's mistakes: TTL turned off, a contact flow id of nothing, a number not linked.
    aws_sdk_dynamodb::Client::new(&sdk_config(&moto(&stack)))
        .update_time_to_live()
        .table_name("whatsapp-bridge-state")
        .time_to_live_specification(
            aws_sdk_dynamodb::types::TimeToLiveSpecification::builder()
                .attribute_name("expires_at")
                .enabled(false)
                .build()
                .expect("spec"),
        )
        .send()
        .await
        .expect("TTL off");
    let wrong_flow = "0f0e0d0c-0b0a-4909-8807-060504030201";
    let mistaken = TwinConfig {
        contact_flow_id: wrong_flow.into(),
        ..cfg.clone()
    };
    let args = flags(&mistaken, &format!("{},100000000000001", numbers[0]));
    let red = doctor(&stack, &as_strs(&args)).await;
    assert_eq!(red.code, 1);
    assert_eq!(red.failed().len(), 3, "{:#?}", red.failed());
    let flow = red.line(&format!("✘ contact flow {wrong_flow} exists"));
    assert!(
        flow.contains(&format!(
            "Fix: set ContactFlowId to a flow of instance {}",
            cfg.instance_id
        )),
        "{flow}"
    );
    let number = red.line("✘ phone number 100000000000001 is linked to EUM");
    assert!(number.contains("Fix: use the metaPhoneNumberId"), "{number}");
    let ttl = red.line("✘ table whatsapp-bridge-state expires items by expires_at (TTL): TTL is DISABLED");
    assert!(
        ttl.contains("Fix: aws dynamodb update-time-to-live --table-name whatsapp-bridge-state"),
        "{ttl}"
    );
    red.line(&format!("✔ phone number {} is linked to EUM", numbers[0]));
    red.line("✔ table whatsapp-bridge-state has point-in-time recovery");
    assert_eq!(red.lines.last().map(String::as_str), Some("16 checks, 3 failed"));

    // A missing value is a usage error, before anything is called.
    let usage = doctor(&stack, &["--table", "t"]).await;
    assert_eq!(usage.code, 2);
    stack.shutdown().await;
}

#[tokio::test]
async fn a_deployed_stack_names_what_to_check() {
    let stack = start_stack().await;
    let cfg = stack.twin().config().clone();
    let moto = moto(&stack);
    let cloudformation = aws_sdk_cloudformation::Client::new(&sdk_config(&moto));
    let topic_name = |arn: &str| arn.rsplit(':').next().expect("topic name").to_owned();
    // The template's parameters and the resources doctor reads, under their logical ids.
    let template = json!({
        "Parameters": {
            "ConnectInstanceId": {"Type": "String"},
            "ContactFlowId": {"Type": "String"},
            "WhatsappPhoneNumberIds": {"Type": "String", "Default": ""}
        },
        "Resources": {
            "StateTable": {"Type": "AWS::DynamoDB::Table", "Properties": {
                "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}},
            "MediaBucket": {"Type": "AWS::S3::Bucket"},
            "WhatsappEventsTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic_name(&cfg.eum_topic_arn)}},
            "ConnectStreamTopic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": topic_name(&cfg.connect_stream_topic_arn)}}
        }
    });
    let parameter = |k: &str, v: &str| {
        aws_sdk_cloudformation::types::Parameter::builder()
            .parameter_key(k)
            .parameter_value(v)
            .build()
    };
    cloudformation
        .create_stack()
        .stack_name("whatsapp-connect-bridge")
        .template_body(template.to_string())
        .parameters(parameter("ConnectInstanceId", &cfg.instance_id))
        .parameters(parameter("ContactFlowId", &cfg.contact_flow_id))
        .parameters(parameter("WhatsappPhoneNumberIds", ""))
        .send()
        .await
        .expect("CreateStack");
    let resources = cloudformation
        .describe_stack_resources()
        .stack_name("whatsapp-connect-bridge")
        .send()
        .await
        .expect("DescribeStackResources");
    let physical = |logical: &str| {
        resources
            .stack_resources()
            .iter()
            .find(|r| r.logical_resource_id() == Some(logical))
            .and_then(|r| r.physical_resource_id())
            .unwrap_or_else(|| panic!("no {logical}"))
            .to_owned()
    };
    let (table, bucket) = (physical("StateTable"), physical("MediaBucket"));
    assert_ne!(table, StackOptions::default().state_table_name);
    // moto's CloudFormation creates the resources without TTL, PITR, bucket settings or topic
    // policies; give them what the real template's properties give them.
    local_aws::provision::state_table(&moto, REGION, &table)
        .await
        .expect("table");
    local_aws::provision::media_bucket(&moto, REGION, &bucket)
        .await
        .expect("bucket");
    local_aws::provision::topics(&moto, &cfg).await.expect("topics");

    let green = doctor(&stack, &["--stack-name", "whatsapp-connect-bridge"]).await;
    assert_eq!(green.code, 0, "{:#?}", green.lines);
    green.line("✔ stack whatsapp-connect-bridge is deployed (CREATE_COMPLETE)");
    green.line(&format!("✔ DynamoDB table {table} is ACTIVE"));
    green.line(&format!("✔ bucket {bucket} blocks public access"));
    // WhatsappPhoneNumberIds empty: every number, so one WABA on the topic is enough.
    green.line("✔ WABA ");
    // Flags win over the stack.
    let overridden = doctor(
        &stack,
        &["--stack-name", "whatsapp-connect-bridge", "--table", "no-such-table"],
    )
    .await;
    assert_eq!(overridden.code, 1);
    assert_eq!(
        overridden.failed(),
        [
            "✘ DynamoDB table no-such-table exists: not found (dynamodb:DescribeTable). Fix: set the table name to the stack's StateTableName output, or deploy the stack (template.yaml creates it)"
        ]
    );

    let missing = doctor(&stack, &["--stack-name", "no-such-stack"]).await;
    assert_eq!(missing.code, 1);
    let line = missing.line("✘ stack no-such-stack exists: not found");
    assert!(line.contains("Fix: check the stack name and the Region"), "{line}");
    assert_eq!(missing.lines.last().map(String::as_str), Some("1 check, 1 failed"));
    stack.shutdown().await;
}
