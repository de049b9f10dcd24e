//! Read-only Connect and EUM Social operations, for `ops doctor`: DescribeInstance,
//! DescribeContactFlow, ListLinkedWhatsAppBusinessAccounts, GetLinkedWhatsAppBusinessAccount and
//! GetLinkedWhatsAppBusinessAccountPhoneNumber.
//!
//! Every answer is derived from `TwinConfig` alone — the instance, its one contact flow (the
//! simulated flow written in the Flow language), the business numbers grouped by WABA, each WABA's
//! event destination the EUM topic — so what doctor reads is exactly what the simulation validates
//! against. These are GET requests with path labels and query parameters, which the exact-path
//! table in `aws` cannot express, hence their own router; they go through the same fault, latency
//! and call-log pipeline as every other operation.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::{Method, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::invoke::percent_decode;
use super::request_id_header;
use crate::config::{BusinessNumber, TwinConfig};
use crate::error::ApiError;
use crate::netio::ConnHandle;
use crate::twin::Shared;
use crate::validate::{self, Input};

/// When the twin's WABAs were linked (2025-01-01T00:00:00Z); restJson1 timestamps are epoch seconds.
const LINK_DATE: u64 = 1_735_689_600;

/// A recognised read-only request, with its (decoded) identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReadOp {
    DescribeInstance { instance: String },
    DescribeContactFlow { instance: String, flow: String },
    ListLinkedWabas,
    GetLinkedWaba { id: Option<String> },
    GetLinkedPhoneNumber { id: Option<String> },
}

impl ReadOp {
    fn service(&self) -> &'static str {
        match self {
            Self::DescribeInstance { .. } | Self::DescribeContactFlow { .. } => "connect",
            _ => "socialmessaging",
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Self::DescribeInstance { .. } => "DescribeInstance",
            Self::DescribeContactFlow { .. } => "DescribeContactFlow",
            Self::ListLinkedWabas => "ListLinkedWhatsAppBusinessAccounts",
            Self::GetLinkedWaba { .. } => "GetLinkedWhatsAppBusinessAccount",
            Self::GetLinkedPhoneNumber { .. } => "GetLinkedWhatsAppBusinessAccountPhoneNumber",
        }
    }

    fn answer(&self, cfg: &TwinConfig) -> Result<Value, ApiError> {
        match self {
            Self::DescribeInstance { instance } => describe_instance(cfg, instance),
            Self::DescribeContactFlow { instance, flow } => describe_contact_flow(cfg, instance, flow),
            Self::ListLinkedWabas => Ok(json!({
                "linkedAccounts": wabas(cfg).iter().map(|(id, numbers)| waba_summary(cfg, id, numbers)).collect::<Vec<_>>()
            })),
            Self::GetLinkedWaba { id } => get_linked_waba(cfg, id.as_deref()),
            Self::GetLinkedPhoneNumber { id } => get_linked_phone_number(cfg, id.as_deref()),
        }
    }
}

/// A routed request: the operation and the query string's (decoded) parameters.
pub(crate) struct Read {
    op: ReadOp,
    query: Vec<(String, String)>,
}

impl Read {
    /// The model's constraints on the operation's labels and query parameters.
    fn validate(&self) -> Result<(), ApiError> {
        let labels: Vec<(&str, &str)> = match &self.op {
            ReadOp::DescribeInstance { instance } => vec![("InstanceId", instance)],
            ReadOp::DescribeContactFlow { instance, flow } => {
                vec![("InstanceId", instance), ("ContactFlowId", flow)]
            }
            _ => Vec::new(),
        };
        let query: Vec<(&str, &str)> = self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        validate::check(self.op.service(), self.op.name(), &Input::path(&labels, &query))
    }
}

/// The operation `method` + `uri` names, if it is one of this module's.
pub(crate) fn route(method: &Method, uri: &Uri) -> Option<Read> {
    let op = route_op(method, uri)?;
    let query = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter_map(|(k, v)| Some((k.to_owned(), percent_decode(v)?)))
        .collect();
    Some(Read { op, query })
}

