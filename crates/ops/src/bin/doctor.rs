//! `doctor`: checks a deployment of the bridge with read-only AWS calls and prints each check
//! ✔/✘ with its fix.
//!
//! A thin command line over [`ops::doctor`]: credentials, Region and endpoints come from the
//! standard AWS configuration chain (`AWS_PROFILE`, `AWS_REGION`, `AWS_ENDPOINT_URL_<SERVICE>`),
//! so the same binary checks a real account or the local twin. It runs with the operator's
//! credentials; docs/doctor.md lists the read-only permissions it needs.

use clap::Parser;
use ops::doctor::{Clients, Partial, Source, phone_number_list, run};

/// Checks a deployment of whatsapp-connect-bridge with read-only AWS calls.
///
/// Give a deployed stack (--stack-name) or the values themselves; flags win over what the stack
/// says. Exit code 0: every check passed; 1: a check failed; 2: bad arguments.
#[derive(Debug, Parser)]
#[command(name = "doctor", version)]
struct Args {
    /// CloudFormation stack deployed from template.yaml (reads its parameters and resources)
    #[arg(long)]
    stack_name: Option<String>,
    /// Amazon Connect instance id (ConnectInstanceId)
    #[arg(long)]
    instance_id: Option<String>,
    /// Contact flow chats start in (ContactFlowId)
    #[arg(long)]
    contact_flow_id: Option<String>,
    /// Meta phone_number_ids the bridge serves, comma-separated; "" = every number (WhatsappPhoneNumberIds)
    #[arg(long)]
    phone_number_ids: Option<String>,
    /// Per-number routing as JSON, keyed by Meta phone_number_id (NumberRoutes); its flows are checked too
    #[arg(long)]
    number_routes: Option<String>,
    /// DynamoDB state table (StateTableName output)
    #[arg(long)]
    table: Option<String>,
    /// S3 media bucket (MediaBucketName output)
    #[arg(long)]
    bucket: Option<String>,
    /// SNS topic EUM publishes to (WhatsappEventsTopicArn output)
    #[arg(long)]
    eum_topic_arn: Option<String>,
    /// SNS topic Connect streams chats to (ConnectStreamTopicArn output)
    #[arg(long)]
    connect_topic_arn: Option<String>,
    /// AWS Region (default: the AWS configuration)
    #[arg(long)]
    region: Option<String>,
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let values = Partial {
        instance_id: args.instance_id,
        contact_flow_id: args.contact_flow_id,
        phone_number_ids: args.phone_number_ids.as_deref().map(phone_number_list),
        table: args.table,
        bucket: args.bucket,
        eum_topic_arn: args.eum_topic_arn,
        connect_topic_arn: args.connect_topic_arn,
        number_routes: args.number_routes,
    };
    let Some(clients) = Clients::from_env(args.region).await else {
        eprintln!("doctor: no Region configured; pass --region or set AWS_REGION");
        std::process::exit(2);
    };
    let source = match args.stack_name {
        Some(name) => Source::Stack {
            name,
            overrides: values,
        },
        None => Source::Values(values),
    };
    match run(&clients, source).await {
        Ok(report) => {
            for check in &report.checks {
                println!("{check}");
            }
            println!("{}", report.summary());
            std::process::exit(report.exit_code());
        }
        Err(usage) => {
            eprintln!("doctor: {usage}");
            std::process::exit(2);
        }
    }
}
