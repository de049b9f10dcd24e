//! In-memory fakes of every port, for tests that exercise the services without AWS, moto or the twin.
//!
//! Each fake is a cheap handle (`Clone` shares one state), so a test hands one copy to the service it
//! builds and keeps another to look at what the service did. They are compiled for this crate's own
//! tests and, with the `fakes` feature, for other crates' tests; the handler binaries never build them.
//!
//! - [`FakeStateStore`] keeps the DynamoDB table as typed records and applies the same conditions the
//!   adapter in [`crate::aws::dynamo`] documents and implements (claims with owner and lease, the start
//!   lock, registrations, item claims on the contact mapping, sent records, menu, typing slot). The
//!   contract test `tests/state_store.rs` runs the same cases against it and the adapter on moto: where
//!   they differ, the fake is wrong.
//! - [`FakeConnect`] is Amazon Connect for both of its ports ([`crate::ports::ContactCenter`] and
//!   [`crate::ports::Participant`]): chats started by client token, their custom bot participant,
//!   connections, and what the customer and the bot said in each chat; a test can end a chat, after
//!   which its tokens are refused with AccessDenied as Connect does.
//! - [`FakeWhatsapp`] records what was sent to customers, as the JSON EUM would receive.
//! - The media service's ports: [`FakeWhatsappMedia`] (EUM's media API, copying into a
//!   [`FakeObjectStore`] as EUM names the copies), [`FakeAttachments`] (a chat's attachments, checking
//!   each upload against its ticket) and [`FakeTranscriber`]. Bodies are handed over in chunks, as the
//!   adapters stream them, so a test can tell a file passed on as read from one gathered first.
//! - The Handoff API's stores: [`FakeHandoffStore`] (a handoff created once per idempotency key, its chat
//!   attached once, each move written over the sequence it followed) and [`FakeClientStore`] (clients,
//!   their IAM principals, their request counters), held to their DynamoDB adapters by
//!   `tests/handoff_store.rs` and `tests/client_store.rs`; the handoff store also keeps each handoff's
//!   outbox and its delivery lease. [`FakeDeliveryQueue`] keeps the kicks and dead letters SQS would,
//!   and [`FakePoster`] is a bot's webhook endpoint answering as scripted; [`FakeWebFiles`] serves the
//!   files bots send by URL.
//! - The contract tests `tests/chat_ports.rs` (Connect, Participant, WhatsApp) and `tests/media_ports.rs`
//!   (the media ports) hold these fakes to the AWS adapters on the local twin, as `tests/state_store.rs`
//!   holds the state store.
//!
//! Every fake takes [`Faults`]: a test scripts the next calls of an operation to fail, to answer
//! slowly, or to take effect and lose the answer (the SDK's timeout after the write landed), or makes
//! every call fail until it says otherwise.

mod attachments;
mod client_store;
mod connect;
mod handoff_store;
mod object_store;
mod participant;
mod state_store;
mod transcriber;
mod web_files;
mod webhooks;
mod whatsapp;
mod whatsapp_media;

pub use attachments::{FakeAttachments, File, LINK_EXPIRY};
pub use client_store::FakeClientStore;
pub use connect::{Chat, FakeConnect, Speaker};
pub use handoff_store::FakeHandoffStore;
pub use object_store::FakeObjectStore;
pub use state_store::FakeStateStore;
pub use transcriber::FakeTranscriber;
pub use web_files::FakeWebFiles;
pub use webhooks::{FakeDeliveryQueue, FakePoster, Posting};
pub use whatsapp::{FakeWhatsapp, Sent};
pub use whatsapp_media::FakeWhatsappMedia;

use crate::error::{FailureKind, PortError};
use crate::media::ports::BoxFuture;
use crate::media::ports::{Capped, Chunks, FileStream};
use crate::ports::PortResult;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// What the next call of an operation does instead of (or besides) its work.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Fails without taking effect.
    Fail(PortError),
    /// Takes effect after this long.
    Slow(Duration),
    /// Takes effect, then fails as if the answer never came back.
    LoseAnswer(PortError),
}

impl Fault {
    /// A throttled call (`ThrottlingException`): retryable, and nothing happened.
    pub fn throttled(operation: &'static str) -> Self {
        Fault::Fail(PortError::new(FailureKind::Transient, operation, "ThrottlingException"))
    }

