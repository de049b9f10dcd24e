//! Custom bot participants: Connect `CreateParticipant` with `ParticipantRole: CUSTOM_BOT`, then the
//! bot's own Connect Participant session (CreateParticipantConnection with the token it returned,
//! SendMessage, SendEvent, GetTranscript, DisconnectParticipant).
//!
//! The rules are the Amazon Connect Administrator Guide's ("Customize chat flow experiences by
//! integrating custom participants") and the API reference's: CUSTOM_BOT is the only role a chat
//! accepts; at most one custom participant is on a contact; none is added while an agent is on it,
//! and an agent joining disconnects it; its CreateParticipantConnection comes within 15 seconds of
//! CreateParticipant (`ResourceNotFoundException` after that); it may not read attachments. The
//! docs do not name the errors of the refusals, so each takes the modeled error that says what
//! happened (see `docs/local-twin.md`).
//!
//! The bot is a seat on its contact rather than a second kind of customer: a seat that was not
//! connected in time is free again without anyone vacating it, so expiry needs no timer, and
//! everything else (its items, its connection tokens) goes through the paths the customer's use,
//! which is what makes its items stream exactly as the customer's do.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{CT_JOINED, CT_LEFT, ConnectSim, ContactState, Participant, Role, Visibility, new_id, new_token, required};
use crate::error::ApiError;
use crate::time::iso_millis;

/// How long a custom bot's participant token waits for CreateParticipantConnection.
pub const CONNECT_WITHIN_MS: u64 = 15_000;

