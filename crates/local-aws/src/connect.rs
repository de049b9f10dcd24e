//! The simulated Amazon Connect instance: contacts, participants, tokens and transcripts.
//!
//! This module is a pure state machine — no I/O, no clock, no locking. Every operation takes the
//! current time as an argument and returns either a typed result or the [`ApiError`] real Connect
//! would return, so the wire layer (`aws::*`) only translates JSON and the control API
//! (`control`) can drive the same transitions an agent would. Items that Connect would publish to
//! the contact's streaming endpoint are queued in `outbox` in transcript order; the caller drains
//! them with [`ConnectSim::take_stream`] while still holding the lock, which is what keeps a
//! contact's stream in order even when API calls race.

use std::collections::{BTreeMap, HashMap};

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::config::TwinConfig;
use crate::error::ApiError;
use crate::time::iso_millis;

mod attachments;
mod custom_bot;
pub use attachments::{AttachmentRecord, ItemAttachment};
pub use custom_bot::{CreateParticipantRequest, CustomBots, ParticipantDetailsToAdd};

pub const EVENT_PREFIX: &str = "application/vnd.amazonaws.connect.event.";
pub const CT_JOINED: &str = "application/vnd.amazonaws.connect.event.participant.joined";
pub const CT_LEFT: &str = "application/vnd.amazonaws.connect.event.participant.left";
pub const CT_ENDED: &str = "application/vnd.amazonaws.connect.event.chat.ended";
pub const CT_TYPING: &str = "application/vnd.amazonaws.connect.event.typing";
pub const CT_TRANSFERRED: &str = "application/vnd.amazonaws.connect.event.transfer.succeeded";
pub const CT_IDLE: &str = "application/vnd.amazonaws.connect.event.participant.idle";
pub const CT_AUTODISCONNECTED: &str = "application/vnd.amazonaws.connect.event.participant.autodisconnection";
pub const CT_DELIVERED: &str = "application/vnd.amazonaws.connect.event.message.delivered";
pub const CT_READ: &str = "application/vnd.amazonaws.connect.event.message.read";
pub const CT_ACK: &str = "application/vnd.amazonaws.connect.event.connection.acknowledged";
pub const CT_INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";
pub const CT_INTERACTIVE_RESPONSE: &str = "application/vnd.amazonaws.connect.message.interactive.response";

/// Content types StartChatContact accepts in `SupportedMessagingContentTypes`.
const CHAT_CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "application/json",
    CT_INTERACTIVE,
    CT_INTERACTIVE_RESPONSE,
];
/// Content types a participant may send with SendMessage (interactive templates come from flows).
const SEND_MESSAGE_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "application/json",
    CT_INTERACTIVE_RESPONSE,
];
const MAX_ATTRIBUTES_BYTES: usize = 32_768;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Customer,
    Agent,
    System,
    CustomBot,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "CUSTOMER",
            Role::Agent => "AGENT",
            Role::System => "SYSTEM",
            Role::CustomBot => "CUSTOM_BOT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemType {
    Message,
    Event,
    Attachment,
}

