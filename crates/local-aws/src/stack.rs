//! The whole offline stack: moto (DynamoDB + S3), the twin, and the handler processes.
//!
//! `Stack::start` does in one call what the end-to-end tests, the demo and the `local-aws` binary
//! all need: start (or reuse) moto, create the bridge's table, bucket, topics, dead-letter queues
//! and webhook queue, start the twin, spawn the handlers with Lambda's environment. Resources are created
//! with the settings the CloudFormation template gives them (`provision`), so what the bridge and
//! `ops doctor` find matches a deployment. Dropping the `Stack` kills every child process.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::AsyncReadExt;

use crate::config::TwinConfig;
use crate::error::Error;
use crate::lambda::{FunctionName, isolate};
use crate::provision;
use crate::twin::{HandlerOptions, Twin, TwinOptions};

/// The workspace root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

/// `target/debug` of the workspace (honours `CARGO_TARGET_DIR`).
pub fn debug_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"))
        .join("debug")
}

/// Everything `Stack::start` needs; `StackOptions::default()` runs the whole stack with the
/// debug builds of the handlers (and of the Handoff API's functions, when they are built).
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Simulated services' configuration.
    pub twin: TwinConfig,
    /// Twin port on 127.0.0.1; 0 = pick a free one.
    pub port: u16,
    /// Reuse a running moto server instead of starting one.
    pub moto_url: Option<String>,
    /// moto launcher (default `<repo>/scripts/moto-server`, moto from the venv without its dashboard's leak).
    pub moto_bin: PathBuf,
    /// Skip moto entirely (no DynamoDB/S3; the handlers get no endpoints for them).
    pub no_moto: bool,
    /// WhatsappHandler binary; `None` = no process (events to it are not delivered).
    pub whatsapp_handler: Option<PathBuf>,
    /// ConnectHandler binary; `None` = no process.
    pub connect_handler: Option<PathBuf>,
    /// HandoffApi and HandoffAuthorizer binaries, behind the HTTP API (`http_api`); `None`, or a
    /// binary not built, = no process (requests to the API are then answered 500, as API Gateway
    /// answers when it cannot invoke a function).
    pub handoff_api: Option<PathBuf>,
    pub handoff_authorizer: Option<PathBuf>,
    /// WebhookSender binary, fed by the webhook queue through an SQS event source mapping
    /// (`sqs_source`); `None`, or a binary not built, = no process (messages stay in the queue).
    pub webhook_sender: Option<PathBuf>,
    /// Processes per function.
    pub concurrency: usize,
    pub state_table_name: String,
    pub media_bucket_name: String,
    /// Extra environment for both handlers (wins over the defaults).
    pub extra_env: Vec<(String, String)>,
    /// Echo handler output to stderr.
    pub echo_logs: bool,
    /// Send the handlers' DynamoDB and S3 requests through the twin, which logs, times and delays
    /// them like its own (`Twin::proxy_moto`; the benchmark needs it).
    pub proxy_moto: bool,
}

impl Default for StackOptions {
    fn default() -> Self {
        let debug = debug_dir();
        Self {
            twin: TwinConfig::default(),
            port: 0,
            moto_url: None,
            moto_bin: repo_root().join("scripts/moto-server"),
            no_moto: false,
            whatsapp_handler: Some(debug.join("whatsapp-handler")),
            connect_handler: Some(debug.join("connect-handler")),
            handoff_api: Some(debug.join("handoff-api")),
            handoff_authorizer: Some(debug.join("handoff-authorizer")),
            webhook_sender: Some(debug.join("webhook-sender")),
            concurrency: 1,
            state_table_name: "whatsapp-bridge-state".into(),
            media_bucket_name: "whatsapp-bridge-media".into(),
            extra_env: Vec::new(),
            echo_logs: true,
            proxy_moto: false,
        }
    }
}