    /// A call the service refused for good (`code`, e.g. `ConflictException`): a retry cannot help.
    pub fn rejected(operation: &'static str, code: &'static str) -> Self {
        Fault::Fail(PortError::new(FailureKind::Rejected, operation, code))
    }

    /// A call whose answer was lost after it landed.
    pub fn timeout(operation: &'static str) -> Self {
        Fault::LoseAnswer(PortError::new(FailureKind::Transient, operation, "timeout"))
    }
}

/// The faults scripted for a fake's operations, in call order, and the calls made so far.
#[derive(Debug, Default)]
pub struct Faults {
    script: Mutex<HashMap<&'static str, VecDeque<Fault>>>,
    /// What every call of an operation does once its script is spent.
    always: Mutex<HashMap<&'static str, Fault>>,
    calls: Mutex<Vec<&'static str>>,
}

/// What is left to do of a call's fault once its work is done.
#[must_use]
pub(crate) struct Answer(Option<PortError>);

impl Answer {
    /// The call's result as its caller sees it.
    pub(crate) fn give<T>(self, result: PortResult<T>) -> PortResult<T> {
        match self.0 {
            Some(lost) => result.and(Err(lost)),
            None => result,
        }
    }
}

impl Faults {
    /// Makes the next call of `operation` (after those already scripted) do `fault`.
    pub fn next(&self, operation: &'static str, fault: Fault) {
        self.script
            .lock()
            .unwrap()
            .entry(operation)
            .or_default()
            .push_back(fault);
    }

    /// Makes every call of `operation` do `fault` (after those scripted with [`Faults::next`]).
    pub fn always(&self, operation: &'static str, fault: Fault) {
        self.always.lock().unwrap().insert(operation, fault);
    }

    /// Ends [`Faults::always`] for `operation`.
    pub fn clear(&self, operation: &'static str) {
        self.always.lock().unwrap().remove(operation);
    }

    /// How many times `operation` was called (faulty calls included).
    pub fn calls(&self, operation: &str) -> usize {
        self.calls.lock().unwrap().iter().filter(|c| **c == operation).count()
    }

    /// Starts a call: fails it, or slows it, as scripted.
    pub(crate) async fn enter(&self, operation: &'static str) -> PortResult<Answer> {
        self.calls.lock().unwrap().push(operation);
        let scripted = self
            .script
            .lock()
            .unwrap()
            .get_mut(operation)
            .and_then(VecDeque::pop_front);
        let fault = scripted.or_else(|| self.always.lock().unwrap().get(operation).cloned());
        match fault {
            None => Ok(Answer(None)),
            Some(Fault::Fail(e)) => Err(e),
            Some(Fault::Slow(wait)) => {
                tokio::time::sleep(wait).await;
                Ok(Answer(None))
            }
            Some(Fault::LoseAnswer(e)) => Ok(Answer(Some(e))),
        }
    }
}

/// A body handed over in the chunks it holds, the way a download arrives.
pub struct Pieces(pub VecDeque<Vec<u8>>);

impl Chunks for Pieces {
    fn next_chunk(&mut self) -> BoxFuture<'_, Option<PortResult<Vec<u8>>>> {
        Box::pin(std::future::ready(self.0.pop_front().map(Ok)))
    }
}

/// `bytes` as a body of three chunks.
pub fn in_chunks(bytes: &[u8]) -> FileStream {
    let chunks = bytes.chunks(bytes.len().div_ceil(3).max(1)).map(<[u8]>::to_vec);
    FileStream::new(bytes.len() as u64, Pieces(chunks.collect()))
}

/// `bytes` in chunks, or over `max_bytes` by their size, as the adapters read a body within a limit.
pub fn capped_chunks(bytes: &[u8], max_bytes: u64) -> Capped<FileStream> {
    let size = bytes.len() as u64;
    if size > max_bytes {
        Capped::Over { size }
    } else {
        Capped::Within(in_chunks(bytes))
    }
}

/// A body's bytes and the number of chunks they came in.
async fn gather(mut body: FileStream) -> PortResult<(Vec<u8>, usize)> {
    let (mut bytes, mut chunks) = (Vec::new(), 0);
    while let Some(chunk) = body.next_chunk().await {
        bytes.extend(chunk?);
        chunks += 1;
    }
    Ok((bytes, chunks))
}
