//! The Handoff API's service: what `HandoffApi` does with a request once API Gateway and the authorizer
//! have let it through, over the handoff store and the two Connect ports.
//!
//! A request is parsed whole before anything acts on it ([`parse_request`]), so a bad one changes
//! nothing. A client sees only its own handoffs: another client's id answers 404, exactly as an unknown
//! one, so ids reveal nothing.
//!
//! **Create** is safe to retry at any point. The record is written first, under the idempotency key's
//! client token, which is also `StartChatContact`'s: a retry finds the record, gets the same chat back
//! from Connect, attaches it again and retells the bot's conversation again, each message under a
//! client token of its own that Connect deduplicates. So a create that died half-way is finished by its
//! retry, and one that finished answers the same. A key reused with another body is refused (409).
//!
//! **The agent sees the bot's conversation as one** (see [`super::context`]): the chat's custom bot
//! participant says the opening (title and reason) and the bot's messages, the customer's participant
//! says the user's, in their order, while the contact waits in the queue. An agent who takes the chat
//! first stops the retelling (Connect allows no bot participant beside an agent); the handoff is
//! started all the same.
//!
//! A handoff that is over refuses the bot's messages and typing with 409 `handoff_ended`; ending it again
//! answers as done.

mod files;

use super::Speaker;
use super::context::{Brief, RetellLimits, agent_context};
use super::dispatch::DeliveryQueue;
use super::lifecycle::{EndReason, Input, Refusal, Status};
use super::message::{Invalid, LEX_DISPLAY_NAME, answer};
use super::moves::{Change, Settled, envelope, settle};
use super::openapi;
use super::request::{
    ApiError, ApiRequest, AttributesUpdate, End, HandoffCreated, HandoffId, HandoffView, MessageContent, NewHandoff,
    NewMessage, RawRequest, TranscriptItem, TranscriptPage, TranscriptParticipant, TranscriptQuery, parse_request,
};
use super::store::{Created, HandoffRecord, HandoffStore, NewRecord, Owed, Written};
use super::webhook::Payload;
use crate::connect_stream::Role;
use crate::connection;
use crate::content_type::{TEXT_MARKDOWN, TEXT_PLAIN, TYPING_EVENT};
use crate::error::{FailureKind, PortError};
use crate::ids::ConnectionToken;
use crate::ids::short_hash;
use crate::media::ports::{ChatAttachments, FileStream, WebFiles};
use crate::ports::{
    ActiveChat, BotRequest, ChatItem, ChatRequest, ContactCenter, PageRequest, Participant, PortResult,
};
use crate::rich::menu::ConnectMessage;
use crate::rich::split::Limit;
use crate::telemetry::now_ms;
use crate::translate::connect_parts;
use chrono::{DateTime, SecondsFormat};
use files::FileMessage;
use serde::Serialize;
use std::collections::BTreeMap;
use std::future::Future;
use std::hash::BuildHasher;

/// What a deployment's handoffs share.
#[derive(Debug, Clone)]
pub struct HandoffSettings {
    /// The flow a handoff's chat starts in unless the request names one (the stack's handoff flow).
    pub contact_flow_id: String,
    /// The name the agent sees on the bot's messages.
    pub bot_name: String,
    pub retell: RetellLimits,
    /// The longest text one Connect chat message may carry.
    pub text_limit: Limit,
    /// Whether the bot's files may come over plain HTTP from a loopback host: only where the bot
    /// runs beside the function (the local twin), never in Lambda, whose loopback is the Runtime API.
    pub loopback_file_urls: bool,
}

impl HandoffSettings {
    /// From the function's environment: `HANDOFF_CONTACT_FLOW_ID` (else `CONNECT_CONTACT_FLOW_ID`, the
    /// flow WhatsApp chats start in), `HANDOFF_BOT_NAME` and `HANDOFF_LOOPBACK_FILE_URLS` (`true` only
    /// in the local twin).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>, text_limit: Limit) -> Result<Self, String> {
        let given = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let contact_flow_id = given("HANDOFF_CONTACT_FLOW_ID")
            .or_else(|| given("CONNECT_CONTACT_FLOW_ID"))
            .ok_or("HANDOFF_CONTACT_FLOW_ID (or CONNECT_CONTACT_FLOW_ID) is required")?;
        let bot_name = given("HANDOFF_BOT_NAME").unwrap_or_else(|| DEFAULT_BOT_NAME.to_owned());
        if bot_name.chars().count() > BOT_NAME_MAX_CHARS {
            return Err(format!(
                "HANDOFF_BOT_NAME is longer than {BOT_NAME_MAX_CHARS} characters"
            ));
        }
        Ok(Self {
            contact_flow_id,
            bot_name,
            retell: RetellLimits::default(),
            text_limit,
            loopback_file_urls: given("HANDOFF_LOOPBACK_FILE_URLS").is_some_and(|v| v == "true"),
        })
    }
}

