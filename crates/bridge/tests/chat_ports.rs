//! The contract of the chat ports (`ContactCenter`, `Participant`) and of `Whatsapp`.
//!
//! Each case is a function generic over the ports of a [`Backend`], run once on the in-memory fakes
//! (`bridge::fakes::FakeConnect`, `FakeWhatsapp`) and once on the AWS adapters (`ConnectCenter`,
//! `ParticipantService`, `EumSender`) against the local twin: the twin is the truth, so a case that
//! passes there and fails on a fake shows a bug in the fake. What the ports do not answer (what a chat
//! holds, what went to WhatsApp) each backend shows through [`Observe`], the fakes with their accessors
//! and the twin with its control API. The cases: the same client token gets the same chat, another a new
//! one; a chat started with the customer's text holds it once, whatever a retried start carries, and
//! shows it among the customer's texts; a message is sent once per client token within its chat; a
//! chat takes one custom bot participant, the same again for the same client token, whose messages are
//! its own and not the customer's; a receipt is recorded once per
//! client token; a chat the customer left or the agent ended refuses its participant and connection
//! tokens as gone; a message to WhatsApp gets an id, and read marks go with or without the typing
//! indicator.

use bridge::aws::{ConnectCenter, EumSender, ParticipantService};
use bridge::fakes::{FakeConnect, FakeWhatsapp};
use bridge::ids::ContactId;
use local_aws::{Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use twin::{control, sdk_config};

#[path = "chat_ports/cases.rs"]
mod cases;
// Each test file uses part of it.
#[allow(dead_code, unused_macros)]
#[macro_use]
mod twin;

/// A chat as its backend holds it.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    contact_id: ContactId,
    attributes: HashMap<String, String>,
    /// What the customer side sent into it: (content type, content), oldest first.
    messages: Vec<(String, String)>,
    /// What its custom bot participant said, oldest first.
    bot_messages: Vec<String>,
    /// The customer's receipts: (content type, item id), in no particular order.
    receipts: Vec<(String, String)>,
    ended: bool,
}

/// What went to WhatsApp.
#[derive(Debug, Clone, PartialEq, Default)]
struct ToWhatsapp {
    /// (message id, the Cloud API message object), oldest first.
    sent: Vec<(String, Value)>,
    /// (wamid, with the typing indicator) of each read mark, oldest first.
    read: Vec<(String, bool)>,
}

/// One backend's ports, and what it shows beyond them.
struct Backend<C, P, W, O> {
    center: C,
    participant: P,
    whatsapp: W,
    seen: O,
}

/// What a backend holds that its ports do not answer, and the agent's side of its chats.
trait Observe {
    /// Every chat, oldest first.
    async fn chats(&self) -> Vec<Held>;
    /// The agent ends the chat.
    async fn end(&self, contact_id: &ContactId);
    async fn to_whatsapp(&self) -> ToWhatsapp;
}

#[derive(Clone, Default)]
struct Fakes {
    connect: FakeConnect,
    whatsapp: FakeWhatsapp,
}

impl Fakes {
    fn backend() -> Backend<FakeConnect, FakeConnect, FakeWhatsapp, Fakes> {
        let seen = Fakes::default();
        Backend {
            center: seen.connect.clone(),
            participant: seen.connect.clone(),
            whatsapp: seen.whatsapp.clone(),
            seen,
        }
    }
}

impl Observe for Fakes {
    async fn chats(&self) -> Vec<Held> {
        let held = |chat: bridge::fakes::Chat| Held {
            contact_id: chat.contact_id,
            attributes: chat.request.attributes,
            messages: chat.messages.into_iter().map(|(t, c, _)| (t, c)).collect(),
            bot_messages: chat.bot_messages.into_iter().map(|(_, c, _)| c).collect(),
            receipts: chat
                .events
                .into_iter()
                .map(|(t, c, _)| {
                    let target: Value = serde_json::from_str(&c).unwrap();
                    (t, target["messageId"].as_str().unwrap().to_owned())
                })
                .collect(),
            ended: chat.ended,
        };
        self.connect.chats().into_iter().map(held).collect()
    }

    async fn end(&self, contact_id: &ContactId) {
        self.connect.end_chat(contact_id);
    }

