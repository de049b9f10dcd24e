//! The reproducible workload: one customer with an open chat and a joined agent, and the six kinds of
//! event the issue names, each driven through the twin's control API one at a time (the stack idle
//! before and after), then read back from the twin's measurement endpoints: the invocation the event
//! caused, its Runtime API times and the AWS calls tied to it.

use base64::Engine;
use e2e::Twin;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

use crate::stats::{Span, covered, sequential_chain};

/// The customer whose chat stays open for the whole run.
pub const CUSTOMER: &str = "14255550100";
const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";
/// Decimal megabytes, as WhatsApp's and the bridge's limits count them.
pub const MB: usize = 1_000_000;

/// The kinds of event measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    InboundText,
    InboundTextNewChat,
    AgentText,
    AgentInteractive,
    InboundImage,
    VoiceNote,
}

impl Case {
    pub const ALL: [Case; 6] = [
        Case::InboundText,
        Case::InboundTextNewChat,
        Case::AgentText,
        Case::AgentInteractive,
        Case::InboundImage,
        Case::VoiceNote,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Case::InboundText => "inbound_text",
            Case::InboundTextNewChat => "inbound_text_new_chat",
            Case::AgentText => "agent_text",
            Case::AgentInteractive => "agent_interactive",
            Case::InboundImage => "inbound_image_1mb",
            Case::VoiceNote => "voice_note",
        }
    }

    pub fn function(self) -> &'static str {
        match self {
            Case::AgentText | Case::AgentInteractive => "ConnectHandler",
            _ => "WhatsappHandler",
        }
    }

    /// The call whose answer puts the message where it is going: into the chat (the customer's text),
    /// the file into the chat (media), or on WhatsApp (the agent's).
    pub fn delivering_call(self) -> &'static str {
        match self {
            Case::InboundText => "connectparticipant.SendMessage",
            // The text is the chat's InitialMessage.
            Case::InboundTextNewChat => "connect.StartChatContact",
            Case::AgentText | Case::AgentInteractive => "socialmessaging.SendWhatsAppMessage",
            Case::InboundImage | Case::VoiceNote => "connectparticipant.CompleteAttachmentUpload",
        }
    }

    /// Of [`Case::dependent_rounds`], those up to and including the delivering call's.
    pub fn delivery_rounds(self) -> u32 {
        match self {
            // The completing write and the transcript come after.
            Case::InboundImage => 4,
            Case::VoiceNote => 5,
            // The done mark after the send is not on the message's way.
            Case::AgentText | Case::InboundText => 2,
            Case::AgentInteractive => 3,
            Case::InboundTextNewChat => 3,
        }
    }

    pub fn is_media(self) -> bool {
        matches!(self, Case::InboundImage | Case::VoiceNote)
    }

    /// Rounds of AWS calls the data dependencies force, whatever the code: a call that needs another's
    /// answer (or must be ordered after it) waits for it; everything else could run alongside.
    pub fn dependent_rounds(self) -> u32 {
        match self {
            // claim ∥ conversation read → SendMessage → done mark (after the send, so that the next
            // message, on whichever instance, need not wait for the fast hold to lapse).
            Case::InboundText => 3,
            // claim ∥ read (the registration, which takes the start lock) → the conversation read again
            // (an earlier message of a burst may have registered since; it goes first) →
            // StartChatContact (streaming from the start, the text its InitialMessage) → contact mapping
            // ∥ CreateParticipantConnection → conversation active → done mark.
            Case::InboundTextNewChat => 6,
            // claim that reads the contact mapping → SendWhatsAppMessage → claim done (WhatsApp has no
            // idempotency key: only after the send may a redelivery find the item done).
            Case::AgentText => 3,
            // As the text, with the menu stored on the conversation before the send.
            Case::AgentInteractive => 4,
            // claim ∥ read ∥ media copy to S3 → description SendMessage ∥ S3 GetObject ∥
            // StartAttachmentUpload → upload → CompleteAttachmentUpload.
            Case::InboundImage => 4,
            // As the image, with the transcription alongside the upload, then the transcript into the
            // chat ∥ its echo to the customer: claim ∥ read ∥ copy → description ∥ GetObject →
            // StartAttachmentUpload ∥ transcription → upload → complete → transcript ∥ echo.
            Case::VoiceNote => 6,
        }
    }
}