impl StackOptions {
    /// The whole stack keeping AWS's proportions of time, `factor` times faster
    /// ([`TwinConfig::with_aws_time_scale`]): with 30, WhatsappHandler times out after 10 s,
    /// ConnectHandler after 1 s, and a failed event is retried after 2 s and 4 s more.
    pub fn aws_proportions(factor: u32) -> Self {
        let defaults = Self::default();
        Self {
            twin: defaults.twin.clone().with_aws_time_scale(factor),
            ..defaults
        }
    }

    /// Only the APIs: no handler processes.
    pub fn without_handlers(mut self) -> Self {
        self.whatsapp_handler = None;
        self.connect_handler = None;
        self.handoff_api = None;
        self.handoff_authorizer = None;
        self.webhook_sender = None;
        self
    }
}

/// A running stack. Dropping it kills moto (if started here) and the handlers.
pub struct Stack {
    twin: Twin,
    moto_url: Option<String>,
    moto: Option<tokio::process::Child>,
}

impl Stack {
    pub async fn start(opts: StackOptions) -> Result<Stack, Error> {
        // Control calls wait until the handlers are up: moto starts in between, and `make up`'s
        // user may send a message as soon as the port answers.
        let twin = Twin::launch(
            opts.twin.clone(),
            TwinOptions {
                port: opts.port,
                echo_logs: opts.echo_logs,
            },
            false,
        )
        .await?;
        let (moto_url, moto) = if opts.no_moto {
            (None, None)
        } else if let Some(url) = &opts.moto_url {
            wait_for_http(url, Duration::from_secs(30), None).await?;
            (Some(url.trim_end_matches('/').to_owned()), None)
        } else {
            let (url, child) = start_moto(&opts.moto_bin, &twin).await?;
            (Some(url), Some(child))
        };
        let stack = Stack { twin, moto_url, moto };
        if let Some(url) = stack.moto_url.clone() {
            provision::state_table(&url, &opts.twin.region, &opts.state_table_name).await?;
            provision::media_bucket(&url, &opts.twin.region, &opts.media_bucket_name).await?;
            provision::topics(&url, &opts.twin).await?;
            stack.twin.use_dead_letter_queues(&url).await?;
            stack.twin.use_webhook_queue(&url).await?;
            stack.twin.use_s3(&url);
            stack.twin.use_cloudwatch(&url);
            stack.twin.expire_items(&url, &opts.state_table_name);
        }
        let handlers_moto = match stack.moto_url.clone() {
            Some(url) if opts.proxy_moto => Some(stack.twin.proxy_moto(&url).await?),
            other => other,
        };
        let env = stack.twin.handler_env(
            handlers_moto.as_deref(),
            &opts.state_table_name,
            &opts.media_bucket_name,
            &opts.extra_env,
        );
        let started = async {
            stack.start_http_api(&opts, &env).await?;
            stack.start_webhook_sender(&opts, &env).await?;
            stack
                .twin
                .start_handlers(HandlerOptions {
                    whatsapp_handler: opts.whatsapp_handler.clone(),
                    connect_handler: opts.connect_handler.clone(),
                    concurrency: opts.concurrency,
                    env,
                })
                .await
        }
        .await;
        if let Err(e) = started {
            stack.shutdown().await;
            return Err(e);
        }
        Ok(stack)
    }

    /// Starts the HTTP API's functions whose binaries are built: the Handoff API is newer than the
    /// handlers, and a stack for anything else must not need it built.
    async fn start_http_api(&self, opts: &StackOptions, env: &[(String, String)]) -> Result<(), Error> {
        let functions = [
            (FunctionName::HandoffApi, &opts.handoff_api),
            (FunctionName::HandoffAuthorizer, &opts.handoff_authorizer),
        ];
        for (name, binary) in functions {
            match binary {
                Some(binary) if binary.is_file() => {
                    self.twin.start_function(name, binary, opts.concurrency, env).await?;
                }
                Some(binary) => tracing::warn!("{name} not started: {} is not built", binary.display()),
                None => {}
            }
        }
        Ok(())
    }

