//! The twin server: shared state, the HTTP listener, and the handler processes it runs.
//!
//! [`Twin`] is the piece tests use directly when they need only the AWS APIs (no moto, no
//! handlers); [`crate::Stack`] wraps it with moto and the handler binaries. All mutable state sits
//! in [`Shared`] behind short-lived std mutexes — no lock is ever held across an `.await` — and the
//! simulation lock is also what orders a contact's stream (see `connect`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use serde_json::Value;
use tokio::sync::{oneshot, watch};

use crate::config::TwinConfig;
use crate::connect::ConnectSim;
use crate::dlq::DeadLetterQueues;
use crate::error::{ApiError, Error};
use crate::eum::SentMessage;
use crate::faults::Faults;
use crate::lambda::{ChildRegistry, Function, FunctionName, ProcessSpec};
use crate::media::MediaState;
use crate::netio::{ConnHandle, KillableListener};
use crate::sns::{Outcome, Sns};
use crate::sqs_source::WebhookQueue;

/// Largest request body the twin reads (Connect attachments may be up to 100 MB in AWS).
const MAX_BODY_BYTES: usize = 160 * 1024 * 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// State shared by the AWS API, the control API and the delivery machinery.
pub(crate) struct Shared {
    pub cfg: TwinConfig,
    sim: Mutex<ConnectSim>,
    sent: Mutex<Vec<SentMessage>>,
    calls: Mutex<Vec<Value>>,
    faults: Mutex<Faults>,
    media: Mutex<MediaState>,
    webhooks: Mutex<crate::webhooks::Webhooks>,
    iam_callers: Mutex<crate::http_api::IamCallers>,
    /// Set once moto is up (`Twin::use_webhook_queue`).
    webhook_queue: Mutex<Option<Arc<WebhookQueue>>>,
    /// moto's URL, where CloudWatch calls go (`Twin::use_cloudwatch`).
    moto_url: std::sync::OnceLock<String>,
    pub sns: Arc<Sns>,
    pub registry: Arc<ChildRegistry>,
    pub shutdown: watch::Sender<bool>,
    /// `false` while configured handler processes have not yet polled the Runtime API: control
    /// calls wait for it (`control::hold_until_ready`), so a message sent as soon as the port
    /// answers is not delivered to a function that has no process yet.
    pub ready: watch::Sender<bool>,
    /// Start and end of every AWS call (`measure`).
    pub timings: crate::measure::CallTimings,
}

impl Shared {
    pub fn sim(&self) -> MutexGuard<'_, ConnectSim> {
        lock(&self.sim)
    }

    pub fn sent(&self) -> MutexGuard<'_, Vec<SentMessage>> {
        lock(&self.sent)
    }

    pub fn calls(&self) -> MutexGuard<'_, Vec<Value>> {
        lock(&self.calls)
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub fn media(&self) -> MutexGuard<'_, MediaState> {
        lock(&self.media)
    }

    pub(crate) fn webhooks(&self) -> MutexGuard<'_, crate::webhooks::Webhooks> {
        lock(&self.webhooks)
    }

    pub(crate) fn webhook_queue(&self) -> Option<Arc<WebhookQueue>> {
        lock(&self.webhook_queue).clone()
    }

    pub(crate) fn moto_url(&self) -> Option<&str> {
        self.moto_url.get().map(String::as_str)
    }

    pub(crate) fn iam_callers(&self) -> MutexGuard<'_, crate::http_api::IamCallers> {
        lock(&self.iam_callers)
    }

    /// Runs a simulation transition and publishes what it streamed before releasing the lock,
    /// so concurrent calls cannot interleave a contact's stream out of transcript order.
    pub fn with_sim<T>(&self, f: impl FnOnce(&mut ConnectSim) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let mut sim = self.sim();
        let result = f(&mut sim);
        self.publish_stream(&mut sim);
        result
    }

    /// Publishes the simulation's pending stream items; one receiver per item.
    pub fn publish_stream(&self, sim: &mut ConnectSim) -> Vec<oneshot::Receiver<Outcome>> {
        sim.take_stream()
            .into_iter()
            .map(|e| {
                self.sns
                    .publish(&e.topic_arn, &e.message, &e.attributes, Some(&e.contact_id))
            })
            .collect()
    }

    /// Forgets contacts, sends, calls, faults, DLQ, logs, SNS options and the webhook queue's batches
    /// (not its messages).
    pub fn reset(&self) {
        self.sim().reset();
        self.sent().clear();
        self.calls().clear();
        *self.faults() = Faults::default();
        self.media().reset();
        self.sns.reset();
        self.timings.clear();
        for f in FunctionName::ALL {
            self.sns.function(f).clear_logs();
            self.sns.function(f).timeline.clear_invocations();
        }
        if let Some(queue) = self.webhook_queue() {
            queue.clear_batches();
        }
    }
}

