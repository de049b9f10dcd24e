//! Amazon Connect (start chats that stream to our topic) and the Connect Participant Service (act as the
//! customer).

use super::{Boxed, classify, missing};
use crate::config::Config;
use crate::error::{FailureKind, PortError};
use crate::ids::{ConnectionToken, ContactId, ItemId, ParticipantToken};
use crate::ports::{
    BotRequest, ChatItem, ChatRequest, Connection, ContactCenter, PageRequest, Participant, PortResult, StartedChat,
    TranscriptChunk,
};
use aws_sdk_connect::types::{
    ChatMessage, ChatStreamingConfiguration, ParticipantDetails, ParticipantDetailsToAdd, PersistentChat,
    RehydrationType,
};
use aws_sdk_connectparticipant::operation::get_transcript::GetTranscriptOutput;
use aws_sdk_connectparticipant::types::{ChatItemType, ConnectionType, ParticipantRole, ScanDirection, SortKey};
use aws_smithy_types::date_time::{DateTime, Format};
use std::collections::HashMap;

/// Content types the customer side may send; interactive ones let flows show pickers to the bridge.
const SUPPORTED_CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/markdown",
    "application/json",
    "application/vnd.amazonaws.connect.message.interactive",
    "application/vnd.amazonaws.connect.message.interactive.response",
];

pub struct ConnectCenter {
    client: aws_sdk_connect::Client,
    instance_id: String,
    contact_flow_id: String,
    stream_topic_arn: String,
    chat_duration_minutes: i32,
}

impl ConnectCenter {
    pub fn new(client: aws_sdk_connect::Client, config: &Config) -> Self {
        Self {
            client,
            instance_id: config.instance_id.clone(),
            contact_flow_id: config.routes.stack().contact_flow_id.clone(),
            stream_topic_arn: config.stream_topic_arn.clone(),
            chat_duration_minutes: config.chat_duration_minutes,
        }
    }
}

fn invalid(operation: &'static str, e: impl std::fmt::Display) -> PortError {
    PortError::new(FailureKind::Rejected, operation, e.to_string())
}

impl ContactCenter for ConnectCenter {
    async fn start_chat(&self, request: &ChatRequest) -> PortResult<StartedChat> {
        const OP: &str = "StartChatContact";
        let participant = ParticipantDetails::builder()
            .display_name(&request.display_name)
            .build()
            .map_err(|e| invalid(OP, e))?;
        let mut call = self
            .client
            .start_chat_contact()
            .instance_id(&self.instance_id)
            .contact_flow_id(request.contact_flow_id.as_deref().unwrap_or(&self.contact_flow_id))
            .participant_details(participant)
            .set_attributes(Some(request.attributes.clone()))
            .chat_duration_in_minutes(self.chat_duration_minutes)
            .client_token(&request.client_token)
            // Streamed from the start: no item (the customer's first message, the flow's greeting) goes to
            // nobody, and there is no separate StartContactStreaming call to wait for.
            .chat_streaming_configuration(
                ChatStreamingConfiguration::builder()
                    .streaming_endpoint_arn(&self.stream_topic_arn)
                    .build()
                    .map_err(|e| invalid(OP, e))?,
            );
        for content_type in SUPPORTED_CONTENT_TYPES {
            call = call.supported_messaging_content_types(*content_type);
        }
        // Connect takes one or the other: persistent chat links the contacts itself.
        match &request.related_contact_id {
            Some(previous) if request.persistent => {
                call = call.persistent_chat(
                    PersistentChat::builder()
                        .rehydration_type(RehydrationType::FromSegment)
                        .source_contact_id(previous.as_str())
                        .build(),
                );
            }
            Some(previous) => call = call.related_contact_id(previous.as_str()),
            None => {}
        }
        if let Some((content_type, content)) = &request.initial_message {
            call = call.initial_message(
                ChatMessage::builder()
                    .content_type(content_type)
                    .content(content)
                    .build()
                    .map_err(|e| invalid(OP, e))?,
            );
        }
        let out = call.send().boxed().await.map_err(|e| classify(OP, e, false))?;
        let contact_id = out.contact_id().ok_or_else(|| missing(OP, "ContactId"))?;
        Ok(StartedChat {
            contact_id: ContactId::parse(contact_id).map_err(|e| invalid(OP, e))?,
            participant_token: ParticipantToken::new(
                out.participant_token().ok_or_else(|| missing(OP, "ParticipantToken"))?,
            ),
        })
    }

    async fn add_bot(&self, request: &BotRequest) -> PortResult<ParticipantToken> {
        const OP: &str = "CreateParticipant";
        let details = ParticipantDetailsToAdd::builder()
            .participant_role(aws_sdk_connect::types::ParticipantRole::CustomBot)
            .display_name(&request.display_name)
            .build();
        let out = self
            .client
            .create_participant()
            .instance_id(&self.instance_id)
            .contact_id(request.contact_id.as_str())
            .client_token(&request.client_token)
            .participant_details(details)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        let token = out
            .participant_credentials()
            .and_then(|c| c.participant_token())
            .ok_or_else(|| missing(OP, "ParticipantCredentials.ParticipantToken"))?;
        Ok(ParticipantToken::new(token))
    }

