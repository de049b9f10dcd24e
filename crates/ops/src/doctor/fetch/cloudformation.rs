//! CloudFormation: `DescribeStacks` (status, parameters) and `DescribeStackResources` (physical
//! ids of the logical resources; it returns every resource of a stack up to 100, and the
//! template has fewer).

use std::collections::BTreeMap;

use super::{Clients, fetch_error};
use crate::doctor::stack::Stack;
use crate::doctor::{ErrorKind, Fact, FetchError};

/// CloudFormation answers `ValidationError` "Stack with id … does not exist" for a missing stack.
fn missing_stack(mut e: FetchError) -> FetchError {
    if e.code.as_deref() == Some("ValidationError") && e.message.contains("does not exist") {
        e.kind = ErrorKind::NotFound;
    }
    e
}

pub async fn stack(clients: &Clients, name: &str) -> Fact<Stack> {
    let cfn = &clients.cloudformation;
    let (described, resources) = tokio::join!(
        cfn.describe_stacks().stack_name(name).send(),
        cfn.describe_stack_resources().stack_name(name).send(),
    );
    let described = described.map_err(|e| missing_stack(fetch_error("cloudformation:DescribeStacks", e)))?;
    let stack = described.stacks().first().ok_or_else(|| {
        FetchError::new(
            "cloudformation:DescribeStacks",
            ErrorKind::NotFound,
            format!("no stack {name}"),
        )
    })?;
    let resources = resources.map_err(|e| missing_stack(fetch_error("cloudformation:DescribeStackResources", e)))?;
    Ok(Stack {
        status: stack.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value()?.to_owned())))
            .collect::<BTreeMap<_, _>>(),
        resources: resources
            .stack_resources()
            .iter()
            .filter_map(|r| {
                Some((
                    r.logical_resource_id()?.to_owned(),
                    r.physical_resource_id()?.to_owned(),
                ))
            })
            .collect(),
    })
}
