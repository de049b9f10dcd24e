//! Ports: the small interfaces the services need from the outside world, one per external dependency.
//!
//! The services in [`crate::inbound`] and [`crate::outbound`] are generic over these traits; the AWS
//! adapters in [`crate::aws`] implement them. Methods return `impl Future + Send` so the services stay
//! `Send` without boxing.

use crate::error::PortError;
use crate::ids::{
    ConnectionToken, ContactId, ConversationKey, CustomerId, ItemId, OriginationId, ParticipantToken, PhoneNumberId,
};
use crate::rich::menu::Menu;
use crate::whatsapp::outgoing::OutgoingMessage;
use std::collections::HashMap;
use std::future::Future;

pub type PortResult<T> = Result<T, PortError>;

/// Where a conversation's chat stands. While none is active, the [`Opener`] (if any) is starting one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConversationState {
    Active(ActiveChat),
    Ended,
}

/// What the customer side of a live chat needs to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveChat {
    pub contact_id: ContactId,
    pub participant_token: ParticipantToken,
    pub connection_token: ConnectionToken,
    /// Epoch seconds after which the connection token is refused.
    pub connection_expires_at: i64,
}

/// The stored state of one conversation. `generation` counts the chats that became active. A start that failed half-way does not advance it,
/// so its retry uses the same `StartChatContact` client token and gets the same chat back from Connect
/// instead of leaving an orphan behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub key: ConversationKey,
    pub generation: u64,
    pub state: ConversationState,
    pub previous_contact_id: Option<ContactId>,
    /// When the current (or last) chat became active (epoch ms; 0 when not recorded).
    pub activated_ms: i64,
    /// While ended: the source message or Connect item whose event ended the chat (see
    /// [`StateStore::mark_ended`]).
    pub ended_by: Option<String>,
    /// While active: the customer's text the chat was started with, if any.
    pub opened_with: Option<OpenedWith>,
}

/// The customer's text a chat was started with (`StartChatContact`'s `InitialMessage`), and the messages
/// that may have put it there: a delivery of one of those into the chat does not send that text again.
/// More than one when the start was taken over from messages whose starts may have landed (see
/// [`ConversationView::tried`]); the chat holds the text of at most one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedWith {
    /// Their registration tags.
    pub tags: Vec<String>,
    /// [`crate::ids::short_hash`] of the text as it went in (the first part of a long one).
    pub digest: String,
}

impl OpenedWith {
    /// Whether the message `tag`, whose first part into the chat is `first_part`, is in already.
    pub fn holds(&self, tag: &str, first_part: &str) -> bool {
        self.tags.iter().any(|t| t == tag) && self.digest == crate::ids::short_hash(first_part)
    }
}

/// A customer message being bridged right now. Every in-flight message of a conversation is registered
/// on the conversation's item, so concurrent deliveries can go in WhatsApp timestamp order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflight {
    /// The attribute naming this message (derived from its wamid, so redeliveries share it).
    pub tag: String,
    /// WhatsApp's timestamp (Unix seconds).
    pub timestamp: i64,
    /// When EUM received the message (epoch ns; when this delivery registered, if the event did not
    /// say): breaks ties within a second, and the same way when an earlier message is redelivered after
    /// a later one registered.
    pub received_ns: i64,
    /// When the registering invocation's lease ends (epoch ms): a delivery killed with its Lambda stops
    /// holding later messages back when its invocation's deadline passes, not a fixed minute later.
    pub until_ms: i64,
}

impl Inflight {
    /// Whether the delivery may still be running at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.until_ms > now_ms
    }

    /// Whether `self` must be delivered before `other`.
    pub fn precedes(&self, other: &Inflight) -> bool {
        (self.timestamp, self.received_ns, &self.tag) < (other.timestamp, other.received_ns, &other.tag)
    }
}

/// The message whose delivery starts (or started) the conversation's chat: the start lock. The first
/// message to register while no chat is active takes it in its registration, so a chat start costs no
/// write of its own; it stays with the chat it opened and goes when that chat ends (see
/// [`StateStore::register`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opener {
    /// The opening message's registration tag.
    pub tag: String,
    /// When its hold ends (epoch ms): a start that died is taken over after that.
    pub until_ms: i64,
}

/// The conversation's item as read: the chat state (None before the first chat), what is in flight, and
/// what the customer was last shown and sent (kept on the same item, so the reads the inbound path does
/// anyway bring them along).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConversationView {
    pub conversation: Option<Conversation>,
    /// Who holds the start lock.
    pub opener: Option<Opener>,
    pub inflight: Vec<Inflight>,
    /// The menu of the last interactive message sent to the customer, until they answer it.
    pub menu: Option<Menu>,
    /// While no chat is active: the other messages that held the start lock for the next chat and gave it
    /// back or lost it, whose `StartChatContact` (same client token, maybe with their text) may have
    /// landed. The next start cannot tell from Connect's answer whose text the chat holds.
    pub tried: Vec<String>,
}