/// The name the agent sees on the bot's messages when the deployment names none.
const DEFAULT_BOT_NAME: &str = "Bot";
/// Connect's `DisplayName` of a participant: 1 to 256 characters.
const BOT_NAME_MAX_CHARS: usize = 256;

/// What the agent is told of the bot's conversation, in order.
struct Retelling {
    opening: String,
    /// The whole history, when it is longer than what is retold.
    history_file: Option<String>,
    retold: Vec<(Speaker, String)>,
}

/// The name of a long history's file in the chat.
const HISTORY_FILE_NAME: &str = "conversation-history.txt";

/// What the function answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiResponse {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    /// JSON, when there is a body.
    pub body: Option<String>,
}

impl ApiResponse {
    fn json(status: u16, body: &impl Serialize) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(serde_json::to_string(body).unwrap_or_default()),
        }
    }

    fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn error(error: &ApiError) -> Self {
        let headers = error
            .retry_after()
            .map(|secs| vec![("Retry-After", secs.to_string())])
            .unwrap_or_default();
        Self {
            status: error.status(),
            headers,
            body: Some(error.body()),
        }
    }
}

/// The service's ports.
pub struct HandoffPorts<H, C, P, Q, A, F> {
    pub store: H,
    pub center: C,
    pub participant: P,
    /// Kicks the delivery of the events a request owes the bot.
    pub queue: Q,
    /// The chat's files: a long history, the bot's files, links to the agent's.
    pub attachments: A,
    /// Fetches the files bots send by URL.
    pub files: F,
}

pub struct HandoffService<H, C, P, Q, A, F> {
    store: H,
    center: C,
    participant: P,
    queue: Q,
    attachments: A,
    files: F,
    settings: HandoffSettings,
}

