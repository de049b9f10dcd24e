//! Media between WhatsApp and the Connect chat: the I/O around [`policy`](super::policy) and
//! [`convert`](super::convert).
//!
//! Customer → agent ([`MediaService::deliver_inbound`]): ask EUM for the size and type first
//! (`metadataOnly`), decide, copy the file into the media bucket under the conversation's prefix,
//! find the object EUM wrote (by listing the prefix: EUM appends the media id and an extension),
//! refuse it from its length if over the limit (the metadata may understate it), convert what
//! Connect does not take (voice notes → WAV, WebP stickers → PNG), and attach it
//! (`StartAttachmentUpload` → PUT with exactly the returned headers → `CompleteAttachmentUpload`).
//! A file that needs no conversion passes from S3 to the PUT as a stream ([`FileStream`]). Voice notes are also
//! transcribed. What cannot be attached comes back as notes for both sides; nothing is dropped
//! silently.
//!
//! Agent → customer ([`MediaService::deliver_outbound`]): `GetAttachment` and a download refused
//! over the limit, streamed into the bucket, `PostWhatsAppMessageMedia`, and the Meta message body
//! that sends it by media id. A file over the limit is not fetched: the agent gets a note, then the
//! customer a notice.
//!
//! A file is in the bucket only in transit: its object is deleted once read for the chat or once
//! WhatsApp holds it (a retry copies the file again), beside the next call rather than before it, and
//! the bucket's lifecycle rule removes what a failed delete leaves.
//!
//! The caller (the handlers) posts the texts this returns, in order, after the file. How a voice note's
//! transcript reads among them is the deployment's [`TranscriptStyle`].

use super::budget::AFTER_TRANSCRIPTION;
use super::convert::{self, PNG_MIME, WAV_MIME};
use super::policy::{self, ConnectLimits, InboundFileAction, InboundMedia, OutboundFileAction};
use super::ports::{
    Capped, ChatAttachments, FileStream, NewAttachment, ObjectStore, StoredObject, TranscribeLanguage, Transcriber,
    WhatsappMedia,
};
use crate::claims;
use crate::error::{FailureKind, PortError};
use crate::ids::{ConnectionToken, CustomerId, OriginationId, short_hash};
use crate::ports::PortResult;
use crate::rounds::behind;
use crate::telemetry::now_ms;
use crate::whatsapp::outgoing::{MediaObject, MessageText, OutgoingBody, OutgoingMessage};
use crate::whatsapp::{Media, MediaKind};
use crate::wording::{Arg, Text, Wording};
use serde_json::Value;
use std::future::Future;
use std::time::Duration;

/// What the media service needs from the deployment's configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaSettings {
    /// `MEDIA_BUCKET_NAME`.
    pub bucket: String,
    /// `CONNECT_MAX_ATTACHMENT_BYTES` (Connect's default 20 MB when unset).
    pub limits: ConnectLimits,
    /// `TRANSCRIBE_LANGUAGE` or `TRANSCRIBE_LANGUAGE_OPTIONS`; `None` (`TRANSCRIBE_VOICE_NOTES=false`)
    /// turns transcription off.
    pub transcribe: Option<TranscribeLanguage>,
    /// `TRANSCRIBE_STREAM_SPEED`: how fast audio is streamed to Transcribe, as a multiple of real
    /// time (default 1.0, what AWS asks for; the local twin accepts any).
    pub stream_speed: f64,
    /// `TRANSCRIPT_ECHO` (default on): also send the transcript to the customer.
    pub echo_transcript: bool,
    /// `TRANSCRIPT_STYLE` (default `labelled`): how a transcript reads in the chat.
    pub transcript_style: TranscriptStyle,
}

/// How a voice note's transcript goes into the chat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TranscriptStyle {
    /// `🎤 Transcription: <text>`: the agent sees a machine's reading of the note, not typed words.
    #[default]
    Labelled,
    /// The recognised text alone, as the customer's message: a Lex bot or a flow block that reads the
    /// customer's input reads it, as it did with the AWS sample.
    CustomerWords,
}

