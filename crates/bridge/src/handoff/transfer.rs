//! The bot's transfer of a handoff (`POST /v1/handoffs/{id}/transfer`): whether Amazon Connect can
//! move the handoff's chat, and what the bridge writes to have it moved, decided before anything is
//! called.
//!
//! Connect has no call that moves a chat: `TransferContact` takes tasks and e-mail contacts only. A
//! chat is moved by a flow, so the bridge asks the handoff's customer queue flow
//! (`infra/contact-flows/handoff-queue.json`, which `handoff-inbound.json` sets on every handoff chat)
//! to do it: it sets the contact attribute [`TRANSFER_QUEUE_ATTRIBUTE`] to the queue, and the flow,
//! which looks at it every 20 seconds while the chat waits, clears it and moves the chat there
//! (*Transfer to queue*, which in a customer queue flow moves a queued contact to another queue). So
//! only a chat that waits in a queue can be transferred:
//! - one an agent has is refused: Connect moves an agent's chat only by the agent's own transfer
//!   (a quick connect);
//! - a transfer to a flow is refused: a customer queue flow has no *Transfer to flow* block (Connect
//!   allows it in inbound and transfer flows only), so no flow can take a chat out of its queue.
//!
//! The move owes the bot `handoff.transferred`, written under an item id derived from the queue: a
//! retried request sets the attribute again (the same value) and writes no second event.

use super::lifecycle::{Input, Status};
use super::request::{ApiError, Transfer};
use crate::ids::short_hash;
use std::collections::HashMap;

/// The contact attribute the handoff queue flow takes the bot's queue from (and clears once it took
/// it, so the chat is moved once).
pub const TRANSFER_QUEUE_ATTRIBUTE: &str = "HandoffTransferQueueId";

/// What a transfer Connect can make writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    /// For the chat's contact, where the queue flow reads them.
    pub attributes: HashMap<String, String>,
    /// The handoff's move, owing `handoff.transferred`.
    pub input: Input,
    /// The id the move is written under: the same for the same request, so a retry writes it once.
    pub item: String,
    /// What takes the attributes back when an agent took the chat before the move was written.
    pub withdrawal: HashMap<String, String>,
}

/// Why a transfer cannot be made; nothing is changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The handoff is over: the conversation is the bot's again.
    Over,
    /// An agent has the chat.
    AgentHasChat,
    /// A chat waiting in a queue cannot be moved to a flow.
    NoFlowTransfer,
}

impl Refused {
    /// The API's answer: 409, `handoff_ended` or `conflict` saying why.
    pub fn answer(self) -> ApiError {
        match self {
            Refused::Over => ApiError::handoff_ended(),
            Refused::AgentHasChat => ApiError::conflict(
                "an agent has the chat: Amazon Connect moves it only by the agent's own transfer \
                 (a quick connect); nothing was changed",
            ),
            Refused::NoFlowTransfer => ApiError::conflict(
                "Amazon Connect cannot move a chat waiting in a queue to a flow (a customer queue flow \
                 has no Transfer to flow); transfer it to a queue_id",
            ),
        }
    }
}

/// What transferring a handoff that stands at `status` takes, or why it cannot be.
pub fn plan(status: Status, transfer: &Transfer) -> Result<Move, Refused> {
    match status {
        Status::Ended | Status::Failed => return Err(Refused::Over),
        Status::AgentJoined => return Err(Refused::AgentHasChat),
        Status::Queued => {}
    }
    let queue = match transfer {
        Transfer::ToQueue(queue) => queue.as_str(),
        Transfer::ToFlow(_) => return Err(Refused::NoFlowTransfer),
    };
    Ok(Move {
        attributes: HashMap::from([(TRANSFER_QUEUE_ATTRIBUTE.to_owned(), queue.to_owned())]),
        input: Input::BotTransfer { to: queue.to_owned() },
        item: format!("transfer#{}", short_hash(queue)),
        withdrawal: HashMap::from([(TRANSFER_QUEUE_ATTRIBUTE.to_owned(), String::new())]),
    })
}

#[cfg(test)]
mod tests {
    use super::super::request::{ApiRequest, ErrorCode, RawRequest, parse_request};
    use super::*;
    use serde_json::{Value, json};
    use std::collections::BTreeSet;

    const QUEUE: &str = "0a1b2c3d-0000-4000-8000-000000000002";
    const OTHER_QUEUE: &str = "0a1b2c3d-0000-4000-8000-000000000003";