fn route_op(method: &Method, uri: &Uri) -> Option<ReadOp> {
    if method != Method::GET {
        return None;
    }
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/instance/") {
        return match rest.split('/').collect::<Vec<_>>()[..] {
            [instance] if !instance.is_empty() => Some(ReadOp::DescribeInstance {
                instance: percent_decode(instance)?,
            }),
            _ => None,
        };
    }
    if let Some(rest) = path.strip_prefix("/contact-flows/") {
        return match rest.split('/').collect::<Vec<_>>()[..] {
            [instance, flow] if !instance.is_empty() && !flow.is_empty() => Some(ReadOp::DescribeContactFlow {
                instance: percent_decode(instance)?,
                flow: percent_decode(flow)?,
            }),
            _ => None,
        };
    }
    let id = || query_param(uri, "id");
    match path {
        "/v1/whatsapp/waba/list" => Some(ReadOp::ListLinkedWabas),
        "/v1/whatsapp/waba/details" => Some(ReadOp::GetLinkedWaba { id: id() }),
        "/v1/whatsapp/waba/phone/details" => Some(ReadOp::GetLinkedPhoneNumber { id: id() }),
        _ => None,
    }
}

fn query_param(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .and_then(|(_, v)| percent_decode(v))
}

/// Serves `read` through the fault, latency and call-log pipeline; the model's validation comes
/// before any lookup, as in AWS.
pub(crate) async fn serve(shared: &Arc<Shared>, conn: &ConnHandle, read: Read) -> Response {
    let op = &read.op;
    let (service, name) = (op.service(), op.name());
    let action = match super::pipeline::before(shared, conn, service, name).await {
        Ok(action) => action,
        Err(resp) => return resp,
    };
    let result = match action.error.clone() {
        Some(err) => Err(err),
        None => read.validate().and_then(|()| op.answer(&shared.cfg)),
    };
    let after = |status, code: Option<&str>, resp| {
        super::pipeline::after(shared, conn, (service, name), &action, status, code, resp)
    };
    let resp = match result {
        Ok(v) => after(200, None, axum::Json(v).into_response()),
        Err(e) => {
            let (status, code) = (e.status, e.code.clone());
            after(status, Some(&code), e.to_service_response(service))
        }
    };
    request_id_header(resp)
}

// ------------------------------------------------------------------------------------ Connect

fn instance_arn(cfg: &TwinConfig) -> String {
    format!(
        "arn:aws:connect:{}:{}:instance/{}",
        cfg.region, cfg.account_id, cfg.instance_id
    )
}

/// The instance id or ARN names the twin's instance.
fn check_instance(cfg: &TwinConfig, instance: &str) -> Result<(), ApiError> {
    if instance == cfg.instance_id || instance == instance_arn(cfg) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("Instance not found: {instance}")))
    }
}

fn describe_instance(cfg: &TwinConfig, instance: &str) -> Result<Value, ApiError> {
    check_instance(cfg, instance)?;
    Ok(json!({
        "Instance": {
            "Id": cfg.instance_id,
            "Arn": instance_arn(cfg),
            "IdentityManagementType": "CONNECT_MANAGED",
            "InstanceAlias": "local-twin",
            "CreatedTime": LINK_DATE,
            "ServiceRole": format!(
                "arn:aws:iam::{}:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect_local",
                cfg.account_id
            ),
            "InstanceStatus": "ACTIVE",
            "InboundCallsEnabled": true,
            "OutboundCallsEnabled": true,
            "InstanceAccessUrl": "https://local-twin.my.connect.aws"
        }
    }))
}

fn describe_contact_flow(cfg: &TwinConfig, instance: &str, flow: &str) -> Result<Value, ApiError> {
    check_instance(cfg, instance)?;
    // `:$SAVED` or `:<version>` after the id selects a variant of the flow; the twin has one.
    let last = flow.rsplit('/').next().unwrap_or(flow);
    let id = last.split(':').next().unwrap_or(last);
    let in_instance = !flow.starts_with("arn:") || flow.starts_with(&format!("{}/contact-flow/", instance_arn(cfg)));
    if cfg.flow_greeting(id).is_none() || !in_instance {
        return Err(ApiError::not_found(format!("Contact flow not found: {flow}")));
    }
    let flow_arn = format!("{}/contact-flow/{id}", instance_arn(cfg));
    Ok(json!({
        "ContactFlow": {
            "Arn": flow_arn,
            "Id": id,
            "Name": "WhatsApp inbound (local twin)",
            "Type": "CONTACT_FLOW",
            "State": "ACTIVE",
            "Status": "PUBLISHED",
            "Description": "The flow the twin simulates: greet, set the working queue, transfer to it.",
            "Content": flow_content(cfg).to_string()
        }
    }))
}

