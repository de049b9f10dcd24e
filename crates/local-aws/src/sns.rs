//! Simulated SNS → Lambda delivery: envelopes, asynchronous-invocation retries, DLQ, chaos.
//!
//! Every publish becomes one SNS-shaped Lambda event delivered as an *asynchronous* invocation:
//! on error it is retried after `retry_delays` and finally dead-lettered, as Lambda does for SNS.
//! All attempts of one event share a request id, as in Lambda. A dead-lettered event goes to the
//! twin's list and, when moto is there, as an on-failure destination record to the function's SQS
//! queue (see `dlq`).
//! Items of one Connect contact are delivered in publish order through a per-contact worker
//! (real Connect streams in order); a failing item therefore holds back the items behind it until
//! its retries are over, which keeps the order strict and the behaviour deterministic. With
//! `concurrent` each item is its own asynchronous invocation started at once, none waiting for the
//! ones before it, as SNS → Lambda can deliver them: then they may run in parallel and finish in
//! any order.
//!
//! Chaos (`duplicate_rate`, `reorder_rate`) is decided at publish time from a seeded RNG: a
//! duplicate is a second delivery of the same SNS message (same `MessageId`) running concurrently,
//! or `duplicate_after_ms` later (a late redelivery from Lambda's queue; never at or past the
//! maximum event age, as Lambda would not deliver it then);
//! a reordered event is held back for `hold_ms` while later ones overtake it. All pending work is
//! counted by [`Tracker`] so `wait-idle` can tell when the system has settled.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

use crate::config::TwinConfig;
use crate::dlq::{DeadLetterQueues, destination_record};
use crate::lambda::{Function, FunctionError, FunctionName};
use crate::rng::XorShift;
use crate::time::{iso_millis, now_ms};

const MAX_PUBLISHED: usize = 20_000;
const DEFAULT_SEED: u64 = 42;
const DEFAULT_HOLD_MS: u64 = 250;
/// On-failure destination conditions (`requestContext.condition` of the record).
const RETRIES_EXHAUSTED: &str = "RetriesExhausted";
const EVENT_AGE_EXCEEDED: &str = "EventAgeExceeded";

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts outstanding work (queued, running, waiting for retry, held back).
#[derive(Debug)]
pub struct Tracker {
    count: watch::Sender<usize>,
}

impl Default for Tracker {
    fn default() -> Self {
        Self {
            count: watch::channel(0).0,
        }
    }
}

/// One unit of outstanding work; dropping it marks the work done.
#[derive(Debug)]
pub struct Busy(Arc<Tracker>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.count.send_modify(|n| *n = n.saturating_sub(1));
    }
}

impl Tracker {
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.count.send_modify(|n| *n += 1);
        Busy(self.clone())
    }

    pub fn outstanding(&self) -> usize {
        *self.count.borrow()
    }

    /// `true` once nothing is outstanding, `false` if `timeout` passed first.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let mut rx = self.count.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0)).await.is_ok()
    }
}

/// How a delivery went. `ok`/`error` describe the first attempt, which is what a caller
/// exercising the handler wants to see; `attempts` and `dead_lettered` tell the rest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outcome {
    pub ok: bool,
    pub error: Option<String>,
    pub attempts: u32,
    pub dead_lettered: bool,
}

impl Outcome {
    fn not_delivered(why: String) -> Self {
        Self {
            ok: false,
            error: Some(why),
            attempts: 0,
            dead_lettered: false,
        }
    }
}

/// Chaos settings (`POST /_twin/sns`).
#[derive(Debug, Clone)]
pub struct SnsOptions {
    /// Deliver a contact's items concurrently instead of one at a time in order.
    pub concurrent: bool,
    pub duplicate_rate: f64,
    /// How long after the original a duplicate is delivered (0: at the same time).
    pub duplicate_after_ms: u64,
    pub reorder_rate: f64,
    pub hold_ms: u64,
    pub seed: u64,
    rng: XorShift,
}

impl Default for SnsOptions {
    fn default() -> Self {
        Self {
            concurrent: false,
            duplicate_rate: 0.0,
            duplicate_after_ms: 0,
            reorder_rate: 0.0,
            hold_ms: DEFAULT_HOLD_MS,
            seed: DEFAULT_SEED,
            rng: XorShift::new(DEFAULT_SEED),
        }
    }
}

impl SnsOptions {
    pub fn new(
        concurrent: bool,
        (duplicate_rate, duplicate_after_ms): (f64, u64),
        reorder_rate: f64,
        hold_ms: u64,
        seed: u64,
    ) -> Self {
        Self {
            concurrent,
            duplicate_rate,
            duplicate_after_ms,
            reorder_rate,
            hold_ms,
            seed,
            rng: XorShift::new(seed),
        }
    }