/// One AWS call as `/_twin/invocations` reports it.
#[derive(Debug, Clone, Deserialize)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub status: u16,
    pub start_us: u64,
    pub end_us: u64,
    /// Started after the handler had answered (work left running past the response).
    pub detached: bool,
}

impl Call {
    /// `service.Operation`, with the HTTP status when the call failed.
    pub fn label(&self) -> String {
        if self.status >= 400 {
            format!("{}.{} ({})", self.service, self.operation, self.status)
        } else {
            format!("{}.{}", self.service, self.operation)
        }
    }

    fn span(&self) -> Span {
        Span {
            start: self.start_us,
            end: self.end_us,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
struct Invocation {
    handed_out_us: u64,
    finished_us: Option<u64>,
    ok: Option<bool>,
    queued_us: Option<u64>,
    calls: Vec<Call>,
}

/// One handled event.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From the Runtime API handing the event out to the handler's response.
    pub handler_us: u64,
    /// Time with at least one AWS call in flight, inside that window.
    pub aws_wait_us: u64,
    /// Every call tied to the invocation, in start order.
    pub calls: Vec<Call>,
    /// Calls made one after another before the response.
    pub chain: usize,
    /// Time a streaming call (Transcribe) spent beyond the added latency: the audio's own pace.
    pub streaming_us: u64,
    /// Inside the handler time, how long the handler was runnable but waiting for a CPU (`None` when
    /// the twin could not read it from the kernel).
    pub queued_us: Option<u64>,
    /// From the event handed out to the answer of the case's delivering call (`None`: it made none).
    pub delivery: Option<Delivery>,
}

/// The part of a sample up to the message's delivery.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    pub us: u64,
    /// Of which at least one call was in flight.
    pub aws_wait_us: u64,
    /// Calls one after another up to and including the delivering one.
    pub chain: usize,
    /// When the delivering call was answered (the twin's clock).
    pub at_us: u64,
}

impl Sample {
    /// A call failed on the server's side (moto's TransactWriteItems races with concurrent writes and
    /// answers 500); the SDK's back-off before its retry is then part of the handler time.
    pub fn server_error(&self) -> bool {
        self.calls.iter().any(|c| c.status >= 500)
    }

    pub fn overhead_us(&self) -> u64 {
        self.handler_us.saturating_sub(self.aws_wait_us)
    }