/// What completing an inbound message also writes on its conversation, in the same write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished<'a> {
    pub key: &'a ConversationKey,
    /// The in-flight registration to remove.
    pub tag: &'a str,
    /// The message answered the stored menu, which is then spent.
    pub clear_menu: bool,
    /// Registrations long past their lease (left by fast messages, or by invocations that died).
    pub lapsed: &'a [String],
}

/// How a source message is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimTerms<'a> {
    pub now_ms: i64,
    pub lease_ms: i64,
    /// Taken for the fast path: the holder may finish without a word (see [`crate::claims`]).
    pub fast: bool,
    /// The invocation taking it: a claim it already holds (its own write, retried after the answer was
    /// lost) is its own again, never a holder to wait for.
    pub owner: &'a str,
    /// What the message said, kept on its claim so a later reply to it can quote it.
    pub summary: Option<&'a str>,
}

/// A customer message's exclusive hold as its holder extends or renews it: the claim and the registration
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Renewal<'a> {
    pub source: &'a str,
    pub id: &'a str,
    pub key: &'a ConversationKey,
    /// The registration's tag.
    pub tag: &'a str,
    /// Only the claim's owner renews it: a holder whose lease lapsed and was taken over holds nothing.
    pub owner: &'a str,
    pub until_ms: i64,
    /// The message holds the conversation's start lock (see [`Opener`]) while it starts the chat: the
    /// lock is renewed too, so it holds only as long as its holder is alive.
    pub opening: bool,
}

/// A WhatsApp message the bridge sent for a Connect item: receipts and failures are reported against
/// the item, and replies or reactions to it can quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRecord {
    /// The id EUM returned for the WhatsApp message.
    pub wa_message_id: String,
    pub contact_id: ContactId,
    pub item_id: ItemId,
    /// The text the customer saw (the first part of a long one).
    pub summary: String,
}

/// The start lock as the message holding it uses it: the chat it starts is `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartLock {
    pub key: ConversationKey,
    /// The holder's registration tag.
    pub tag: String,
    pub generation: u64,
}

/// Maps a chat back to its customer, for the Connect side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactRecord {
    pub initial_contact_id: ContactId,
    pub phone_number_id: PhoneNumberId,
    pub customer_id: CustomerId,
    /// The customer's phone number, when WhatsApp shared it (see [`crate::whatsapp::CustomerMessage`]).
    pub phone: Option<CustomerId>,
    pub origination_id: OriginationId,
}

impl ContactRecord {
    /// Whom agents' messages go to: the phone number when known, else the business-scoped id.
    pub fn reply_to(&self) -> &CustomerId {
        self.phone.as_ref().unwrap_or(&self.customer_id)
    }

    pub fn conversation_key(&self) -> ConversationKey {
        ConversationKey::new(self.phone_number_id.clone(), self.customer_id.clone())
    }
}

/// A customer message as its claim found it: who holds it, and what an earlier attempt that failed had
/// already done for it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageClaim {
    pub claim: Claim,
    pub progress: Progress,
}

/// What an earlier attempt at a customer message did that a retry must not do again: what it said to the
/// customer on WhatsApp (which has no idempotency token), and what its file's trip to the agent came to
/// (so the file is not fetched, converted and transcribed again). Kept on the message's claim until the
/// message is done; a retry's sends into the chat carry the same client tokens, so Connect drops what
/// is in already.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    pub said: Vec<Said>,
    pub media: Option<MediaAftermath>,
}

impl Progress {
    pub fn has_said(&self, said: Said) -> bool {
        self.said.contains(&said)
    }
}

/// A WhatsApp message the bridge sends a customer in answer to one of theirs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Said {
    /// The next page of the menu they asked for.
    MenuPage,
    /// The `n`th of [`MediaAftermath::customer_texts`].
    MediaReply(usize),
}

impl Said {
    /// Its name in the claim's record.
    pub fn name(self) -> String {
        match self {
            Said::MenuPage => "page".to_owned(),
            Said::MediaReply(n) => format!("media{n}"),
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "page" => Some(Said::MenuPage),
            _ => name.strip_prefix("media")?.parse().ok().map(Said::MediaReply),
        }
    }
}

