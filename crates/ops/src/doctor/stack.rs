//! CloudFormation: a deployed stack of `template.yaml` names everything doctor checks — the
//! parameters `ConnectInstanceId`, `ContactFlowId`, `WhatsappPhoneNumberIds` and the physical ids of
//! `StateTable`, `MediaBucket`, `WhatsappEventsTopic` and `ConnectStreamTopic` — and is in a state
//! where what is deployed is what was asked for.

use std::collections::BTreeMap;

use super::{Check, Fact, Partial, phone_number_list};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stack {
    /// `CREATE_COMPLETE`, `UPDATE_ROLLBACK_COMPLETE`, …
    pub status: String,
    pub parameters: BTreeMap<String, String>,
    /// Logical id → physical id.
    pub resources: BTreeMap<String, String>,
}

const PARAMETERS: &[&str] = &["ConnectInstanceId", "ContactFlowId", "WhatsappPhoneNumberIds"];
const RESOURCES: &[&str] = &["StateTable", "MediaBucket", "WhatsappEventsTopic", "ConnectStreamTopic"];

/// The stack's verdicts, and the values it gives when it is a stack of the template.
pub fn checks(name: &str, fact: &Fact<Stack>) -> (Vec<Check>, Option<Partial>) {
    let stack = match fact {
        Ok(s) => s,
        Err(e) => {
            let check = e.check(format!("stack {name} exists"), || {
                "check the stack name and the Region (aws cloudformation list-stacks --stack-status-filter CREATE_COMPLETE UPDATE_COMPLETE)".into()
            });
            return (vec![check], None);
        }
    };
    let status = stack.status.as_str();
    let title = format!("stack {name} is deployed ({status})");
    let events = format!("aws cloudformation describe-stack-events --stack-name {name}");
    let mut checks = vec![match status {
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE" => Check::pass(title),
        s if s.ends_with("_IN_PROGRESS") => Check::fail(
            title,
            "an operation is under way",
            "wait until it completes, then run doctor again",
        ),
        "UPDATE_ROLLBACK_COMPLETE" => Check::fail(
            title,
            "its last update failed and was rolled back",
            format!("find the failed resource with {events}, fix it and deploy again"),
        ),
        _ => Check::fail(
            title,
            "the stack is not usable",
            format!("find the failed resource with {events}; delete the stack (sam delete) and deploy again"),
        ),
    }];
    let missing: Vec<&str> = PARAMETERS
        .iter()
        .filter(|p| !stack.parameters.contains_key(**p))
        .chain(RESOURCES.iter().filter(|r| !stack.resources.contains_key(**r)))
        .copied()
        .collect();
    if !missing.is_empty() {
        checks.push(Check::fail(
            format!("stack {name} is a whatsapp-connect-bridge stack"),
            format!("it has no {}", missing.join(", ")),
            "give the name of a stack deployed from template.yaml, or the values as flags instead of --stack-name",
        ));
        return (checks, None);
    }
    let param = |k: &str| stack.parameters.get(k).cloned();
    let resource = |k: &str| stack.resources.get(k).cloned();
    let values = Partial {
        instance_id: param("ConnectInstanceId"),
        contact_flow_id: param("ContactFlowId"),
        phone_number_ids: param("WhatsappPhoneNumberIds").map(|v| phone_number_list(&v)),
        table: resource("StateTable"),
        bucket: resource("MediaBucket"),
        eum_topic_arn: resource("WhatsappEventsTopic"),
        connect_topic_arn: resource("ConnectStreamTopic"),
        // A stack deployed before the parameter existed routes every number to ContactFlowId.
        number_routes: param("NumberRoutes"),
    };
    (checks, Some(values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    fn deployed(status: &str) -> Stack {
        let map = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>()
        };
        Stack {
            status: status.into(),
            parameters: map(&[
                ("ConnectInstanceId", "i-1"),
                ("ContactFlowId", "f-1"),
                ("WhatsappPhoneNumberIds", "11,12"),
                ("LogLevel", "INFO"),
            ]),
            resources: map(&[
                ("StateTable", "bridge-StateTable-1"),
                ("MediaBucket", "bridge-mediabucket-1"),
                ("WhatsappEventsTopic", "arn:aws:sns:us-east-1:1:eum"),
                ("ConnectStreamTopic", "arn:aws:sns:us-east-1:1:stream"),
                ("TopicKey", "k"),
            ]),
        }
    }

    #[test]
    fn a_deployed_stack_gives_every_value() {
        let (checks, values) = checks("bridge", &Ok(deployed("UPDATE_COMPLETE")));
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].to_string(), "✔ stack bridge is deployed (UPDATE_COMPLETE)");
        let target = values.unwrap().complete("us-east-1").unwrap();
        assert_eq!(target.instance_id, "i-1");
        assert_eq!(target.phone_number_ids, ["11", "12"]);
        assert_eq!(target.table, "bridge-StateTable-1");
        assert_eq!(target.eum_topic_arn, "arn:aws:sns:us-east-1:1:eum");
    }

    #[test]
    fn failed_and_busy_stacks_still_give_their_values() {
        for (status, says) in [
            ("UPDATE_ROLLBACK_COMPLETE", "rolled back"),
            ("UPDATE_IN_PROGRESS", "wait until it completes"),
            ("ROLLBACK_COMPLETE", "sam delete"),
        ] {
            let (checks, values) = checks("bridge", &Ok(deployed(status)));
            assert!(!checks[0].passed());
            assert!(checks[0].to_string().contains(says), "{}", checks[0]);
            assert!(values.is_some());
        }
    }

    #[test]
    fn another_stack_or_none_gives_nothing() {
        let mut other = deployed("CREATE_COMPLETE");
        other.resources.remove("MediaBucket");
        other.parameters.remove("ContactFlowId");
        let (checks, values) = checks("bridge", &Ok(other));
        assert!(checks[1].to_string().contains("it has no ContactFlowId, MediaBucket"));
        assert!(values.is_none());
        let missing = FetchError::new("cloudformation:DescribeStacks", ErrorKind::NotFound, "no");
        let (checks, values) = super::checks("bridge", &Err(missing));
        assert!(checks[0].to_string().contains("list-stacks"));
        assert!(values.is_none());
    }
}
