//! `doctor` against the local stack: the real binary, the real SDK clients, the twin's Connect and
//! EUM Social read-only operations, moto's DynamoDB, S3, SNS, KMS and CloudFormation, configured as
//! `template.yaml` configures them (`local_aws::provision`), and CloudWatch through the twin (which
//! keeps its metrics in moto). A correct deployment is all ✔ with exit code 0; what an operator gets
//! wrong (TTL off, a wrong contact flow id, a number that is not linked, a key policy without a
//! publisher, a stack that does not exist) and notifications SNS could not deliver are ✘ with their
//! fix and exit code 1.
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
            ("AWS_ENDPOINT_URL_KMS", &moto),
            ("AWS_ENDPOINT_URL_CLOUDWATCH", &twin),
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
    // Connect 5, two numbers on two WABAs 4, table 3, bucket 4, topics 6, deliveries 2.
    assert_eq!(green.lines.last().map(String::as_str), Some("24 checks, 0 failed"));
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
    let key = green.line("✔ EUM topic: KMS key arn:aws:kms:us-east-1:123456789012:key/");
    assert!(
        key.ends_with(
            "lets social-messaging.amazonaws.com publish (statement AllowEumSocialPublish, by aws:SourceAccount)"
        ),
        "{key}"
    );
    green.line("✔ Connect stream topic: KMS key arn:aws:kms:");
    green.line("✔ EUM topic delivered every notification in the last 24 h (0 published: if customers wrote");
    green.line("✔ Connect stream topic delivered every notification in the last 24 h (0 published)");
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
        "GetMetricStatistics",
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
    let mut args = flags(&mistaken, &format!("{},100000000000001", numbers[0]));
    // The routing table sends the first number to the twin's Spanish flow, the other to nothing.
    let nowhere = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
    args.extend([
        "--number-routes".to_owned(),
        format!(
            r#"{{"{}": {{"contact_flow_id": "{}"}}, "100000000000001": {{"contact_flow_id": "{nowhere}"}}}}"#,
            numbers[0],
            local_aws::SPANISH_FLOW_ID
        ),
    ]);
    let red = doctor(&stack, &as_strs(&args)).await;
    assert_eq!(red.code, 1);
    assert_eq!(red.failed().len(), 4, "{:#?}", red.failed());
    red.line("✔ NumberRoutes is a valid routing table");
    red.line(&format!(
        "✔ the contact flow of {} transfers chats to a queue",
        numbers[0]
    ));
    let routed = red.line(&format!("✘ contact flow {nowhere} exists"));
    assert!(
        routed.contains("Fix: set contact_flow_id of 100000000000001 in NumberRoutes to a flow of instance"),
        "{routed}"
    );
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
    // 20 as above, the table, the Spanish flow's 4 and the missing flow.
    assert_eq!(red.lines.last().map(String::as_str), Some("26 checks, 4 failed"));

    // A missing value is a usage error, before anything is called.
    let usage = doctor(&stack, &["--table", "t"]).await;
    assert_eq!(usage.code, 2);
    stack.shutdown().await;
}

#[tokio::test]
async fn a_key_policy_without_the_publisher_and_failed_deliveries_fail_with_their_fixes() {
    let stack = start_stack().await;
    let cfg = stack.twin().config().clone();
    let args = flags(&cfg, "");
    let moto = moto(&stack);

    // The key policy an operator edited: EUM Social's statement is gone.
    let kms = aws_sdk_kms::Client::new(&sdk_config(&moto));
    let key = kms
        .describe_key()
        .key_id(local_aws::provision::TOPIC_KEY_ALIAS)
        .send()
        .await
        .expect("DescribeKey");
    let key_id = key.key_metadata().expect("metadata").key_id().to_owned();
    let instance_arn = format!(
        "arn:aws:connect:{REGION}:{}:instance/{}",
        cfg.account_id, cfg.instance_id
    );
    let mut policy = local_aws::provision::topic_key_policy(&cfg.account_id, &instance_arn);
    policy["Statement"]
        .as_array_mut()
        .expect("statements")
        .retain(|s| s["Sid"] != "AllowEumSocialPublish");
    kms.put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .expect("PutKeyPolicy");

    // SNS could not hand 2 of the 7 chat items published in the last hour to ConnectHandler.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk_config(&stack.url()));
    let topic_name = cfg.connect_stream_topic_arn.rsplit(':').next().expect("name");
    let when = aws_sdk_cloudwatch::primitives::DateTime::from(
        std::time::SystemTime::now() - std::time::Duration::from_secs(3600),
    );
    for (metric, value) in [("NumberOfMessagesPublished", 7.0), ("NumberOfNotificationsFailed", 2.0)] {
        cloudwatch
            .put_metric_data()
            .namespace("AWS/SNS")
            .metric_data(
                aws_sdk_cloudwatch::types::MetricDatum::builder()
                    .metric_name(metric)
                    .dimensions(
                        aws_sdk_cloudwatch::types::Dimension::builder()
                            .name("TopicName")
                            .value(topic_name)
                            .build(),
                    )
                    .timestamp(when)
                    .value(value)
                    .unit(aws_sdk_cloudwatch::types::StandardUnit::Count)
                    .build(),
            )
            .send()
            .await
            .expect("PutMetricData");
    }

    let red = doctor(&stack, &as_strs(&args)).await;
    assert_eq!(red.code, 1, "{:#?}", red.lines);
    assert_eq!(red.failed().len(), 2, "{:#?}", red.failed());
    let key = red.line("✘ EUM topic: KMS key arn:aws:kms:");
    assert!(
        key.contains(
            "lets social-messaging.amazonaws.com publish: its key policy does not let social-messaging.amazonaws.com use it: no Allow statement names it. Fix: redeploy the stack"
        ),
        "{key}"
    );
    assert!(key.contains("TopicKeyPublisherScope=topic"), "{key}");
    red.line("✔ Connect stream topic: KMS key arn:aws:kms:");
    let failed = red.line("✘ Connect stream topic delivered every notification in the last 24 h");
    assert!(
        failed.contains(": 2 notifications failed to reach ConnectHandler (7 published). Fix: they are in the queue of the stack output ConnectStreamSubscriptionDlqUrl"),
        "{failed}"
    );
    assert!(
        failed.contains(&format!(
            "aws sns get-topic-attributes --topic-arn {}",
            cfg.connect_stream_topic_arn
        )),
        "{failed}"
    );
    // Another topic's metrics are not this one's.
    red.line("✔ EUM topic delivered every notification in the last 24 h (0 published");
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
