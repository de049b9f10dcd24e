//! Amazon Connect operations (StartChatContact, StartContactStreaming, StopContact, CreateParticipant,
//! UpdateContactAttributes).
//!
//! Thin adapters: validate the request against the model, parse the restJson1 body into the
//! simulation's request type, run the transition, and publish what it streamed while the
//! simulation lock is still held.

use std::sync::Arc;

use serde_json::Value;

use super::{AwsRequest, parse};
use crate::error::ApiError;
use crate::twin::Shared;

const SERVICE: &str = "connect";
const BAD: &str = "InvalidParameterException";

pub(crate) fn start_chat_contact(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "StartChatContact")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.start_chat_contact(input, req.now_ms))
}

pub(crate) fn start_contact_streaming(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "StartContactStreaming")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.start_contact_streaming(input))
}

pub(crate) fn stop_contact(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "StopContact")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.stop_contact(input, req.now_ms))
}

pub(crate) fn update_contact_attributes(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "UpdateContactAttributes")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.update_contact_attributes(input))
}

/// CreateParticipant models no InvalidParameterException: its invalid input is InvalidRequestException.
pub(crate) fn create_participant(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "CreateParticipant")?;
    let input = parse(&req.body, "InvalidRequestException")?;
    shared.with_sim(|sim| sim.create_participant(input, req.now_ms))
}