    fn of(inv: Invocation, added_latency_us: u64, case: Case) -> Result<Self, String> {
        if inv.ok != Some(true) {
            return Err("the handler did not succeed".into());
        }
        let end = inv.finished_us.ok_or("the invocation has no end")?;
        let mut calls = inv.calls;
        calls.sort_by_key(|c| c.start_us);
        let before_response: Vec<Span> = calls.iter().filter(|c| !c.detached).map(Call::span).collect();
        let window = Span {
            start: inv.handed_out_us,
            end,
        };
        let streaming_us = calls
            .iter()
            .filter(|c| c.service == "transcribe")
            .map(|c| (c.end_us - c.start_us).saturating_sub(added_latency_us))
            .sum();
        let delivered = calls
            .iter()
            .filter(|c| c.label() == case.delivering_call())
            .map(|c| c.end_us)
            .min();
        let delivery = delivered.map(|at| {
            let before: Vec<Span> = calls.iter().filter(|c| c.end_us <= at).map(Call::span).collect();
            Delivery {
                us: at.saturating_sub(inv.handed_out_us),
                aws_wait_us: covered(
                    &before,
                    Span {
                        start: inv.handed_out_us,
                        end: at,
                    },
                ),
                chain: sequential_chain(&before),
                at_us: at,
            }
        });
        Ok(Self {
            handler_us: end.saturating_sub(inv.handed_out_us),
            aws_wait_us: covered(&before_response, window),
            chain: sequential_chain(&before_response),
            calls,
            streaming_us,
            queued_us: inv.queued_us,
            delivery,
        })
    }
}

/// One cold start: a fresh process's init and first event.
#[derive(Debug, Clone, Copy)]
pub struct ColdStart {
    pub to_first_poll_us: u64,
    pub first_event_us: u64,
}

#[derive(Debug, Clone, Deserialize)]
struct Process {
    function: String,
    pid: u32,
    spawned_us: u64,
    first_poll_us: Option<u64>,
    exited_us: Option<u64>,
    vm_hwm_kib: Option<u64>,
    vm_rss_kib: Option<u64>,
    cpu_us: Option<u64>,
}

/// A handler process's memory (KiB).
#[derive(Debug, Clone, Copy, Default)]
pub struct Memory {
    pub peak_kib: u64,
    pub rss_kib: u64,
}

/// Bytes that look like a JPEG to anyone sniffing, then a deterministic filler.
fn fake_file(magic: &[u8], len: usize, seed: u64) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    let mut x = seed | 1;
    while bytes.len() < len {
        // xorshift64: incompressible enough, and the same file every run.
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    bytes
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The driver of the workload against one running stack.
pub struct Workload {
    twin: Twin,
    contact_id: String,
    new_customers: u32,
    seq: u32,
    image: Value,
    voice: Value,
    interactive: String,
    added_latency_us: u64,
}

impl Workload {
    /// Opens the customer's chat and lets the agent join, so later events find it open.
    pub async fn prepare(twin: Twin) -> Result<Self, String> {
        let root = e2e::repo_root();
        let voice = std::fs::read(root.join("tests/media/voice-note.ogg")).map_err(|e| format!("voice note: {e}"))?;
        let sha: String = Sha256::digest(&voice).iter().map(|b| format!("{b:02x}")).collect();
        twin.post(
            "/transcripts",
            json!({"sha256": sha, "text": "Hello, I would like to check the status of my order, please."}),
        )
        .await;
        let listpicker = e2e::fixture("connect-stream-interactive-listpicker.json");
        let message: Value = listpicker["Records"][0]["Sns"]["Message"]
            .as_str()
            .and_then(|m| serde_json::from_str(m).ok())
            .ok_or("the list picker fixture has no message")?;
        let interactive = message["Content"]
            .as_str()
            .ok_or("the list picker fixture has no content")?
            .to_owned();
        let (_, opened) = twin.customer_texts(CUSTOMER, "Hi, my order is late").await;
        if !opened.ok {
            return Err(format!("the first message failed: {:?}", opened.error));
        }
        twin.settle().await;
        let contact_id = twin
            .contacts_of(CUSTOMER)
            .await
            .first()
            .and_then(|c| c["contact_id"].as_str().map(str::to_owned))
            .ok_or("no chat was opened for the customer")?;
        twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
            .await;
        twin.settle().await;
        Ok(Self {
            twin,
            contact_id,
            new_customers: 0,
            seq: 0,
            image: json!({"type": "image", "image": {"data": b64(&fake_file(b"\xFF\xD8\xFF\xE0", MB, 7)), "mime_type": "image/jpeg"}}),
            voice: json!({"type": "audio", "audio": {"data": b64(&voice), "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
            interactive,
            added_latency_us: 0,
        })
    }

    async fn clock(&self) -> u64 {
        self.twin.get("/clock").await["now_us"].as_u64().unwrap_or(0)
    }

    /// Every AWS call the twin and its moto proxy serve takes `ms` longer from now on.
    pub async fn set_latency(&mut self, ms: u64) {
        self.twin.post("/latency", json!({ "ms": ms })).await;
        self.added_latency_us = ms * 1000;
    }

    /// Causes one event of `case` and waits for everything it set off.
    async fn cause(&mut self, case: Case) -> Result<(), String> {
        self.seq += 1;
        let n = self.seq;
        let ok = match case {
            Case::InboundText => {
                self.twin
                    .customer_texts(CUSTOMER, &format!("Any news about my parcel? (message {n})"))
                    .await
                    .1
                    .ok
            }
            Case::InboundTextNewChat => {
                self.new_customers += 1;
                let customer = format!("1425556{:04}", self.new_customers);
                self.twin
                    .customer_texts(&customer, "Hello, I need help with a refund")
                    .await
                    .1
                    .ok
            }
            Case::AgentText => self
                .twin
                .agent_says(&self.contact_id, &format!("Let me check that for you ({n})."))
                .await
                .iter()
                .all(|i| i.ok),
            Case::AgentInteractive => self
                .twin
                .agent(
                    &self.contact_id,
                    json!({"action": "message", "content": self.interactive, "content_type": INTERACTIVE}),
                )
                .await
                .iter()
                .all(|i| i.ok),
            Case::InboundImage => self.twin.customer_sends(CUSTOMER, self.image.clone()).await.1.ok,
            Case::VoiceNote => self.twin.customer_sends(CUSTOMER, self.voice.clone()).await.1.ok,
        };
        self.twin.settle().await;
        if ok {
            Ok(())
        } else {
            Err(format!("{}: the handler failed", case.name()))
        }
    }

    /// The first invocation of `function` handed out at or after `since_us`.
    async fn invocation(&self, function: &str, since_us: u64) -> Result<Invocation, String> {
        let list = self
            .twin
            .get(&format!("/invocations?since_us={since_us}&function={function}"))
            .await;
        let first = list
            .as_array()
            .and_then(|a| a.first())
            .cloned()
            .ok_or_else(|| format!("no {function} invocation was recorded"))?;
        serde_json::from_value(first).map_err(|e| format!("invocation record: {e}"))
    }

    /// Runs `count` events of `case`, one at a time.
    pub async fn run(&mut self, case: Case, count: usize) -> Result<Vec<Sample>, String> {
        let mut samples = Vec::with_capacity(count);
        for _ in 0..count {
            let since = self.clock().await;
            self.cause(case).await?;
            let inv = self.invocation(case.function(), since).await?;
            samples.push(Sample::of(inv, self.added_latency_us, case).map_err(|e| format!("{}: {e}", case.name()))?);
        }
        Ok(samples)
    }

    async fn processes(&self) -> Result<Vec<Process>, String> {
        serde_json::from_value(self.twin.get("/processes").await).map_err(|e| format!("process records: {e}"))
    }

    async fn live(&self, function: &str) -> Result<Process, String> {
        self.processes()
            .await?
            .into_iter()
            .rev()
            .find(|p| p.function == function && p.exited_us.is_none())
            .ok_or_else(|| format!("{function} has no running process"))
    }

    /// Restarts the function's process and measures its init and its first event (an inbound text
    /// into the open chat, or an agent text). The time the benchmark takes to notice the new process
    /// is not counted: init ends at the first poll, and the first event is timed by the Runtime API.
    pub async fn cold_start(&mut self, function: &str) -> Result<ColdStart, String> {
        let before = self.clock().await;
        self.twin
            .post("/processes/restart", json!({ "function": function }))
            .await;
        let deadline = Instant::now() + Duration::from_secs(30);
        let process = loop {
            let fresh = self
                .processes()
                .await?
                .into_iter()
                .find(|p| p.function == function && p.spawned_us >= before && p.first_poll_us.is_some());
            if let Some(p) = fresh {
                break p;
            }
            if Instant::now() > deadline {
                return Err(format!("{function} did not come back within 30 s"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let case = if function == "WhatsappHandler" {
            Case::InboundText
        } else {
            Case::AgentText
        };
        let since = self.clock().await;
        self.cause(case).await?;
        let first = Sample::of(self.invocation(function, since).await?, 0, case)?;
        let polled = process.first_poll_us.unwrap_or(process.spawned_us);
        Ok(ColdStart {
            to_first_poll_us: polled - process.spawned_us,
            first_event_us: first.handler_us,
        })
    }

    /// Current and peak RSS of the function's running process.
    pub async fn memory(&self, function: &str) -> Result<Memory, String> {
        let p = self.live(function).await?;
        match (p.vm_hwm_kib, p.vm_rss_kib) {
            (Some(peak_kib), Some(rss_kib)) => Ok(Memory { peak_kib, rss_kib }),
            _ => Err(format!("{function} (pid {}) has no memory figures in /proc", p.pid)),
        }
    }

    /// CPU time the function's running process has used so far (µs).
    pub async fn cpu_us(&self, function: &str) -> Result<u64, String> {
        let p = self.live(function).await?;
        p.cpu_us
            .ok_or_else(|| format!("{function} (pid {}) has no CPU figure in /proc", p.pid))
    }

    /// Peak RSS back to current RSS for every handler process.
    pub async fn reset_peaks(&self) {
        self.twin.post("/processes/reset-peak", json!({})).await;
    }

    /// The customer sends a 16 MB video into the open chat (WhatsappHandler moves it to the chat).
    pub async fn customer_video(&mut self, bytes: usize) -> Result<(), String> {
        let video = fake_file(b"\x00\x00\x00\x18ftypmp42", bytes, 11);
        let message = json!({"type": "video", "video": {"data": b64(&video), "mime_type": "video/mp4"}});
        drop(video);
        let (_, inv) = self.twin.customer_sends(CUSTOMER, message).await;
        self.twin.settle().await;
        if inv.ok {
            Ok(())
        } else {
            Err(format!("the customer's video failed: {:?}", inv.error))
        }
    }

    /// The agent sends a 16 MB video (ConnectHandler moves it to WhatsApp).
    pub async fn agent_video(&mut self, bytes: usize) -> Result<(), String> {
        let video = fake_file(b"\x00\x00\x00\x18ftypmp42", bytes, 13);
        let action =
            json!({"action": "attachment", "name": "unboxing.mp4", "content_type": "video/mp4", "data": b64(&video)});
        drop(video);
        let outcomes = self.twin.agent(&self.contact_id, action).await;
        self.twin.settle().await;
        if outcomes.iter().all(|i| i.ok) {
            Ok(())
        } else {
            Err("the agent's video failed".into())
        }
    }

    /// The WhatsApp messages the customer received (a sanity check that the agent's video went out).
    pub async fn sent_to_customer(&self) -> Vec<Value> {
        self.twin.sent_to(CUSTOMER).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_files_are_deterministic_and_sized() {
        let a = fake_file(b"\xFF\xD8", 1000, 7);
        assert_eq!(a.len(), 1000);
        assert_eq!(&a[..2], b"\xFF\xD8");
        assert_eq!(a, fake_file(b"\xFF\xD8", 1000, 7));
        assert_ne!(a, fake_file(b"\xFF\xD8", 1000, 8));
    }

    #[test]
    fn a_sample_subtracts_the_waits_once() {
        let inv = Invocation {
            handed_out_us: 1000,
            finished_us: Some(1100),
            ok: Some(true),
            queued_us: Some(12),
            calls: vec![
                Call {
                    service: "dynamodb".into(),
                    operation: "UpdateItem".into(),
                    status: 200,
                    start_us: 1010,
                    end_us: 1030,
                    detached: false,
                },
                Call {
                    service: "dynamodb".into(),
                    operation: "PutItem".into(),
                    status: 200,
                    start_us: 1011,
                    end_us: 1031,
                    detached: false,
                },
                Call {
                    service: "connectparticipant".into(),
                    operation: "SendMessage".into(),
                    status: 200,
                    start_us: 1040,
                    end_us: 1090,
                    detached: false,
                },
            ],
        };
        let inv_clone = inv.clone();
        let s = Sample::of(inv, 0, Case::InboundText).unwrap();
        assert_eq!(
            (s.handler_us, s.aws_wait_us, s.overhead_us(), s.chain, s.queued_us),
            (100, 71, 29, 2, Some(12))
        );
        let delivery = s.delivery.expect("SendMessage delivers an inbound text");
        assert_eq!(
            (delivery.us, delivery.aws_wait_us, delivery.chain),
            (90, 71, 2),
            "up to SendMessage's answer"
        );
        let agent = Sample::of(inv_clone, 0, Case::AgentText).unwrap();
        assert!(agent.delivery.is_none(), "no WhatsApp send: nothing delivered");
    }
}