    /// The defaults, with the delivery order `cfg` asks for.
    pub fn configured(cfg: &TwinConfig) -> Self {
        Self {
            concurrent: cfg.concurrent_stream,
            ..Self::default()
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "concurrent": self.concurrent,
            "duplicate_rate": self.duplicate_rate,
            "duplicate_after_ms": self.duplicate_after_ms,
            "reorder_rate": self.reorder_rate,
            "hold_ms": self.hold_ms,
            "seed": self.seed,
        })
    }
}

/// An event that exhausted its retries.
#[derive(Debug, Clone)]
pub struct DlqEntry {
    pub function: FunctionName,
    pub event: Value,
    pub error: String,
    pub attempts: u32,
    /// Request id of the asynchronous invocation (the same for all its attempts).
    pub request_id: String,
    /// Why Lambda gave up: `RetriesExhausted` or `EventAgeExceeded`.
    pub condition: &'static str,
}

impl DlqEntry {
    pub fn to_json(&self) -> Value {
        json!({
            "function": self.function.as_str(),
            "event": self.event,
            "error": self.error,
            "attempts": self.attempts,
            "request_id": self.request_id,
            "condition": self.condition,
        })
    }
}

struct Job {
    function: Arc<Function>,
    event: Value,
    /// Deliver a second copy this long after the original.
    duplicate: Option<Duration>,
    hold: Option<Duration>,
    /// When the event entered Lambda's queue (its age counts from here).
    queued: Instant,
    reply: oneshot::Sender<Outcome>,
    busy: Busy,
}

/// The SNS topics and their Lambda subscriptions. It also holds the functions SNS does not invoke
/// (the HTTP API's), so that every function is found by name in one place.
pub struct Sns {
    cfg: TwinConfig,
    functions: HashMap<FunctionName, Arc<Function>>,
    pub tracker: Arc<Tracker>,
    options: Mutex<SnsOptions>,
    dlq: Mutex<Vec<DlqEntry>>,
    /// Set once moto is up; `None` keeps dead letters in the list only.
    queues: Mutex<Option<DeadLetterQueues>>,
    published: Mutex<Vec<Value>>,
    ordered: Mutex<HashMap<String, mpsc::UnboundedSender<Job>>>,
    subscriptions: Mutex<HashMap<String, String>>,
}

impl Sns {
    /// `functions`: one of each [`FunctionName`].
    pub fn new(cfg: TwinConfig, functions: impl IntoIterator<Item = Arc<Function>>) -> Arc<Self> {
        let functions: HashMap<FunctionName, Arc<Function>> = functions.into_iter().map(|f| (f.name, f)).collect();
        assert!(
            FunctionName::ALL.iter().all(|f| functions.contains_key(f)),
            "Sns needs every function"
        );
        Arc::new(Self {
            options: Mutex::new(SnsOptions::configured(&cfg)),
            cfg,
            functions,
            tracker: Arc::new(Tracker::default()),
            dlq: Mutex::new(Vec::new()),
            queues: Mutex::new(None),
            published: Mutex::new(Vec::new()),
            ordered: Mutex::new(HashMap::new()),
            subscriptions: Mutex::new(HashMap::new()),
        })
    }

    pub fn function(&self, name: FunctionName) -> &Arc<Function> {
        &self.functions[&name]
    }

    pub fn set_options(&self, opts: SnsOptions) {
        *lock(&self.options) = opts;
    }

    pub fn options(&self) -> Value {
        lock(&self.options).to_json()
    }

    pub fn dlq(&self) -> Vec<DlqEntry> {
        lock(&self.dlq).clone()
    }

    pub fn clear_dlq(&self) {
        lock(&self.dlq).clear();
    }

    /// From now on dead letters also go to these SQS queues.
    pub fn set_dead_letter_queues(&self, queues: DeadLetterQueues) {
        *lock(&self.queues) = Some(queues);
    }

    /// URL of a function's dead-letter queue, if the twin has queues.
    pub fn dead_letter_queue_url(&self, function: FunctionName) -> Option<String> {
        lock(&self.queues).as_ref()?.url(function).map(str::to_owned)
    }

    pub fn published(&self) -> Vec<Value> {
        lock(&self.published).clone()
    }