const BAD: &str = "InvalidRequestException";

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParticipantDetailsToAdd {
    pub participant_role: Option<String>,
    pub display_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateParticipantRequest {
    pub instance_id: Option<String>,
    pub contact_id: Option<String>,
    pub client_token: Option<String>,
    pub participant_details: Option<ParticipantDetailsToAdd>,
}

/// A contact's custom bot seat and what CreateParticipant answered for each `ClientToken`.
#[derive(Debug, Clone, Default)]
pub struct CustomBots {
    seat: Option<Seat>,
    answered: HashMap<String, Value>,
}

#[derive(Debug, Clone)]
struct Seat {
    participant: Participant,
    participant_token: String,
    created_ms: u64,
    connected: bool,
}

impl Seat {
    /// Whether the bot is still on the contact: connected, or still within its time to connect.
    fn taken(&self, now: u64) -> bool {
        self.connected || now < self.created_ms + CONNECT_WITHIN_MS
    }
}

impl CustomBots {
    /// The bot on the contact with this participant id.
    pub fn member(&self, participant_id: &str) -> Option<&Participant> {
        self.seat
            .as_ref()
            .map(|s| &s.participant)
            .filter(|p| p.participant_id == participant_id)
    }
}

impl ConnectSim {
    pub fn create_participant(&mut self, req: CreateParticipantRequest, now: u64) -> Result<Value, ApiError> {
        let instance = required(&req.instance_id, "InstanceId", BAD)?;
        let contact_id = required(&req.contact_id, "ContactId", BAD)?.to_owned();
        self.check_instance(instance)?;
        let contact = self
            .contacts
            .get(&contact_id)
            .ok_or_else(|| ApiError::not_found(format!("Contact not found: {contact_id}")))?;
        if let Some(out) = req
            .client_token
            .as_ref()
            .and_then(|t| contact.custom_bots.answered.get(t))
        {
            return Ok(out.clone());
        }
        let details = req.participant_details.unwrap_or_default();
        if details.participant_role.as_deref() != Some(Role::CustomBot.as_str()) {
            return Err(ApiError::new(
                BAD,
                "The only valid value for ParticipantRole is CUSTOM_BOT for a chat contact",
            ));
        }
        let display_name = required(&details.display_name, "ParticipantDetails.DisplayName", BAD)?;
        if contact.state == ContactState::Ended {
            return Err(ApiError::new(BAD, format!("Contact {contact_id} is not active")));
        }
        if contact.agent.is_some() {
            return Err(ApiError::new(
                "ConflictException",
                "A custom participant cannot be added while an agent is on the contact",
            ));
        }
        if contact.custom_bots.seat.as_ref().is_some_and(|s| s.taken(now)) {
            return Err(ApiError::new(
                "ServiceQuotaExceededException",
                "Only one custom participant can be present on a contact",
            ));
        }
        let seat = Seat {
            participant: Participant {
                participant_id: new_id(),
                display_name: display_name.to_owned(),
                role: Role::CustomBot,
                joined: false,
            },
            participant_token: new_token(),
            created_ms: now,
            connected: false,
        };
        let out = json!({
            "ParticipantCredentials": {
                "ParticipantToken": seat.participant_token,
                "Expiry": iso_millis(now + CONNECT_WITHIN_MS),
            },
            "ParticipantId": seat.participant.participant_id,
        });
        self.participant_tokens
            .insert(seat.participant_token.clone(), contact_id.clone());
        if let Some(c) = self.contacts.get_mut(&contact_id) {
            if let Some(token) = req.client_token {
                c.custom_bots.answered.insert(token, out.clone());
            }
            c.custom_bots.seat = Some(seat);
        }
        Ok(out)
    }

    /// CreateParticipantConnection with a participant token of `contact_id` that is not the
    /// customer's: the bot's, while it is on the contact.
    pub(super) fn connect_custom_bot(
        &mut self,
        contact_id: &str,
        participant_token: &str,
        types: &[String],
        connect_participant: Option<bool>,
        now: u64,
    ) -> Result<Value, ApiError> {
        let seat = self
            .contacts
            .get(contact_id)
            .and_then(|c| c.custom_bots.seat.clone())
            .filter(|s| s.participant_token == participant_token)
            .ok_or_else(|| ApiError::access_denied("Invalid ParticipantToken"))?;
        if !seat.taken(now) {
            return Err(ApiError::not_found(format!(
                "The custom participant was not connected within {} seconds of CreateParticipant",
                CONNECT_WITHIN_MS / 1000
            )));
        }
        let bot = seat.participant;
        let out = self.connection_output(contact_id, &bot.participant_id, types, now);
        let join = connect_participant == Some(true) && !bot.joined;
        if let Some(s) = self
            .contacts
            .get_mut(contact_id)
            .and_then(|c| c.custom_bots.seat.as_mut())
        {
            s.connected = true;
            s.participant.joined |= join;
        }
        if join {
            let joined = Self::event_item(CT_JOINED, Some(&bot), Visibility::All, now);
            self.push_item(contact_id, joined, true);
        }
        Ok(out)
    }

    /// The bot leaves `contact_id` (DisconnectParticipant, or an agent joining): its connection
    /// tokens stop working and, if it had joined, its `participant.left` is streamed. Returns the
    /// id of that item.
    pub(super) fn custom_bot_leaves(&mut self, contact_id: &str, now: u64, stream: bool) -> Option<String> {
        let seat = self.contacts.get_mut(contact_id)?.custom_bots.seat.take()?;
        let bot = seat.participant;
        self.connection_tokens
            .retain(|_, c| c.participant_id != bot.participant_id);
        bot.joined.then(|| {
            let left = Self::event_item(CT_LEFT, Some(&bot), Visibility::All, now);
            self.push_item(contact_id, left, stream)
        })
    }

    /// GetAttachment as a custom bot is refused, as Connect refuses it.
    pub fn refuse_custom_bot_attachments(&self, connection_token: Option<&str>, now: u64) -> Result<(), ApiError> {
        let (contact_id, participant_id) = self.resolve_connection(connection_token, now)?;
        match self.participant(&contact_id, &participant_id) {
            Some(p) if p.role == Role::CustomBot => Err(ApiError::access_denied(
                "A CUSTOM_BOT participant is not permitted to access attachments",
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TwinConfig;
    use crate::connect::{
        AgentAction, CT_ENDED, CreateParticipantConnectionRequest, NameOnly, SendRequest, StartChatContactRequest,
        StreamingConfiguration,
    };

    const T0: u64 = 1_762_846_200_000;
    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:connect-chat-stream";

    /// A streaming chat whose customer has joined; the stream is drained.
    fn chat(s: &mut ConnectSim) -> String {
        let cfg = TwinConfig::default();
        let out = s
            .start_chat_contact(
                StartChatContactRequest {
                    instance_id: Some(cfg.instance_id),
                    contact_flow_id: Some(cfg.contact_flow_id),
                    participant_details: Some(NameOnly {
                        display_name: Some("Sheena".into()),
                    }),
                    chat_streaming_configuration: Some(StreamingConfiguration {
                        streaming_endpoint_arn: Some(TOPIC.into()),
                    }),
                    ..Default::default()
                },
                T0,
            )
            .unwrap();
        s.create_participant_connection(out["ParticipantToken"].as_str(), connecting(), T0)
            .unwrap();
        s.take_stream();
        out["ContactId"].as_str().unwrap().to_owned()
    }

    fn connecting() -> CreateParticipantConnectionRequest {
        CreateParticipantConnectionRequest {
            types: Some(vec!["CONNECTION_CREDENTIALS".into()]),
            connect_participant: Some(true),
        }
    }

    fn bot(contact: &str, role: &str, token: Option<&str>) -> CreateParticipantRequest {
        CreateParticipantRequest {
            instance_id: Some(TwinConfig::default().instance_id),
            contact_id: Some(contact.into()),
            client_token: token.map(Into::into),
            participant_details: Some(ParticipantDetailsToAdd {
                participant_role: Some(role.into()),
                display_name: Some("Helper".into()),
            }),
        }
    }

    /// Creates and connects a bot; returns its connection token.
    fn connected_bot(s: &mut ConnectSim, contact: &str) -> String {
        let out = s.create_participant(bot(contact, "CUSTOM_BOT", None), T0).unwrap();
        let token = out["ParticipantCredentials"]["ParticipantToken"].as_str();
        let conn = s.create_participant_connection(token, connecting(), T0 + 1).unwrap();
        conn["ConnectionCredentials"]["ConnectionToken"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn streamed(s: &mut ConnectSim) -> Vec<(String, String)> {
        s.take_stream()
            .iter()
            .map(|e| {
                let m: Value = serde_json::from_str(&e.message).unwrap();
                let field = |k: &str| m[k].as_str().unwrap_or("").to_owned();
                (field("ContentType"), field("ParticipantRole"))
            })
            .collect()
    }

    fn say(text: &str) -> SendRequest {
        SendRequest {
            content_type: Some("text/plain".into()),
            content: Some(text.into()),
            client_token: None,
        }
    }

    #[test]
    fn the_bot_joins_speaks_and_leaves_without_ending_the_chat() {
        let mut s = ConnectSim::new(TwinConfig::default());
        let contact = chat(&mut s);
        let token = connected_bot(&mut s, &contact);
        s.send_message(Some(&token), say("hello"), T0 + 2).unwrap();
        s.disconnect_participant(Some(&token), T0 + 3).unwrap();
        let role = "CUSTOM_BOT".to_owned();
        assert_eq!(
            streamed(&mut s),
            [
                (CT_JOINED.to_owned(), role.clone()),
                ("text/plain".to_owned(), role.clone()),
                (CT_LEFT.to_owned(), role),
            ]
        );
        assert_eq!(s.contact(&contact).unwrap().state, ContactState::Connected);
        let err = s.send_message(Some(&token), say("again"), T0 + 4).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        // The seat is free again.
        assert!(s.create_participant(bot(&contact, "CUSTOM_BOT", None), T0 + 5).is_ok());
    }

    #[test]
    fn one_bot_at_a_time_and_only_as_custom_bot() {
        let mut s = ConnectSim::new(TwinConfig::default());
        let contact = chat(&mut s);
        let err = s.create_participant(bot(&contact, "AGENT", None), T0).unwrap_err();
        assert_eq!(err.code, "InvalidRequestException");
        let first = s
            .create_participant(bot(&contact, "CUSTOM_BOT", Some("c1")), T0)
            .unwrap();
        let again = s
            .create_participant(bot(&contact, "CUSTOM_BOT", Some("c1")), T0 + 1)
            .unwrap();
        assert_eq!(first, again);
        let err = s
            .create_participant(bot(&contact, "CUSTOM_BOT", Some("c2")), T0 + 1)
            .unwrap_err();
        assert_eq!(err.code, "ServiceQuotaExceededException");
        let err = s.create_participant(bot("nope", "CUSTOM_BOT", None), T0).unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
    }

    #[test]
    fn a_bot_not_connected_within_15_seconds_is_gone() {
        let mut s = ConnectSim::new(TwinConfig::default());
        let contact = chat(&mut s);
        let out = s.create_participant(bot(&contact, "CUSTOM_BOT", None), T0).unwrap();
        assert_eq!(
            out["ParticipantCredentials"]["Expiry"],
            iso_millis(T0 + CONNECT_WITHIN_MS)
        );
        let late = T0 + CONNECT_WITHIN_MS;
        let token = out["ParticipantCredentials"]["ParticipantToken"].as_str();
        let err = s.create_participant_connection(token, connecting(), late).unwrap_err();
        assert_eq!(err.code, "ResourceNotFoundException");
        assert!(s.create_participant(bot(&contact, "CUSTOM_BOT", None), late).is_ok());
        // The first bot's token belongs to nobody now.
        let err = s.create_participant_connection(token, connecting(), late).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        assert!(streamed(&mut s).is_empty(), "a bot that never joined streams nothing");
    }

    #[test]
    fn an_agent_joining_disconnects_the_bot_and_keeps_others_out() {
        let mut s = ConnectSim::new(TwinConfig::default());
        let contact = chat(&mut s);
        let token = connected_bot(&mut s, &contact);
        s.take_stream();
        let join = AgentAction {
            action: "join".into(),
            content_type: None,
            content: None,
            display_name: Some("Ana".into()),
            visibility: None,
            role: None,
            stream: None,
            name: None,
            data: None,
        };
        let ids = s.agent_action(&contact, &join, T0 + 2).unwrap();
        assert_eq!(ids.len(), 2);
        assert_eq!(
            streamed(&mut s),
            [
                (CT_JOINED.to_owned(), "AGENT".to_owned()),
                (CT_LEFT.to_owned(), "CUSTOM_BOT".to_owned()),
            ]
        );
        let err = s.send_message(Some(&token), say("hi"), T0 + 3).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        let err = s
            .create_participant(bot(&contact, "CUSTOM_BOT", None), T0 + 3)
            .unwrap_err();
        assert_eq!(err.code, "ConflictException");
    }

    #[test]
    fn no_bot_on_an_ended_chat_and_none_reads_attachments() {
        let mut s = ConnectSim::new(TwinConfig::default());
        let contact = chat(&mut s);
        let token = connected_bot(&mut s, &contact);
        let err = s.refuse_custom_bot_attachments(Some(&token), T0 + 2).unwrap_err();
        assert_eq!(err.code, "AccessDeniedException");
        let customer = s.contact(&contact).unwrap().participant_token.clone();
        let conn = s
            .create_participant_connection(Some(&customer), connecting(), T0)
            .unwrap();
        let customer_conn = conn["ConnectionCredentials"]["ConnectionToken"].as_str();
        assert!(s.refuse_custom_bot_attachments(customer_conn, T0 + 2).is_ok());
        s.disconnect_participant(customer_conn, T0 + 3).unwrap();
        let kinds: Vec<String> = streamed(&mut s).into_iter().map(|(ct, _)| ct).collect();
        assert_eq!(kinds.last().map(String::as_str), Some(CT_ENDED));
        let err = s
            .create_participant(bot(&contact, "CUSTOM_BOT", None), T0 + 4)
            .unwrap_err();
        assert_eq!(err.code, "InvalidRequestException");
    }
}
