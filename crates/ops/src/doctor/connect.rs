//! Amazon Connect: the instance is active, and the contact flow chats start in exists, is a
//! published inbound flow, hands chats to a queue and speaks in text.
//!
//! The flow's content is read in the Flow language (`Actions[].Type` / `Parameters`): what the
//! bridge relies on is that `StartChatContact` accepts the flow (an active, published
//! `CONTACT_FLOW`), that chats reach agents (a `TransferContactToQueue`, or a `TransferToFlow` that
//! doctor cannot follow), and that what the flow says reaches WhatsApp: on chat, Connect sends only
//! a block's `Text`; `PromptId`, `SSML` and `Media` are voice-only and the customer gets nothing.

use serde_json::Value;

use super::{Check, Fact, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    pub arn: Option<String>,
    /// `ACTIVE`, `CREATION_IN_PROGRESS`, `CREATION_FAILED`.
    pub status: String,
    pub status_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub name: String,
    /// `CONTACT_FLOW`, `CUSTOMER_QUEUE`, …
    pub flow_type: String,
    /// `ACTIVE` or `ARCHIVED`.
    pub state: String,
    /// `PUBLISHED` or `SAVED`.
    pub status: String,
    /// Flow language JSON.
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub instance: Fact<Instance>,
    pub flow: Fact<Flow>,
}

/// Blocks that send something to the customer, and where their message lives.
const MESSAGING_ACTIONS: &[&str] = &[
    "MessageParticipant",
    "GetParticipantInput",
    "ConnectParticipantWithLexBot",
    "MessageParticipantIteratively",
];

/// Prompt kinds Connect plays on voice only.
const VOICE_ONLY: &[&str] = &["PromptId", "SSML", "Media"];

/// What the bridge needs to know of a flow's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowContent {
    /// It has a `TransferContactToQueue` or `TransferToFlow` action.
    pub transfers: bool,
    /// `Type Identifier` of the blocks whose message is voice-only.
    pub voice_only: Vec<String>,
}

/// Reads Flow language content.
pub fn analyze(content: &str) -> Result<FlowContent, String> {
    let flow: Value = serde_json::from_str(content).map_err(|e| format!("the content is not JSON ({e})"))?;
    let actions = flow
        .get("Actions")
        .and_then(Value::as_array)
        .ok_or("the content has no Actions (not the Flow language)")?;
    let mut transfers = false;
    let mut voice_only = Vec::new();
    for action in actions {
        let kind = action.get("Type").and_then(Value::as_str).unwrap_or("");
        transfers |= matches!(kind, "TransferContactToQueue" | "TransferToFlow");
        if !MESSAGING_ACTIONS.contains(&kind) {
            continue;
        }
        let params = action.get("Parameters").cloned().unwrap_or(Value::Null);
        let prompts: Vec<&Value> = match params.get("Messages").and_then(Value::as_array) {
            Some(messages) => messages.iter().collect(),
            None => vec![&params],
        };
        let voice = prompts
            .iter()
            .any(|p| p.get("Text").is_none() && VOICE_ONLY.iter().any(|k| p.get(k).is_some()));
        if voice {
            let id = action.get("Identifier").and_then(Value::as_str).unwrap_or("?");
            voice_only.push(format!("{kind} {id}"));
        }
    }
    Ok(FlowContent { transfers, voice_only })
}