impl<H: HandoffStore, C: ContactCenter, P: Participant, Q: DeliveryQueue, A: ChatAttachments, F: WebFiles>
    HandoffService<H, C, P, Q, A, F>
{
    pub fn new(ports: HandoffPorts<H, C, P, Q, A, F>, settings: HandoffSettings) -> Self {
        Self {
            store: ports.store,
            center: ports.center,
            participant: ports.participant,
            queue: ports.queue,
            attachments: ports.attachments,
            files: ports.files,
            settings,
        }
    }

    /// Serves one request of `client` (the authorizer's answer).
    pub async fn handle(&self, client: &str, raw: RawRequest<'_>) -> ApiResponse {
        match self.serve(client, raw).await {
            Ok(response) => response,
            Err(error) => {
                tracing::info!(status = error.status(), code = ?error.code(), "request refused");
                ApiResponse::error(&error)
            }
        }
    }

    async fn serve(&self, client: &str, raw: RawRequest<'_>) -> Result<ApiResponse, ApiError> {
        match parse_request(raw)? {
            ApiRequest::Create(new) => {
                let digest = short_hash(&String::from_utf8_lossy(raw.body));
                self.create(client, &new, digest).await
            }
            ApiRequest::Get(id) => {
                let record = self.own(client, &id).await?;
                Ok(ApiResponse::json(200, &view(&record)))
            }
            ApiRequest::Message(id, message) => self.message(client, &id, &message).await,
            ApiRequest::Typing(id) => self.typing(client, &id).await,
            ApiRequest::End(id, end) => self.end(client, &id, &end).await,
            ApiRequest::OpenApi => Ok(ApiResponse::json(200, &openapi::document())),
            ApiRequest::Transcript(id, query) => self.transcript(client, &id, &query).await,
            ApiRequest::Attachment(id, attachment) => {
                let link = self.attachment_link(client, &id, &attachment).await?;
                Ok(ApiResponse::json(200, &link))
            }
            ApiRequest::Update(id, update) => self.update(client, &id, &update).await,
            ApiRequest::Transfer(id, transfer) => self.transfer(client, &id, &transfer).await,
        }
    }

    /// The handoff `id` if it is `client`'s; 404 otherwise, whether it exists or not.
    async fn own(&self, client: &str, id: &HandoffId) -> Result<HandoffRecord, ApiError> {
        match self.store.load(id).await.map_err(failed)? {
            Some(record) if record.client == client => Ok(record),
            _ => Err(ApiError::not_found()),
        }
    }

    async fn create(&self, client: &str, new: &NewHandoff, digest: String) -> Result<ApiResponse, ApiError> {
        let client_token = new.idempotency_key.client_token(client);
        let fresh = HandoffRecord::new(NewRecord {
            id: HandoffId::mint(u64::try_from(now_ms()).unwrap_or(0), random_bits()),
            client: client.to_owned(),
            external_conversation_id: new.external_conversation_id.clone(),
            client_token: client_token.clone(),
            request_digest: digest,
            now_ms: now_ms(),
        });
        let record = match self.store.create(&fresh).await.map_err(failed)? {
            Created::New => fresh,
            Created::Existing(found) if found.request_digest != fresh.request_digest => {
                return Err(ApiError::conflict("the Idempotency-Key was used for another request"));
            }
            Created::Existing(found) => *found,
        };
        // A retry after an agent took the chat, or after the end, changes nothing: the handoff is
        // answered as it is (its chat could not take the bot participant any more, or is gone).
        if record.lifecycle.status != Status::Queued {
            // Its events were owed by the attempt this one retries, whose kick may have failed.
            self.kick(&record.id).await?;
            return Ok(ApiResponse::json(202, &created(&record)));
        }
        let context = agent_context(
            Brief {
                title: &new.title,
                reason: &new.reason,
                history: &new.history,
                routing: &chat_attributes(&record, new),
            },
            self.settings.retell,
        );
        let started = self
            .center
            .start_chat(&ChatRequest {
                display_name: new.user.name.clone(),
                attributes: context.attributes.into_iter().collect(),
                client_token: client_token.clone(),
                related_contact_id: None,
                persistent: false,
                initial_message: None,
                contact_flow_id: Some(
                    new.routing
                        .contact_flow_id
                        .as_ref()
                        .map_or(self.settings.contact_flow_id.clone(), |id| id.as_str().to_owned()),
                ),
            })
            .await;
        let started = match started {
            Ok(started) => started,
            Err(e) if e.kind == FailureKind::Rejected => {
                tracing::warn!(error = %e, "Connect refused the handoff's chat");
                let failed_record = self.settle(&record, Input::StartRefused).await?;
                return Ok(ApiResponse::json(202, &created(&failed_record)));
            }
            Err(e) => return Err(failed(e)),
        };
        let connection = self
            .participant
            .connect(&started.participant_token)
            .await
            .map_err(failed)?;
        let chat = ActiveChat {
            contact_id: started.contact_id,
            participant_token: started.participant_token,
            connection_token: connection.connection_token,
            connection_expires_at: connection.expires_at,
        };
        let created_event = Owed {
            sequence: 1,
            envelope: envelope(
                &record,
                1,
                DateTime::from_timestamp_millis(now_ms()).unwrap_or_default(),
                Payload::Created,
            ),
        };
        if self
            .store
            .attach_chat(&record, &chat, &created_event)
            .await
            .map_err(failed)?
            != Written::Done
        {
            return Err(failed(PortError::new(
                FailureKind::Conflict,
                "UpdateItem",
                "the handoff has another chat",
            )));
        }
        self.kick(&record.id).await?;
        let retelling = Retelling {
            opening: context.opening,
            history_file: context.transcript,
            retold: context.retold,
        };
        match self.retell(&chat, &client_token, retelling).await {
            Ok(()) => {}
            // A retry can finish a retelling a throttle or a timeout cut short.
            Err(e) if e.is_retryable() => return Err(failed(e)),
            // The chat took an agent first (the bot participant is refused, or disconnected as the
            // agent joins) or ended: the handoff is started all the same, the agent has the chat.
            Err(e) => tracing::warn!(error = %e, "the retelling stopped short"),
        }
        let record = HandoffRecord {
            chat: Some(chat),
            ..record
        };
        Ok(ApiResponse::json(202, &created(&record)))
    }

    /// Says the bot's conversation into the chat: the opening, then a long history whole as a text
    /// file, then the messages retold; the bot's by the chat's custom bot participant, the user's by
    /// the customer's, each under a client token derived from the create's.
    async fn retell(&self, chat: &ActiveChat, client_token: &str, retelling: Retelling) -> Result<(), PortError> {
        let bot = BotRequest {
            contact_id: chat.contact_id.clone(),
            display_name: self.settings.bot_name.clone(),
            client_token: format!("{client_token}-bot"),
        };
        let bot_token = self.center.add_bot(&bot).await?;
        let bot = self.participant.connect(&bot_token).await?;
        let opening = std::iter::once((Speaker::Bot, retelling.opening));
        for (n, (speaker, text)) in opening.chain(retelling.retold).enumerate() {
            if n == 1
                && let Some(history) = &retelling.history_file
            {
                match self.attach_history(chat, client_token, history).await {
                    Ok(()) => {}
                    Err(e) if e.is_retryable() => return Err(e),
                    // A retried create finds its file attached already (the upload is refused once
                    // completed); any other refusal leaves the agent the retold end of the history.
                    Err(e) => tracing::info!(error = %e, "the history file was not attached"),
                }
            }
            let connection = match speaker {
                Speaker::Bot => &bot.connection_token,
                Speaker::User => &chat.connection_token,
            };
            for (part, content) in connect_parts(TEXT_PLAIN, &text, self.settings.text_limit)
                .iter()
                .enumerate()
            {
                let token = short_hash(&format!("{client_token}#retell#{n}#{part}"));
                self.participant
                    .send_message(connection, TEXT_PLAIN, content, &token)
                    .await?;
            }
        }
        Ok(())
    }

    /// The bot's whole conversation as a text file in the chat, sent by the user's side (what a custom
    /// bot may upload is not documented), once per create's client token.
    async fn attach_history(&self, chat: &ActiveChat, client_token: &str, history: &str) -> Result<(), PortError> {
        let bytes = history.as_bytes().to_vec();
        let ticket = self
            .attachments
            .start_upload(
                &chat.connection_token,
                HISTORY_FILE_NAME,
                TEXT_PLAIN,
                bytes.len() as u64,
                &short_hash(&format!("{client_token}#history")),
            )
            .await?;
        self.attachments.put_file(&ticket, FileStream::from(bytes)).await?;
        self.attachments
            .complete(
                &chat.connection_token,
                &ticket.attachment_id,
                &short_hash(&format!("{client_token}#history-done")),
            )
            .await
    }

    /// Applies `input` to the handoff (see [`settle`]) and kicks the delivery of what it owes.
    async fn settle(&self, record: &HandoffRecord, input: Input) -> Result<HandoffRecord, ApiError> {
        match settle(&self.store, record, &Change::Move(input), None)
            .await
            .map_err(failed)?
        {
            Settled::Written { record, .. } => {
                self.kick(&record.id).await?;
                Ok(record)
            }
            Settled::Unchanged(record) => Ok(record),
            Settled::Refused(Refusal::Over) => Err(ApiError::handoff_ended()),
            Settled::Duplicate | Settled::Unknown => Err(ApiError::not_found()),
        }
    }

    /// Asks `WebhookSender` to deliver what the handoff owes. A kick that fails fails the request: the
    /// bot's retry writes nothing twice and kicks again.
    async fn kick(&self, id: &HandoffId) -> Result<(), ApiError> {
        self.queue.kick(id, std::time::Duration::ZERO).await.map_err(failed)
    }

    /// A live handoff's chat, for the bot's messages and typing: 409 once it is over.
    async fn live_chat(&self, client: &str, id: &HandoffId) -> Result<ActiveChat, ApiError> {
        let record = self.own(client, id).await?;
        record
            .lifecycle
            .apply(Input::FromBot)
            .map_err(|Refusal::Over| ApiError::handoff_ended())?;
        record
            .chat
            .ok_or_else(|| ApiError::conflict("the handoff's chat is not started yet; retry its create"))
    }

    async fn message(&self, client: &str, id: &HandoffId, message: &NewMessage) -> Result<ApiResponse, ApiError> {
        let chat = self.live_chat(client, id).await?;
        let base = format!("{id}#{}", message.client_message_id.as_str());
        let parts: Vec<(String, String)> = match &message.content {
            MessageContent::Text(text) => connect_parts(TEXT_PLAIN, text, self.settings.text_limit)
                .into_iter()
                .map(|part| (TEXT_PLAIN.to_owned(), part))
                .collect(),
            MessageContent::Markdown(markdown) => connect_parts(TEXT_MARKDOWN, markdown, self.settings.text_limit)
                .into_iter()
                .map(|part| (TEXT_MARKDOWN.to_owned(), part))
                .collect(),
            MessageContent::OptionChosen(option_id) => {
                let reply = self.answer(id, option_id).await?;
                vec![(reply.content_type, reply.content)]
            }
            MessageContent::File {
                url,
                name,
                content_type,
            } => {
                let file = FileMessage {
                    url,
                    name,
                    content_type,
                    key: &base,
                };
                self.send_file(id, chat, &file).await?;
                return Ok(ApiResponse::empty(202));
            }
        };
        let mut chat = chat;
        for (part, (content_type, content)) in parts.iter().enumerate() {
            let token = short_hash(&format!("{base}#{part}"));
            let participant = &self.participant;
            self.on_chat(id, &mut chat, |connection| {
                let token = &token;
                async move {
                    participant
                        .send_message(&connection, content_type, content, token)
                        .await
                }
            })
            .await
            .map_err(|e| self.chat_failure(e))?;
        }
        Ok(ApiResponse::empty(202))
    }

    /// What Connect receives for the option `option_id` of the chat's last interactive message: what
    /// Connect's own chat widget sends for it.
    async fn answer(&self, id: &HandoffId, option_id: &str) -> Result<ConnectMessage, ApiError> {
        let offered = self.store.load_offered(id).await.map_err(failed)?;
        answer(option_id, offered.as_ref()).map_err(invalid)
    }

    async fn typing(&self, client: &str, id: &HandoffId) -> Result<ApiResponse, ApiError> {
        let mut chat = self.live_chat(client, id).await?;
        // Typing is momentary: no client token to deduplicate on, a repeat shows the same.
        let token = short_hash(&format!("{id}#typing#{}", now_ms()));
        let participant = &self.participant;
        self.on_chat(id, &mut chat, |connection| {
            let token = &token;
            async move { participant.send_event(&connection, TYPING_EVENT, "", token).await }
        })
        .await
        .map_err(|e| self.chat_failure(e))?;
        Ok(ApiResponse::empty(204))
    }

    async fn end(&self, client: &str, id: &HandoffId, _end: &End) -> Result<ApiResponse, ApiError> {
        let record = self.own(client, id).await?;
        if record.lifecycle.status.is_over() {
            return match record.lifecycle.ended_by {
                // A retry: the first attempt's kick may be what failed.
                Some(EndReason::Api) => {
                    self.kick(id).await?;
                    Ok(ApiResponse::empty(202))
                }
                _ => Err(ApiError::handoff_ended()),
            };
        }
        if let Some(chat) = &record.chat {
            let token = short_hash(&format!("{id}#end"));
            let participant = &self.participant;
            let left = self
                .on_chat(id, &mut chat.clone(), |connection| {
                    let token = &token;
                    async move { participant.disconnect(&connection, token).await }
                })
                .await;
            match left {
                Ok(()) => {}
                // Already over on Connect's side: the stream's chat.ended tells why.
                Err(e) if e.kind == FailureKind::ChatGone => {}
                Err(e) => return Err(failed(e)),
            }
        }
        self.settle(&record, Input::ChatEnded { reason: EndReason::Api })
            .await?;
        Ok(ApiResponse::empty(202))
    }

    /// A page of the handoff's chat as Connect keeps it: the retold conversation, the user's and the
    /// agent's messages. Read with the user's connection, so only while the handoff lasts (Connect
    /// refuses an ended chat's tokens): afterwards 409, the bot has every message from its events.
    async fn transcript(&self, client: &str, id: &HandoffId, query: &TranscriptQuery) -> Result<ApiResponse, ApiError> {
        let record = self.own(client, id).await?;
        let Some(mut chat) = record.chat.filter(|_| !record.lifecycle.status.is_over()) else {
            return Err(ApiError::handoff_ended());
        };
        let page = PageRequest {
            max: query.limit,
            next_token: query.next_token.clone(),
        };
        let participant = &self.participant;
        let chunk = self
            .on_chat(id, &mut chat, |connection| {
                let page = &page;
                async move { participant.transcript(&connection, page).await }
            })
            .await
            .map_err(|e| self.chat_failure(e))?;
        let items = chunk
            .items
            .into_iter()
            .map(|item| TranscriptItem {
                participant: participant_of(&item),
                id: item.id,
                content_type: item.content_type,
                content: item.content,
                created_at: item.at,
            })
            .collect();
        Ok(ApiResponse::json(
            200,
            &TranscriptPage {
                items,
                next_token: chunk.next_token,
            },
        ))
    }

    /// Sets contact attributes of the handoff's chat, for the flow, routing and reports to read; also
    /// after the end (Connect keeps a contact's attributes). The bridge's own (`Handoff…`) are refused
    /// when the request is parsed.
    async fn update(&self, client: &str, id: &HandoffId, update: &AttributesUpdate) -> Result<ApiResponse, ApiError> {
        let record = self.own(client, id).await?;
        let chat = record
            .chat
            .ok_or_else(|| ApiError::conflict("the handoff's chat is not started yet; retry its create"))?;
        let attributes = update
            .attributes
            .as_map()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        match self.center.update_attributes(&chat.contact_id, &attributes).await {
            Ok(()) => Ok(ApiResponse::empty(204)),
            Err(e) if e.kind == FailureKind::Rejected => {
                tracing::info!(error = %e, "Connect refused the attributes");
                Err(ApiError::invalid(
                    "attributes",
                    "would take the contact's attributes past Amazon Connect's 32 KB",
                ))
            }
            Err(e) => Err(failed(e)),
        }
    }

    /// Moves a queued handoff's chat to the queue the bot names (see [`super::transfer`]): sets the
    /// contact attribute the handoff's queue flow reads, then owes the bot `handoff.transferred`. The
    /// chat moves when the flow next looks at the attribute. A retry sets the same value and, written
    /// under the same item, owes nothing twice.
    async fn transfer(
        &self,
        client: &str,
        id: &HandoffId,
        transfer: &super::request::Transfer,
    ) -> Result<ApiResponse, ApiError> {
        use super::transfer::{Refused, plan};
        let record = self.own(client, id).await?;
        let planned = plan(record.lifecycle.status, transfer).map_err(Refused::answer)?;
        let chat = record
            .chat
            .as_ref()
            .ok_or_else(|| ApiError::conflict("the handoff's chat is not started yet; retry its create"))?;
        match self
            .center
            .update_attributes(&chat.contact_id, &planned.attributes)
            .await
        {
            Ok(()) => {}
            Err(e) if e.kind == FailureKind::Rejected => {
                tracing::info!(error = %e, "Connect refused the transfer's attribute");
                return Err(ApiError::invalid(
                    "queue_id",
                    "cannot be set on the contact: its attributes are at Amazon Connect's 32 KB",
                ));
            }
            Err(e) => return Err(failed(e)),
        }
        let change = Change::Move(planned.input);
        match settle(&self.store, &record, &change, Some((&planned.item, now_ms())))
            .await
            .map_err(failed)?
        {
            Settled::Written { record, .. } => {
                self.kick(id).await?;
                Ok(ApiResponse::json(202, &view(&record)))
            }
            // A retry: its event was written by the attempt it retries, whose kick may have failed.
            Settled::Duplicate => {
                self.kick(id).await?;
                Ok(ApiResponse::json(202, &view(&record)))
            }
            // An agent took the chat since it was loaded: the attribute is taken back, so nothing
            // changed and no queue flow acts on it later.
            Settled::Unchanged(_) => {
                self.center
                    .update_attributes(&chat.contact_id, &planned.withdrawal)
                    .await
                    .map_err(failed)?;
                Err(Refused::AgentHasChat.answer())
            }
            Settled::Refused(Refusal::Over) => Err(ApiError::handoff_ended()),
            Settled::Unknown => Err(ApiError::not_found()),
        }
    }

    /// Calls Connect with the user's connection to the chat. A token about to expire is renewed first,
    /// and one Connect refuses is renewed once and the call made again: the participant token lives as
    /// long as the chat, so only a refused renewal means the chat is over. A renewed token is kept on
    /// the handoff for the next request.
    async fn on_chat<T, Fut>(
        &self,
        id: &HandoffId,
        chat: &mut ActiveChat,
        call: impl Fn(ConnectionToken) -> Fut,
    ) -> Result<T, PortError>
    where
        Fut: Future<Output = PortResult<T>>,
    {
        if !connection::is_fresh(chat) {
            *chat = self.renew(id, chat).await?;
        }
        match call(chat.connection_token.clone()).await {
            Err(e) if e.kind == FailureKind::ChatGone => {
                *chat = self.renew(id, chat).await?;
                call(chat.connection_token.clone()).await
            }
            other => other,
        }
    }

    async fn renew(&self, id: &HandoffId, chat: &ActiveChat) -> PortResult<ActiveChat> {
        let connection = self.participant.connect(&chat.participant_token).await?;
        let renewed = ActiveChat {
            connection_token: connection.connection_token,
            connection_expires_at: connection.expires_at,
            ..chat.clone()
        };
        // `Stale` cannot be (a handoff's chat is set once); the new token serves this request regardless.
        self.store.renew_connection(id, &renewed).await?;
        Ok(renewed)
    }

    fn chat_failure(&self, e: PortError) -> ApiError {
        match e.kind {
            FailureKind::ChatGone => ApiError::handoff_ended(),
            _ => failed(e),
        }
    }
}