    /// Forgets options, DLQ, published log and ordering workers (in-flight work finishes).
    pub fn reset(&self) {
        *lock(&self.options) = SnsOptions::configured(&self.cfg);
        lock(&self.dlq).clear();
        lock(&self.published).clear();
        lock(&self.ordered).clear();
    }

    fn subscriber(&self, topic: &str) -> Option<&Arc<Function>> {
        if topic == self.cfg.eum_topic_arn {
            Some(self.function(FunctionName::WhatsappHandler))
        } else if topic == self.cfg.connect_stream_topic_arn || topic == self.cfg.handoff_stream_topic_arn {
            Some(self.function(FunctionName::ConnectHandler))
        } else {
            None
        }
    }

    /// The Lambda event SNS builds for one message.
    pub fn envelope(&self, topic: &str, message: &str, attributes: &Value) -> Value {
        let sub_id = lock(&self.subscriptions)
            .entry(topic.to_owned())
            .or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        let subscription = format!("{topic}:{sub_id}");
        let signature = format!(
            "EXAMPLE{}{}{}==",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        json!({
            "Records": [ {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": uuid::Uuid::new_v4().to_string(),
                    "TopicArn": topic,
                    "Subject": null,
                    "Message": message,
                    "Timestamp": iso_millis(now_ms()),
                    "SignatureVersion": "1",
                    "Signature": signature,
                    "SigningCertUrl": format!(
                        "https://sns.{}.amazonaws.com/SimpleNotificationService-9c6465fa7f48f5cacd23014631ec1136.pem",
                        self.cfg.region
                    ),
                    "UnsubscribeUrl": format!(
                        "https://sns.{}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}",
                        self.cfg.region
                    ),
                    "MessageAttributes": attributes,
                }
            } ]
        })
    }

    /// Publishes one message; the receiver yields the delivery outcome. Messages with the same
    /// `order_key` are delivered in publish order (unless chosen for reordering).
    pub fn publish(
        self: &Arc<Self>,
        topic: &str,
        message: &str,
        attributes: &Value,
        order_key: Option<&str>,
    ) -> oneshot::Receiver<Outcome> {
        let (reply, rx) = oneshot::channel();
        let event = self.envelope(topic, message, attributes);
        let subscriber = self.subscriber(topic).cloned();
        {
            let mut published = lock(&self.published);
            if published.len() >= MAX_PUBLISHED {
                published.drain(..MAX_PUBLISHED / 10);
            }
            published.push(json!({
                "topic_arn": topic,
                "subscriber": subscriber.as_ref().map(|f| f.name.as_str()),
                "message_id": event["Records"][0]["Sns"]["MessageId"],
                "message": serde_json::from_str::<Value>(message).unwrap_or_else(|_| json!(message)),
                "attributes": attributes,
                "time": iso_millis(now_ms()),
            }));
        }
        let Some(function) = subscriber else {
            let _ = reply.send(Outcome::not_delivered(format!("no Lambda subscribed to topic {topic}")));
            return rx;
        };
        if !function.has_processes() {
            let _ = reply.send(Outcome::not_delivered(format!(
                "{} has no handler process (the twin was started without handlers)",
                function.name
            )));
            return rx;
        }
        let (duplicate, hold, concurrent) = {
            let mut o = lock(&self.options);
            let (dup_rate, reorder_rate, hold_ms) = (o.duplicate_rate, o.reorder_rate, o.hold_ms);
            let duplicate = o
                .rng
                .chance(dup_rate)
                .then(|| Duration::from_millis(o.duplicate_after_ms));
            let reorder = o.rng.chance(reorder_rate);
            (duplicate, reorder.then(|| Duration::from_millis(hold_ms)), o.concurrent)
        };
        let job = Job {
            function,
            event,
            duplicate,
            hold,
            queued: Instant::now(),
            reply,
            busy: self.tracker.begin(),
        };
        match order_key.filter(|_| !concurrent) {
            None => {
                tokio::spawn(self.clone().run_job(job));
            }
            Some(key) => {
                let mut ordered = lock(&self.ordered);
                let tx = ordered
                    .entry(key.to_owned())
                    .or_insert_with(|| self.clone().spawn_worker());
                if let Err(mpsc::error::SendError(job)) = tx.send(job) {
                    // The worker went away (reset raced with us): deliver unordered.
                    ordered.remove(key);
                    tokio::spawn(self.clone().run_job(job));
                }
            }
        }
        rx
    }