    /// The transfer a body asks for, parsed as the API parses it.
    fn transfer(body: Value) -> Transfer {
        let body = body.to_string();
        let raw = RawRequest {
            method: "POST",
            path: "/v1/handoffs/ho_01jehz3k5q8v0w2x4y6z8a0b2c/transfer",
            query: &[],
            content_type: Some("application/json"),
            idempotency_key: None,
            body: body.as_bytes(),
        };
        match parse_request(raw) {
            Ok(ApiRequest::Transfer(_, transfer)) => transfer,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_queued_chat_is_moved_by_the_attribute_its_queue_flow_reads() {
        let to_queue = transfer(json!({"queue_id": QUEUE}));

        let planned = plan(Status::Queued, &to_queue).unwrap();

        assert_eq!(
            planned.attributes,
            HashMap::from([(TRANSFER_QUEUE_ATTRIBUTE.to_owned(), QUEUE.to_owned())])
        );
        assert_eq!(planned.input, Input::BotTransfer { to: QUEUE.to_owned() });
        assert_eq!(
            planned.withdrawal,
            HashMap::from([(TRANSFER_QUEUE_ATTRIBUTE.to_owned(), String::new())]),
            "an empty value clears the attribute, and the queue flow then leaves the chat where it is"
        );
        assert!(planned.item.starts_with("transfer#"), "{}", planned.item);
        assert_eq!(
            plan(Status::Queued, &to_queue).unwrap().item,
            planned.item,
            "a retry is written under the same item"
        );
        let elsewhere = plan(Status::Queued, &transfer(json!({"queue_id": OTHER_QUEUE}))).unwrap();
        assert_ne!(elsewhere.item, planned.item, "another queue is another move");
    }

    #[test]
    fn an_agents_chat_a_flow_and_a_handoff_that_is_over_are_refused() {
        let to_queue = transfer(json!({"queue_id": QUEUE}));
        let to_flow = transfer(json!({"contact_flow_id": QUEUE}));
        let cases = [
            (
                Status::AgentJoined,
                &to_queue,
                Refused::AgentHasChat,
                ErrorCode::Conflict,
            ),
            (Status::Queued, &to_flow, Refused::NoFlowTransfer, ErrorCode::Conflict),
            (
                Status::AgentJoined,
                &to_flow,
                Refused::AgentHasChat,
                ErrorCode::Conflict,
            ),
            (Status::Ended, &to_queue, Refused::Over, ErrorCode::HandoffEnded),
            (Status::Failed, &to_flow, Refused::Over, ErrorCode::HandoffEnded),
        ];
        for (status, asked, refused, code) in cases {
            assert_eq!(plan(status, asked), Err(refused), "{status:?} {asked:?}");
            let answer = refused.answer();
            assert_eq!((answer.status(), answer.code()), (409, code));
        }
        assert!(Refused::AgentHasChat.answer().message().contains("quick connect"));
        assert!(Refused::NoFlowTransfer.answer().message().contains("queue_id"));
    }

    const INBOUND_FLOW: &str = include_str!("../../../../infra/contact-flows/handoff-inbound.json");
    const QUEUE_FLOW: &str = include_str!("../../../../infra/contact-flows/handoff-queue.json");
    /// The attribute the create sets to the bot's `routing.queue_id` (`service::chat_attributes`).
    const ROUTING_QUEUE_ATTRIBUTE: &str = "HandoffQueueId";

    fn flow(content: &str) -> Value {
        serde_json::from_str(content).expect("valid JSON")
    }

    fn actions(flow: &Value) -> &Vec<Value> {
        flow["Actions"].as_array().expect("Actions")
    }

    /// Every string in `value`.
    fn strings<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::String(s) => found.push(s),
            Value::Array(items) => items.iter().for_each(|v| strings(v, found)),
            Value::Object(map) => map.values().for_each(|v| strings(v, found)),
            _ => {}
        }
    }

    /// The contact attributes the flows read (`$.Attributes.<name>`).
    fn read(flows: &[&Value]) -> BTreeSet<String> {
        let mut found = Vec::new();
        for flow in flows {
            actions(flow).iter().for_each(|a| strings(&a["Parameters"], &mut found));
        }
        found
            .into_iter()
            .filter_map(|s| s.strip_prefix("$.Attributes."))
            .map(str::to_owned)
            .collect()
    }

    /// The contact attributes the flows set, with the values they set.
    fn set(flows: &[&Value]) -> Vec<(String, String)> {
        flows
            .iter()
            .flat_map(|flow| actions(flow))
            .filter(|a| a["Type"] == "UpdateContactAttributes")
            .flat_map(|a| a["Parameters"]["Attributes"].as_object().expect("Attributes"))
            .map(|(k, v)| (k.clone(), v.as_str().expect("a text value").to_owned()))
            .collect()
    }

