//! Amazon Connect: `DescribeInstance` and `DescribeContactFlow` of each flow, concurrently.

use super::{Clients, fetch_error};
use crate::doctor::connect::{Facts, Flow, Instance, routed_flows};
use crate::doctor::{ErrorKind, Fact, FetchError, Target};

fn empty(action: &'static str) -> FetchError {
    FetchError::new(action, ErrorKind::Other, "the response has no body")
}

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    const INSTANCE: &str = "connect:DescribeInstance";
    let connect = &clients.connect;
    // A table that does not parse is reported by the checks; its flows cannot be named.
    let routed: Vec<String> = routed_flows(target)
        .unwrap_or_default()
        .into_iter()
        .map(|(flow, _)| flow)
        .collect();
    let (instance, flow, routed_facts) = tokio::join!(
        connect.describe_instance().instance_id(&target.instance_id).send(),
        describe_flow(clients, target, &target.contact_flow_id),
        futures_util::future::join_all(routed.iter().map(|id| describe_flow(clients, target, id))),
    );
    let instance = instance.map_err(|e| fetch_error(INSTANCE, e)).and_then(|out| {
        let i = out.instance().ok_or_else(|| empty(INSTANCE))?;
        Ok(Instance {
            arn: i.arn().map(str::to_owned),
            status: i.instance_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            status_reason: i.status_reason().and_then(|r| r.message()).map(str::to_owned),
        })
    });
    Facts {
        instance,
        flow,
        routed: routed.into_iter().zip(routed_facts).collect(),
    }
}

async fn describe_flow(clients: &Clients, target: &Target, flow_id: &str) -> Fact<Flow> {
    const FLOW: &str = "connect:DescribeContactFlow";
    let out = clients
        .connect
        .describe_contact_flow()
        .instance_id(&target.instance_id)
        .contact_flow_id(flow_id)
        .send()
        .await
        .map_err(|e| fetch_error(FLOW, e))?;
    let f = out.contact_flow().ok_or_else(|| empty(FLOW))?;
    Ok(Flow {
        name: f.name().unwrap_or_default().to_owned(),
        flow_type: f.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
        state: f.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        status: f.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        content: f.content().unwrap_or_default().to_owned(),
    })
}
