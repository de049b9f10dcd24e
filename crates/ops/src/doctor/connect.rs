//! Amazon Connect: the instance is active, and the contact flow chats start in (and each flow
//! `NumberRoutes` routes a number to) exists, is a published inbound flow, hands chats to a queue
//! and speaks in text.
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
    /// The flows `NumberRoutes` routes numbers to, by id.
    pub routed: Vec<(String, Fact<Flow>)>,
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
    checks.extend(flow_checks(
        instance,
        &target.contact_flow_id,
        &facts.flow,
        &Whose::stack(),
    ));
    if target.number_routes.trim().is_empty() {
        return checks;
    }
    match routed_flows(target) {
        Err(problems) => checks.push(Check::fail(
            "NumberRoutes is a valid routing table",
            problems.join("; "),
            "correct NumberRoutes as docs/configuration.md describes and deploy (the functions would not start with it)",
        )),
        Ok(routed) => {
            checks.push(Check::pass("NumberRoutes is a valid routing table"));
            for (flow_id, numbers) in routed {
                let fact = facts.routed.iter().find(|(id, _)| *id == flow_id).map(|(_, f)| f);
                if let Some(fact) = fact {
                    checks.extend(flow_checks(instance, &flow_id, fact, &Whose::numbers(&numbers)));
                }
            }
        }
    }
    checks
}

/// Whose flow a check is about, as its titles and fixes name it.
struct Whose {
    /// "the contact flow", "the contact flow of 111".
    label: String,
    /// What to change to point at another flow.
    setting: String,
}

impl Whose {
    fn stack() -> Self {
        Self {
            label: "the contact flow".to_owned(),
            setting: "ContactFlowId".to_owned(),
        }
    }

    fn numbers(numbers: &[String]) -> Self {
        Self {
            label: format!("the contact flow of {}", numbers.join(", ")),
            setting: format!("contact_flow_id of {} in NumberRoutes", numbers.join(", ")),
        }
    }
}

/// The flows `NumberRoutes` names besides `ContactFlowId`, each with the numbers routed to it, as the
/// handlers read the table (their own parser, so doctor and a cold start agree on every problem).
pub fn routed_flows(target: &Target) -> Result<Vec<(String, Vec<String>)>, Vec<String>> {
    let mut problems = Vec::new();
    let served: Vec<bridge::ids::PhoneNumberId> = target
        .phone_number_ids
        .iter()
        .filter_map(|id| bridge::ids::PhoneNumberId::parse(id).ok())
        .collect();
    let lookup = |name: &str| (name == "NUMBER_ROUTES").then(|| target.number_routes.clone());
    let routes = bridge::routes::Routes::from_lookup(&lookup, target.contact_flow_id.clone(), &served, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut flows: Vec<(String, Vec<String>)> = Vec::new();
    for (number, route) in routes.listed() {
        if route.contact_flow_id == target.contact_flow_id {
            continue;
        }
        match flows.iter_mut().find(|(flow, _)| *flow == route.contact_flow_id) {
            Some((_, numbers)) => numbers.push(number.to_string()),
            None => flows.push((route.contact_flow_id.clone(), vec![number.to_string()])),
        }
    }
    Ok(flows)
}

/// The flow exists, is a published inbound flow, transfers to a queue and speaks in text.
fn flow_checks(instance: &str, flow_id: &str, fact: &Fact<Flow>, whose: &Whose) -> Vec<Check> {
    let (label, setting) = (&whose.label, &whose.setting);
    let mut checks = Vec::new();
    let title = format!("contact flow {flow_id} is published");
    let flow = match fact {
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
                    "set {setting} to a flow of instance {instance} (aws connect list-contact-flows --instance-id {instance} --contact-flow-types CONTACT_FLOW); import infra/contact-flows/whatsapp-inbound.json if you have none"
                )
            }));
            return checks;
        }
    };
    checks.push(if flow.state != "ACTIVE" {
        Check::fail(
            title,
            format!("it is {}", flow.state),
            format!("restore it from the archive in the flow designer, or set {setting} to an active flow"),
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
    let inbound = format!("{label} is an inbound flow (CONTACT_FLOW)");
    checks.push(if flow.flow_type == "CONTACT_FLOW" {
        Check::pass(inbound)
    } else {
        Check::fail(
            inbound,
            format!(
                "it is a {} flow, which StartChatContact does not start chats in",
                flow.flow_type
            ),
            format!(
                "set {setting} to an inbound flow, e.g. one imported from infra/contact-flows/whatsapp-inbound.json"
            ),
        )
    });
    match analyze(&flow.content) {
        Err(why) => checks.push(Check::fail(
            format!("{label}'s content can be read"),
            why,
            "describe the flow with aws connect describe-contact-flow and check its Content",
        )),
        Ok(content) => {
            let transfers = format!("{label} transfers chats to a queue");
            checks.push(if content.transfers {
                Check::pass(transfers)
            } else {
                Check::fail(
                    transfers,
                    "it has no Transfer to queue block, so chats never reach an agent",
                    "add Set working queue and Transfer to queue blocks (see infra/contact-flows/whatsapp-inbound.json) and publish",
                )
            });
            let text = format!("{label}'s messages are text (what chat sends to WhatsApp)");
            checks.push(if content.voice_only.is_empty() {
                Check::pass(text)
            } else {
                Check::fail(
                    text,
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
            instance_id: "i-1".into(),
            contact_flow_id: "f-1".into(),
            ..Target::placeholder()
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
            routed: vec![],
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

    #[test]
    fn every_flow_the_routing_table_names_is_checked_like_the_stacks() {
        let good = flow(r#"{"Actions":[{"Type":"TransferContactToQueue"}]}"#);
        let mut routed = target();
        routed.number_routes =
            r#"{"111": {"contact_flow_id": "f-es"}, "222": {"contact_flow_id": "f-es"}, "333": {}}"#.into();
        assert_eq!(
            routed_flows(&routed).unwrap(),
            [("f-es".to_owned(), vec!["111".to_owned(), "222".to_owned()])]
        );
        let mut f = facts(good.clone());
        f.routed = vec![(
            "f-es".into(),
            Ok(Flow {
                flow_type: "CUSTOMER_QUEUE".into(),
                ..good
            }),
        )];
        let failed: Vec<String> = checks(&routed, &f)
            .into_iter()
            .filter(|c| !c.passed())
            .map(|c| c.to_string())
            .collect();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(
            failed[0].starts_with("✘ the contact flow of 111, 222 is an inbound flow (CONTACT_FLOW)")
                && failed[0].contains("set contact_flow_id of 111, 222 in NumberRoutes to an inbound flow"),
            "{failed:?}"
        );

        routed.number_routes = r#"{"111": {"language": "fr"}}"#.into();
        let verdicts = checks(
            &routed,
            &facts(flow(r#"{"Actions":[{"Type":"TransferContactToQueue"}]}"#)),
        );
        let table = verdicts
            .iter()
            .find(|c| c.title == "NumberRoutes is a valid routing table")
            .unwrap();
        assert!(
            table
                .to_string()
                .contains(r#"NUMBER_ROUTES["111"].language must be one of en, es-419, pt-BR"#),
            "{table}"
        );
    }
}