impl MediaSettings {
    /// Reads the settings through `lookup` (the process environment in the handlers).
    /// Whether a voice note's transcript reaches the chat as the customer's own words (instead of a
    /// description of the note, the note and a labelled transcript).
    pub fn voice_as_words(&self) -> bool {
        self.transcript_style == TranscriptStyle::CustomerWords && self.transcribe.is_some()
    }

    /// `None` when `MEDIA_BUCKET_NAME` is unset (media reach the agent as descriptions only). Any other
    /// setting that is wrong is an error, so the cold start fails naming it rather than a deployment
    /// quietly running without files.
    pub fn if_configured(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        if lookup("MEDIA_BUCKET_NAME").is_none_or(|b| b.trim().is_empty()) {
            return Ok(None);
        }
        Self::from_lookup(lookup).map(Some)
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let bucket = lookup("MEDIA_BUCKET_NAME")
            .filter(|b| !b.is_empty())
            .ok_or("MEDIA_BUCKET_NAME is required")?;
        let mut limits = ConnectLimits::default();
        if let Some(v) = lookup("CONNECT_MAX_ATTACHMENT_BYTES").filter(|v| !v.is_empty()) {
            limits.max_bytes = v
                .parse()
                .map_err(|_| format!("CONNECT_MAX_ATTACHMENT_BYTES must be a number of bytes: {v:?}"))?;
        }
        let enabled = lookup("TRANSCRIBE_VOICE_NOTES").is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let options: Vec<String> = lookup("TRANSCRIBE_LANGUAGE_OPTIONS")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        let transcribe = if !enabled {
            None
        } else if options.len() >= 2 {
            Some(TranscribeLanguage::Identify(options))
        } else if let Some(one) = options.into_iter().next() {
            Some(TranscribeLanguage::Fixed(one))
        } else {
            Some(TranscribeLanguage::Fixed(
                lookup("TRANSCRIBE_LANGUAGE")
                    .filter(|l| !l.is_empty())
                    .unwrap_or_else(|| "en-US".to_owned()),
            ))
        };
        let stream_speed = match lookup("TRANSCRIBE_STREAM_SPEED").filter(|v| !v.is_empty()) {
            None => 1.0,
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .ok_or_else(|| format!("TRANSCRIBE_STREAM_SPEED must be a positive number: {v:?}"))?,
        };
        let echo_transcript = lookup("TRANSCRIPT_ECHO").is_none_or(|v| !v.eq_ignore_ascii_case("false"));
        let transcript_style = match lookup("TRANSCRIPT_STYLE").as_deref() {
            None | Some("") | Some("labelled") => TranscriptStyle::Labelled,
            Some("customer_words") => TranscriptStyle::CustomerWords,
            Some(other) => {
                return Err(format!(
                    "TRANSCRIPT_STYLE must be labelled or customer_words: {other:?}"
                ));
            }
        };
        Ok(Self {
            bucket,
            limits,
            transcribe,
            stream_speed,
            echo_transcript,
            transcript_style,
        })
    }
}

/// One customer media message to deliver.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    /// The business number the customer wrote to (EUM's `phone-number-id-…`).
    pub origination: &'a OriginationId,
    /// The customer's live connection to the chat.
    pub token: &'a ConnectionToken,
    pub media: &'a Media,
    /// Per conversation, e.g. `inbound/<phone number id>/<customer id>/`; ends with `/`.
    pub prefix: &'a str,
    /// The WhatsApp message id: makes keys and client tokens stable across redeliveries.
    pub wamid: &'a str,
    /// The business number's words, for what the customer is told.
    pub wording: &'a Wording,
    /// The number's transcription languages; `None`: the stack's ([`MediaSettings::transcribe`]).
    pub transcribe: Option<&'a TranscribeLanguage>,
}

/// The file that reached the chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachedFile {
    pub attachment_id: String,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    /// For converted voice notes: the WAV's playing time.
    pub duration: Option<Duration>,
}