/// The simulated flow in the Flow language: the greeting (if any), then the customer waits in
/// BasicQueue for an agent, as `connect` plays it.
fn flow_content(cfg: &TwinConfig) -> Value {
    const GREET: &str = "0b7c6a51-2d4e-4f3a-9b8c-1d2e3f4a5b6c";
    const QUEUE: &str = "1c8d7b62-3e5f-4a4b-8c9d-2e3f4a5b6c7d";
    const TRANSFER: &str = "2d9e8c73-4f6a-4b5c-9d0e-3f4a5b6c7d8e";
    const DISCONNECT: &str = "3e0f9d84-5a7b-4c6d-8e1f-4a5b6c7d8e9f";
    let queue_arn = format!("{}/queue/4f1a0e95-6b8c-4d7e-9f2a-5b6c7d8e9f0a", instance_arn(cfg));
    let mut actions = Vec::new();
    if let Some(greeting) = &cfg.greeting {
        actions.push(json!({
            "Identifier": GREET,
            "Type": "MessageParticipant",
            "Parameters": { "Text": greeting },
            "Transitions": {
                "NextAction": QUEUE,
                "Errors": [{ "NextAction": QUEUE, "ErrorType": "NoMatchingError" }]
            }
        }));
    }
    actions.push(json!({
        "Identifier": QUEUE,
        "Type": "UpdateContactTargetQueue",
        "Parameters": { "QueueId": queue_arn },
        "Transitions": {
            "NextAction": TRANSFER,
            "Errors": [{ "NextAction": DISCONNECT, "ErrorType": "NoMatchingError" }]
        }
    }));
    actions.push(json!({
        "Identifier": TRANSFER,
        "Type": "TransferContactToQueue",
        "Parameters": {},
        "Transitions": {
            "NextAction": DISCONNECT,
            "Errors": [
                { "NextAction": DISCONNECT, "ErrorType": "QueueAtCapacity" },
                { "NextAction": DISCONNECT, "ErrorType": "NoMatchingError" }
            ]
        }
    }));
    actions.push(json!({
        "Identifier": DISCONNECT,
        "Type": "DisconnectParticipant",
        "Parameters": {},
        "Transitions": {}
    }));
    json!({
        "Version": "2019-10-30",
        "StartAction": if cfg.greeting.is_some() { GREET } else { QUEUE },
        "Actions": actions
    })
}

// ---------------------------------------------------------------------------------- EUM Social

/// The configured numbers grouped by EUM WABA id, in a stable order.
fn wabas(cfg: &TwinConfig) -> BTreeMap<&str, Vec<&BusinessNumber>> {
    let mut by_waba: BTreeMap<&str, Vec<&BusinessNumber>> = BTreeMap::new();
    for n in &cfg.business_numbers {
        by_waba.entry(n.waba_aws_id.as_str()).or_default().push(n);
    }
    by_waba
}

fn waba_summary(cfg: &TwinConfig, id: &str, numbers: &[&BusinessNumber]) -> Value {
    let first = numbers[0];
    json!({
        "arn": first.waba_arn(&cfg.region, &cfg.account_id),
        "id": id,
        "wabaId": first.waba_id,
        "registrationStatus": "COMPLETE",
        "linkDate": LINK_DATE,
        "wabaName": format!("Local twin WABA {}", first.waba_id),
        "eventDestinations": [{ "eventDestinationArn": cfg.eum_topic_arn }]
    })
}

fn phone_number(cfg: &TwinConfig, n: &BusinessNumber) -> Value {
    json!({
        "arn": n.arn(&cfg.region, &cfg.account_id),
        "phoneNumber": format!("+{}", n.display_phone_number),
        "phoneNumberId": n.aws_id,
        "metaPhoneNumberId": n.meta_phone_number_id,
        "displayPhoneNumberName": "Local twin",
        "displayPhoneNumber": n.display_phone_number,
        "qualityRating": "GREEN"
    })
}

fn required_id(id: Option<&str>) -> Result<&str, ApiError> {
    id.filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::validation("id is required"))
}

fn get_linked_waba(cfg: &TwinConfig, id: Option<&str>) -> Result<Value, ApiError> {
    let id = required_id(id)?;
    let wabas = wabas(cfg);
    let (waba_id, numbers) = wabas
        .iter()
        .find(|(waba_id, numbers)| **waba_id == id || numbers[0].waba_arn(&cfg.region, &cfg.account_id) == id)
        .ok_or_else(|| ApiError::not_found(format!("WhatsApp Business Account not found: {id}")))?;
    let mut account = waba_summary(cfg, waba_id, numbers);
    account["phoneNumbers"] = numbers.iter().map(|n| phone_number(cfg, n)).collect();
    Ok(json!({ "account": account }))
}

