//! What the twin tests of `doctor` and `replay` share: SDK clients for the local stack and a run of
//! a built binary that sees the local stack and nothing of the developer's AWS configuration.

use std::path::Path;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sqs::config::{Credentials, SharedCredentialsProvider};

pub const REGION: &str = "us-east-1";

/// The configuration of an SDK client for `endpoint` (moto or the twin), which take any
/// credentials.
pub fn sdk_config(endpoint: &str) -> SdkConfig {
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .endpoint_url(endpoint)
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "test", "test", None, None, "test",
        )))
        .build()
}

/// Runs the built binary `exe` the way an operator would, `endpoints` its `AWS_ENDPOINT_URL_*`
/// variables; its exit code and stdout. The environment is cleared first so that a profile, a
/// Region or credentials of the developer's cannot send a call to real AWS.
pub async fn run_binary(exe: &str, args: &[&str], endpoints: &[(&str, &str)]) -> (i32, String) {
    let name = Path::new(exe).file_name().and_then(|n| n.to_str()).unwrap_or(exe);
    // Async, because the twin it talks to runs on this test's runtime.
    let out = tokio::process::Command::new(exe)
        .args(args)
        .env_clear()
        .envs(endpoints.iter().copied())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
        .output()
        .await
        .unwrap_or_else(|e| panic!("{name} runs: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{name} {args:?} stdout:\n{stdout}{name} stderr:\n{stderr}");
    (out.status.code().unwrap_or(-1), stdout)
}