    async fn update_attributes(&self, contact_id: &ContactId, attributes: &HashMap<String, String>) -> PortResult<()> {
        const OP: &str = "UpdateContactAttributes";
        self.client
            .update_contact_attributes()
            .instance_id(&self.instance_id)
            .initial_contact_id(contact_id.as_str())
            .set_attributes(Some(attributes.clone()))
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        Ok(())
    }
}

pub struct ParticipantService {
    client: aws_sdk_connectparticipant::Client,
}

impl ParticipantService {
    /// One page of the chat's transcript, oldest first.
    async fn transcript_page(&self, token: &ConnectionToken, page: &PageRequest) -> PortResult<GetTranscriptOutput> {
        self.client
            .get_transcript()
            .connection_token(token.expose())
            .scan_direction(ScanDirection::Forward)
            .sort_order(SortKey::Ascending)
            .max_results(i32::from(page.max))
            .set_next_token(page.next_token.clone())
            .send()
            .boxed()
            .await
            .map_err(|e| classify("GetTranscript", e, true))
    }
}

impl ParticipantService {
    pub fn new(client: aws_sdk_connectparticipant::Client) -> Self {
        Self { client }
    }
}

impl Participant for ParticipantService {
    async fn connect(&self, token: &ParticipantToken) -> PortResult<Connection> {
        const OP: &str = "CreateParticipantConnection";
        let out = self
            .client
            .create_participant_connection()
            .participant_token(token.expose())
            .r#type(ConnectionType::ConnectionCredentials)
            .connect_participant(true)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        let credentials = out
            .connection_credentials()
            .ok_or_else(|| missing(OP, "ConnectionCredentials"))?;
        let token = credentials
            .connection_token()
            .ok_or_else(|| missing(OP, "ConnectionToken"))?;
        let expires_at = credentials
            .expiry()
            .and_then(|e| DateTime::from_str(e, Format::DateTime).ok())
            .map(|d| d.secs())
            // Connect documents a one-day lifetime; assume less if the response omits it.
            .unwrap_or_else(|| crate::telemetry::now_ms() / 1000 + 3600);
        Ok(Connection {
            connection_token: ConnectionToken::new(token),
            expires_at,
        })
    }

    async fn send_message(
        &self,
        token: &ConnectionToken,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> PortResult<ItemId> {
        const OP: &str = "SendMessage";
        let out = self
            .client
            .send_message()
            .connection_token(token.expose())
            .content_type(content_type)
            .content(content)
            .client_token(client_token)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        ItemId::parse(out.id().ok_or_else(|| missing(OP, "Id"))?).map_err(|e| invalid(OP, e))
    }

    async fn send_event(
        &self,
        token: &ConnectionToken,
        content_type: &str,
        content: &str,
        client_token: &str,
    ) -> PortResult<()> {
        const OP: &str = "SendEvent";
        self.client
            .send_event()
            .connection_token(token.expose())
            .content_type(content_type)
            // Content is 1 to 1024 characters when given; typing carries none.
            .set_content(Some(content.to_owned()).filter(|c| !c.is_empty()))
            .client_token(client_token)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        Ok(())
    }

    async fn sent_texts(&self, token: &ConnectionToken, contact_id: &ContactId) -> PortResult<Vec<String>> {
        // Oldest first: a chat just started holds a join, maybe a greeting, and the customer's first text.
        let first = PageRequest {
            max: 100,
            next_token: None,
        };
        Ok(self
            .transcript_page(token, &first)
            .await?
            .transcript()
            .iter()
            .filter(|item| {
                item.r#type() == Some(&ChatItemType::Message)
                    && item.participant_role() == Some(&ParticipantRole::Customer)
                    && item.contact_id().is_none_or(|c| c == contact_id.as_str())
            })
            .filter_map(|item| item.content().map(str::to_owned))
            .collect())
    }

    async fn transcript(&self, token: &ConnectionToken, page: &PageRequest) -> PortResult<TranscriptChunk> {
        let out = self.transcript_page(token, page).await?;
        let items = out
            .transcript()
            .iter()
            .filter(|item| matches!(item.r#type(), Some(ChatItemType::Message | ChatItemType::Attachment)))
            .map(|item| ChatItem {
                id: item.id().unwrap_or_default().to_owned(),
                role: item
                    .participant_role()
                    .map(|role| crate::connect_stream::role(role.as_str())),
                display_name: item.display_name().map(str::to_owned),
                content_type: item.content_type().unwrap_or_default().to_owned(),
                content: item.content().map(str::to_owned),
                at: item.absolute_time().unwrap_or_default().to_owned(),
            })
            .collect();
        Ok(TranscriptChunk {
            items,
            next_token: out.next_token().map(str::to_owned),
        })
    }

    async fn disconnect(&self, token: &ConnectionToken, client_token: &str) -> PortResult<()> {
        const OP: &str = "DisconnectParticipant";
        self.client
            .disconnect_participant()
            .connection_token(token.expose())
            .client_token(client_token)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, true))?;
        Ok(())
    }
}