impl ItemType {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemType::Message => "MESSAGE",
            ItemType::Event => "EVENT",
            ItemType::Attachment => "ATTACHMENT",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    All,
    Customer,
    Agent,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::All => "ALL",
            Visibility::Customer => "CUSTOMER",
            Visibility::Agent => "AGENT",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_uppercase().as_str() {
            "ALL" => Some(Visibility::All),
            "CUSTOMER" => Some(Visibility::Customer),
            "AGENT" => Some(Visibility::Agent),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactState {
    Connected,
    Ended,
}

/// A read/delivered receipt recorded on a transcript item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    pub participant_id: String,
    pub delivered_ms: Option<u64>,
    pub read_ms: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct TranscriptItem {
    pub id: String,
    /// `None` for items no participant sent (chat.ended).
    pub role: Option<Role>,
    pub item_type: ItemType,
    pub content_type: String,
    pub content: Option<String>,
    pub display_name: Option<String>,
    pub participant_id: Option<String>,
    pub visibility: Visibility,
    pub time_ms: u64,
    pub receipts: Vec<Receipt>,
    /// The files of an `ATTACHMENT` item.
    pub attachments: Vec<ItemAttachment>,
}

#[derive(Debug, Clone)]
pub struct Participant {
    pub participant_id: String,
    pub display_name: String,
    pub role: Role,
    pub joined: bool,
}

#[derive(Debug, Clone)]
pub struct Contact {
    pub contact_id: String,
    pub initial_contact_id: String,
    pub state: ContactState,
    pub attributes: BTreeMap<String, String>,
    pub customer: Participant,
    pub participant_token: String,
    pub agent: Option<Participant>,
    pub custom_bots: CustomBots,
    /// Stands in for the contact flow when it speaks (greeting).
    pub system_participant_id: String,
    /// The inbound flow the chat started in.
    pub contact_flow_id: String,
    pub supported_content_types: Vec<String>,
    pub streaming_endpoint_arn: Option<String>,
    pub streaming_id: Option<String>,
    pub related_contact_id: Option<String>,
    pub chat_duration_minutes: i64,
    pub transcript: Vec<TranscriptItem>,
    /// SendMessage/SendEvent ClientToken → id returned the first time.
    item_client_tokens: HashMap<String, (String, u64)>,
    pub created_ms: u64,
}

#[derive(Debug, Clone)]
struct ConnectionToken {
    contact_id: String,
    participant_id: String,
    expires_ms: u64,
}

/// An item Connect would publish to a streaming endpoint, already in SNS `Message` form.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    pub contact_id: String,
    pub item_id: String,
    pub topic_arn: String,
    /// The SNS `Message` (a JSON document as text).
    pub message: String,
    /// The SNS `MessageAttributes` object.
    pub attributes: Value,
}

// ---------------------------------------------------------------------------------------------
// Requests (wire field names; every field optional so missing ones become typed AWS errors)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NameOnly {
    pub display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ChatMessage {
    pub content_type: Option<String>,
    pub content: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StreamingConfiguration {
    pub streaming_endpoint_arn: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PersistentChat {
    pub rehydration_type: Option<String>,
    pub source_contact_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartChatContactRequest {
    pub instance_id: Option<String>,
    pub contact_flow_id: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
    pub participant_details: Option<NameOnly>,
    pub initial_message: Option<ChatMessage>,
    pub client_token: Option<String>,
    pub chat_duration_in_minutes: Option<i64>,
    pub supported_messaging_content_types: Option<Vec<String>>,
    pub persistent_chat: Option<PersistentChat>,
    pub related_contact_id: Option<String>,
    pub chat_streaming_configuration: Option<StreamingConfiguration>,
    pub connection_types: Option<Vec<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartContactStreamingRequest {
    pub instance_id: Option<String>,
    pub contact_id: Option<String>,
    pub chat_streaming_configuration: Option<StreamingConfiguration>,
    pub client_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateContactAttributesRequest {
    pub instance_id: Option<String>,
    pub initial_contact_id: Option<String>,
    pub attributes: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StopContactRequest {
    pub instance_id: Option<String>,
    pub contact_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateParticipantConnectionRequest {
    #[serde(rename = "Type")]
    pub types: Option<Vec<String>>,
    pub connect_participant: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendRequest {
    pub content_type: Option<String>,
    pub content: Option<String>,
    pub client_token: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StartPosition {
    pub id: Option<String>,
    pub absolute_time: Option<String>,
    pub most_recent: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetTranscriptRequest {
    pub contact_id: Option<String>,
    pub max_results: Option<i64>,
    pub next_token: Option<String>,
    pub scan_direction: Option<String>,
    pub sort_order: Option<String>,
    pub start_position: Option<StartPosition>,
}

/// What an agent (or the flow, `role: SYSTEM`) does to a contact from the control API.
#[derive(Debug, Clone, Deserialize)]
pub struct AgentAction {
    pub action: String,
    #[serde(default)]
    pub content_type: Option<String>,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub visibility: Option<String>,
    /// `AGENT` (default) or `SYSTEM` for `message`: flow/bot messages carry role SYSTEM.
    #[serde(default)]
    pub role: Option<String>,
    #[serde(default)]
    pub stream: Option<bool>,
    /// `attachment`: file name and base64 bytes.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub data: Option<String>,
}

/// Why the control API refused an agent action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentError {
    NotFound(String),
    Conflict(String),
    BadRequest(String),
}

// ---------------------------------------------------------------------------------------------

/// The simulated Connect instance (one per twin).
#[derive(Debug)]
pub struct ConnectSim {
    cfg: TwinConfig,
    contacts: HashMap<String, Contact>,
    /// Creation order, so listings are stable.
    order: Vec<String>,
    start_client_tokens: HashMap<String, (String, Value)>,
    participant_tokens: HashMap<String, String>,
    connection_tokens: HashMap<String, ConnectionToken>,
    outbox: Vec<StreamEvent>,
    attachments: HashMap<String, AttachmentRecord>,
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Opaque bearer token, shaped like Connect's (long base64).
fn new_token() -> String {
    let raw = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    base64::engine::general_purpose::STANDARD.encode(raw)
}

fn required<'a>(v: &'a Option<String>, name: &str, code: &str) -> Result<&'a str, ApiError> {
    match v.as_deref() {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(ApiError::new(code, format!("{name} is required"))),
    }
}

impl ConnectSim {
    pub fn new(cfg: TwinConfig) -> Self {
        Self {
            cfg,
            contacts: HashMap::new(),
            order: Vec::new(),
            start_client_tokens: HashMap::new(),
            participant_tokens: HashMap::new(),
            connection_tokens: HashMap::new(),
            outbox: Vec::new(),
            attachments: HashMap::new(),
        }
    }

    /// Forget every contact and token.
    pub fn reset(&mut self) {
        *self = Self::new(self.cfg.clone());
    }

    /// Items to publish, in the order they were added to transcripts.
    pub fn take_stream(&mut self) -> Vec<StreamEvent> {
        std::mem::take(&mut self.outbox)
    }

    pub fn contact(&self, id: &str) -> Option<&Contact> {
        self.contacts.get(id)
    }

    pub fn contacts(&self) -> impl Iterator<Item = &Contact> {
        self.order.iter().filter_map(|id| self.contacts.get(id))
    }

    fn check_instance(&self, instance: &str) -> Result<(), ApiError> {
        let arn_id = instance.rsplit('/').next().unwrap_or(instance);
        if instance == self.cfg.instance_id || arn_id == self.cfg.instance_id {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("Instance not found: {instance}")))
        }
    }

    /// Appends an item and queues it for streaming when the contact streams and `stream` is set.
    fn push_item(&mut self, contact_id: &str, item: TranscriptItem, stream: bool) -> String {
        let id = item.id.clone();
        let Some(contact) = self.contacts.get_mut(contact_id) else {
            return id;
        };
        if stream && let Some(arn) = &contact.streaming_endpoint_arn {
            self.outbox.push(StreamEvent {
                contact_id: contact.contact_id.clone(),
                item_id: item.id.clone(),
                topic_arn: arn.clone(),
                message: stream_message(contact, &item).to_string(),
                attributes: stream_attributes(&self.cfg, contact, &item),
            });
        }
        contact.transcript.push(item);
        id
    }

    fn event_item(ct: &str, who: Option<&Participant>, visibility: Visibility, now: u64) -> TranscriptItem {
        TranscriptItem {
            id: new_id(),
            role: who.map(|p| p.role),
            item_type: ItemType::Event,
            content_type: ct.to_owned(),
            content: None,
            display_name: who.map(|p| p.display_name.clone()),
            participant_id: who.map(|p| p.participant_id.clone()),
            visibility,
            time_ms: now,
            receipts: Vec::new(),
            attachments: Vec::new(),
        }
    }

    /// The agent's `participant.left`; the contact then has no agent until the next `join`.
    fn agent_leaves(
        &mut self,
        contact_id: &str,
        agent: &Participant,
        visibility: Visibility,
        now: u64,
        stream: bool,
    ) -> String {
        let item = Self::event_item(CT_LEFT, Some(agent), visibility, now);
        let id = self.push_item(contact_id, item, stream);
        if let Some(c) = self.contacts.get_mut(contact_id) {
            c.agent = None;
        }
        id
    }

    fn end_contact(&mut self, contact_id: &str, now: u64, stream: bool) {
        let item = Self::event_item(CT_ENDED, None, Visibility::All, now);
        self.push_item(contact_id, item, stream);
        if let Some(c) = self.contacts.get_mut(contact_id) {
            c.state = ContactState::Ended;
        }
    }

    // ----------------------------------------------------------------------------- Connect

    pub fn start_chat_contact(&mut self, req: StartChatContactRequest, now: u64) -> Result<Value, ApiError> {
        const BAD: &str = "InvalidParameterException";
        let instance = required(&req.instance_id, "InstanceId", BAD)?.to_owned();
        let flow = required(&req.contact_flow_id, "ContactFlowId", BAD)?.to_owned();
        let display_name = req
            .participant_details
            .as_ref()
            .and_then(|p| p.display_name.clone())
            .ok_or_else(|| ApiError::new(BAD, "ParticipantDetails.DisplayName is required"))?;
        if let Some(token) = &req.client_token
            && let Some((_, out)) = self.start_client_tokens.get(token)
        {
            return Ok(out.clone());
        }
        self.check_instance(&instance)?;
        let flow_id = flow.rsplit('/').next().unwrap_or(&flow).to_owned();
        if self.cfg.flow_greeting(&flow_id).is_none() {
            return Err(ApiError::not_found(format!("Contact flow not found: {flow}")));
        }
        let attributes = req.attributes.unwrap_or_default();
        check_attributes(&attributes)?;
        let duration = req.chat_duration_in_minutes.unwrap_or(1500);
        let supported = req
            .supported_messaging_content_types
            .unwrap_or_else(|| vec!["text/plain".to_owned()]);
        if let Some(bad) = supported.iter().find(|t| !CHAT_CONTENT_TYPES.contains(&t.as_str())) {
            return Err(ApiError::new(BAD, format!("Unsupported content type: {bad}")));
        }
        if !supported.iter().any(|t| t == "text/plain") {
            return Err(ApiError::new(
                "InvalidRequestException",
                "SupportedMessagingContentTypes must include text/plain",
            ));
        }
        let mut related = None;
        // As in AWS: "You cannot provide data for both RelatedContactId and PersistentChat."
        if req.persistent_chat.is_some() && req.related_contact_id.is_some() {
            return Err(ApiError::new(
                BAD,
                "You cannot provide data for both RelatedContactId and PersistentChat",
            ));
        }
        if let Some(pc) = &req.persistent_chat {
            let src = required(&pc.source_contact_id, "PersistentChat.SourceContactId", BAD)?;
            if !self.contacts.contains_key(src) {
                return Err(ApiError::not_found(format!("Contact not found: {src}")));
            }
            related = Some(src.to_owned());
        }
        if let Some(rel) = &req.related_contact_id {
            if !self.contacts.contains_key(rel) {
                return Err(ApiError::not_found(format!("Contact not found: {rel}")));
            }
            related = Some(rel.clone());
        }
        let streaming_arn = match &req.chat_streaming_configuration {
            Some(cfg) => Some(validate_sns_arn(cfg.streaming_endpoint_arn.as_deref())?),
            None => None,
        };
        let mut initial = None;
        if let Some(msg) = &req.initial_message {
            let ct = required(&msg.content_type, "InitialMessage.ContentType", BAD)?;
            let content = required(&msg.content, "InitialMessage.Content", BAD)?;
            if !supported.iter().any(|t| t == ct) {
                return Err(ApiError::new(BAD, format!("Unsupported content type: {ct}")));
            }
            if content.len() > self.cfg.max_message_bytes {
                return Err(ApiError::new(BAD, "InitialMessage.Content is too long"));
            }
            initial = Some((ct.to_owned(), content.to_owned()));
        }
        let types = req.connection_types.unwrap_or_default();
        if let Some(bad) = types
            .iter()
            .find(|t| *t != "CONNECTION_CREDENTIALS" && *t != "WEBSOCKET")
        {
            return Err(ApiError::new(BAD, format!("Invalid ConnectionTypes value: {bad}")));
        }

        let contact_id = new_id();
        let customer = Participant {
            participant_id: new_id(),
            display_name,
            role: Role::Customer,
            joined: false,
        };
        let participant_token = new_token();
        let streaming_id = streaming_arn.as_ref().map(|_| new_id());
        let contact = Contact {
            contact_id: contact_id.clone(),
            initial_contact_id: contact_id.clone(),
            state: ContactState::Connected,
            attributes,
            customer: customer.clone(),
            participant_token: participant_token.clone(),
            agent: None,
            custom_bots: CustomBots::default(),
            system_participant_id: new_id(),
            contact_flow_id: flow_id,
            supported_content_types: supported,
            streaming_endpoint_arn: streaming_arn,
            streaming_id: streaming_id.clone(),
            related_contact_id: related.clone(),
            chat_duration_minutes: duration,
            transcript: Vec::new(),
            item_client_tokens: HashMap::new(),
            created_ms: now,
        };
        self.contacts.insert(contact_id.clone(), contact);
        self.order.push(contact_id.clone());
        self.participant_tokens
            .insert(participant_token.clone(), contact_id.clone());
        if let Some((ct, content)) = initial {
            let item = TranscriptItem {
                id: new_id(),
                role: Some(Role::Customer),
                item_type: ItemType::Message,
                content_type: ct,
                content: Some(content),
                display_name: Some(customer.display_name.clone()),
                participant_id: Some(customer.participant_id.clone()),
                visibility: Visibility::All,
                time_ms: now,
                receipts: Vec::new(),
                attachments: Vec::new(),
            };
            self.push_item(&contact_id, item, true);
        }

        let mut out = json!({
            "ContactId": contact_id,
            "ParticipantId": customer.participant_id,
            "ParticipantToken": participant_token,
        });
        if let Some(rel) = &related
            && req.persistent_chat.is_some()
        {
            out["ContinuedFromContactId"] = json!(rel);
        }
        if let Some(sid) = streaming_id {
            out["StreamingId"] = json!(sid);
        }
        if !types.is_empty() {
            let conn = self.connection_output(&contact_id, &customer.participant_id, &types, now);
            for (k, v) in conn.as_object().into_iter().flatten() {
                out[k] = v.clone();
            }
        }
        if let Some(token) = req.client_token {
            self.start_client_tokens.insert(token, (contact_id, out.clone()));
        }
        Ok(out)
    }

    pub fn start_contact_streaming(&mut self, req: StartContactStreamingRequest) -> Result<Value, ApiError> {
        const BAD: &str = "InvalidParameterException";
        let instance = required(&req.instance_id, "InstanceId", BAD)?;
        let contact_id = required(&req.contact_id, "ContactId", BAD)?;
        let arn = validate_sns_arn(
            req.chat_streaming_configuration
                .as_ref()
                .and_then(|c| c.streaming_endpoint_arn.as_deref()),
        )?;
        self.check_instance(instance)?;
        let contact = self
            .contacts
            .get_mut(contact_id)
            .ok_or_else(|| ApiError::not_found(format!("Contact not found: {contact_id}")))?;
        if contact.state == ContactState::Ended {
            return Err(ApiError::new("InvalidRequestException", "Contact has already ended"));
        }
        match (&contact.streaming_endpoint_arn, &contact.streaming_id) {
            (Some(existing), Some(id)) if *existing == arn => Ok(json!({ "StreamingId": id })),
            (Some(existing), _) => Err(ApiError::new(
                "InvalidRequestException",
                format!("Contact is already streaming to {existing}"),
            )),
            _ => {
                let id = new_id();
                contact.streaming_endpoint_arn = Some(arn);
                contact.streaming_id = Some(id.clone());
                Ok(json!({ "StreamingId": id }))
            }
        }
    }

    /// Connect merges the attributes into the contact's (a key given again takes the new value), also
    /// after the contact ended, within the same 32 KB as a start.
    pub fn update_contact_attributes(&mut self, req: UpdateContactAttributesRequest) -> Result<Value, ApiError> {
        const BAD: &str = "InvalidParameterException";
        let instance = required(&req.instance_id, "InstanceId", BAD)?;
        let contact_id = required(&req.initial_contact_id, "InitialContactId", BAD)?.to_owned();
        self.check_instance(instance)?;
        let contact = self
            .contacts
            .get_mut(&contact_id)
            .ok_or_else(|| ApiError::not_found(format!("Contact not found: {contact_id}")))?;
        let mut merged = contact.attributes.clone();
        merged.extend(req.attributes.unwrap_or_default());
        check_attributes(&merged)?;
        contact.attributes = merged;
        Ok(json!({}))
    }

    pub fn stop_contact(&mut self, req: StopContactRequest, now: u64) -> Result<Value, ApiError> {
        const BAD: &str = "InvalidParameterException";
        let instance = required(&req.instance_id, "InstanceId", BAD)?;
        let contact_id = required(&req.contact_id, "ContactId", BAD)?.to_owned();
        self.check_instance(instance)?;
        match self.contacts.get(&contact_id) {
            Some(c) if c.state == ContactState::Connected => {}
            _ => {
                return Err(ApiError::new(
                    "ContactNotFoundException",
                    format!("Contact {contact_id} not found or already ended"),
                ));
            }
        }
        self.end_contact(&contact_id, now, true);
        Ok(json!({}))
    }

    // ----------------------------------------------------------------- Connect Participant

    /// Resolves a connection token to `(contact_id, participant_id)`; AWS answers every problem
    /// with AccessDenied so callers cannot probe tokens.
    fn resolve_connection(&self, token: Option<&str>, now: u64) -> Result<(String, String), ApiError> {
        let token = token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::access_denied("Missing ConnectionToken (X-Amz-Bearer)"))?;
        let conn = self
            .connection_tokens
            .get(token)
            .ok_or_else(|| ApiError::access_denied("Invalid ConnectionToken"))?;
        if conn.expires_ms <= now {
            return Err(ApiError::access_denied("ConnectionToken has expired"));
        }
        let contact = self
            .contacts
            .get(&conn.contact_id)
            .ok_or_else(|| ApiError::access_denied("Invalid ConnectionToken"))?;
        if contact.state == ContactState::Ended {
            return Err(ApiError::access_denied("Chat has ended"));
        }
        Ok((conn.contact_id.clone(), conn.participant_id.clone()))
    }

    /// Makes a connection token expire now (fault injection). Returns whether it existed.
    pub fn expire_connection_token(&mut self, token: &str, now: u64) -> bool {
        match self.connection_tokens.get_mut(token) {
            Some(c) => {
                c.expires_ms = now;
                true
            }
            None => false,
        }
    }

    fn connection_output(&mut self, contact_id: &str, participant_id: &str, types: &[String], now: u64) -> Value {
        let mut out = json!({});
        let expires = now + self.cfg.connection_token_ttl.as_millis() as u64;
        if types.iter().any(|t| t == "CONNECTION_CREDENTIALS") {
            let token = new_token();
            self.connection_tokens.insert(
                token.clone(),
                ConnectionToken {
                    contact_id: contact_id.to_owned(),
                    participant_id: participant_id.to_owned(),
                    expires_ms: expires,
                },
            );
            out["ConnectionCredentials"] = json!({ "ConnectionToken": token, "Expiry": iso_millis(expires) });
        }
        if types.iter().any(|t| t == "WEBSOCKET") {
            // No websocket is served; the URL only has to be well-formed for clients that log it.
            out["Websocket"] = json!({
                "Url": format!("wss://participant.local-aws.invalid/connect?contact={contact_id}"),
                "ConnectionExpiry": iso_millis(expires),
            });
        }
        out
    }

    pub fn create_participant_connection(
        &mut self,
        participant_token: Option<&str>,
        req: CreateParticipantConnectionRequest,
        now: u64,
    ) -> Result<Value, ApiError> {
        let types = req.types.unwrap_or_default();
        if types.is_empty() && req.connect_participant.is_none() {
            return Err(ApiError::validation("Type or ConnectParticipant must be provided"));
        }
        let token = participant_token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| ApiError::access_denied("Missing ParticipantToken (X-Amz-Bearer)"))?;
        let contact_id = self
            .participant_tokens
            .get(token)
            .cloned()
            .ok_or_else(|| ApiError::access_denied("Invalid ParticipantToken"))?;
        let contact = &self.contacts[&contact_id];
        if contact.state == ContactState::Ended {
            return Err(ApiError::access_denied("Chat has ended"));
        }
        if token != contact.participant_token {
            return self.connect_custom_bot(&contact_id, token, &types, req.connect_participant, now);
        }
        let customer = contact.customer.clone();
        let system_id = contact.system_participant_id.clone();
        let greeting = self.cfg.flow_greeting(&contact.contact_flow_id).flatten();
        let out = self.connection_output(&contact_id, &customer.participant_id, &types, now);
        if req.connect_participant == Some(true) && !customer.joined {
            if let Some(c) = self.contacts.get_mut(&contact_id) {
                c.customer.joined = true;
            }
            let joined = Self::event_item(CT_JOINED, Some(&customer), Visibility::All, now);
            self.push_item(&contact_id, joined, true);
            // The simulated contact flow: greet, then wait in queue for an agent.
            if let Some(text) = greeting {
                let greeting = TranscriptItem {
                    id: new_id(),
                    role: Some(Role::System),
                    item_type: ItemType::Message,
                    content_type: "text/plain".into(),
                    content: Some(text),
                    display_name: Some("SYSTEM_MESSAGE".into()),
                    participant_id: Some(system_id),
                    visibility: Visibility::All,
                    time_ms: now,
                    receipts: Vec::new(),
                    attachments: Vec::new(),
                };
                self.push_item(&contact_id, greeting, true);
            }
        }
        Ok(out)
    }

    fn replay_client_token(&self, contact_id: &str, token: Option<&str>) -> Option<Value> {
        let token = token?;
        let (id, time) = self.contacts.get(contact_id)?.item_client_tokens.get(token)?;
        Some(json!({ "Id": id, "AbsoluteTime": iso_millis(*time) }))
    }

    fn remember_client_token(&mut self, contact_id: &str, token: Option<String>, id: &str, now: u64) {
        if let (Some(token), Some(c)) = (token, self.contacts.get_mut(contact_id)) {
            c.item_client_tokens.insert(token, (id.to_owned(), now));
        }
    }

    fn participant(&self, contact_id: &str, participant_id: &str) -> Option<Participant> {
        let c = self.contacts.get(contact_id)?;
        if c.customer.participant_id == participant_id {
            return Some(c.customer.clone());
        }
        c.agent
            .as_ref()
            .filter(|a| a.participant_id == participant_id)
            .or_else(|| c.custom_bots.member(participant_id))
            .cloned()
    }

    pub fn send_message(
        &mut self,
        connection_token: Option<&str>,
        req: SendRequest,
        now: u64,
    ) -> Result<Value, ApiError> {
        const BAD: &str = "ValidationException";
        let ct = required(&req.content_type, "ContentType", BAD)?.to_owned();
        let content = req
            .content
            .clone()
            .ok_or_else(|| ApiError::validation("Content is required"))?;
        let (contact_id, participant_id) = self.resolve_connection(connection_token, now)?;
        if let Some(out) = self.replay_client_token(&contact_id, req.client_token.as_deref()) {
            return Ok(out);
        }
        let contact = &self.contacts[&contact_id];
        if !SEND_MESSAGE_TYPES.contains(&ct.as_str()) || !contact.supported_content_types.contains(&ct) {
            return Err(ApiError::validation(format!(
                "ContentType {ct} is not supported for this chat (supported: {})",
                contact.supported_content_types.join(", ")
            )));
        }
        if content.is_empty() || content.len() > self.cfg.max_message_bytes {
            return Err(ApiError::validation(format!(
                "Content must be between 1 and {} bytes (got {})",
                self.cfg.max_message_bytes,
                content.len()
            )));
        }
        let chars = content.chars().count();
        if (ct == "text/plain" || ct == "text/markdown") && chars > self.cfg.max_text_chars {
            return Err(ApiError::validation(format!(
                "Content of type {ct} must be at most {} characters (got {chars})",
                self.cfg.max_text_chars
            )));
        }
        let sender = self
            .participant(&contact_id, &participant_id)
            .ok_or_else(|| ApiError::access_denied("Participant is no longer in the chat"))?;
        let item = TranscriptItem {
            id: new_id(),
            role: Some(sender.role),
            item_type: ItemType::Message,
            content_type: ct,
            content: Some(content),
            display_name: Some(sender.display_name.clone()),
            participant_id: Some(sender.participant_id.clone()),
            visibility: Visibility::All,
            time_ms: now,
            receipts: Vec::new(),
            attachments: Vec::new(),
        };
        let id = self.push_item(&contact_id, item, true);
        self.remember_client_token(&contact_id, req.client_token, &id, now);
        Ok(json!({ "Id": id, "AbsoluteTime": iso_millis(now) }))
    }

    pub fn send_event(
        &mut self,
        connection_token: Option<&str>,
        req: SendRequest,
        now: u64,
    ) -> Result<Value, ApiError> {
        let ct = required(&req.content_type, "ContentType", "ValidationException")?.to_owned();
        let (contact_id, participant_id) = self.resolve_connection(connection_token, now)?;
        if let Some(out) = self.replay_client_token(&contact_id, req.client_token.as_deref()) {
            return Ok(out);
        }
        let sender = self
            .participant(&contact_id, &participant_id)
            .ok_or_else(|| ApiError::access_denied("Participant is no longer in the chat"))?;
        let id = match ct.as_str() {
            CT_TYPING => {
                let item = Self::event_item(CT_TYPING, Some(&sender), Visibility::All, now);
                self.push_item(&contact_id, item, true)
            }
            CT_ACK => new_id(),
            CT_DELIVERED | CT_READ => {
                let content = req
                    .content
                    .as_deref()
                    .ok_or_else(|| ApiError::validation("Content is required for receipts"))?;
                let target = serde_json::from_str::<Value>(content)
                    .ok()
                    .and_then(|v| v.get("messageId").and_then(Value::as_str).map(str::to_owned))
                    .ok_or_else(|| ApiError::validation("Content must be JSON {\"messageId\":\"<item id>\"}"))?;
                let contact = self
                    .contacts
                    .get_mut(&contact_id)
                    .ok_or_else(|| ApiError::access_denied("Invalid ConnectionToken"))?;
                let item = contact
                    .transcript
                    .iter_mut()
                    .find(|i| i.id == target)
                    .ok_or_else(|| ApiError::validation(format!("Unknown messageId {target}")))?;
                let idx = match item.receipts.iter().position(|r| r.participant_id == participant_id) {
                    Some(i) => i,
                    None => {
                        item.receipts.push(Receipt {
                            participant_id: participant_id.clone(),
                            delivered_ms: None,
                            read_ms: None,
                        });
                        item.receipts.len() - 1
                    }
                };
                let receipt = &mut item.receipts[idx];
                if ct == CT_DELIVERED {
                    receipt.delivered_ms.get_or_insert(now);
                } else {
                    receipt.read_ms.get_or_insert(now);
                }
                new_id()
            }
            other => {
                return Err(ApiError::validation(format!(
                    "ContentType {other} is not a valid event type"
                )));
            }
        };
        self.remember_client_token(&contact_id, req.client_token, &id, now);
        Ok(json!({ "Id": id, "AbsoluteTime": iso_millis(now) }))
    }

    pub fn disconnect_participant(&mut self, connection_token: Option<&str>, now: u64) -> Result<Value, ApiError> {
        let (contact_id, participant_id) = self.resolve_connection(connection_token, now)?;
        let who = self
            .participant(&contact_id, &participant_id)
            .ok_or_else(|| ApiError::access_denied("Participant is no longer in the chat"))?;
        // A custom bot leaves alone; the chat goes on with the customer.
        if who.role == Role::CustomBot {
            self.custom_bot_leaves(&contact_id, now, true);
            return Ok(json!({}));
        }
        let left = Self::event_item(CT_LEFT, Some(&who), Visibility::All, now);
        self.push_item(&contact_id, left, true);
        self.end_contact(&contact_id, now, true);
        Ok(json!({}))
    }

    pub fn get_transcript(
        &self,
        connection_token: Option<&str>,
        req: GetTranscriptRequest,
        now: u64,
    ) -> Result<Value, ApiError> {
        let (own_contact, _) = self.resolve_connection(connection_token, now)?;
        let contact_id = match &req.contact_id {
            None => own_contact.clone(),
            Some(id) => {
                // Persistent chats may read the transcripts of the contacts they continue.
                let mut cur = Some(own_contact.clone());
                let mut allowed = false;
                while let Some(c) = cur {
                    if &c == id {
                        allowed = true;
                        break;
                    }
                    cur = self.contacts.get(&c).and_then(|c| c.related_contact_id.clone());
                }
                if !allowed {
                    return Err(ApiError::access_denied(format!(
                        "Not allowed to read the transcript of {id}"
                    )));
                }
                id.clone()
            }
        };
        let contact = &self.contacts[&contact_id];
        let max = req.max_results.unwrap_or(10).clamp(0, 100);
        let forward = match req.scan_direction.as_deref() {
            None | Some("BACKWARD") => false,
            Some("FORWARD") => true,
            Some(other) => {
                return Err(ApiError::validation(format!("Invalid ScanDirection {other}")));
            }
        };
        let descending = match req.sort_order.as_deref() {
            None | Some("ASCENDING") => false,
            Some("DESCENDING") => true,
            Some(other) => return Err(ApiError::validation(format!("Invalid SortOrder {other}"))),
        };
        let visible: Vec<&TranscriptItem> = contact
            .transcript
            .iter()
            .filter(|i| i.visibility != Visibility::Agent)
            .collect();
        let n = visible.len();
        // `cursor` is the index the page starts from, moving away from it in scan direction.
        let cursor: usize = if let Some(token) = &req.next_token {
            token
                .strip_prefix("pos:")
                .and_then(|s| s.parse().ok())
                .filter(|p| *p <= n)
                .ok_or_else(|| ApiError::validation("Invalid NextToken"))?
        } else if let Some(sp) = &req.start_position {
            let anchor = if let Some(id) = &sp.id {
                visible
                    .iter()
                    .position(|i| &i.id == id)
                    .ok_or_else(|| ApiError::validation(format!("Unknown StartPosition.Id {id}")))?
            } else if let Some(t) = &sp.absolute_time {
                visible
                    .iter()
                    .position(|i| iso_millis(i.time_ms).as_str() >= t.as_str())
                    .unwrap_or(n.saturating_sub(1))
            } else {
                let back = sp.most_recent.unwrap_or(0).max(0) as usize;
                n.saturating_sub(1).saturating_sub(back)
            };
            if forward { anchor } else { anchor + 1 }
        } else if forward {
            0
        } else {
            n
        };
        let max = max as usize;
        let (range, next) = if forward {
            let end = (cursor + max).min(n);
            let next = (end < n).then(|| format!("pos:{end}"));
            (cursor.min(n)..end, next)
        } else {
            let end = cursor.min(n);
            let start = end.saturating_sub(max);
            let next = (start > 0).then(|| format!("pos:{start}"));
            (start..end, next)
        };
        let mut items: Vec<Value> = visible[range]
            .iter()
            .map(|i| transcript_item_json(contact, i))
            .collect();
        if descending {
            items.reverse();
        }
        let mut out = json!({ "InitialContactId": contact.initial_contact_id, "Transcript": items });
        if let Some(next) = next {
            out["NextToken"] = json!(next);
        }
        Ok(out)
    }

    // ----------------------------------------------------------------------- agent side

    /// Applies an agent action from the control API; returns the ids of the items it added.
    pub fn agent_action(
        &mut self,
        contact_id: &str,
        action: &AgentAction,
        now: u64,
    ) -> Result<Vec<String>, AgentError> {
        let contact = self
            .contacts
            .get(contact_id)
            .ok_or_else(|| AgentError::NotFound(format!("no contact {contact_id}")))?;
        if contact.state == ContactState::Ended {
            return Err(AgentError::Conflict(format!("contact {contact_id} has ended")));
        }
        let stream = action.stream.unwrap_or(true);
        let visibility = match action.visibility.as_deref() {
            None => Visibility::All,
            Some(v) => Visibility::parse(v).ok_or_else(|| AgentError::BadRequest(format!("invalid visibility {v}")))?,
        };
        let agent = contact.agent.clone().filter(|a| a.joined);
        let require_agent = || {
            agent
                .clone()
                .ok_or_else(|| AgentError::Conflict("no agent has joined this contact".into()))
        };
        let mut ids = Vec::new();
        match action.action.as_str() {
            "join" => {
                if agent.is_some() {
                    return Err(AgentError::Conflict("an agent has already joined".into()));
                }
                let p = Participant {
                    participant_id: new_id(),
                    display_name: action.display_name.clone().unwrap_or_else(|| "Agent".into()),
                    role: Role::Agent,
                    joined: true,
                };
                if let Some(c) = self.contacts.get_mut(contact_id) {
                    c.agent = Some(p.clone());
                }
                let item = Self::event_item(CT_JOINED, Some(&p), visibility, now);
                ids.push(self.push_item(contact_id, item, stream));
                // Connect disconnects a custom participant when an agent joins.
                ids.extend(self.custom_bot_leaves(contact_id, now, stream));
            }
            "message" => {
                let content = action
                    .content
                    .clone()
                    .filter(|c| !c.is_empty())
                    .ok_or_else(|| AgentError::BadRequest("content is required".into()))?;
                let ct = action.content_type.clone().unwrap_or_else(|| "text/plain".into());
                let system = match action.role.as_deref().map(str::to_ascii_uppercase).as_deref() {
                    None | Some("AGENT") => false,
                    Some("SYSTEM") => true,
                    Some(other) => {
                        return Err(AgentError::BadRequest(format!("invalid role {other}")));
                    }
                };
                let (role, pid, name) = if system {
                    (
                        Role::System,
                        contact.system_participant_id.clone(),
                        action.display_name.clone().unwrap_or_else(|| "SYSTEM_MESSAGE".into()),
                    )
                } else {
                    let a = require_agent()?;
                    (
                        Role::Agent,
                        a.participant_id,
                        action.display_name.clone().unwrap_or(a.display_name),
                    )
                };
                let item = TranscriptItem {
                    id: new_id(),
                    role: Some(role),
                    item_type: ItemType::Message,
                    content_type: ct,
                    content: Some(content),
                    display_name: Some(name),
                    participant_id: Some(pid),
                    visibility,
                    time_ms: now,
                    receipts: Vec::new(),
                    attachments: Vec::new(),
                };
                ids.push(self.push_item(contact_id, item, stream));
            }
            "typing" => {
                let a = require_agent()?;
                let item = Self::event_item(CT_TYPING, Some(&a), visibility, now);
                ids.push(self.push_item(contact_id, item, stream));
            }
            "leave" => {
                let a = require_agent()?;
                ids.push(self.agent_leaves(contact_id, &a, visibility, now, stream));
            }
            // A transfer to a queue as Connect streams it: the flow reports it, then the agent is gone
            // (the next agent joins with `join`).
            "transfer" => {
                let a = require_agent()?;
                let system = Participant {
                    participant_id: contact.system_participant_id.clone(),
                    display_name: "SYSTEM_MESSAGE".into(),
                    role: Role::System,
                    joined: true,
                };
                let item = Self::event_item(CT_TRANSFERRED, Some(&system), visibility, now);
                ids.push(self.push_item(contact_id, item, stream));
                ids.push(self.agent_leaves(contact_id, &a, visibility, now, stream));
            }
            // Connect's chat timeouts for an unresponsive customer: the idle warning, then the
            // auto-disconnection that ends the chat.
            "idle" => {
                let item = Self::event_item(CT_IDLE, Some(&contact.customer), visibility, now);
                ids.push(self.push_item(contact_id, item, stream));
            }
            "autodisconnect" | "end" => {
                if action.action == "autodisconnect" {
                    let item = Self::event_item(CT_AUTODISCONNECTED, Some(&contact.customer), visibility, now);
                    ids.push(self.push_item(contact_id, item, stream));
                }
                if let Some(a) = agent {
                    ids.push(self.agent_leaves(contact_id, &a, visibility, now, stream));
                }
                self.end_contact(contact_id, now, stream);
                if let Some(last) = self.contacts[contact_id].transcript.last() {
                    ids.push(last.id.clone());
                }
            }
            "attachment" => {
                let a = require_agent()?;
                ids.push(self.agent_attachment(contact_id, &a, action, visibility, stream, now)?);
            }
            other => {
                return Err(AgentError::BadRequest(format!(
                    "unknown action {other:?} (join|message|typing|leave|transfer|idle|autodisconnect|end|attachment)"
                )));
            }
        }
        Ok(ids)
    }
}

/// A contact's attributes as Connect admits them: keys of letters, digits, `-` and `_`, and 32 KB of
/// keys and values in all.
fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<(), ApiError> {
    const BAD: &str = "InvalidParameterException";
    let bytes: usize = attributes.iter().map(|(k, v)| k.len() + v.len()).sum();
    if bytes > MAX_ATTRIBUTES_BYTES {
        return Err(ApiError::new(
            BAD,
            format!("Attributes exceed {MAX_ATTRIBUTES_BYTES} bytes"),
        ));
    }
    if let Some(bad) = attributes
        .keys()
        .find(|k| k.is_empty() || !k.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_'))
    {
        return Err(ApiError::new(BAD, format!("Invalid attribute key: {bad:?}")));
    }
    Ok(())
}

fn validate_sns_arn(arn: Option<&str>) -> Result<String, ApiError> {
    let arn = arn.filter(|a| !a.is_empty()).ok_or_else(|| {
        ApiError::new(
            "InvalidParameterException",
            "ChatStreamingConfiguration.StreamingEndpointArn is required",
        )
    })?;
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "sns" || parts[5].is_empty() {
        return Err(ApiError::new(
            "InvalidParameterException",
            format!("StreamingEndpointArn must be an SNS topic ARN: {arn}"),
        ));
    }
    Ok(arn.to_owned())
}

/// The SNS `Message` Connect publishes for a transcript item (the fields of the fixtures).
pub fn stream_message(contact: &Contact, item: &TranscriptItem) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("AbsoluteTime".into(), json!(iso_millis(item.time_ms)));
    if let Some(c) = &item.content {
        m.insert("Content".into(), json!(c));
    }
    if item.item_type == ItemType::Attachment {
        // Connect's ATTACHMENT items carry the type per file, not at the top (the fixture's shape).
        m.insert(
            "Attachments".into(),
            Value::Array(item.attachments.iter().map(ItemAttachment::stream_json).collect()),
        );
    } else {
        m.insert("ContentType".into(), json!(item.content_type));
    }
    m.insert("Id".into(), json!(item.id));
    m.insert("Type".into(), json!(item.item_type.as_str()));
    if let Some(p) = &item.participant_id {
        m.insert("ParticipantId".into(), json!(p));
    }
    if let Some(d) = &item.display_name {
        m.insert("DisplayName".into(), json!(d));
    }
    if let Some(r) = item.role {
        m.insert("ParticipantRole".into(), json!(r.as_str()));
    }
    m.insert("InitialContactId".into(), json!(contact.initial_contact_id));
    m.insert("ContactId".into(), json!(contact.contact_id));
    Value::Object(m)
}

fn attr(v: &str) -> Value {
    json!({ "Type": "String", "Value": v })
}

/// The SNS `MessageAttributes` Connect sets on a streamed item.
pub fn stream_attributes(cfg: &TwinConfig, contact: &Contact, item: &TranscriptItem) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("InitialContactId".into(), attr(&contact.initial_contact_id));
    m.insert("MessageVisibility".into(), attr(item.visibility.as_str()));
    m.insert("Type".into(), attr(item.item_type.as_str()));
    m.insert("AccountId".into(), attr(&cfg.account_id));
    m.insert("ContentType".into(), attr(&item.content_type));
    m.insert("InstanceId".into(), attr(&cfg.instance_id));
    m.insert("ContactId".into(), attr(&contact.contact_id));
    if let Some(r) = item.role {
        m.insert("ParticipantRole".into(), attr(r.as_str()));
    }
    Value::Object(m)
}

/// A transcript item in GetTranscript's `Item` shape.
fn transcript_item_json(contact: &Contact, item: &TranscriptItem) -> Value {
    let mut v = stream_message(contact, item);
    if let Some(o) = v.as_object_mut() {
        o.remove("InitialContactId");
    }
    if !item.receipts.is_empty() {
        v["MessageMetadata"] = json!({
            "MessageId": item.id,
            "Receipts": item.receipts.iter().map(|r| {
                let mut o = json!({ "RecipientParticipantId": r.participant_id });
                if let Some(t) = r.delivered_ms { o["DeliveredTimestamp"] = json!(iso_millis(t)); }
                if let Some(t) = r.read_ms { o["ReadTimestamp"] = json!(iso_millis(t)); }
                o
            }).collect::<Vec<_>>(),
        });
    }
    if let Some(rel) = &contact.related_contact_id {
        v["RelatedContactId"] = json!(rel);
    }
    v
}

/// A contact as `GET /_twin/contacts` shows it.
pub fn contact_json(c: &Contact) -> Value {
    json!({
        "contact_id": c.contact_id,
        "initial_contact_id": c.initial_contact_id,
        "state": match c.state { ContactState::Connected => "connected", ContactState::Ended => "ended" },
        "attributes": c.attributes,
        "contact_flow_id": c.contact_flow_id,
        "customer_display_name": c.customer.display_name,
        "customer_participant_id": c.customer.participant_id,
        "customer_connected": c.customer.joined,
        "agent": c.agent.as_ref().map(|a| json!({"participant_id": a.participant_id, "display_name": a.display_name})),
        "supported_content_types": c.supported_content_types,
        "streaming_endpoint_arn": c.streaming_endpoint_arn,
        "related_contact_id": c.related_contact_id,
        "chat_duration_minutes": c.chat_duration_minutes,
        "created": iso_millis(c.created_ms),
        "transcript": c.transcript.iter().map(|i| json!({
            "id": i.id,
            "role": i.role.map(Role::as_str),
            "type": i.item_type.as_str(),
            "content_type": i.content_type,
            "content": i.content,
            "display_name": i.display_name,
            "participant_id": i.participant_id,
            "visibility": i.visibility.as_str(),
            "time": iso_millis(i.time_ms),
            "attachments": i.attachments.iter().map(ItemAttachment::twin_json).collect::<Vec<_>>(),
            "receipts": i.receipts.iter().map(|r| json!({
                "participant_id": r.participant_id,
                "delivered": r.delivered_ms.map(iso_millis),
                "read": r.read_ms.map(iso_millis),
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: u64 = 1_762_846_200_000;
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:connect-chat-stream";

    fn sim() -> ConnectSim {
        ConnectSim::new(TwinConfig::default())
    }

    fn start(sim: &mut ConnectSim, token: Option<&str>) -> Value {
        let cfg = TwinConfig::default();
        sim.start_chat_contact(
            StartChatContactRequest {
                instance_id: Some(cfg.instance_id.clone()),
                contact_flow_id: Some(cfg.contact_flow_id.clone()),
                participant_details: Some(NameOnly {
                    display_name: Some("Sheena".into()),
                }),
                client_token: token.map(str::to_owned),
                supported_messaging_content_types: Some(vec!["text/plain".into(), "text/markdown".into()]),
                ..Default::default()
            },
            T0,
        )
        .unwrap()
    }

    /// Starts, streams and connects a contact; returns (contact id, connection token).
    fn connected(sim: &mut ConnectSim) -> (String, String) {
        let out = start(sim, None);
        let contact = out["ContactId"].as_str().unwrap().to_owned();
        sim.start_contact_streaming(StartContactStreamingRequest {
            instance_id: Some(TwinConfig::default().instance_id),
            contact_id: Some(contact.clone()),
            chat_streaming_configuration: Some(StreamingConfiguration {
                streaming_endpoint_arn: Some(TOPIC.into()),
            }),
            client_token: Some("s".into()),
        })
        .unwrap();
        let conn = sim
            .create_participant_connection(
                out["ParticipantToken"].as_str(),
                CreateParticipantConnectionRequest {
                    types: Some(vec!["CONNECTION_CREDENTIALS".into()]),
                    connect_participant: Some(true),
                },
                T0,
            )
            .unwrap();
        let token = conn["ConnectionCredentials"]["ConnectionToken"]
            .as_str()
            .unwrap()
            .to_owned();
        (contact, token)
    }

    fn msg(text: &str, token: Option<&str>) -> SendRequest {
        SendRequest {
            content_type: Some("text/plain".into()),
            content: Some(text.into()),
            client_token: token.map(str::to_owned),
        }
    }

    #[test]
    fn start_chat_client_token_replays_original() {
        let mut s = sim();
        let a = start(&mut s, Some("tok"));
        let b = start(&mut s, Some("tok"));
        assert_eq!(a, b);
        let c = start(&mut s, Some("other"));
        assert_ne!(a["ContactId"], c["ContactId"]);
        assert_eq!(s.contacts().count(), 2);
    }

    /// A chat started with an initial message and streaming: the customer's message is the first item,
    /// streamed like any other, before the flow greets (once the customer connects); a start retried
    /// with the same client token returns the same chat without the message twice.
    #[test]
    fn an_initial_message_comes_first_streamed_and_once() {
        let mut s = sim();
        let cfg = TwinConfig::default();
        let request = || StartChatContactRequest {
            instance_id: Some(cfg.instance_id.clone()),
            contact_flow_id: Some(cfg.contact_flow_id.clone()),
            participant_details: Some(NameOnly {
                display_name: Some("Sheena".into()),
            }),
            client_token: Some("tok".into()),
            supported_messaging_content_types: Some(vec!["text/plain".into()]),
            chat_streaming_configuration: Some(StreamingConfiguration {
                streaming_endpoint_arn: Some(TOPIC.into()),
            }),
            initial_message: Some(ChatMessage {
                content_type: Some("text/plain".into()),
                content: Some("where is my order?".into()),
            }),
            ..Default::default()
        };
        let first = s.start_chat_contact(request(), T0).unwrap();
        let again = s.start_chat_contact(request(), T0 + 1_000).unwrap();
        assert_eq!(first, again);
        s.create_participant_connection(
            first["ParticipantToken"].as_str(),
            CreateParticipantConnectionRequest {
                types: Some(vec!["CONNECTION_CREDENTIALS".into()]),
                connect_participant: Some(true),
            },
            T0,
        )
        .unwrap();
        let items: Vec<Value> = s
            .take_stream()
            .iter()
            .map(|event| serde_json::from_str(&event.message).unwrap())
            .collect();
        let roles: Vec<&str> = items.iter().map(|i| i["ParticipantRole"].as_str().unwrap()).collect();
        assert_eq!(roles, ["CUSTOMER", "CUSTOMER", "SYSTEM"], "{items:#?}");
        assert_eq!(items[0]["Content"], "where is my order?");
        assert_eq!(items[1]["ContentType"], CT_JOINED);
        assert_eq!(items[2]["DisplayName"], "SYSTEM_MESSAGE");
    }

    #[test]
    fn start_chat_validation() {
        let mut s = sim();
        let err = s
            .start_chat_contact(StartChatContactRequest::default(), T0)
            .unwrap_err();
        assert_eq!(err.code, "InvalidParameterException");
        let err = s
            .start_chat_contact(
                StartChatContactRequest {
                    instance_id: Some("nope".into()),
                    contact_flow_id: Some(TwinConfig::default().contact_flow_id),
                    participant_details: Some(NameOnly {
                        display_name: Some("x".into()),
                    }),
                    ..Default::default()
                },
                T0,
            )
            .unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
        let err = s
            .start_chat_contact(
                StartChatContactRequest {
                    instance_id: Some(TwinConfig::default().instance_id),
                    contact_flow_id: Some(TwinConfig::default().contact_flow_id),
                    participant_details: Some(NameOnly {
                        display_name: Some("x".into()),
                    }),
                    supported_messaging_content_types: Some(vec!["text/markdown".into()]),
                    ..Default::default()
                },
                T0,
            )
            .unwrap_err();
        assert_eq!(err.code, "InvalidRequestException");
    }

    #[test]
    fn connecting_streams_joined_then_greeting() {
        let mut s = sim();
        let (contact, _) = connected(&mut s);
        let events = s.take_stream();
        assert_eq!(events.len(), 2);
        let joined: Value = serde_json::from_str(&events[0].message).unwrap();
        assert_eq!(joined["ContentType"], CT_JOINED);
        assert_eq!(joined["ParticipantRole"], "CUSTOMER");
        let greeting: Value = serde_json::from_str(&events[1].message).unwrap();
        assert_eq!(greeting["DisplayName"], "SYSTEM_MESSAGE");
        assert_eq!(greeting["ParticipantRole"], "SYSTEM");
        assert_eq!(greeting["ContactId"], contact.as_str());
        assert_eq!(events[1].attributes["ParticipantRole"]["Value"], "SYSTEM");
        assert_eq!(events[1].topic_arn, TOPIC);
    }

    #[test]
    fn nothing_streams_without_streaming_endpoint() {
        let mut s = sim();
        let out = start(&mut s, None);
        s.create_participant_connection(
            out["ParticipantToken"].as_str(),
            CreateParticipantConnectionRequest {
                types: Some(vec!["CONNECTION_CREDENTIALS".into()]),
                connect_participant: Some(true),
            },
            T0,
        )
        .unwrap();
        assert!(s.take_stream().is_empty());
        let c = s.contact(out["ContactId"].as_str().unwrap()).unwrap();
        assert_eq!(c.transcript.len(), 2);
    }

    #[test]
    fn send_message_validates_and_is_idempotent() {
        let mut s = sim();
        let (contact, token) = connected(&mut s);
        s.take_stream();
        let a = s.send_message(Some(&token), msg("hi", Some("c1")), T0).unwrap();
        let b = s.send_message(Some(&token), msg("hi", Some("c1")), T0 + 5).unwrap();
        assert_eq!(a, b);
        assert_eq!(s.take_stream().len(), 1, "one echo, not two");
        let mut json_msg = msg("{}", None);
        json_msg.content_type = Some("application/json".into());
        assert_eq!(
            s.send_message(Some(&token), json_msg, T0).unwrap_err().code,
            "ValidationException"
        );
        let big = "x".repeat(1025);
        assert_eq!(
            s.send_message(Some(&token), msg(&big, None), T0).unwrap_err().code,
            "ValidationException"
        );
        // Characters, not bytes: 1024 emoji (4 KiB) are accepted.
        assert!(s.send_message(Some(&token), msg(&"🙂".repeat(1024), None), T0).is_ok());
        assert_eq!(
            s.send_message(Some("bogus"), msg("hi", None), T0).unwrap_err().status,
            403
        );
        let c = s.contact(&contact).unwrap();
        assert_eq!(c.transcript.len(), 4);
    }

    /// Agent Ana doing `action`, with nothing else set.
    fn ana(action: &str) -> AgentAction {
        AgentAction {
            action: action.into(),
            content_type: None,
            content: None,
            display_name: Some("Ana".into()),
            visibility: None,
            role: None,
            stream: None,
            name: None,
            data: None,
        }
    }

    #[test]
    fn tokens_are_denied_after_the_agent_ends_the_chat() {
        let mut s = sim();
        let (contact, token) = connected(&mut s);
        s.take_stream();
        let join = ana("join");
        s.agent_action(&contact, &join, T0).unwrap();
        let end = ana("end");
        let ids = s.agent_action(&contact, &end, T0).unwrap();
        assert_eq!(ids.len(), 2);
        let streamed = s.take_stream();
        let kinds: Vec<Value> = streamed
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.message).unwrap()["ContentType"].clone())
            .collect();
        assert_eq!(kinds, vec![json!(CT_JOINED), json!(CT_LEFT), json!(CT_ENDED)]);
        assert!(streamed[2].attributes.get("ParticipantRole").is_none());
        let err = s.send_message(Some(&token), msg("hi", None), T0).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        assert_eq!(
            s.agent_action(&contact, &join, T0).unwrap_err(),
            AgentError::Conflict(format!("contact {contact} has ended"))
        );
    }

    #[test]
    fn transfer_idle_and_autodisconnect_stream_as_connect_does() {
        let mut s = sim();
        let (contact, token) = connected(&mut s);
        s.take_stream();
        assert!(matches!(
            s.agent_action(&contact, &ana("transfer"), T0),
            Err(AgentError::Conflict(_))
        ));
        s.agent_action(&contact, &ana("join"), T0).unwrap();
        s.agent_action(&contact, &ana("transfer"), T0).unwrap();
        s.agent_action(&contact, &ana("join"), T0).unwrap();
        s.agent_action(&contact, &ana("idle"), T0).unwrap();
        s.agent_action(&contact, &ana("autodisconnect"), T0).unwrap();
        let streamed: Vec<Value> = s
            .take_stream()
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.message).unwrap())
            .collect();
        let kinds: Vec<(&str, &str)> = streamed
            .iter()
            .map(|m| {
                (
                    m["ContentType"].as_str().unwrap(),
                    m["ParticipantRole"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            kinds,
            [
                (CT_JOINED, "AGENT"),
                (CT_TRANSFERRED, "SYSTEM"),
                (CT_LEFT, "AGENT"),
                (CT_JOINED, "AGENT"),
                (CT_IDLE, "CUSTOMER"),
                (CT_AUTODISCONNECTED, "CUSTOMER"),
                (CT_LEFT, "AGENT"),
                (CT_ENDED, ""),
            ]
        );
        assert_eq!(
            s.send_message(Some(&token), msg("hi", None), T0).unwrap_err().code,
            "AccessDeniedException"
        );
    }

    #[test]
    fn connection_tokens_expire() {
        let mut s = sim();
        let (_, token) = connected(&mut s);
        let ttl = TwinConfig::default().connection_token_ttl.as_millis() as u64;
        assert!(s.send_message(Some(&token), msg("a", None), T0 + ttl - 1).is_ok());
        let err = s.send_message(Some(&token), msg("a", None), T0 + ttl).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        let (_, token2) = connected(&mut s);
        assert!(s.expire_connection_token(&token2, T0));
        assert_eq!(
            s.send_message(Some(&token2), msg("a", None), T0).unwrap_err().status,
            403
        );
    }

    #[test]
    fn receipts_and_typing() {
        let mut s = sim();
        let (contact, token) = connected(&mut s);
        let greeting = s.contact(&contact).unwrap().transcript[1].id.clone();
        s.take_stream();
        let body = json!({ "messageId": greeting }).to_string();
        for ct in [CT_DELIVERED, CT_READ] {
            s.send_event(
                Some(&token),
                SendRequest {
                    content_type: Some(ct.into()),
                    content: Some(body.clone()),
                    client_token: None,
                },
                T0 + 1,
            )
            .unwrap();
        }
        assert!(s.take_stream().is_empty(), "receipts are not transcript items");
        let item = &s.contact(&contact).unwrap().transcript[1];
        assert_eq!(item.receipts.len(), 1);
        assert_eq!(item.receipts[0].read_ms, Some(T0 + 1));
        s.send_event(
            Some(&token),
            SendRequest {
                content_type: Some(CT_TYPING.into()),
                content: None,
                client_token: None,
            },
            T0,
        )
        .unwrap();
        assert_eq!(s.take_stream().len(), 1);
        let bad = s.send_event(
            Some(&token),
            SendRequest {
                content_type: Some("application/vnd.amazonaws.connect.event.nope".into()),
                content: None,
                client_token: None,
            },
            T0,
        );
        assert_eq!(bad.unwrap_err().code, "ValidationException");
    }

    #[test]
    fn customer_disconnect_ends_chat() {
        let mut s = sim();
        let (contact, token) = connected(&mut s);
        s.take_stream();
        s.disconnect_participant(Some(&token), T0).unwrap();
        let kinds: Vec<String> = s
            .take_stream()
            .iter()
            .map(|e| {
                serde_json::from_str::<Value>(&e.message).unwrap()["ContentType"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(kinds, vec![CT_LEFT.to_owned(), CT_ENDED.to_owned()]);
        assert_eq!(s.contact(&contact).unwrap().state, ContactState::Ended);
        assert_eq!(s.disconnect_participant(Some(&token), T0).unwrap_err().status, 403);
    }

    #[test]
    fn transcript_pages_backward_from_most_recent() {
        let mut s = sim();
        let (_, token) = connected(&mut s);
        for i in 0..5 {
            s.send_message(Some(&token), msg(&format!("m{i}"), None), T0 + i)
                .unwrap();
        }
        // 2 flow items + 5 messages.
        let page = s
            .get_transcript(
                Some(&token),
                GetTranscriptRequest {
                    max_results: Some(3),
                    ..Default::default()
                },
                T0,
            )
            .unwrap();
        let contents: Vec<&str> = page["Transcript"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["Content"].as_str().unwrap())
            .collect();
        assert_eq!(contents, vec!["m2", "m3", "m4"]);
        let next = page["NextToken"].as_str().unwrap().to_owned();
        let page2 = s
            .get_transcript(
                Some(&token),
                GetTranscriptRequest {
                    max_results: Some(10),
                    next_token: Some(next),
                    ..Default::default()
                },
                T0,
            )
            .unwrap();
        assert_eq!(page2["Transcript"].as_array().unwrap().len(), 4);
        assert!(page2.get("NextToken").is_none());
        let fwd = s
            .get_transcript(
                Some(&token),
                GetTranscriptRequest {
                    max_results: Some(2),
                    scan_direction: Some("FORWARD".into()),
                    sort_order: Some("DESCENDING".into()),
                    ..Default::default()
                },
                T0,
            )
            .unwrap();
        assert_eq!(fwd["Transcript"][0]["DisplayName"], "SYSTEM_MESSAGE");
        assert_eq!(fwd["Transcript"][1]["ContentType"], CT_JOINED);
    }

    #[test]
    fn agent_messages_need_a_joined_agent_and_respect_stream_flag() {
        let mut s = sim();
        let (contact, _) = connected(&mut s);
        s.take_stream();
        let mut a = AgentAction {
            action: "message".into(),
            content_type: None,
            content: Some("hello".into()),
            display_name: None,
            visibility: None,
            role: None,
            stream: None,
            name: None,
            data: None,
        };
        assert!(matches!(s.agent_action(&contact, &a, T0), Err(AgentError::Conflict(_))));
        a.role = Some("SYSTEM".into());
        s.agent_action(&contact, &a, T0).unwrap();
        a.role = None;
        a.action = "join".into();
        s.agent_action(&contact, &a, T0).unwrap();
        a.action = "message".into();
        a.stream = Some(false);
        s.agent_action(&contact, &a, T0).unwrap();
        assert_eq!(
            s.take_stream().len(),
            2,
            "system message + join; lost message not streamed"
        );
        assert_eq!(s.contact(&contact).unwrap().transcript.len(), 5);
        assert!(matches!(
            s.agent_action("missing", &a, T0),
            Err(AgentError::NotFound(_))
        ));
    }
}