pub fn checks(target: &Target, facts: &Facts) -> Vec<Check> {
    let instance = &target.instance_id;
    let mut checks = vec![match &facts.instance {
        Err(e) => e.check(format!("Connect instance {instance} exists"), || {
            format!(
                "set ConnectInstanceId to an instance of {} (aws connect list-instances --region {})",
                target.region, target.region
            )
        }),
        Ok(i) if i.status == "ACTIVE" => Check::pass(format!("Connect instance {instance} is ACTIVE")),
        Ok(i) => Check::fail(
            format!("Connect instance {instance} is ACTIVE"),
            format!(
                "it is {}{}",
                i.status,
                i.status_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            if i.status == "CREATION_IN_PROGRESS" {
                "wait until the instance is created, then run doctor again"
            } else {
                "create a new instance and deploy with its id as ConnectInstanceId"
            },
        ),
    }];
    let flow_id = &target.contact_flow_id;
    let title = format!("contact flow {flow_id} is published");
    let flow = match &facts.flow {
        Ok(flow) => flow,
        Err(e) if e.code.as_deref() == Some("ContactFlowNotPublishedException") => {
            checks.push(Check::fail(
                title,
                "it has never been published",
                "open it in the flow designer and choose Publish",
            ));
            return checks;
        }
        Err(e) => {
            checks.push(e.check(format!("contact flow {flow_id} exists"), || {
                format!(
                    "set ContactFlowId to a flow of instance {instance} (aws connect list-contact-flows --instance-id {instance} --contact-flow-types CONTACT_FLOW); import infra/contact-flows/whatsapp-inbound.json if you have none"
                )
            }));
            return checks;
        }
    };
    checks.push(if flow.state != "ACTIVE" {
        Check::fail(
            title,
            format!("it is {}", flow.state),
            "restore it from the archive in the flow designer, or set ContactFlowId to an active flow",
        )
    } else if flow.status != "PUBLISHED" {
        Check::fail(
            title,
            format!("its status is {}", flow.status),
            "open it in the flow designer and choose Publish",
        )
    } else {
        Check::pass(format!("contact flow {flow_id} ({}) is published", flow.name))
    });
    checks.push(if flow.flow_type == "CONTACT_FLOW" {
        Check::pass("the contact flow is an inbound flow (CONTACT_FLOW)")
    } else {
        Check::fail(
            "the contact flow is an inbound flow (CONTACT_FLOW)",
            format!(
                "it is a {} flow, which StartChatContact does not start chats in",
                flow.flow_type
            ),
            "set ContactFlowId to an inbound flow, e.g. one imported from infra/contact-flows/whatsapp-inbound.json",
        )
    });
    match analyze(&flow.content) {
        Err(why) => checks.push(Check::fail(
            "the contact flow's content can be read",
            why,
            "describe the flow with aws connect describe-contact-flow and check its Content",
        )),
        Ok(content) => {
            checks.push(if content.transfers {
                Check::pass("the contact flow transfers chats to a queue")
            } else {
                Check::fail(
                    "the contact flow transfers chats to a queue",
                    "it has no Transfer to queue block, so chats never reach an agent",
                    "add Set working queue and Transfer to queue blocks (see infra/contact-flows/whatsapp-inbound.json) and publish",
                )
            });
            checks.push(if content.voice_only.is_empty() {
                Check::pass("the contact flow's messages are text (what chat sends to WhatsApp)")
            } else {
                Check::fail(
                    "the contact flow's messages are text (what chat sends to WhatsApp)",
                    format!(
                        "{} use a voice prompt (PromptId, SSML or Media), which chat does not send",
                        content.voice_only.join(", ")
                    ),
                    "give those blocks their message as Text and publish",
                )
            });
        }
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    const INFRA_FLOW: &str = include_str!("../../../../infra/contact-flows/whatsapp-inbound.json");

    fn target() -> Target {
        Target {
            region: "us-east-1".into(),
            instance_id: "i-1".into(),
            contact_flow_id: "f-1".into(),
            phone_number_ids: vec![],
            table: "t".into(),
            bucket: "b".into(),
            eum_topic_arn: "e".into(),
            connect_topic_arn: "c".into(),
        }
    }

    fn facts(flow: Flow) -> Facts {
        Facts {
            instance: Ok(Instance {
                arn: Some("arn:aws:connect:us-east-1:1:instance/i-1".into()),
                status: "ACTIVE".into(),
                status_reason: None,
            }),
            flow: Ok(flow),
        }
    }

    fn flow(content: &str) -> Flow {
        Flow {
            name: "WhatsApp inbound".into(),
            flow_type: "CONTACT_FLOW".into(),
            state: "ACTIVE".into(),
            status: "PUBLISHED".into(),
            content: content.into(),
        }
    }

    fn failures(checks: &[Check]) -> Vec<String> {
        checks.iter().filter(|c| !c.passed()).map(|c| c.to_string()).collect()
    }

    #[test]
    fn the_shipped_flow_has_everything_the_bridge_needs() {
        let checks = checks(&target(), &facts(flow(INFRA_FLOW)));
        assert_eq!(checks.len(), 5);
        assert!(failures(&checks).is_empty(), "{checks:?}");
    }

    #[test]
    fn voice_prompts_and_flows_without_a_queue_fail() {
        let content = r#"{"Version":"2019-10-30","Actions":[
            {"Identifier":"a1","Type":"MessageParticipant","Parameters":{"PromptId":"arn:prompt"}},
            {"Identifier":"a2","Type":"MessageParticipant","Parameters":{"Text":"Hi"}},
            {"Identifier":"a3","Type":"MessageParticipantIteratively","Parameters":{"Messages":[{"Text":"wait"},{"SSML":"<speak/>"}]}},
            {"Identifier":"a4","Type":"DisconnectParticipant","Parameters":{}}]}"#;
        let found = analyze(content).unwrap();
        assert_eq!(
            found,
            FlowContent {
                transfers: false,
                voice_only: vec![
                    "MessageParticipant a1".into(),
                    "MessageParticipantIteratively a3".into()
                ]
            }
        );
        let failed = failures(&checks(&target(), &facts(flow(content))));
        assert_eq!(failed.len(), 2);
        assert!(failed[0].contains("Transfer to queue"));
        assert!(failed[1].contains("MessageParticipant a1, MessageParticipantIteratively a3"));
        assert!(analyze("{}").is_err());
        assert!(analyze("not json").is_err());
    }

    #[test]
    fn the_flow_must_be_an_active_published_inbound_flow() {
        let mut saved = flow(INFRA_FLOW);
        saved.status = "SAVED".into();
        assert!(failures(&checks(&target(), &facts(saved)))[0].contains("Publish"));
        let mut archived = flow(INFRA_FLOW);
        archived.state = "ARCHIVED".into();
        assert!(failures(&checks(&target(), &facts(archived)))[0].contains("ARCHIVED"));
        let mut queue_flow = flow(INFRA_FLOW);
        queue_flow.flow_type = "CUSTOMER_QUEUE".into();
        assert!(failures(&checks(&target(), &facts(queue_flow)))[0].contains("CUSTOMER_QUEUE"));
    }

    #[test]
    fn a_missing_or_unpublished_flow_is_one_failure_with_its_fix() {
        let mut f = facts(flow(INFRA_FLOW));
        f.flow = Err(FetchError::new(
            "connect:DescribeContactFlow",
            ErrorKind::NotFound,
            "no",
        ));
        let checks = checks(&target(), &f);
        assert_eq!(checks.len(), 2);
        assert!(failures(&checks)[0].contains("list-contact-flows --instance-id i-1"));
        let mut never = FetchError::new("connect:DescribeContactFlow", ErrorKind::Other, "not published");
        never.code = Some("ContactFlowNotPublishedException".into());
        f.flow = Err(never);
        assert!(failures(&super::checks(&target(), &f))[0].contains("never been published"));
    }

    #[test]
    fn an_instance_being_created_is_not_ready() {
        let mut f = facts(flow(INFRA_FLOW));
        f.instance = Ok(Instance {
            arn: None,
            status: "CREATION_IN_PROGRESS".into(),
            status_reason: None,
        });
        assert!(failures(&checks(&target(), &f))[0].contains("wait until the instance is created"));
    }
}