    #[test]
    fn the_shipped_flows_read_exactly_the_attributes_the_bridge_sets() {
        let (inbound, queue) = (flow(INBOUND_FLOW), flow(QUEUE_FLOW));
        let flows = [&inbound, &queue];
        // What a flow gives a value of its own; clearing an attribute does not make it the flow's.
        let own: BTreeSet<String> = set(&flows)
            .into_iter()
            .filter(|(_, value)| !value.is_empty())
            .map(|(name, _)| name)
            .collect();

        let from_bridge: BTreeSet<String> = read(&flows).difference(&own).cloned().collect();

        assert_eq!(
            from_bridge,
            BTreeSet::from([ROUTING_QUEUE_ATTRIBUTE.to_owned(), TRANSFER_QUEUE_ATTRIBUTE.to_owned()])
        );
        assert!(read(&[&inbound]).contains(ROUTING_QUEUE_ATTRIBUTE));
        assert!(read(&[&queue]).contains(TRANSFER_QUEUE_ATTRIBUTE));
        assert!(
            set(&[&queue]).contains(&(TRANSFER_QUEUE_ATTRIBUTE.to_owned(), String::new())),
            "the queue flow clears the bot's queue once it took it, or it would move the chat again"
        );
        assert!(
            own.iter()
                .all(|name| read(&flows).contains(name) && name.starts_with("Handoff")),
            "what a flow keeps for itself is read, and named like the bridge's own: {own:?}"
        );
    }

    /// The blocks the admin guide and the flow language reference allow in each kind of flow, of
    /// those the shipped flows use: `UpdateContactTargetQueue` and `TransferContactToQueue` not in a
    /// customer queue flow, which moves a queued chat with `DequeueContactAndTransferToQueue` only;
    /// `EndFlowExecution` only there; `Wait` is the chat's way to pause (*Loop prompts* is voice only).
    const INBOUND_ACTIONS: &[&str] = &[
        "Compare",
        "UpdateContactTargetQueue",
        "UpdateContactEventHooks",
        "TransferContactToQueue",
        "MessageParticipant",
        "DisconnectParticipant",
    ];
    const QUEUE_FLOW_ACTIONS: &[&str] = &[
        "Compare",
        "UpdateContactAttributes",
        "DequeueContactAndTransferToQueue",
        "MessageParticipant",
        "Wait",
        "EndFlowExecution",
    ];

    #[test]
    fn the_shipped_flows_are_flow_language_whose_every_branch_leads_somewhere() {
        for (content, kind, allowed) in [
            (INBOUND_FLOW, "contactFlow", INBOUND_ACTIONS),
            (QUEUE_FLOW, "customerQueue", QUEUE_FLOW_ACTIONS),
        ] {
            let flow = flow(content);
            assert_eq!(flow["Version"], "2019-10-30");
            assert_eq!(flow["Metadata"]["type"], kind);
            let ids: BTreeSet<&str> = actions(&flow)
                .iter()
                .map(|a| a["Identifier"].as_str().expect("Identifier"))
                .collect();
            assert_eq!(ids.len(), actions(&flow).len(), "identifiers are unique");
            assert!(ids.contains(flow["StartAction"].as_str().unwrap_or_default()));
            for action in actions(&flow) {
                let kind = action["Type"].as_str().unwrap_or_default();
                assert!(allowed.contains(&kind), "{kind} in a {}", flow["Metadata"]["type"]);
                let transitions = &action["Transitions"];
                let targets = std::iter::once(&transitions["NextAction"])
                    .chain(
                        transitions["Errors"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|e| &e["NextAction"]),
                    )
                    .chain(
                        transitions["Conditions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| &c["NextAction"]),
                    );
                for target in targets.filter(|t| !t.is_null()) {
                    assert!(
                        ids.contains(target.as_str().unwrap_or_default()),
                        "{target} from {kind}"
                    );
                }
            }
        }
        let inbound = flow(INBOUND_FLOW);
        let hook = actions(&inbound)
            .iter()
            .find(|a| a["Type"] == "UpdateContactEventHooks")
            .expect("the inbound flow sets the queue flow");
        assert!(
            hook["Parameters"]["EventHooks"]["CustomerQueue"]
                .as_str()
                .is_some_and(|arn| arn.contains("/contact-flow/"))
        );
    }
}