/// How the file itself fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Attached(AttachedFile),
    /// Larger than `limit`: not downloaded. Both sides are told.
    TooLarge {
        size: u64,
        limit: u64,
    },
    /// A type the chat cannot show and nothing converts.
    NotAccepted {
        mime_type: String,
    },
    /// The file could not be converted (corrupt, too long, …).
    Unconvertible {
        reason: String,
    },
    /// Connect refused the upload (a non-retryable error).
    UploadRefused {
        reason: String,
    },
}

/// What came of a voice note's transcription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transcript {
    Text(String),
    /// Transcribe heard nothing.
    Silent,
    Failed(String),
    /// Not attempted: Transcribe hears audio no faster than it plays, and this note would outlast the
    /// invocation (cut off by Lambda's timeout on every retry, taking the audio down with it).
    TooLong(Duration),
}

/// The result for the caller: post [`InboundOutcome::chat_texts`] to the chat after the file, and send
/// [`InboundOutcome::customer_notice`] (if any) to the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOutcome {
    pub delivery: Delivery,
    pub caption: Option<String>,
    pub transcript: Option<Transcript>,
    /// A sentence for the agent when the file could not be attached.
    pub agent_note: Option<String>,
    /// A short reply for the customer when their file did not reach the agent.
    pub customer_notice: Option<String>,
    /// How [`InboundOutcome::chat_texts`] puts the transcript: the deployment's, carried here because
    /// the texts are made (and recorded for a retry) from the outcome alone.
    pub transcript_style: TranscriptStyle,
}

/// The chat's text about a voice note's transcript. Only recognised speech can be the customer's own
/// words: a silent, failed or skipped transcription stays a labelled note in every style, or a flow
/// would read the bridge's remark as what the customer said.
pub fn transcript_chat_text(w: &Wording, transcript: &Transcript, style: TranscriptStyle) -> String {
    match (transcript, style) {
        (Transcript::Text(t), TranscriptStyle::Labelled) => {
            w.word(Text::Transcript, &[("transcript", Arg::from(t.as_str()))])
        }
        (Transcript::Text(t), TranscriptStyle::CustomerWords) => t.clone(),
        (Transcript::Silent, _) => w.word(Text::TranscriptSilent, &[]),
        (Transcript::Failed(_), _) => w.word(Text::TranscriptFailed, &[]),
        (Transcript::TooLong(length), _) => {
            w.word(Text::TranscriptTooLong, &[("seconds", Arg::from(length.as_secs()))])
        }
    }
}

impl InboundOutcome {
    /// The texts for the chat, in order: the note about the file, its caption, the transcript.
    pub fn chat_texts(&self, w: &Wording) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = &self.agent_note {
            out.push(n.clone());
        }
        if let Some(c) = self.caption.as_ref().filter(|c| !c.trim().is_empty()) {
            out.push(c.clone());
        }
        if let Some(transcript) = &self.transcript {
            out.push(transcript_chat_text(w, transcript, self.transcript_style));
        }
        out
    }

    /// The transcript text to echo to the customer, when there is one.
    pub fn transcript_text(&self) -> Option<&str> {
        match &self.transcript {
            Some(Transcript::Text(t)) => Some(t),
            _ => None,
        }
    }
}

/// One agent attachment to send to the customer.
#[derive(Debug, Clone, Copy)]
pub struct OutboundRequest<'a> {
    /// The customer connection of the chat (GetAttachment needs a participant of the chat).
    pub token: &'a ConnectionToken,
    pub origination: &'a OriginationId,
    pub to: &'a CustomerId,
    pub attachment_id: &'a str,
    pub name: &'a str,
    pub content_type: &'a str,
    /// Per conversation, e.g. `outbound/<contact id>/`; ends with `/`.
    pub prefix: &'a str,
    /// The business number's words, for the notes about a file too large to send.
    pub wording: &'a Wording,
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutboundOutcome {
    /// Sent by media id; `message` is the Meta body that was sent.
    Sent { message: Value, message_id: String },
    /// Too large to pass on: the agent was told in the chat, then the customer (`notice`, sent as
    /// the WhatsApp message `notice_id`).
    TooLarge {
        size: u64,
        limit: u64,
        notice: String,
        notice_id: String,
    },
}