    async fn to_whatsapp(&self) -> ToWhatsapp {
        ToWhatsapp {
            sent: self.whatsapp.sent().into_iter().map(|s| (s.id, s.message)).collect(),
            read: self.whatsapp.read(),
        }
    }
}

/// A twin of the case's own (no moto, no handlers: these ports reach only Connect and EUM).
struct OnTwin {
    twin: Twin,
}

impl OnTwin {
    async fn backend() -> Backend<ConnectCenter, ParticipantService, EumSender, OnTwin> {
        let twin = Twin::start(TwinConfig::default(), TwinOptions::default())
            .await
            .unwrap();
        let config = twin::config(&twin);
        let shared = sdk_config(&twin.url());
        let social = aws_sdk_socialmessaging::Client::new(&shared);
        Backend {
            center: ConnectCenter::new(aws_sdk_connect::Client::new(&shared), &config),
            participant: ParticipantService::new(aws_sdk_connectparticipant::Client::new(&shared)),
            whatsapp: EumSender::new(social.clone(), social, config.meta_api_version.clone()),
            seen: OnTwin { twin },
        }
    }

    async fn get(&self, path: &str) -> Value {
        control(&self.twin.url(), reqwest::Method::GET, path, None).await
    }
}

/// A contact of `GET /_twin/contacts` as a chat holds it.
fn held(contact: &Value) -> Held {
    let items = contact["transcript"].as_array().unwrap();
    let field = |item: &Value, name: &str| item[name].as_str().unwrap_or_default().to_owned();
    let mut receipts = Vec::new();
    for item in items {
        for receipt in item["receipts"].as_array().unwrap() {
            for (kind, when) in [
                (bridge::content_type::DELIVERED_EVENT, "delivered"),
                (bridge::content_type::READ_EVENT, "read"),
            ] {
                if !receipt[when].is_null() {
                    receipts.push((kind.to_owned(), field(item, "id")));
                }
            }
        }
    }
    Held {
        contact_id: ContactId::parse(contact["contact_id"].as_str().unwrap()).unwrap(),
        attributes: serde_json::from_value(contact["attributes"].clone()).unwrap(),
        messages: items
            .iter()
            .filter(|item| item["role"] == "CUSTOMER" && item["type"] == "MESSAGE")
            .map(|item| (field(item, "content_type"), field(item, "content")))
            .collect(),
        bot_messages: items
            .iter()
            .filter(|item| item["role"] == "CUSTOM_BOT" && item["type"] == "MESSAGE")
            .map(|item| field(item, "content"))
            .collect(),
        receipts,
        ended: contact["state"] == "ended",
    }
}

impl Observe for OnTwin {
    async fn chats(&self) -> Vec<Held> {
        self.get("/contacts")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(held)
            .collect()
    }

    async fn end(&self, contact_id: &ContactId) {
        let path = format!("/contacts/{contact_id}/agent");
        let end = Some(json!({"action": "end"}));
        control(&self.twin.url(), reqwest::Method::POST, &path, end).await;
    }

    async fn to_whatsapp(&self) -> ToWhatsapp {
        let mut seen = ToWhatsapp::default();
        for sent in self.get("/whatsapp/sent").await.as_array().unwrap() {
            let message = sent["message"].clone();
            if message["status"] == "read" {
                let wamid = message["message_id"].as_str().unwrap().to_owned();
                seen.read.push((wamid, !message["typing_indicator"].is_null()));
            } else {
                seen.sent
                    .push((sent["message_id"].as_str().unwrap().to_owned(), message));
            }
        }
        seen
    }
}

contract!(
    fake: super::Fakes::backend(),
    twin: Some(super::OnTwin::backend().await),
    cases: the_same_client_token_gets_the_same_chat_and_another_a_new_one,
    a_chat_started_with_a_text_holds_it_once_whatever_a_retry_carries,
    a_message_is_sent_once_per_client_token_within_its_chat,
    a_transcript_reads_in_pages_oldest_first,
    contact_attributes_merge_within_32_kb,
    a_receipt_is_recorded_once_per_client_token,
    a_chat_the_customer_left_refuses_its_tokens_as_gone,
    a_chat_the_agent_ended_refuses_its_tokens_as_gone,
    a_message_to_whatsapp_gets_an_id_and_read_marks_go_with_or_without_typing,
    a_chats_one_custom_bot_speaks_once_per_client_token,
);
