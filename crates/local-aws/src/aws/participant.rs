//! Amazon Connect Participant Service operations, authenticated by `X-Amz-Bearer`.
//!
//! CreateParticipantConnection takes the participant token, the others a connection token; the
//! simulation resolves both and answers every token problem with AccessDeniedException, as AWS
//! does, once the request has passed the model's validation (a missing or over-long token is a
//! ValidationException, as in AWS). A custom bot's session is a customer's, but for GetAttachment,
//! which Connect refuses a CUSTOM_BOT participant.

use std::sync::Arc;

use serde_json::Value;

use super::{AwsRequest, parse};
use crate::error::ApiError;
use crate::twin::Shared;

const SERVICE: &str = "connectparticipant";
const BAD: &str = "ValidationException";

pub(crate) fn create_participant_connection(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "CreateParticipantConnection")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.create_participant_connection(req.bearer(), input, req.now_ms))
}

pub(crate) fn send_message(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "SendMessage")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.send_message(req.bearer(), input, req.now_ms))
}

pub(crate) fn send_event(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "SendEvent")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.send_event(req.bearer(), input, req.now_ms))
}

pub(crate) fn disconnect_participant(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "DisconnectParticipant")?;
    shared.with_sim(|sim| sim.disconnect_participant(req.bearer(), req.now_ms))
}

pub(crate) fn get_transcript(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "GetTranscript")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.get_transcript(req.bearer(), input, req.now_ms))
}

/// `http://<host the caller used>`: upload and download URLs point back at the twin.
fn base_url(req: &AwsRequest) -> String {
    let host = req
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

pub(crate) fn start_attachment_upload(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "StartAttachmentUpload")?;
    let input = parse(&req.body, BAD)?;
    let base = base_url(req);
    shared.with_sim(|sim| sim.start_attachment_upload(req.bearer(), input, &base, req.now_ms))
}

pub(crate) fn complete_attachment_upload(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "CompleteAttachmentUpload")?;
    let input = parse(&req.body, BAD)?;
    shared.with_sim(|sim| sim.complete_attachment_upload(req.bearer(), input, req.now_ms))
}

pub(crate) fn get_attachment(shared: &Arc<Shared>, req: &AwsRequest) -> Result<Value, ApiError> {
    req.validate(SERVICE, "GetAttachment")?;
    let input = parse(&req.body, BAD)?;
    let base = base_url(req);
    shared.with_sim(|sim| {
        sim.refuse_custom_bot_attachments(req.bearer(), req.now_ms)?;
        sim.get_attachment(req.bearer(), input, &base, req.now_ms)
    })
}