    fn spawn_worker(self: Arc<Self>) -> mpsc::UnboundedSender<Job> {
        let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(job) = rx.recv().await {
                if job.hold.is_some() {
                    tokio::spawn(self.clone().run_job(job));
                } else {
                    self.clone().run_job(job).await;
                }
            }
        });
        tx
    }

    async fn run_job(self: Arc<Self>, job: Job) {
        if let Some(after) = job
            .duplicate
            .filter(|after| *after < self.cfg.maximum_event_age(job.function.name))
        {
            let busy = self.tracker.begin();
            let sns = self.clone();
            let function = job.function.clone();
            let event = job.event.clone();
            let job_queued = job.queued;
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                sns.deliver(&function, &event, job_queued).await;
                drop(busy);
            });
        }
        if let Some(hold) = job.hold {
            tokio::time::sleep(hold).await;
        }
        let outcome = self.deliver(&job.function, &job.event, job.queued).await;
        let _ = job.reply.send(outcome);
        drop(job.busy);
    }

    /// One asynchronous invocation with Lambda's retry policy and dead-lettering. `queued` is when
    /// the event entered Lambda's queue: its age is counted from then, and an event older than the
    /// maximum age is not tried again but goes to the on-failure destination, as Lambda does.
    async fn deliver(&self, function: &Function, event: &Value, queued: Instant) -> Outcome {
        let request_id = uuid::Uuid::new_v4().to_string();
        let expires = queued + self.cfg.maximum_event_age(function.name);
        let mut attempts = 0u32;
        let mut first: Option<Result<(), String>> = None;
        let mut last: Option<FunctionError> = None;
        let condition = loop {
            if Instant::now() >= expires {
                break EVENT_AGE_EXCEEDED;
            }
            attempts += 1;
            let attempt = function.invoke_as(&request_id, event).await;
            let result = attempt.as_ref().map(|_| ()).map_err(|e| e.to_string());
            let first = first.get_or_insert_with(|| result.clone()).clone();
            let error = match attempt {
                Ok(_) => {
                    return Outcome {
                        ok: first.is_ok(),
                        error: first.err(),
                        attempts,
                        dead_lettered: false,
                    };
                }
                Err(e) => e,
            };
            let retry = self.cfg.retry_delays.get(attempts as usize - 1).copied();
            last = Some(error);
            let Some(delay) = retry else {
                break RETRIES_EXHAUSTED;
            };
            tracing::debug!("{} failed; retrying in {delay:?}", function.name);
            // An event that ages out while it waits is discarded when it does, not at the retry.
            tokio::time::sleep_until((Instant::now() + delay).min(expires)).await;
        };
        let error = last.unwrap_or_else(|| {
            FunctionError::new(
                EVENT_AGE_EXCEEDED,
                format!(
                    "the event was older than {:?} before it could run",
                    self.cfg.maximum_event_age(function.name)
                ),
            )
        });
        lock(&self.dlq).push(DlqEntry {
            function: function.name,
            event: event.clone(),
            error: error.to_string(),
            attempts,
            request_id: request_id.clone(),
            condition,
        });
        self.send_to_queue(function, &request_id, attempts, condition, event, &error)
            .await;
        Outcome {
            ok: false,
            error: first.and_then(Result::err).or_else(|| Some(error.to_string())),
            attempts,
            dead_lettered: true,
        }
    }

    /// Sends the on-failure destination record to the function's SQS queue. Done before the
    /// delivery counts as over, so a caller told `dead_lettered: true` finds the message there.
    async fn send_to_queue(
        &self,
        function: &Function,
        request_id: &str,
        attempts: u32,
        condition: &str,
        event: &Value,
        error: &FunctionError,
    ) {
        let Some(queues) = lock(&self.queues).clone() else {
            return;
        };
        let record = destination_record(function.arn(), request_id, attempts, condition, event, error, now_ms());
        if let Err(e) = queues.send(function.name, &record).await {
            // The list still holds the event, so nothing is lost; only the queue lacks it.
            tracing::warn!("could not send the dead letter of {} to SQS: {e}", function.name);
        }
    }

    /// Re-invokes every DLQ entry once; entries that fail again stay in the DLQ.
    pub async fn replay_dlq(&self) -> Vec<Value> {
        let entries: Vec<DlqEntry> = std::mem::take(&mut *lock(&self.dlq));
        let _busy = self.tracker.begin();
        let mut results = Vec::new();
        for mut entry in entries {
            let result = self.function(entry.function).invoke(&entry.event).await;
            results.push(json!({
                "function": entry.function.as_str(),
                "ok": result.is_ok(),
                "error": result.as_ref().err(),
            }));
            if let Err(e) = result {
                entry.error = e;
                entry.attempts += 1;
                lock(&self.dlq).push(entry);
            }
        }
        results
    }
}