/// Who said a transcript item, in the API's terms: the bridge's custom bot and a flow's Lex bot are the
/// bot's side, Connect's flow messages the system's.
fn participant_of(item: &ChatItem) -> TranscriptParticipant {
    match &item.role {
        Some(Role::Customer) => TranscriptParticipant::Customer,
        Some(Role::Agent | Role::Supervisor) => TranscriptParticipant::Agent,
        Some(Role::CustomBot) => TranscriptParticipant::Bot,
        Some(Role::System) if item.display_name.as_deref() == Some(LEX_DISPLAY_NAME) => TranscriptParticipant::Bot,
        Some(Role::System | Role::Other(_)) | None => TranscriptParticipant::System,
    }
}

/// The bot's message the chat cannot take, as the API's 400 naming the field.
fn invalid(invalid: Invalid) -> ApiError {
    ApiError::invalid(invalid.field(), invalid.problem())
}

/// A port's failure as the API answers it: throttled or briefly unavailable is 429 with a pause, the
/// rest 500 (never with details). The one-line reason is logged, nothing of the request.
fn failed(e: PortError) -> ApiError {
    tracing::warn!(error = %e, "handoff request failed");
    match e.kind {
        FailureKind::Transient | FailureKind::Conflict => ApiError::rate_limited(1),
        _ => ApiError::internal(),
    }
}