pub struct MediaService<'a, W, S, A, T> {
    pub whatsapp: &'a W,
    pub store: &'a S,
    pub attachments: &'a A,
    pub transcriber: &'a T,
    pub settings: &'a MediaSettings,
}

/// Keys are built from ids only; anything else is replaced so a key never escapes its prefix.
fn key_part(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn essence(mime: &str) -> String {
    mime.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

impl<W, S, A, T> MediaService<'_, W, S, A, T>
where
    W: WhatsappMedia,
    S: ObjectStore,
    A: ChatAttachments,
    T: Transcriber,
{
    /// Delivers a customer's media message to the chat. Transient failures are errors (the
    /// caller retries the message); refusals come back as an outcome with notes.
    pub async fn deliver_inbound(&self, req: InboundRequest<'_>) -> PortResult<InboundOutcome> {
        let media = req.media;
        let info = self.whatsapp.media_info(req.origination, &media.id).await?;
        let mime = if info.mime_type.is_empty() {
            media.mime_type.clone().unwrap_or_default()
        } else {
            info.mime_type.clone()
        };
        let mut described = media.clone();
        described.mime_type = Some(mime.clone());
        let facts = InboundMedia::from_whatsapp(&described, info.size);
        let caption = media.caption.clone().filter(|c| !c.trim().is_empty());
        let action = policy::inbound_action(&facts, &self.settings.limits);
        let mut outcome = InboundOutcome {
            delivery: Delivery::NotAccepted {
                mime_type: essence(&mime),
            },
            caption,
            transcript: None,
            agent_note: None,
            customer_notice: None,
            transcript_style: self.settings.transcript_style,
        };
        let limit = match action {
            InboundFileAction::TooLarge { limit } => return Ok(too_large(req.wording, outcome, facts, limit)),
            InboundFileAction::NotAccepted => {
                outcome.agent_note = policy::describe_for_agent(req.wording, &facts, Some(action));
                outcome.customer_notice = Some(req.wording.word(Text::FileKindNotPassed, &[]));
                return Ok(outcome);
            }
            // What a voice note may weigh is WhatsApp's audio limit (it becomes a smaller WAV, which
            // is checked again); every other file is attached at most as large as it arrives.
            InboundFileAction::ConvertToWav => policy::WHATSAPP_AUDIO_MAX_BYTES,
            InboundFileAction::Attach { .. } | InboundFileAction::ConvertToPng => self.settings.limits.max_bytes,
        };
        let key = self.copy_in(req).await?;
        // Once read, the copy has served its purpose (a retry copies the file again): it is deleted
        // off the conversion's and the upload's path.
        match self.store.get(&self.settings.bucket, &key, limit).await? {
            Some(Capped::Within(object)) => {
                if object.body.len() != info.size {
                    tracing::warn!(
                        expected = info.size,
                        got = object.body.len(),
                        "media size differs from the metadata"
                    );
                }
                self.attach_converted(req, facts, action, object, &key, outcome).await
            }
            Some(Capped::Over { size }) => {
                // The metadata said less than the body holds: refused without reading the rest.
                tracing::warn!(
                    announced = info.size,
                    size,
                    limit,
                    "media larger than its metadata said"
                );
                self.discard(&key).await;
                Ok(too_large(req.wording, outcome, InboundMedia { size, ..facts }, limit))
            }
            None => Err(PortError::new(
                FailureKind::Transient,
                "GetWhatsAppMessageMedia",
                "the copied object disappeared",
            )),
        }
    }

    /// Converts what needs it, checks the result's size, attaches it and transcribes voice notes.
    /// A file that needs no conversion passes through as it arrives; what is converted is read
    /// whole (WhatsApp's limits keep voice notes and stickers small). The copy in the bucket is
    /// deleted once read: beside the conversion, or beside the upload's completion.
    async fn attach_converted(
        &self,
        req: InboundRequest<'_>,
        facts: InboundMedia<'_>,
        action: InboundFileAction,
        object: StoredObject,
        key: &str,
        mut outcome: InboundOutcome,
    ) -> PortResult<InboundOutcome> {
        let media = req.media;
        let name = policy::file_name(
            media.kind,
            media.voice,
            facts.mime_type,
            media.filename.as_deref(),
            &media.id,
        );
        if let InboundFileAction::Attach { content_type } = action {
            let file = NewAttachment {
                name,
                content_type: content_type.to_owned(),
                body: object.body,
            };
            return self.attach_file(req, file, None, self.discard(key), outcome).await;
        }
        let bytes = object.body.read_all().await?;
        let converting = async {
            if media.kind == MediaKind::Audio && action == InboundFileAction::ConvertToWav && media.voice {
                outcome.transcript = self.transcribe(&bytes, req.transcribe).await;
            }
            self.convert(action, &name, bytes).await
        };
        let converted = tokio::join!(converting, behind(self.discard(key))).0?;
        let (file, duration) = match converted {
            Ok(converted) => converted,
            Err(e) => return Ok(self.unconvertible(req.wording, outcome, &facts, e.to_string())),
        };
        // A conversion can grow the file (PCM is ten times Opus): ask again with the output.
        let size = file.body.len();
        if size > self.settings.limits.max_bytes {
            let converted = InboundMedia {
                mime_type: &file.content_type,
                size,
                ..facts
            };
            return Ok(too_large(
                req.wording,
                outcome,
                converted,
                self.settings.limits.max_bytes,
            ));
        }
        self.attach_file(req, file, duration, std::future::ready(()), outcome)
            .await
    }

    /// A voice note to WAV (and its playing time), a sticker to PNG.
    async fn convert(
        &self,
        action: InboundFileAction,
        name: &str,
        bytes: Vec<u8>,
    ) -> PortResult<Result<(NewAttachment, Option<Duration>), convert::ConvertError>> {
        Ok(match action {
            InboundFileAction::ConvertToWav => {
                let max_duration = self.settings.limits.max_wav_duration();
                off_runtime(move || convert::ogg_opus_to_wav_capped(&bytes, max_duration))
                    .await?
                    .map(|wav| {
                        let file = NewAttachment {
                            name: with_extension(name, "wav"),
                            content_type: WAV_MIME.to_owned(),
                            body: wav.bytes.into(),
                        };
                        (file, Some(wav.duration))
                    })
            }
            _ => off_runtime(move || convert::webp_to_png(&bytes)).await?.map(|png| {
                let file = NewAttachment {
                    name: with_extension(name, "png"),
                    content_type: PNG_MIME.to_owned(),
                    body: png.into(),
                };
                (file, None)
            }),
        })
    }

    /// Attaches `file` (see [`Self::attach`] for `after_put`) and records how it fared.
    async fn attach_file(
        &self,
        req: InboundRequest<'_>,
        file: NewAttachment,
        duration: Option<Duration>,
        after_put: impl Future<Output = ()>,
        mut outcome: InboundOutcome,
    ) -> PortResult<InboundOutcome> {
        let NewAttachment {
            name,
            content_type,
            body,
        } = file;
        let size = body.len();
        match self
            .attach(req.token, req.wamid, &name, &content_type, body, after_put)
            .await
        {
            Ok(attachment_id) => {
                outcome.delivery = Delivery::Attached(AttachedFile {
                    attachment_id,
                    name,
                    content_type,
                    size,
                    duration,
                });
            }
            Err(e) if e.kind == FailureKind::Rejected => {
                outcome.delivery = Delivery::UploadRefused {
                    reason: e.detail.clone(),
                };
                outcome.agent_note = Some(req.wording.word(
                    Text::FileUploadRefused,
                    &[
                        ("name", Arg::from(name.as_str())),
                        ("format", Arg::from(content_type.as_str())),
                        ("size", Arg::from(policy::human_size(size))),
                    ],
                ));
                outcome.customer_notice = Some(req.wording.word(Text::FileNotPassed, &[]));
            }
            Err(e) => return Err(e),
        }
        Ok(outcome)
    }

    fn unconvertible(
        &self,
        w: &Wording,
        mut outcome: InboundOutcome,
        facts: &InboundMedia<'_>,
        reason: String,
    ) -> InboundOutcome {
        outcome.delivery = Delivery::Unconvertible { reason };
        outcome.agent_note = policy::describe_for_agent(w, facts, None);
        outcome.customer_notice = Some(w.word(Text::FileNotConverted, &[]));
        outcome
    }

    /// Has EUM copy the media into the bucket; returns the key it wrote.
    async fn copy_in(&self, req: InboundRequest<'_>) -> PortResult<String> {
        let bucket = &self.settings.bucket;
        let prefix = format!("{}{}/", req.prefix, key_part(req.wamid));
        self.whatsapp
            .copy_to_bucket(req.origination, &req.media.id, bucket, &prefix)
            .await?;
        // EUM appends the media id and an extension for the file's type to the key it is given
        // (docs/local-twin.md); take what is there, preferring a key that names the media id.
        let keys = self.store.list(bucket, &prefix).await?;
        keys.iter()
            .find(|k| k.contains(req.media.id.as_str()))
            .or_else(|| keys.first())
            .cloned()
            .ok_or_else(|| {
                PortError::new(
                    FailureKind::Transient,
                    "GetWhatsAppMessageMedia",
                    "no object under the destination prefix",
                )
            })
    }

    /// Deletes a file in transit once it has reached its side; the bucket's lifecycle rule removes
    /// what a failed delete leaves, so the failure is only logged.
    async fn discard(&self, key: &str) {
        if let Err(e) = self.store.delete(&self.settings.bucket, key).await {
            tracing::warn!(operation = e.operation, detail = %e.detail, "media object not deleted");
        }
    }

    /// StartAttachmentUpload → PUT → CompleteAttachmentUpload; returns the attachment id.
    /// `after_put` runs once the file has been read: beside the completion, or after a failed
    /// upload (a retry starts from a new copy).
    async fn attach(
        &self,
        token: &ConnectionToken,
        wamid: &str,
        name: &str,
        content_type: &str,
        body: FileStream,
        after_put: impl Future<Output = ()>,
    ) -> PortResult<String> {
        let client_token = format!("att-{}", short_hash(wamid));
        let uploaded = async {
            let ticket = self
                .attachments
                .start_upload(token, name, content_type, body.len(), &client_token)
                .await?;
            self.attachments.put_file(&ticket, body).await?;
            Ok(ticket)
        };
        let ticket = match uploaded.await {
            Ok(ticket) => ticket,
            Err(e) => {
                after_put.await;
                return Err(e);
            }
        };
        let done_token = format!("done-{}", short_hash(wamid));
        let completed = self.attachments.complete(token, &ticket.attachment_id, &done_token);
        tokio::join!(completed, behind(after_put)).0?;
        Ok(ticket.attachment_id)
    }

    /// `number`: the business number's own languages, when it has them (transcription on).
    async fn transcribe(&self, audio: &[u8], number: Option<&TranscribeLanguage>) -> Option<Transcript> {
        let language = number
            .or(self.settings.transcribe.as_ref())
            .filter(|_| self.settings.transcribe.is_some())?;
        if let (Some(length), Some(left)) = (convert::ogg_opus_duration(audio), claims::time_left(now_ms()))
            && length.div_f64(self.settings.stream_speed) + AFTER_TRANSCRIPTION > left
        {
            tracing::warn!(
                seconds = length.as_secs(),
                "voice note too long to transcribe in this invocation"
            );
            return Some(Transcript::TooLong(length));
        }
        Some(match self.transcriber.transcribe_ogg_opus(audio, language).await {
            Ok(t) if t.trim().is_empty() => Transcript::Silent,
            Ok(t) => Transcript::Text(t.trim().to_owned()),
            Err(e) => {
                tracing::warn!(operation = e.operation, detail = %e.detail, "voice note transcription failed");
                Transcript::Failed(e.to_string())
            }
        })
    }

    /// The largest agent file that is fetched: what WhatsApp takes as a document, and no more than
    /// the chat's own attachment limit, which bounds what an agent can attach (and so the memory a
    /// handler needs, docs/limits.md).
    fn outbound_limit(&self) -> u64 {
        policy::WHATSAPP_DOCUMENT_MAX_BYTES.min(self.settings.limits.max_bytes)
    }

    /// Sends an agent's attachment to the customer by media id.
    pub async fn deliver_outbound(&self, req: OutboundRequest<'_>) -> PortResult<OutboundOutcome> {
        let limit = self.outbound_limit();
        let body = match self.attachments.download(req.token, req.attachment_id, limit).await? {
            Capped::Within(body) => body,
            Capped::Over { size } => return self.refuse_outbound(req, size, limit).await,
        };
        let size = body.len();
        let (body_of, file_name): (fn(MediaObject) -> OutgoingBody, _) =
            match policy::outbound_action(req.content_type, size, req.name) {
                OutboundFileAction::TooLarge { limit } => return self.refuse_outbound(req, size, limit).await,
                OutboundFileAction::Image => (|image| OutgoingBody::Image { image }, None),
                OutboundFileAction::Video => (|video| OutgoingBody::Video { video }, None),
                OutboundFileAction::Audio => (|audio| OutgoingBody::Audio { audio }, None),
                OutboundFileAction::Document { file_name } => {
                    (|document| OutgoingBody::Document { document }, Some(file_name))
                }
            };
        // Only documents have a file name.
        let content_type = if file_name.is_some() && essence(req.content_type).is_empty() {
            "application/octet-stream".to_owned()
        } else {
            essence(req.content_type)
        };
        let key = format!(
            "{}{}/{}",
            req.prefix,
            key_part(req.attachment_id),
            key_part(file_name.as_deref().unwrap_or(req.name))
        );
        self.store.put(&self.settings.bucket, &key, &content_type, body).await?;
        let media_id = self
            .whatsapp
            .upload_from_bucket(req.origination, &self.settings.bucket, &key)
            .await?;
        let media = MediaObject {
            id: media_id,
            filename: file_name,
        };
        let message = OutgoingMessage::new(req.to, body_of(media));
        // WhatsApp holds the file now (a retry uploads a new copy): deleted beside the send.
        let sent = self.whatsapp.send_body(req.origination, &message);
        let message_id = tokio::join!(sent, behind(self.discard(&key))).0?;
        Ok(OutboundOutcome::Sent {
            message: serde_json::to_value(&message).unwrap_or_default(),
            message_id,
        })
    }

    /// Tells the agent, then the customer, that an agent's file is too large to send. The note goes
    /// first: Connect deduplicates it by its client token, while the notice, a WhatsApp message,
    /// has none, so a failed note fails the call (and Lambda's retry) before the customer is told.
    async fn refuse_outbound(&self, req: OutboundRequest<'_>, size: u64, limit: u64) -> PortResult<OutboundOutcome> {
        let limit_mb = limit / policy::MB;
        let file = [("name", Arg::from(req.name)), ("limit", Arg::from(limit_mb))];
        let note = req.wording.word(Text::AgentFileNotSent, &file);
        let note_token = format!("too-large-{}", short_hash(req.attachment_id));
        self.attachments.send_text(req.token, &note, &note_token).await?;
        let notice = req.wording.word(Text::AgentFileTooLarge, &file);
        let body = OutgoingBody::Text {
            text: MessageText {
                body: notice.clone(),
                preview_url: None,
            },
        };
        let notice_id = self
            .whatsapp
            .send_body(req.origination, &OutgoingMessage::new(req.to, body))
            .await?;
        Ok(OutboundOutcome::TooLarge {
            size,
            limit,
            notice,
            notice_id,
        })
    }
}

/// The outcome for a file over `limit` (`facts.size` is its size): not attached, both sides told.
fn too_large(w: &Wording, mut outcome: InboundOutcome, facts: InboundMedia<'_>, limit: u64) -> InboundOutcome {
    outcome.delivery = Delivery::TooLarge {
        size: facts.size,
        limit,
    };
    outcome.agent_note = policy::describe_for_agent(w, &facts, Some(InboundFileAction::TooLarge { limit }));
    outcome.customer_notice = Some(w.word(Text::FileTooLarge, &[("limit", Arg::from(limit / policy::MB))]));
    outcome
}

/// Runs a conversion on tokio's blocking threads. The handlers' runtime has a single thread, and a
/// conversion holding it (seconds for a long voice note) would stop every task beside it, the
/// heartbeat that keeps the message's claim alive among them. The codecs contain their own panics,
/// so the task fails only when the runtime is shutting down.
async fn off_runtime<T: Send + 'static>(
    convert: impl FnOnce() -> Result<T, convert::ConvertError> + Send + 'static,
) -> PortResult<Result<T, convert::ConvertError>> {
    tokio::task::spawn_blocking(convert)
        .await
        .map_err(|_| PortError::new(FailureKind::Transient, "Convert", "the conversion did not finish"))
}

fn with_extension(name: &str, ext: &str) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    format!("{stem}.{ext}")
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;

#[cfg(test)]
mod transcript_style_tests {
    use super::*;
    use crate::wording::english as w;

    #[test]
    fn recognised_speech_is_labelled_or_the_customers_own_words() {
        let said = Transcript::Text("where is my order".to_owned());
        assert_eq!(
            transcript_chat_text(w(), &said, TranscriptStyle::Labelled),
            "🎤 Transcription: where is my order"
        );
        assert_eq!(
            transcript_chat_text(w(), &said, TranscriptStyle::CustomerWords),
            "where is my order"
        );
    }

    #[test]
    fn what_is_not_the_customers_speech_stays_labelled_in_every_style() {
        for missing in [
            Transcript::Silent,
            Transcript::Failed("ServiceUnavailableException".to_owned()),
            Transcript::TooLong(Duration::from_secs(400)),
        ] {
            let labelled = transcript_chat_text(w(), &missing, TranscriptStyle::Labelled);
            assert!(labelled.starts_with("🎤 "), "{labelled}");
            assert_eq!(
                transcript_chat_text(w(), &missing, TranscriptStyle::CustomerWords),
                labelled,
                "{missing:?}"
            );
        }
    }

    #[test]
    fn the_style_is_read_from_transcript_style() {
        let with = |style: Option<&'static str>| {
            MediaSettings::from_lookup(move |k| match k {
                "MEDIA_BUCKET_NAME" => Some("media".to_owned()),
                "TRANSCRIPT_STYLE" => style.map(str::to_owned),
                _ => None,
            })
        };
        assert_eq!(with(None).unwrap().transcript_style, TranscriptStyle::Labelled);
        assert_eq!(
            with(Some("labelled")).unwrap().transcript_style,
            TranscriptStyle::Labelled
        );
        assert_eq!(
            with(Some("customer_words")).unwrap().transcript_style,
            TranscriptStyle::CustomerWords
        );
        let refused = with(Some("plain")).unwrap_err();
        assert!(refused.contains("TRANSCRIPT_STYLE"), "{refused}");
    }

    #[test]
    fn media_are_off_without_a_bucket_and_a_wrong_setting_is_an_error() {
        let settings = |pairs: &'static [(&'static str, &'static str)]| {
            MediaSettings::if_configured(move |k| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string()))
        };
        assert_eq!(settings(&[("TRANSCRIPT_STYLE", "plain")]), Ok(None));
        assert!(settings(&[("MEDIA_BUCKET_NAME", "media")]).unwrap().is_some());
        for wrong in [
            &[("MEDIA_BUCKET_NAME", "media"), ("TRANSCRIPT_STYLE", "plain")][..],
            &[("MEDIA_BUCKET_NAME", "media"), ("CONNECT_MAX_ATTACHMENT_BYTES", "20MB")][..],
        ] {
            assert!(settings(wrong).is_err(), "{wrong:?}");
        }
    }
}
