//! The contract of the chat ports (`ContactCenter`, `Participant`) and of `Whatsapp`.
//!
//! Each case is a function generic over the ports, run once on the in-memory fakes
//! (`bridge::fakes::FakeConnect`, `FakeWhatsapp`) and once on the AWS adapters (`ConnectCenter`,
//! `ParticipantService`, `EumSender`) against the local twin: the twin is the truth, so a case that
//! passes there and fails on a fake shows a bug in the fake. What the ports do not answer (what a chat
//! holds, what went to WhatsApp) each backend shows through [`Observe`]. The cases: the same client
//! token gets the same chat, another a new one; a message is sent once per client token within its
//! chat; a receipt is recorded once per client token; a chat the customer left or the agent ended
//! refuses its participant and connection tokens as gone; a message to WhatsApp gets an id, and read
//! marks go with or without the typing indicator.

use bridge::aws::{ConnectCenter, EumSender, ParticipantService};
use bridge::config::Config;
use bridge::fakes::{FakeConnect, FakeWhatsapp};
use bridge::ids::ContactId;
use local_aws::{Twin, TwinConfig, TwinOptions};
use serde_json::{Value, json};
use std::collections::HashMap;
use twin::{control, sdk_config};

#[path = "chat_ports/cases.rs"]
mod cases;
// Each test file uses part of it.
#[allow(dead_code)]
mod twin;

/// The ports of one backend, and what it shows beyond them.
struct Backend<C, P, W, O> {
    center: C,
    participant: P,
    whatsapp: W,
    seen: O,
}

/// A chat as its backend holds it.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    contact_id: ContactId,
    attributes: HashMap<String, String>,
    /// What the customer side sent into it: (content type, content), oldest first.
    messages: Vec<(String, String)>,
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

/// What a backend holds that its ports do not answer, and the agent's side of its chats.
trait Observe {
    /// Every chat, oldest first.
    async fn chats(&self) -> Vec<Held>;
    /// The agent ends the chat.
    async fn end(&self, contact_id: &ContactId);
    async fn whatsapp(&self) -> ToWhatsapp;
}

#[derive(Clone, Default)]
struct Fakes {
    connect: FakeConnect,
    whatsapp: FakeWhatsapp,
}

impl Observe for Fakes {
    async fn chats(&self) -> Vec<Held> {
        self.connect
            .chats()
            .into_iter()
            .map(|chat| Held {
                contact_id: chat.contact_id.clone(),
                attributes: chat.request.attributes.clone(),
                messages: chat.messages.iter().map(|(t, c, _)| (t.clone(), c.clone())).collect(),
                receipts: chat
                    .events
                    .iter()
                    .map(|(t, c, _)| {
                        let target: Value = serde_json::from_str(c).unwrap();
                        (t.clone(), target["messageId"].as_str().unwrap().to_owned())
                    })
                    .collect(),
                ended: chat.ended,
            })
            .collect()
    }

    async fn end(&self, contact_id: &ContactId) {
        self.connect.end_chat(contact_id);
    }

    async fn whatsapp(&self) -> ToWhatsapp {
        ToWhatsapp {
            sent: self.whatsapp.sent().into_iter().map(|s| (s.id, s.message)).collect(),
            read: self.whatsapp.read(),
        }
    }
}

/// The twin (no moto, no handlers: these ports reach only Connect and EUM), seen through its control API.
struct OnTwin {
    twin: Twin,
}

impl OnTwin {
    async fn backend() -> Backend<ConnectCenter, ParticipantService, EumSender, OnTwin> {
        let twin = Twin::start(TwinConfig::default(), TwinOptions::default())
            .await
            .unwrap();
        let env: HashMap<String, String> = twin
            .handler_env(None, "whatsapp-bridge-state", twin::BUCKET, &[])
            .into_iter()
            .collect();
        let config = Config::from_lookup(|name| env.get(name).cloned()).unwrap();
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

impl Observe for OnTwin {
    async fn chats(&self) -> Vec<Held> {
        let contacts = self.get("/contacts").await;
        let held = |contact: &Value| {
            let customer = |item: &&Value| item["role"] == "CUSTOMER";
            let items = contact["transcript"].as_array().unwrap();
            let field = |item: &Value, name: &str| item[name].as_str().unwrap_or_default().to_owned();
            let receipts = items.iter().flat_map(|item| {
                let id = field(item, "id");
                item["receipts"].as_array().unwrap().iter().flat_map(move |receipt| {
                    [
                        (bridge::content_type::DELIVERED_EVENT, "delivered"),
                        (bridge::content_type::READ_EVENT, "read"),
                    ]
                    .into_iter()
                    .filter(|(_, when)| !receipt[*when].is_null())
                    .map(|(kind, _)| (kind.to_owned(), id.clone()))
                    .collect::<Vec<_>>()
                })
            });
            Held {
                contact_id: ContactId::parse(contact["contact_id"].as_str().unwrap()).unwrap(),
                attributes: serde_json::from_value(contact["attributes"].clone()).unwrap(),
                messages: items
                    .iter()
                    .filter(customer)
                    .filter(|item| item["type"] == "MESSAGE")
                    .map(|item| (field(item, "content_type"), field(item, "content")))
                    .collect(),
                receipts: receipts.collect(),
                ended: contact["state"] == "ended",
            }
        };
        contacts.as_array().unwrap().iter().map(held).collect()
    }

    async fn end(&self, contact_id: &ContactId) {
        let path = format!("/contacts/{contact_id}/agent");
        control(
            &self.twin.url(),
            reqwest::Method::POST,
            &path,
            Some(json!({"action": "end"})),
        )
        .await;
    }

    async fn whatsapp(&self) -> ToWhatsapp {
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

/// Runs each contract case on the fakes and on the adapters against a fresh twin.
macro_rules! contract {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn fake() {
                let fakes = super::Fakes::default();
                let backend = super::Backend {
                    center: fakes.connect.clone(),
                    participant: fakes.connect.clone(),
                    whatsapp: fakes.whatsapp.clone(),
                    seen: fakes,
                };
                super::cases::$case(&backend).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn twin() {
                super::cases::$case(&super::OnTwin::backend().await).await;
            }
        }
    )*};
}

contract!(
    the_same_client_token_gets_the_same_chat_and_another_a_new_one,
    a_message_is_sent_once_per_client_token_within_its_chat,
    a_receipt_is_recorded_once_per_client_token,
    a_chat_the_customer_left_refuses_its_tokens_as_gone,
    a_chat_the_agent_ended_refuses_its_tokens_as_gone,
    a_message_to_whatsapp_gets_an_id_and_read_marks_go_with_or_without_typing,
);