/// 80 random bits for a handoff id: std's per-process random keys, hashed with a count.
fn random_bits() -> u128 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNT: AtomicU64 = AtomicU64::new(0);
    let state = std::collections::hash_map::RandomState::new();
    let n = COUNT.fetch_add(1, Ordering::Relaxed);
    (u128::from(state.hash_one((n, 1u8))) << 64) | u128::from(state.hash_one((n, 2u8)))
}

/// The attributes the chat starts with besides the summary: which handoff it is, the bot's routing
/// asks (read by the handoff flow), and the bot's own attributes.
fn chat_attributes(record: &HandoffRecord, new: &NewHandoff) -> BTreeMap<String, String> {
    let mut attributes = new.routing.attributes.as_map().clone();
    attributes.extend([
        ("Channel".to_owned(), "Handoff".to_owned()),
        ("HandoffId".to_owned(), record.id.to_string()),
        ("HandoffClient".to_owned(), record.client.clone()),
        (
            "HandoffConversationId".to_owned(),
            record.external_conversation_id.clone(),
        ),
    ]);
    if let Some(queue) = &new.routing.queue_id {
        attributes.insert("HandoffQueueId".to_owned(), queue.as_str().to_owned());
    }
    if let Some(priority) = new.routing.priority {
        attributes.insert("HandoffPriority".to_owned(), priority.get().to_string());
    }
    attributes
}

fn rfc3339(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn contact_id(record: &HandoffRecord) -> String {
    record
        .chat
        .as_ref()
        .map(|chat| chat.contact_id.as_str().to_owned())
        .unwrap_or_default()
}

fn created(record: &HandoffRecord) -> HandoffCreated {
    HandoffCreated {
        handoff_id: record.id.clone(),
        contact_id: contact_id(record),
        status: record.lifecycle.status,
    }
}

fn view(record: &HandoffRecord) -> HandoffView {
    HandoffView {
        handoff_id: record.id.clone(),
        contact_id: contact_id(record),
        external_conversation_id: record.external_conversation_id.clone(),
        status: record.lifecycle.status,
        agent: record.lifecycle.agent.clone(),
        created_at: rfc3339(record.created_ms),
        agent_joined_at: record.agent_joined_ms.map(rfc3339),
        ended_at: record.ended_ms.map(rfc3339),
    }
}