/// What a customer's file came to once it was in the chat (or could not be): the texts that follow it
/// into the chat, and those the customer is told (a notice, their transcript).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MediaAftermath {
    pub chat_texts: Vec<String>,
    pub customer_texts: Vec<String>,
}

/// A step of a claimed customer message to remember (see [`Progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step<'a> {
    Said(Said),
    Media(&'a MediaAftermath),
}

/// The outcome of claiming a source message for processing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Claim {
    /// This invocation owns the message until the lease ends.
    #[default]
    Acquired,
    /// This invocation owns the message, taken over from a fast-path holder that went quiet: it either
    /// delivered the message or died doing so. `first_ms` is when the message was first taken.
    Replay { first_ms: i64 },
    /// Bridged before: a redelivery.
    Done,
    /// Another invocation holds a live lease on it.
    Busy,
}

/// How a Connect item is claimed on its chat's contact mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemTerms<'a> {
    pub now_ms: i64,
    pub lease_ms: i64,
    /// The invocation taking it: its own claim found again is its own (see [`ClaimTerms::owner`]).
    pub owner: &'a str,
    /// When Connect received the item (epoch ms): the chat's items go to WhatsApp in this order.
    pub at_ms: i64,
}

/// A Connect item of the chat being bridged right now, as its contact mapping shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemInFlight {
    /// Its claim's attribute (`i_<hash>`), unique within the chat.
    pub name: String,
    /// When Connect received it (epoch ms).
    pub at_ms: i64,
    /// When its claim's lease ends (epoch ms): a holder that died stops holding later items then.
    pub until_ms: i64,
}

impl ItemInFlight {
    /// Whether it goes to WhatsApp before `other`.
    pub fn precedes(&self, other: &ItemInFlight) -> bool {
        (self.at_ms, &self.name) < (other.at_ms, &other.name)
    }
}

/// A Connect item claimed on its chat's contact mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemClaim {
    pub claim: Claim,
    /// The claimed item as the mapping now shows it, and the chat's other items being bridged.
    pub me: Option<ItemInFlight>,
    pub in_flight: Vec<ItemInFlight>,
    /// How many of the item's WhatsApp messages (or files) an earlier attempt sent before it failed: a
    /// retry sends only the rest.
    pub parts_sent: usize,
    /// `None`: not a chat of ours (nothing was claimed).
    pub contact: Option<ContactRecord>,
    /// The mapping's claims of earlier items that no redelivery can meet any more, for the completing
    /// write to remove (so the mapping does not grow with every message of a long chat).
    pub expired: Vec<String>,
}

/// DynamoDB: conversations, contact mappings and per-message idempotency records.
pub trait StateStore: Send + Sync {
    fn load_conversation(&self, key: &ConversationKey) -> impl Future<Output = PortResult<ConversationView>> + Send;

    /// Registers an in-flight message on the conversation (its wamid becomes the latest the customer
    /// sent) and returns the conversation as it is now; `left_behind`, a finished message's registration,
    /// is removed in the same write. With `opener_until`, a message that may need a chat also takes the
    /// start lock until then if nobody holds it (an active chat's opener keeps it).
    fn register(
        &self,
        key: &ConversationKey,
        inflight: &Inflight,
        wamid: &str,
        left_behind: Option<&str>,
        opener_until: Option<i64>,
    ) -> impl Future<Output = PortResult<ConversationView>> + Send;