    /// Starts WebhookSender and its queue's pollers if its binary is built: like the Handoff API, it
    /// is newer than the handlers, and a stack for anything else must not need it.
    async fn start_webhook_sender(&self, opts: &StackOptions, env: &[(String, String)]) -> Result<(), Error> {
        match &opts.webhook_sender {
            Some(binary) if binary.is_file() => self.twin.start_webhook_sender(binary, opts.concurrency, env).await,
            Some(binary) => {
                tracing::warn!(
                    "{} not started: {} is not built",
                    FunctionName::WebhookSender,
                    binary.display()
                );
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// URLs of the webhook queue and of its dead-letter queue in moto (`None` with `no_moto`).
    pub fn webhook_queue_url(&self) -> Option<String> {
        self.twin.webhook_queue_url()
    }

    pub fn webhook_dead_letter_queue_url(&self) -> Option<String> {
        self.twin.webhook_dead_letter_queue_url()
    }

    /// The twin's base URL (AWS endpoint and `/_twin` control API).
    pub fn url(&self) -> String {
        self.twin.url()
    }

    /// moto's base URL (`None` with `no_moto`).
    pub fn moto_url(&self) -> Option<&str> {
        self.moto_url.as_deref()
    }

    pub fn twin(&self) -> &Twin {
        &self.twin
    }

    /// URL of a function's dead-letter SQS queue in moto (`None` with `no_moto`).
    pub fn dlq_url(&self, function: FunctionName) -> Option<String> {
        self.twin.dlq_url(function)
    }

    /// Captured output of a function's processes.
    pub fn logs(&self, function: FunctionName) -> Vec<String> {
        self.twin.logs(function)
    }

    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        self.twin.wait_idle(timeout).await
    }

    /// Waits until every handler process has polled the Runtime API ([`Twin::wait_ready`]).
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        self.twin.wait_ready(timeout).await
    }

    /// Kills the handlers and moto and stops the server.
    pub async fn shutdown(mut self) {
        self.twin.shutdown();
        if let Some(mut moto) = self.moto.take() {
            let _ = moto.kill().await;
        }
    }
}

/// A free TCP port on 127.0.0.1 (released right away; moto binds it next).
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_moto(bin: &Path, twin: &Twin) -> Result<(String, tokio::process::Child), Error> {
    if !bin.exists() {
        return Err(Error::Moto(format!(
            "{} not found; run scripts/setup-venv.sh (or pass a moto URL)",
            bin.display()
        )));
    }
    let port = free_port()?;
    let mut cmd = tokio::process::Command::new(bin);
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    isolate(&mut cmd);
    let mut child = cmd
        .spawn()
        .map_err(|e| Error::Moto(format!("cannot start {}: {e}", bin.display())))?;
    if let Some(pid) = child.id() {
        twin.registry().add(pid);
    }
    let url = format!("http://127.0.0.1:{port}");
    if let Err(e) = wait_for_http(&url, Duration::from_secs(60), Some(&mut child)).await {
        let mut stderr = String::new();
        if let Some(mut err) = child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_millis(500), err.read_to_string(&mut stderr)).await;
        }
        let _ = child.kill().await;
        return Err(Error::Moto(format!("{e}; moto said: {}", stderr.trim())));
    }
    // moto logs every request to stderr; nobody reads it any more, so let it go to /dev/null
    // instead of filling a pipe that would eventually block moto.
    if let Some(err) = child.stderr.take() {
        tokio::spawn(async move {
            let mut err = err;
            let mut sink = tokio::io::sink();
            let _ = tokio::io::copy(&mut err, &mut sink).await;
        });
    }
    Ok((url, child))
}

/// Polls `url` until it answers HTTP at all (any status).
async fn wait_for_http(
    url: &str,
    timeout: Duration,
    mut child: Option<&mut tokio::process::Child>,
) -> Result<(), Error> {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + timeout;
    loop {
        if client
            .get(format!("{}/", url.trim_end_matches('/')))
            .timeout(Duration::from_secs(2))
            .send()
            .await
            .is_ok()
        {
            return Ok(());
        }
        if let Some(c) = child.as_deref_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            return Err(Error::Moto(format!("moto exited early ({status})")));
        }
        if Instant::now() > deadline {
            return Err(Error::Moto(format!("{url} did not answer within {timeout:?}")));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