fn get_linked_phone_number(cfg: &TwinConfig, id: Option<&str>) -> Result<Value, ApiError> {
    let id = required_id(id)?;
    let number = cfg
        .business_numbers
        .iter()
        .find(|n| n.aws_id == id || n.arn(&cfg.region, &cfg.account_id) == id)
        .ok_or_else(|| ApiError::not_found(format!("Phone number not found: {id}")))?;
    Ok(json!({
        "phoneNumber": phone_number(cfg, number),
        "linkedWhatsAppBusinessAccountId": number.waba_aws_id
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path_and_query: &str) -> Option<ReadOp> {
        route(&Method::GET, &path_and_query.parse().unwrap()).map(|r| r.op)
    }

    #[test]
    fn routes_decode_labels_and_ids() {
        let cfg = TwinConfig::default();
        let arn = instance_arn(&cfg).replace(':', "%3A").replace('/', "%2F");
        assert_eq!(
            get(&format!("/instance/{arn}")),
            Some(ReadOp::DescribeInstance {
                instance: instance_arn(&cfg)
            })
        );
        assert_eq!(
            get("/contact-flows/i/f"),
            Some(ReadOp::DescribeContactFlow {
                instance: "i".into(),
                flow: "f".into()
            })
        );
        assert_eq!(get("/contact-flows/i"), None);
        assert_eq!(
            get("/v1/whatsapp/waba/phone/details?id=phone-number-id-1"),
            Some(ReadOp::GetLinkedPhoneNumber {
                id: Some("phone-number-id-1".into())
            })
        );
        assert_eq!(
            get("/v1/whatsapp/waba/list?maxResults=10"),
            Some(ReadOp::ListLinkedWabas)
        );
        assert!(route(&Method::POST, &"/instance/x".parse().unwrap()).is_none());
    }

    #[test]
    fn instance_and_flow_follow_the_configuration() {
        let cfg = TwinConfig::default();
        assert_eq!(
            describe_instance(&cfg, &cfg.instance_id).unwrap()["Instance"]["InstanceStatus"],
            "ACTIVE"
        );
        assert_eq!(describe_instance(&cfg, "other").unwrap_err().status, 404);
        let flow = describe_contact_flow(&cfg, &cfg.instance_id, &cfg.contact_flow_id).unwrap();
        let content: Value = serde_json::from_str(flow["ContactFlow"]["Content"].as_str().unwrap()).unwrap();
        assert_eq!(
            content["Actions"][0]["Parameters"]["Text"],
            cfg.greeting.clone().unwrap()
        );
        let saved = format!("{}:$SAVED", cfg.contact_flow_id);
        assert!(describe_contact_flow(&cfg, &cfg.instance_id, &saved).is_ok());
        let arn = flow["ContactFlow"]["Arn"].as_str().unwrap().to_owned();
        assert!(describe_contact_flow(&cfg, &cfg.instance_id, &arn).is_ok());
        assert_eq!(
            describe_contact_flow(&cfg, &cfg.instance_id, "8a7b6c5d-0000-4a2b-9c1d-0e9f8a7b6c5d")
                .unwrap_err()
                .code,
            "ResourceNotFoundException"
        );
        let quiet = TwinConfig {
            greeting: None,
            ..TwinConfig::default()
        };
        let content = flow_content(&quiet);
        assert_eq!(content["Actions"][0]["Type"], "UpdateContactTargetQueue");
        assert_eq!(content["StartAction"], content["Actions"][0]["Identifier"]);
    }

    #[test]
    fn every_waba_sends_its_events_to_the_eum_topic() {
        let cfg = TwinConfig::default();
        let list = ReadOp::ListLinkedWabas.answer(&cfg).unwrap();
        let accounts = list["linkedAccounts"].as_array().unwrap();
        assert_eq!(accounts.len(), 2);
        for summary in accounts {
            assert_eq!(
                summary["eventDestinations"][0]["eventDestinationArn"],
                cfg.eum_topic_arn.as_str()
            );
            let waba = get_linked_waba(&cfg, summary["id"].as_str()).unwrap();
            let numbers = waba["account"]["phoneNumbers"].as_array().unwrap();
            assert_eq!(numbers.len(), 1);
            let phone = get_linked_phone_number(&cfg, numbers[0]["phoneNumberId"].as_str()).unwrap();
            assert_eq!(phone["linkedWhatsAppBusinessAccountId"], summary["id"]);
        }
        assert_eq!(get_linked_waba(&cfg, Some("waba-0")).unwrap_err().status, 404);
        assert_eq!(
            get_linked_phone_number(&cfg, None).unwrap_err().code,
            "ValidationException"
        );
    }
}