    /// Holds a claim and its registration until `renewal.until_ms`, if the claim is still the owner's:
    /// exclusively (the holder completes or releases them explicitly), or on the fast hold (they lapse on
    /// their own).
    fn extend(&self, renewal: &Renewal<'_>) -> impl Future<Output = PortResult<()>> + Send;

    /// Removes an in-flight registration (after a duplicate or a failure).
    fn unregister(&self, key: &ConversationKey, tag: &str) -> impl Future<Output = PortResult<()>> + Send;

    /// Takes the start lock for `opener` while no chat is active and nobody holds it (or its holder's
    /// hold ended at `now_ms`); returns the conversation then. `Ok(None)`: somebody else got there first.
    /// `replaced`, the holder whose hold ended, joins [`ConversationView::tried`].
    fn take_start_lock(
        &self,
        key: &ConversationKey,
        opener: &Opener,
        now_ms: i64,
        replaced: Option<&str>,
    ) -> impl Future<Output = PortResult<Option<ConversationView>>> + Send;

    /// Turns a held start lock into an active chat, which was `opened_with` a customer's text or not;
    /// returns the conversation as it is then, so the messages that registered during the start are
    /// known without another read. The chat's [`ConversationView::tried`] is spent.
    fn activate(
        &self,
        lock: &StartLock,
        chat: &ActiveChat,
        opened_with: Option<&OpenedWith>,
        ttl_s: i64,
    ) -> impl Future<Output = PortResult<ConversationView>> + Send;

    /// Gives a start lock back unless its chat is active: after a failed start, or when its message
    /// needed no chat after all, so the next message need not wait for it to expire; its holder joins
    /// [`ConversationView::tried`]. `retire` consumes the lock's generation: the chat it started is
    /// unusable, the retry needs a new one (and no earlier attempt is in doubt).
    fn abandon_start(&self, lock: &StartLock, retire: bool) -> impl Future<Output = PortResult<()>> + Send;

    /// Stores a refreshed connection token, if the conversation is still on that contact.
    fn update_connection(
        &self,
        key: &ConversationKey,
        chat: &ActiveChat,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Marks the conversation ended `by` a source message or item if it is still active on `contact_id`
    /// (its start lock goes with it). `true` when this ended it, or `by` already had (a retry of the
    /// event that ended it, whose notice may not have gone out); `false` (a no-op) otherwise, so whatever
    /// is said about the end is said by one event.
    fn mark_ended(
        &self,
        key: &ConversationKey,
        contact_id: &ContactId,
        by: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send;

    /// Keeps the menu of an interactive message for the customer's answer, if the conversation is still
    /// on `contact_id`.
    fn save_menu(
        &self,
        key: &ConversationKey,
        contact_id: &ContactId,
        menu: &Menu,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Takes the conversation's typing slot if the last indicator is at least `gap_ms` old; returns the
    /// customer's latest wamid when this invocation may send one (the conditional write keeps
    /// concurrent invocations from both sending).
    fn take_typing_slot(
        &self,
        key: &ConversationKey,
        now_ms: i64,
        gap_ms: i64,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;

    fn load_sent(&self, wa_message_id: &str) -> impl Future<Output = PortResult<Option<SentRecord>>> + Send;

    /// What a WhatsApp message of the conversation said, whichever side sent it: a message the bridge
    /// sent (its sent record) or one of the customer's (its completed claim).
    fn load_quote(&self, wa_message_id: &str) -> impl Future<Output = PortResult<Option<String>>> + Send;

    fn put_contact(&self, contact: &ContactRecord, ttl_s: i64) -> impl Future<Output = PortResult<()>> + Send;

    fn load_contact(
        &self,
        initial_contact_id: &ContactId,
    ) -> impl Future<Output = PortResult<Option<ContactRecord>>> + Send;

    /// Claims a source message (`source` e.g. `wa`), with what an earlier attempt recorded of it.
    fn claim(
        &self,
        source: &str,
        id: &str,
        terms: &ClaimTerms<'_>,
    ) -> impl Future<Output = PortResult<MessageClaim>> + Send;

    /// Remembers a step of the claimed message `owner` holds, for a retry after a failure (see
    /// [`Progress`]). Nothing is written once another invocation has taken the message over.
    fn record(
        &self,
        source: &str,
        id: &str,
        owner: &str,
        step: Step<'_>,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Records the message as bridged, so later deliveries are skipped; with `finished`, also updates
    /// the conversation (registration removed, spent menu), in the same write.
    fn complete(
        &self,
        source: &str,
        id: &str,
        finished: Option<&Finished<'_>>,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Claims a Connect item on its contact's mapping, and returns the mapping in the same write; `None`
    /// when the contact is not one of ours (then nothing is written).
    fn claim_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        terms: &ItemTerms<'_>,
    ) -> impl Future<Output = PortResult<ItemClaim>> + Send;

    /// The chat's Connect items being bridged now (claimed, not yet done or released).
    fn items_in_flight(
        &self,
        initial_contact_id: &ContactId,
    ) -> impl Future<Output = PortResult<Vec<ItemInFlight>>> + Send;

    /// Records a claimed Connect item as bridged together with what was sent for it, in one write that
    /// also removes the `expired` claims.
    fn complete_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        sent: &[SentRecord],
        expired: &[String],
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Drops a Connect item's in-progress claim that `owner` holds after a failure, recording how many
    /// of its WhatsApp messages (or files) went out before it (`parts_sent`), which a retry skips.
    fn release_item(
        &self,
        initial_contact_id: &ContactId,
        item_id: &ItemId,
        owner: &str,
        parts_sent: usize,
    ) -> impl Future<Output = PortResult<()>> + Send;

    /// Gives up an in-progress claim that `owner` holds after a failure, so a retry can take it at once (one
    /// taken over by another invocation since stays theirs). What was recorded of it stays.
    fn release(&self, source: &str, id: &str, owner: &str) -> impl Future<Output = PortResult<()>> + Send;
}

/// What `StartChatContact` needs beyond the deployment's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatRequest {
    pub display_name: String,
    pub attributes: HashMap<String, String>,
    pub client_token: String,
    /// The customer's previous chat: linked as `RelatedContactId`, or rehydrated from with `persistent`.
    pub related_contact_id: Option<ContactId>,
    /// Connect persistent chat (`FROM_SEGMENT` of the related contact); Connect takes either this or
    /// `RelatedContactId`, never both.
    pub persistent: bool,
    /// The customer's first text, in the chat as its first item when the call returns
    /// (`InitialMessage`): (content type, content).
    pub initial_message: Option<(String, String)>,
    /// The flow the chat starts in; the deployment's (`CONNECT_CONTACT_FLOW_ID`) when `None`.
    pub contact_flow_id: Option<String>,
}

/// A custom bot participant to add to a chat (`CreateParticipant` with `CUSTOM_BOT`): it says a
/// handoff's bot messages, so the agent reads the bot's conversation as one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BotRequest {
    pub contact_id: ContactId,
    pub display_name: String,
    /// The same token adds the same participant (a retried create replays into the same chat).
    pub client_token: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedChat {
    pub contact_id: ContactId,
    pub participant_token: ParticipantToken,
}

/// Amazon Connect (SigV4 API): starting chats that stream to our topic from their first item.
pub trait ContactCenter: Send + Sync {
    fn start_chat(&self, request: &ChatRequest) -> impl Future<Output = PortResult<StartedChat>> + Send;
    /// Adds a custom bot participant to a chat: its participant token, to connect with like the
    /// customer's.
    fn add_bot(&self, request: &BotRequest) -> impl Future<Output = PortResult<ParticipantToken>> + Send;
    /// Sets contact attributes of the chat `contact_id` (merged into its others; Connect keeps 32 KB of
    /// keys and values in all and refuses more).
    fn update_attributes(
        &self,
        contact_id: &ContactId,
        attributes: &HashMap<String, String>,
    ) -> impl Future<Output = PortResult<()>> + Send;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub connection_token: ConnectionToken,
    /// Epoch seconds.
    pub expires_at: i64,
}

/// Amazon Connect Participant Service (token-authenticated): acting as the customer in the chat.
pub trait Participant: Send + Sync {
    fn connect(&self, token: &ParticipantToken) -> impl Future<Output = PortResult<Connection>> + Send;
    fn send_message(
        &self,
        token: &ConnectionToken,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> impl Future<Output = PortResult<ItemId>> + Send;
    /// Sends an event (receipts) as the customer.
    fn send_event(
        &self,
        token: &ConnectionToken,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// The texts the customer side sent into the chat `contact_id` (not those of the chats it continues),
    /// oldest first, from the first page of its transcript.
    fn sent_texts(
        &self,
        token: &ConnectionToken,
        contact_id: &ContactId,
    ) -> impl Future<Output = PortResult<Vec<String>>> + Send;
    /// The customer leaves the chat, which ends it.
    fn disconnect(&self, token: &ConnectionToken, client_token: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// A page of the chat's transcript, oldest first: its messages and attachments (not its events).
    fn transcript(
        &self,
        token: &ConnectionToken,
        page: &PageRequest,
    ) -> impl Future<Output = PortResult<TranscriptChunk>> + Send;
}

/// Which page of a transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// At most this many items (Connect's limit is 100).
    pub max: u8,
    /// The token of the page before, as Connect gave it.
    pub next_token: Option<String>,
}

/// One message or attachment of a chat's transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatItem {
    pub id: String,
    pub role: Option<crate::connect_stream::Role>,
    pub display_name: Option<String>,
    pub content_type: String,
    pub content: Option<String>,
    /// When Connect received it (its `AbsoluteTime`, RFC 3339).
    pub at: String,
}

/// A page of a transcript, and the token of the next one (none: the last).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TranscriptChunk {
    pub items: Vec<ChatItem>,
    pub next_token: Option<String>,
}

/// AWS End User Messaging Social: sending to the customer on WhatsApp.
pub trait Whatsapp: Send + Sync {
    /// Returns the id EUM gave the sent message.
    fn send(&self, from: &OriginationId, message: &OutgoingMessage) -> impl Future<Output = PortResult<String>> + Send;
    /// Marks a customer's message read (blue ticks), optionally showing the typing indicator with it.
    fn mark_read(&self, from: &OriginationId, wamid: &str, typing: bool)
    -> impl Future<Output = PortResult<()>> + Send;
}
