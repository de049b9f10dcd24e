//! Amazon Connect: `DescribeInstance` and `DescribeContactFlow`, concurrently.

use super::{Clients, fetch_error};
use crate::doctor::connect::{Facts, Flow, Instance};
use crate::doctor::{ErrorKind, FetchError, Target};

fn empty(action: &'static str) -> FetchError {
    FetchError::new(action, ErrorKind::Other, "the response has no body")
}

pub async fn facts(clients: &Clients, target: &Target) -> Facts {
    const INSTANCE: &str = "connect:DescribeInstance";
    const FLOW: &str = "connect:DescribeContactFlow";
    let connect = &clients.connect;
    let (instance, flow) = tokio::join!(
        connect.describe_instance().instance_id(&target.instance_id).send(),
        connect
            .describe_contact_flow()
            .instance_id(&target.instance_id)
            .contact_flow_id(&target.contact_flow_id)
            .send(),
    );
    let instance = instance.map_err(|e| fetch_error(INSTANCE, e)).and_then(|out| {
        let i = out.instance().ok_or_else(|| empty(INSTANCE))?;
        Ok(Instance {
            arn: i.arn().map(str::to_owned),
            status: i.instance_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            status_reason: i.status_reason().and_then(|r| r.message()).map(str::to_owned),
        })
    });
    let flow = flow.map_err(|e| fetch_error(FLOW, e)).and_then(|out| {
        let f = out.contact_flow().ok_or_else(|| empty(FLOW))?;
        Ok(Flow {
            name: f.name().unwrap_or_default().to_owned(),
            flow_type: f.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            state: f.state().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            status: f.status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
            content: f.content().unwrap_or_default().to_owned(),
        })
    });
    Facts { instance, flow }
}
