//! Files both ways through the Handoff API. A file the bot sends by URL is fetched and streamed into
//! Connect's attachment upload as the customer's, never held whole, and no larger than Connect takes;
//! its upload's client tokens derive from the message's `client_message_id`, so a retried send
//! attaches it once (a retry finds the upload its first attempt completed, and sends nothing more). A
//! file the agent sends reaches the bot as a link in its `handoff.message`
//! (see [`super::super::relay`]); links last minutes, so the API gives a new one on request.

use super::{HandoffService, failed, invalid};
use crate::error::FailureKind;
use crate::handoff::dispatch::DeliveryQueue;
use crate::handoff::message::{Download, Upload, upload};
use crate::handoff::request::{ApiError, AttachmentId, FileUrl, HandoffId};
use crate::handoff::store::HandoffStore;
use crate::handoff::webhook::endpoint::Reach;
use crate::ids::short_hash;
use crate::media::policy::ConnectLimits;
use crate::media::ports::{Capped, ChatAttachments, FileStream, WebFiles};
use crate::ports::{ActiveChat, ContactCenter, Participant};

/// A file message of the bot, as its request gave it.
pub(super) struct FileMessage<'a> {
    pub url: &'a FileUrl,
    pub name: &'a str,
    pub content_type: &'a str,
    /// What the message's client tokens derive from: the handoff and the bot's `client_message_id`.
    pub key: &'a str,
}

impl<H, C, P, Q, A, F> HandoffService<H, C, P, Q, A, F>
where
    H: HandoffStore,
    C: ContactCenter,
    P: Participant,
    Q: DeliveryQueue,
    A: ChatAttachments,
    F: WebFiles,
{
    /// Fetches the bot's file and attaches it to the chat as the customer's.
    pub(super) async fn send_file(
        &self,
        id: &HandoffId,
        mut chat: ActiveChat,
        file: &FileMessage<'_>,
    ) -> Result<(), ApiError> {
        if file.url.reach == Reach::LoopbackHttp && !self.settings.loopback_file_urls {
            return Err(ApiError::invalid("file.url", "is not an https URL"));
        }
        let upload = upload(file.name, file.content_type).map_err(invalid)?;
        let limit = ConnectLimits::default().max_bytes;
        let body = match self.files.fetch(&file.url.url, limit).await {
            Ok(Capped::Within(body)) if body.is_empty() => {
                return Err(ApiError::invalid("file.url", "gave an empty file"));
            }
            Ok(Capped::Within(body)) => body,
            Ok(Capped::Over { .. }) => return Err(ApiError::file_too_large()),
            Err(e) if e.kind == FailureKind::Rejected => {
                tracing::info!(error = %e, "the bot's file could not be fetched");
                return Err(ApiError::invalid(
                    "file.url",
                    "could not be fetched: its server refused",
                ));
            }
            Err(e) => return Err(failed(e)),
        };
        self.attach(id, &mut chat, &upload, body, file.key)
            .await
            .map_err(|e| match e.kind {
                // Connect's own checks of the file (its type, its size, the chat's number of files).
                FailureKind::Rejected => {
                    tracing::info!(error = %e, "Connect refused the bot's file");
                    ApiError::invalid("file", "was refused by Amazon Connect")
                }
                _ => self.chat_failure(e),
            })
    }

    async fn attach(
        &self,
        id: &HandoffId,
        chat: &mut ActiveChat,
        upload: &Upload,
        body: FileStream,
        key: &str,
    ) -> crate::ports::PortResult<()> {
        let attachments = &self.attachments;
        let (size, started, done) = (
            body.len(),
            short_hash(&format!("{key}#upload")),
            short_hash(&format!("{key}#upload-done")),
        );
        let ticket = self
            .on_chat(id, chat, |connection| {
                let started = &started;
                async move {
                    attachments
                        .start_upload(&connection, &upload.name, upload.content_type, size, started)
                        .await
                }
            })
            .await?;
        // The same client token gives a retry the same upload; if that one was completed, Connect
        // has the file and a second PUT would be refused (S3 keeps no uploads after completion).
        let attachment_id = &ticket.attachment_id;
        let uploaded = self
            .on_chat(id, chat, |connection| async move {
                attachments.link(&connection, attachment_id).await
            })
            .await;
        if uploaded.is_ok() {
            return Ok(());
        }
        attachments.put_file(&ticket, body).await?;
        self.on_chat(id, chat, |connection| {
            let done = &done;
            async move { attachments.complete(&connection, attachment_id, done).await }
        })
        .await
    }

    /// `GET /v1/handoffs/{id}/attachments/{attachment_id}`: a new link to a file of the chat.
    pub(super) async fn attachment_link(
        &self,
        client: &str,
        id: &HandoffId,
        attachment: &AttachmentId,
    ) -> Result<Download, ApiError> {
        let mut chat = self.live_chat(client, id).await?;
        let attachments = &self.attachments;
        let link = self
            .on_chat(id, &mut chat, |connection| async move {
                attachments.link(&connection, attachment.as_str()).await
            })
            .await
            .map_err(|e| match e.kind {
                // GetAttachment answers an id the chat does not have as invalid input.
                FailureKind::Rejected => ApiError::not_found(),
                _ => self.chat_failure(e),
            })?;
        Ok(link.into())
    }
}