/// Options of the twin server itself.
#[derive(Debug, Clone)]
pub struct TwinOptions {
    /// TCP port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Echo handler output to the twin's stderr (prefixed with the function name).
    pub echo_logs: bool,
}

impl TwinOptions {
    /// On a free port, without echoing handler output: what tests start.
    pub fn quiet() -> Self {
        Self {
            port: 0,
            echo_logs: false,
        }
    }
}

impl Default for TwinOptions {
    fn default() -> Self {
        Self {
            port: 0,
            echo_logs: true,
        }
    }
}

/// Which handler binaries to run and how.
#[derive(Debug, Clone, Default)]
pub struct HandlerOptions {
    pub whatsapp_handler: Option<PathBuf>,
    pub connect_handler: Option<PathBuf>,
    /// Processes per function (at least 1).
    pub concurrency: usize,
    /// Complete environment of the processes (see [`Twin::handler_env`]).
    pub env: Vec<(String, String)>,
}

/// A running twin server.
pub struct Twin {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl Twin {
    /// Binds `127.0.0.1:<port>` and serves the AWS and control APIs.
    pub async fn start(cfg: TwinConfig, opts: TwinOptions) -> Result<Twin, Error> {
        Self::launch(cfg, opts, true).await
    }

    /// [`Twin::start`]; with `ready: false` control calls wait until [`Twin::start_handlers`] has
    /// started every process and each has polled the Runtime API (the stack starts moto in between).
    pub(crate) async fn launch(cfg: TwinConfig, opts: TwinOptions, ready: bool) -> Result<Twin, Error> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", opts.port)).await?;
        let addr = listener.local_addr()?;
        let functions = FunctionName::ALL.map(|name| {
            Function::new(
                name,
                cfg.function_arn(name.as_str()),
                cfg.function_timeout(name),
                opts.echo_logs,
            )
        });
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            sim: Mutex::new(ConnectSim::new(cfg.clone())),
            sent: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
            faults: Mutex::new(Faults::default()),
            media: Mutex::new(MediaState::default()),
            webhooks: Mutex::default(),
            iam_callers: Mutex::default(),
            webhook_queue: Mutex::default(),
            moto_url: std::sync::OnceLock::new(),
            sns: Sns::new(cfg.clone(), functions),
            registry: Arc::new(ChildRegistry::default()),
            shutdown,
            ready: watch::channel(ready).0,
            timings: Default::default(),
            cfg,
        });
        let app = Router::new()
            .nest(
                "/_twin",
                crate::control::router()
                    .merge(crate::measure::router())
                    .merge(crate::webhooks::router())
                    .merge(crate::http_api::router())
                    .merge(crate::sqs_source::router())
                    .layer(axum::middleware::from_fn_with_state(
                        shared.clone(),
                        crate::control::hold_until_ready,
                    )),
            )
            .merge(crate::cloudwatch::router())
            .fallback(crate::aws::entry)
            // A 16 MB WhatsApp video arrives base64-encoded in a control call and leaves as a
            // 16 MB attachment upload: far above axum's 2 MB default.
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                crate::measure::time_calls,
            ))
            .with_state(shared.clone());
        let mut stop = shared.shutdown.subscribe();
        tokio::spawn(async move {
            let served = axum::serve(
                KillableListener(listener),
                app.into_make_service_with_connect_info::<ConnHandle>(),
            )
            .with_graceful_shutdown(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
            if let Err(e) = served {
                tracing::error!("twin server stopped: {e}");
            }
        });
        tracing::info!("local-aws twin listening on http://{addr}");
        Ok(Twin { shared, addr })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port>` — the endpoint URL for the Connect, Connect Participant and
    /// Social Messaging clients.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn config(&self) -> &TwinConfig {
        &self.shared.cfg
    }

    /// The environment Lambda would give the handlers, pointing every AWS client at the twin
    /// (and DynamoDB/S3 at moto), plus `extra` and the twin's own `BRIDGE_*`, `LOG_*`,
    /// `RUST_LOG*` variables.
    pub fn handler_env(
        &self,
        moto_url: Option<&str>,
        state_table_name: &str,
        media_bucket_name: &str,
        extra: &[(String, String)],
    ) -> Vec<(String, String)> {
        let cfg = &self.shared.cfg;
        let url = self.url();
        let mut env: Vec<(String, String)> = Vec::new();
        let mut set = |k: &str, v: &str| env.push((k.to_owned(), v.to_owned()));
        for k in ["PATH", "HOME", "TZ", "LANG", "TMPDIR"] {
            if let Ok(v) = std::env::var(k) {
                set(k, &v);
            }
        }
        set("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST");
        set("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256");
        set("AWS_REGION", &cfg.region);
        set("AWS_DEFAULT_REGION", &cfg.region);
        set("AWS_ACCESS_KEY_ID", "test");
        set("AWS_SECRET_ACCESS_KEY", "test");
        set("AWS_EC2_METADATA_DISABLED", "true");
        set("AWS_ENDPOINT_URL_CONNECT", &url);
        set("AWS_ENDPOINT_URL_CONNECTPARTICIPANT", &url);
        set("AWS_ENDPOINT_URL_SOCIALMESSAGING", &url);
        set("AWS_ENDPOINT_URL_TRANSCRIBE_STREAMING", &url);
        if let Some(moto) = moto_url {
            set("AWS_ENDPOINT_URL_DYNAMODB", moto);
            set("AWS_ENDPOINT_URL_S3", moto);
            set("AWS_ENDPOINT_URL_SQS", moto);
        }
        if let Some(queue) = self.shared.webhook_queue() {
            set("WEBHOOK_QUEUE_URL", queue.url());
            set("WEBHOOK_DEAD_LETTER_QUEUE_URL", queue.dlq_url());
        }
        set("CONNECT_INSTANCE_ID", &cfg.instance_id);
        set("CONNECT_CONTACT_FLOW_ID", &cfg.contact_flow_id);
        set("CONNECT_STREAM_TOPIC_ARN", &cfg.connect_stream_topic_arn);
        set("HANDOFF_STREAM_TOPIC_ARN", &cfg.handoff_stream_topic_arn);
        // The e2e bots serve their files from moto or a test server, over plain http on loopback.
        set("HANDOFF_LOOPBACK_FILE_URLS", "true");
        set("STATE_TABLE_NAME", state_table_name);
        set("MEDIA_BUCKET_NAME", media_bucket_name);
        let ids: Vec<&str> = cfg
            .business_numbers
            .iter()
            .map(|n| n.meta_phone_number_id.as_str())
            .collect();
        set("WHATSAPP_PHONE_NUMBER_IDS", &ids.join(","));
        set("CHAT_DURATION_MINUTES", "1440");
        set("CUSTOMER_HASH_KEY", &uuid::Uuid::new_v4().simple().to_string());
        for (k, v) in std::env::vars() {
            let pass = k.starts_with("BRIDGE_")
                || k.starts_with("LOG_")
                || k.starts_with("RUST_LOG")
                || k == "RUST_BACKTRACE"
                || k == "AWS_LAMBDA_LOG_FORMAT"
                || k == "AWS_LAMBDA_LOG_LEVEL";
            if pass {
                set(&k, &v);
            }
        }
        for (k, v) in extra {
            set(k, v);
        }
        // Later entries win when a variable is set twice (extra over defaults).
        let mut seen = std::collections::HashSet::new();
        let mut out: Vec<(String, String)> = env.into_iter().rev().filter(|(k, _)| seen.insert(k.clone())).collect();
        out.reverse();
        out
    }

    /// Starts `concurrency` processes of `binary` as `name` (one Runtime API listener each), with
    /// `env` (see [`Twin::handler_env`]) plus the function's name and log group. The HTTP API's
    /// functions are started this way; [`Twin::start_handlers`] starts the SNS-fed ones.
    pub async fn start_function(
        &self,
        name: FunctionName,
        binary: &Path,
        concurrency: usize,
        env: &[(String, String)],
    ) -> Result<(), Error> {
        if !binary.is_file() {
            return Err(Error::Handler(format!(
                "{name}: {} does not exist (build it with `cargo build -p {}`)",
                binary.display(),
                binary.file_name().and_then(|s| s.to_str()).unwrap_or("?")
            )));
        }
        let mut env = env.to_vec();
        env.push(("AWS_LAMBDA_FUNCTION_NAME".into(), name.as_str().into()));
        env.push(("AWS_LAMBDA_LOG_GROUP_NAME".into(), format!("/aws/lambda/{name}")));
        self.shared
            .sns
            .function(name)
            .start_processes(
                ProcessSpec {
                    binary: binary.to_owned(),
                    concurrency: concurrency.max(1),
                    env,
                },
                self.shared.registry.clone(),
                self.shared.shutdown.subscribe(),
            )
            .await?;
        Ok(())
    }

    /// Starts the handler processes (one Runtime API listener each); control calls are held until
    /// every process started by then, these and [`Twin::start_function`]'s, has polled once.
    pub async fn start_handlers(&self, opts: HandlerOptions) -> Result<(), Error> {
        let pairs = [
            (FunctionName::WhatsappHandler, &opts.whatsapp_handler),
            (FunctionName::ConnectHandler, &opts.connect_handler),
        ];
        for (name, binary) in pairs {
            if let Some(binary) = binary {
                self.start_function(name, binary, opts.concurrency, &opts.env).await?;
            }
        }
        let shared = self.shared.clone();
        tokio::spawn(async move {
            for f in FunctionName::ALL {
                shared.sns.function(f).settled().await;
            }
            shared.ready.send_replace(true);
        });
        Ok(())
    }

    /// Waits until every handler process has polled the Runtime API once (or exited trying); `false`
    /// if `timeout` passed first.
    pub async fn wait_ready(&self, timeout: Duration) -> bool {
        let mut ready = self.shared.ready.subscribe();
        tokio::time::timeout(timeout, ready.wait_for(|r| *r)).await.is_ok()
    }

    /// Runtime API addresses of a function's processes.
    pub fn runtime_addresses(&self, function: FunctionName) -> Vec<String> {
        self.shared.sns.function(function).runtime_addresses()
    }

    /// Captured output lines of a function's processes.
    pub fn logs(&self, function: FunctionName) -> Vec<String> {
        self.shared.sns.function(function).logs()
    }

    /// Waits until no invocation is queued, running, held back or waiting for a retry.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        self.shared.sns.tracker.wait_idle(timeout).await
    }

    /// Creates the functions' dead-letter queues at `sqs_endpoint` (moto) and sends every event
    /// that exhausts its retries there too, as Lambda's on-failure destination record.
    pub async fn use_dead_letter_queues(&self, sqs_endpoint: &str) -> Result<(), Error> {
        let queues = DeadLetterQueues::create(sqs_endpoint, &self.shared.cfg.region).await?;
        self.shared.sns.set_dead_letter_queues(queues);
        Ok(())
    }

    /// Creates the webhook queue and its dead-letter queue at `sqs_endpoint` (moto); call it before
    /// [`Twin::handler_env`], which then names them.
    pub async fn use_webhook_queue(&self, sqs_endpoint: &str) -> Result<(), Error> {
        let queue = WebhookQueue::create(sqs_endpoint, &self.shared.cfg).await?;
        *lock(&self.shared.webhook_queue) = Some(Arc::new(queue));
        Ok(())
    }

    /// URLs of the webhook queue and of its dead-letter queue (`None` until
    /// [`Twin::use_webhook_queue`]).
    pub fn webhook_queue_url(&self) -> Option<String> {
        self.shared.webhook_queue().map(|q| q.url().to_owned())
    }

    pub fn webhook_dead_letter_queue_url(&self) -> Option<String> {
        self.shared.webhook_queue().map(|q| q.dlq_url().to_owned())
    }

    /// Pauses or resumes the webhook queue's event source mapping (its `Enabled`); `false` if the
    /// twin has no webhook queue.
    pub fn set_webhook_mapping_enabled(&self, enabled: bool) -> bool {
        self.shared.webhook_queue().map(|q| q.set_enabled(enabled)).is_some()
    }

    /// The batches the event source mapping handed WebhookSender, oldest first (see `sqs_source`).
    pub fn webhook_batches(&self) -> Vec<Value> {
        self.shared.webhook_queue().map(|q| q.batches()).unwrap_or_default()
    }

    /// Starts WebhookSender's processes and the event source mapping that feeds it the webhook
    /// queue: one poller per process. Refused, as Lambda refuses the mapping, when the function's
    /// timeout exceeds the queue's visibility timeout; without a queue the function only runs.
    pub async fn start_webhook_sender(
        &self,
        binary: &Path,
        concurrency: usize,
        env: &[(String, String)],
    ) -> Result<(), Error> {
        let cfg = &self.shared.cfg;
        if cfg.webhook_sender_timeout > cfg.webhook_queue_visibility_timeout {
            return Err(Error::Setup {
                what: format!("event source mapping of {}", crate::sqs_source::QUEUE_NAME),
                message: format!(
                    "the queue's visibility timeout ({:?}) is less than WebhookSender's timeout ({:?})",
                    cfg.webhook_queue_visibility_timeout, cfg.webhook_sender_timeout
                ),
            });
        }
        let name = FunctionName::WebhookSender;
        self.start_function(name, binary, concurrency, env).await?;
        let Some(queue) = self.shared.webhook_queue() else {
            tracing::warn!("{name} started without a webhook queue (no moto): nothing will invoke it");
            return Ok(());
        };
        for _ in 0..concurrency.max(1) {
            tokio::spawn(crate::sqs_source::poll(
                queue.clone(),
                self.shared.sns.function(name).clone(),
                self.shared.sns.tracker.clone(),
                self.shared.shutdown.subscribe(),
            ));
        }
        Ok(())
    }

    /// Deletes the items of moto's `table` once their TTL has passed, as DynamoDB may ([`crate::ttl`]).
    pub fn expire_items(&self, moto_url: &str, table: &str) {
        let client = crate::provision::dynamodb(moto_url, &self.shared.cfg.region);
        tokio::spawn(crate::ttl::expire(
            client,
            table.to_owned(),
            crate::provision::TTL_ATTRIBUTE.to_owned(),
            self.shared.shutdown.subscribe(),
        ));
    }

    /// Where `GetWhatsAppMessageMedia` writes and `PostWhatsAppMessageMedia` reads (moto's S3).
    pub fn use_s3(&self, s3_endpoint: &str) {
        self.shared.media().set_s3_endpoint(s3_endpoint);
    }

    /// Keeps CloudWatch's metrics in moto: the twin answers CloudWatch's RPC v2 CBOR by asking moto
    /// in JSON ([`crate::cloudwatch`]). The first URL given stays.
    pub fn use_cloudwatch(&self, moto_url: &str) {
        let _ = self.shared.moto_url.set(moto_url.trim_end_matches('/').to_owned());
    }

    /// Serves moto through the twin: DynamoDB and S3 calls are logged and timed like the twin's
    /// own and get the twin's added latency. Returns the URL to give the handlers instead of moto's.
    pub async fn proxy_moto(&self, moto_url: &str) -> Result<String, Error> {
        crate::moto_proxy::start(self.shared.clone(), moto_url).await
    }

    /// URL of a function's dead-letter queue (`None` until [`Twin::use_dead_letter_queues`]).
    pub fn dlq_url(&self, function: FunctionName) -> Option<String> {
        self.shared.sns.dead_letter_queue_url(function)
    }

    /// Registers an extra child process (moto) so it dies with the twin.
    pub(crate) fn registry(&self) -> Arc<ChildRegistry> {
        self.shared.registry.clone()
    }

    /// Stops serving and kills every child process. Also done on drop.
    pub fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        self.shared.registry.kill_all();
    }
}

impl Drop for Twin {
    fn drop(&mut self) {
        self.shutdown();
    }
}
