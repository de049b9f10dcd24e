//! Media between WhatsApp and the Connect chat: the I/O around [`policy`](super::policy) and
//! [`convert`](super::convert).
//!
//! Customer → agent ([`MediaService::deliver_inbound`]): ask EUM for the size and type first
//! (`metadataOnly`), decide, copy the file into the media bucket under the conversation's prefix,
//! find the object EUM wrote (by listing the prefix — the documentation and the AWS sample
//! disagree on the exact key), convert what Connect does not take (voice notes → WAV,
//! WebP stickers → PNG), and attach it (`StartAttachmentUpload` → PUT with exactly the returned
//! headers → `CompleteAttachmentUpload`). Voice notes are also transcribed. What cannot be
//! attached comes back as notes for both sides; nothing is dropped silently.
//!
//! Agent → customer ([`MediaService::deliver_outbound`]): `GetAttachment` and download, copy to
//! the bucket, `PostWhatsAppMessageMedia`, and the Meta message body that sends it by media id.
//!
//! The caller (the handlers) posts the texts this returns, in order, after the file.

use super::convert::{self, PNG_MIME, WAV_MIME};
use super::policy::{self, ConnectLimits, InboundAction, InboundMedia, OutboundAction};
use super::ports::{
    ChatAttachments, MediaInfo, NewAttachment, ObjectStore, TranscribeLanguage, Transcriber, WhatsappMedia,
};
use crate::claims;
use crate::error::{FailureKind, PortError};
use crate::ids::{ConnectionToken, CustomerId, OriginationId};
use crate::ports::PortResult;
use crate::telemetry::now_ms;
use crate::whatsapp::{Media, MediaKind};
use serde_json::{Value, json};
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
}

impl MediaSettings {
    /// Reads the settings through `lookup` (the process environment in the handlers).
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
        Ok(Self {
            bucket,
            limits,
            transcribe,
            stream_speed,
            echo_transcript,
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
}

pub const TRANSCRIPTION_PREFIX: &str = "🎤 Transcription: ";

/// What the invocation still has to do once the transcript is in: post it, echo it, complete.
const AFTER_TRANSCRIPTION: Duration = Duration::from_secs(10);

impl InboundOutcome {
    /// The texts for the chat, in order: the note about the file, its caption, the transcript.
    pub fn chat_texts(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(n) = &self.agent_note {
            out.push(n.clone());
        }
        if let Some(c) = self.caption.as_ref().filter(|c| !c.trim().is_empty()) {
            out.push(c.clone());
        }
        match &self.transcript {
            Some(Transcript::Text(t)) => out.push(format!("{TRANSCRIPTION_PREFIX}{t}")),
            Some(Transcript::Silent) => out.push("🎤 Transcription: (no speech recognised)".to_owned()),
            Some(Transcript::Failed(_)) => {
                out.push("🎤 The transcript of this voice message is missing: transcription failed.".to_owned())
            }
            Some(Transcript::TooLong(length)) => out.push(format!(
                "🎤 The transcript of this voice message is missing: at {} s it is too long to transcribe here.",
                length.as_secs()
            )),
            None => {}
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum OutboundOutcome {
    /// Sent by media id; `message` is the Meta body that was sent.
    Sent { message: Value, message_id: String },
    /// Too large for WhatsApp: tell the agent (`agent_note`).
    TooLarge { size: u64, limit: u64, agent_note: String },
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
        };
        match action {
            InboundAction::TooLarge { limit } => {
                outcome.delivery = Delivery::TooLarge { size: info.size, limit };
                outcome.agent_note = policy::describe_for_agent(&facts, Some(action));
                outcome.customer_notice = Some(format!(
                    "Sorry, your file is too large to pass on (the limit is {} MB). Could you send a smaller one?",
                    limit / policy::MB
                ));
                return Ok(outcome);
            }
            InboundAction::NotAccepted => {
                outcome.agent_note = policy::describe_for_agent(&facts, Some(action));
                outcome.customer_notice =
                    Some("Sorry, we could not pass this kind of file on to the agent.".to_owned());
                return Ok(outcome);
            }
            InboundAction::Attach { .. } | InboundAction::ConvertToWav | InboundAction::ConvertToPng => {}
        }
        let bytes = self.fetch(req, &info).await?;
        let name = policy::file_name(media.kind, media.voice, &mime, media.filename.as_deref(), &media.id);
        let voice = media.kind == MediaKind::Audio && action == InboundAction::ConvertToWav;
        if voice && media.voice {
            outcome.transcript = self.transcribe(&bytes).await;
        }
        let (file, duration) = match action {
            InboundAction::ConvertToWav => {
                match convert::ogg_opus_to_wav_capped(&bytes, self.settings.limits.max_wav_duration()) {
                    Ok(wav) => (
                        NewAttachment {
                            name: with_extension(&name, "wav"),
                            content_type: WAV_MIME.to_owned(),
                            bytes: wav.bytes,
                        },
                        Some(wav.duration),
                    ),
                    Err(e) => return Ok(self.unconvertible(outcome, &facts, e.to_string())),
                }
            }
            InboundAction::ConvertToPng => match convert::webp_to_png(&bytes) {
                Ok(png) => (
                    NewAttachment {
                        name: with_extension(&name, "png"),
                        content_type: PNG_MIME.to_owned(),
                        bytes: png,
                    },
                    None,
                ),
                Err(e) => return Ok(self.unconvertible(outcome, &facts, e.to_string())),
            },
            InboundAction::Attach { content_type } => (
                NewAttachment {
                    name,
                    content_type: content_type.to_owned(),
                    bytes,
                },
                None,
            ),
            InboundAction::TooLarge { .. } | InboundAction::NotAccepted => unreachable!("handled above"),
        };
        // A conversion can grow the file (PCM is ten times Opus): ask again with the output.
        let size = file.bytes.len() as u64;
        if size > self.settings.limits.max_bytes {
            let converted = InboundMedia {
                mime_type: &file.content_type,
                size,
                ..facts
            };
            let limit = self.settings.limits.max_bytes;
            outcome.delivery = Delivery::TooLarge { size, limit };
            outcome.agent_note = policy::describe_for_agent(&converted, Some(InboundAction::TooLarge { limit }));
            outcome.customer_notice = Some(format!(
                "Sorry, your file is too large to pass on (the limit is {} MB). Could you send a smaller one?",
                limit / policy::MB
            ));
            return Ok(outcome);
        }
        match self.attach(req.token, req.wamid, &file).await {
            Ok(attachment_id) => {
                outcome.delivery = Delivery::Attached(AttachedFile {
                    attachment_id,
                    name: file.name,
                    content_type: file.content_type,
                    size,
                    duration,
                });
            }
            Err(e) if e.kind == FailureKind::Rejected => {
                outcome.delivery = Delivery::UploadRefused {
                    reason: e.detail.clone(),
                };
                outcome.agent_note = Some(format!(
                    "[file: {}, {}, {} bytes] The customer sent this file but the chat refused the upload.",
                    file.name, file.content_type, size
                ));
                outcome.customer_notice = Some("Sorry, we could not pass your file on to the agent.".to_owned());
            }
            Err(e) => return Err(e),
        }
        Ok(outcome)
    }

    fn unconvertible(&self, mut outcome: InboundOutcome, facts: &InboundMedia<'_>, reason: String) -> InboundOutcome {
        outcome.delivery = Delivery::Unconvertible { reason };
        outcome.agent_note = policy::describe_for_agent(facts, None);
        outcome.customer_notice = Some("Sorry, we could not pass this file on to the agent.".to_owned());
        outcome
    }

    /// Copies the media into the bucket and reads it back from wherever EUM put it.
    async fn fetch(&self, req: InboundRequest<'_>, info: &MediaInfo) -> PortResult<Vec<u8>> {
        const OP: &str = "GetWhatsAppMessageMedia";
        let bucket = &self.settings.bucket;
        let prefix = format!("{}{}/", req.prefix, key_part(req.wamid));
        self.whatsapp
            .copy_to_bucket(req.origination, &req.media.id, bucket, &prefix)
            .await?;
        // The docs say `prefix + mediaId`, the AWS sample `prefix + mediaId + .ext`: take what is
        // there, preferring a key that names the media id.
        let keys = self.store.list(bucket, &prefix).await?;
        let key = keys
            .iter()
            .find(|k| k.contains(req.media.id.as_str()))
            .or_else(|| keys.first())
            .cloned()
            .ok_or_else(|| PortError::new(FailureKind::Transient, OP, "no object under the destination prefix"))?;
        let object = self
            .store
            .get(bucket, &key)
            .await?
            .ok_or_else(|| PortError::new(FailureKind::Transient, OP, "the copied object disappeared"))?;
        if object.bytes.len() as u64 != info.size && info.size > 0 {
            tracing::warn!(
                expected = info.size,
                got = object.bytes.len(),
                "media size differs from the metadata"
            );
        }
        Ok(object.bytes)
    }

    /// StartAttachmentUpload → PUT → CompleteAttachmentUpload; returns the attachment id.
    async fn attach(&self, token: &ConnectionToken, wamid: &str, file: &NewAttachment) -> PortResult<String> {
        let client_token = format!("att-{}", short_hash(wamid));
        let ticket = self
            .attachments
            .start_upload(
                token,
                &file.name,
                &file.content_type,
                file.bytes.len() as u64,
                &client_token,
            )
            .await?;
        self.attachments.put_bytes(&ticket, file.bytes.clone()).await?;
        self.attachments
            .complete(token, &ticket.attachment_id, &format!("done-{}", short_hash(wamid)))
            .await?;
        Ok(ticket.attachment_id)
    }

    async fn transcribe(&self, audio: &[u8]) -> Option<Transcript> {
        let language = self.settings.transcribe.as_ref()?;
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

    /// Sends an agent's attachment to the customer by media id.
    pub async fn deliver_outbound(&self, req: OutboundRequest<'_>) -> PortResult<OutboundOutcome> {
        let bytes = self.attachments.download(req.token, req.attachment_id).await?;
        let size = bytes.len() as u64;
        let action = policy::outbound_action(req.content_type, size, req.name);
        let (kind, file_name) = match action {
            OutboundAction::TooLarge { limit } => {
                return Ok(OutboundOutcome::TooLarge {
                    size,
                    limit,
                    agent_note: format!(
                        "\"{}\" ({} MB) was not sent to the customer: WhatsApp takes files up to {} MB.",
                        req.name,
                        size.div_ceil(policy::MB),
                        limit / policy::MB
                    ),
                });
            }
            OutboundAction::Image => ("image", None),
            OutboundAction::Video => ("video", None),
            OutboundAction::Audio => ("audio", None),
            OutboundAction::Document { file_name } => ("document", Some(file_name)),
        };
        let content_type = if kind == "document" && essence(req.content_type).is_empty() {
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
        self.store
            .put(&self.settings.bucket, &key, &content_type, bytes)
            .await?;
        let media_id = self
            .whatsapp
            .upload_from_bucket(req.origination, &self.settings.bucket, &key)
            .await?;
        let mut object = json!({ "id": media_id });
        if let Some(name) = &file_name {
            object["filename"] = json!(name);
        }
        let message = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            req.to.address_field(): req.to.as_str(),
            "type": kind,
            kind: object,
        });
        let message_id = self.whatsapp.send_body(req.origination, &message).await?;
        Ok(OutboundOutcome::Sent { message, message_id })
    }
}

fn with_extension(name: &str, ext: &str) -> String {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    format!("{stem}.{ext}")
}

/// A short stable digest for client tokens (Connect allows 500 characters; wamids are long).
fn short_hash(s: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(s.as_bytes())[..12]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::ports::{StoredObject, UploadTicket};
    use std::collections::{BTreeMap, HashMap};
    use std::sync::Mutex;

    const VOICE: &[u8] = include_bytes!("../../../../tests/media/voice-note.ogg");
    const STICKER: &[u8] = include_bytes!("../../../../tests/media/sticker.webp");

    #[derive(Default)]
    struct Store(Mutex<BTreeMap<String, (String, Vec<u8>)>>);

    impl ObjectStore for Store {
        async fn put(&self, bucket: &str, key: &str, ct: &str, bytes: Vec<u8>) -> PortResult<()> {
            self.0
                .lock()
                .unwrap()
                .insert(format!("{bucket}/{key}"), (ct.to_owned(), bytes));
            Ok(())
        }
        async fn get(&self, bucket: &str, key: &str) -> PortResult<Option<StoredObject>> {
            Ok(self
                .0
                .lock()
                .unwrap()
                .get(&format!("{bucket}/{key}"))
                .map(|(ct, b)| StoredObject {
                    content_type: Some(ct.clone()),
                    bytes: b.clone(),
                }))
        }
        async fn list(&self, bucket: &str, prefix: &str) -> PortResult<Vec<String>> {
            let full = format!("{bucket}/{prefix}");
            Ok(self
                .0
                .lock()
                .unwrap()
                .keys()
                .filter(|k| k.starts_with(&full))
                .map(|k| k[bucket.len() + 1..].to_owned())
                .collect())
        }
    }

    /// EUM: media by id; `suffix` imitates the AWS sample's `<prefix><id>.<ext>` naming.
    struct Wa<'a> {
        media: HashMap<String, (String, Vec<u8>)>,
        store: &'a Store,
        suffix: &'static str,
        uploaded: Mutex<Vec<(String, String)>>,
        sent: Mutex<Vec<Value>>,
    }

    impl WhatsappMedia for Wa<'_> {
        async fn media_info(&self, _: &OriginationId, id: &str) -> PortResult<MediaInfo> {
            let (mime, b) = self
                .media
                .get(id)
                .ok_or_else(|| PortError::new(FailureKind::Rejected, "Get", "404"))?;
            Ok(MediaInfo {
                mime_type: mime.clone(),
                size: b.len() as u64,
            })
        }
        async fn copy_to_bucket(
            &self,
            from: &OriginationId,
            id: &str,
            bucket: &str,
            prefix: &str,
        ) -> PortResult<MediaInfo> {
            let info = self.media_info(from, id).await?;
            let (mime, b) = self.media[id].clone();
            self.store
                .put(bucket, &format!("{prefix}{id}{}", self.suffix), &mime, b)
                .await?;
            Ok(info)
        }
        async fn upload_from_bucket(&self, _: &OriginationId, bucket: &str, key: &str) -> PortResult<String> {
            let obj = self.store.get(bucket, key).await?.expect("object in bucket");
            let mut up = self.uploaded.lock().unwrap();
            up.push((key.to_owned(), obj.content_type.unwrap_or_default()));
            Ok(format!("m{}", up.len()))
        }
        async fn send_body(&self, _: &OriginationId, body: &Value) -> PortResult<String> {
            self.sent.lock().unwrap().push(body.clone());
            Ok("wamid.out".into())
        }
    }

    /// (name, content type, bytes)
    type File = (String, String, Vec<u8>);

    #[derive(Default)]
    struct Chat {
        refuse: Mutex<Option<FailureKind>>,
        attached: Mutex<Vec<File>>,
        pending: Mutex<HashMap<String, File>>,
        files: HashMap<String, Vec<u8>>,
    }

    impl ChatAttachments for Chat {
        async fn start_upload(
            &self,
            _: &ConnectionToken,
            name: &str,
            ct: &str,
            size: u64,
            _: &str,
        ) -> PortResult<UploadTicket> {
            if let Some(kind) = *self.refuse.lock().unwrap() {
                return Err(PortError::new(kind, "StartAttachmentUpload", "ValidationException"));
            }
            let id = format!("att{}", self.pending.lock().unwrap().len());
            self.pending
                .lock()
                .unwrap()
                .insert(id.clone(), (name.to_owned(), ct.to_owned(), vec![0; size as usize]));
            Ok(UploadTicket {
                attachment_id: id.clone(),
                url: format!("http://upload/{id}"),
                headers: BTreeMap::from([("Content-Type".to_owned(), ct.to_owned())]),
            })
        }
        async fn put_bytes(&self, t: &UploadTicket, bytes: Vec<u8>) -> PortResult<()> {
            let mut p = self.pending.lock().unwrap();
            let entry = p.get_mut(&t.attachment_id).unwrap();
            assert_eq!(t.headers["Content-Type"], entry.1, "PUT with the ticket's headers");
            assert_eq!(entry.2.len(), bytes.len(), "declared size");
            entry.2 = bytes;
            Ok(())
        }
        async fn complete(&self, _: &ConnectionToken, id: &str, _: &str) -> PortResult<()> {
            let e = self.pending.lock().unwrap().remove(id).unwrap();
            self.attached.lock().unwrap().push(e);
            Ok(())
        }
        async fn send_text(&self, _: &ConnectionToken, _: &str, _: &str) -> PortResult<()> {
            Ok(())
        }
        async fn download(&self, _: &ConnectionToken, id: &str) -> PortResult<Vec<u8>> {
            Ok(self.files[id].clone())
        }
    }

    struct Ears(Result<String, PortError>);

    impl Transcriber for Ears {
        async fn transcribe_ogg_opus(&self, audio: &[u8], _: &TranscribeLanguage) -> PortResult<String> {
            assert!(audio.starts_with(b"OggS"), "the original Ogg/Opus goes to Transcribe");
            self.0.clone()
        }
    }

    fn settings() -> MediaSettings {
        MediaSettings::from_lookup(|k| (k == "MEDIA_BUCKET_NAME").then(|| "bucket".to_owned())).unwrap()
    }

    fn media(kind: MediaKind, id: &str, mime: &str) -> Media {
        Media {
            kind,
            id: id.into(),
            mime_type: Some(mime.into()),
            sha256: None,
            caption: None,
            filename: None,
            voice: false,
            animated: false,
        }
    }

    struct World {
        store: Store,
        chat: Chat,
        ears: Ears,
        settings: MediaSettings,
    }

    impl World {
        fn new() -> Self {
            Self {
                store: Store::default(),
                chat: Chat::default(),
                ears: Ears(Ok("hello there".into())),
                settings: settings(),
            }
        }

        fn wa(&self, files: &[(&str, &str, &[u8])], suffix: &'static str) -> Wa<'_> {
            Wa {
                media: files
                    .iter()
                    .map(|(id, m, b)| ((*id).to_owned(), ((*m).to_owned(), b.to_vec())))
                    .collect(),
                store: &self.store,
                suffix,
                uploaded: Mutex::default(),
                sent: Mutex::default(),
            }
        }

        async fn inbound(&self, wa: &Wa<'_>, m: &Media) -> InboundOutcome {
            let service = MediaService {
                whatsapp: wa,
                store: &self.store,
                attachments: &self.chat,
                transcriber: &self.ears,
                settings: &self.settings,
            };
            let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
            let token = ConnectionToken::new("t");
            service
                .deliver_inbound(InboundRequest {
                    origination: &origination,
                    token: &token,
                    media: m,
                    prefix: "inbound/106540352242922/14255550150/",
                    wamid: "wamid.ABC=",
                })
                .await
                .unwrap()
        }
    }

    #[tokio::test]
    async fn photo_with_caption_is_attached_then_captioned() {
        let w = World::new();
        let wa = w.wa(&[("111", "image/jpeg", b"\xFF\xD8jpeg")], "");
        let mut m = media(MediaKind::Image, "111", "image/jpeg");
        m.caption = Some("my receipt".into());
        let out = w.inbound(&wa, &m).await;
        let Delivery::Attached(f) = &out.delivery else {
            panic!("{out:?}")
        };
        assert_eq!(
            (f.name.as_str(), f.content_type.as_str()),
            ("photo-111.jpg", "image/jpeg")
        );
        assert_eq!(out.chat_texts(), vec!["my receipt".to_owned()]);
        assert_eq!(w.chat.attached.lock().unwrap()[0].2, b"\xFF\xD8jpeg");
        assert!(out.customer_notice.is_none());
        // Copied under the conversation's prefix.
        assert!(
            w.store
                .0
                .lock()
                .unwrap()
                .keys()
                .all(|k| k.starts_with("bucket/inbound/106540352242922/14255550150/"))
        );
    }

    #[tokio::test]
    async fn voice_note_becomes_wav_and_transcript_even_with_the_samples_key_naming() {
        let w = World::new();
        let wa = w.wa(&[("222", "audio/ogg; codecs=opus", VOICE)], ".ogg");
        let mut m = media(MediaKind::Audio, "222", "audio/ogg; codecs=opus");
        m.voice = true;
        let out = w.inbound(&wa, &m).await;
        let Delivery::Attached(f) = &out.delivery else {
            panic!("{out:?}")
        };
        assert_eq!(f.content_type, "audio/wav");
        assert!(f.name.ends_with(".wav"), "{}", f.name);
        let secs = f.duration.unwrap().as_secs_f64();
        assert!((secs - 3.0).abs() < 0.15, "{secs}");
        assert_eq!(out.chat_texts(), vec!["🎤 Transcription: hello there".to_owned()]);
        assert_eq!(out.transcript_text(), Some("hello there"));
        assert!(w.chat.attached.lock().unwrap()[0].2.starts_with(b"RIFF"));
    }

    #[tokio::test]
    async fn transcription_failure_still_attaches_the_audio() {
        let mut w = World::new();
        w.ears = Ears(Err(PortError::new(
            FailureKind::Transient,
            "StartStreamTranscription",
            "timeout",
        )));
        let wa = w.wa(&[("333", "audio/ogg", VOICE)], "");
        let mut m = media(MediaKind::Audio, "333", "audio/ogg");
        m.voice = true;
        let out = w.inbound(&wa, &m).await;
        assert!(matches!(out.delivery, Delivery::Attached(_)));
        assert!(matches!(out.transcript, Some(Transcript::Failed(_))));
        assert!(out.chat_texts()[0].contains("transcript of this voice message is missing"));
    }

    #[tokio::test]
    async fn a_voice_note_longer_than_the_invocation_has_left_is_delivered_untranscribed() {
        let w = World::new();
        let wa = w.wa(&[("334", "audio/ogg", VOICE)], "");
        let mut m = media(MediaKind::Audio, "334", "audio/ogg");
        m.voice = true;
        // 3 s of audio + the time to post it do not fit in 5 s; they fit in a minute.
        let out = claims::within_deadline(now_ms() + 5_000, w.inbound(&wa, &m)).await;
        assert!(matches!(out.delivery, Delivery::Attached(_)));
        assert!(
            matches!(out.transcript, Some(Transcript::TooLong(d)) if d.as_secs() == 3),
            "{out:?}"
        );
        assert!(
            out.chat_texts()[0].contains("at 3 s it is too long to transcribe"),
            "{:?}",
            out.chat_texts()
        );
        let out = claims::within_deadline(now_ms() + 60_000, w.inbound(&wa, &m)).await;
        assert_eq!(out.transcript_text(), Some("hello there"));
    }

    #[tokio::test]
    async fn forwarded_audio_is_converted_but_not_transcribed() {
        let w = World::new();
        let wa = w.wa(&[("334", "audio/ogg", VOICE)], "");
        let out = w.inbound(&wa, &media(MediaKind::Audio, "334", "audio/ogg")).await;
        assert!(matches!(out.delivery, Delivery::Attached(_)));
        assert!(out.transcript.is_none());
    }

    #[tokio::test]
    async fn too_large_is_not_downloaded_and_both_sides_are_told() {
        let mut w = World::new();
        w.settings.limits.max_bytes = 10;
        let wa = w.wa(&[("444", "application/pdf", b"%PDF-1.4 larger than ten bytes")], "");
        let mut m = media(MediaKind::Document, "444", "application/pdf");
        m.filename = Some("contract.pdf".into());
        let out = w.inbound(&wa, &m).await;
        assert!(matches!(out.delivery, Delivery::TooLarge { limit: 10, .. }));
        assert!(w.store.0.lock().unwrap().is_empty(), "nothing copied");
        assert!(out.agent_note.as_deref().unwrap().contains("contract.pdf"));
        assert!(out.customer_notice.is_some());
    }

    #[tokio::test]
    async fn sticker_becomes_png() {
        let w = World::new();
        let wa = w.wa(&[("555", "image/webp", STICKER)], "");
        let out = w.inbound(&wa, &media(MediaKind::Sticker, "555", "image/webp")).await;
        let Delivery::Attached(f) = &out.delivery else {
            panic!("{out:?}")
        };
        assert_eq!(f.content_type, "image/png");
        assert!(w.chat.attached.lock().unwrap()[0].2.starts_with(b"\x89PNG"));
    }

    #[tokio::test]
    async fn refused_upload_and_unknown_types_come_back_as_notes() {
        let w = World::new();
        *w.chat.refuse.lock().unwrap() = Some(FailureKind::Rejected);
        let wa = w.wa(
            &[("666", "application/pdf", b"%PDF"), ("777", "application/zip", b"PK")],
            "",
        );
        let out = w
            .inbound(&wa, &media(MediaKind::Document, "666", "application/pdf"))
            .await;
        assert!(matches!(out.delivery, Delivery::UploadRefused { .. }));
        assert!(out.agent_note.unwrap().starts_with("[file: "));
        let out = w
            .inbound(&wa, &media(MediaKind::Document, "777", "application/zip"))
            .await;
        assert!(matches!(out.delivery, Delivery::NotAccepted { .. }));
        assert!(out.agent_note.is_some() && out.customer_notice.is_some());
        // A transient failure is the caller's to retry.
        *w.chat.refuse.lock().unwrap() = Some(FailureKind::Transient);
        let service = MediaService {
            whatsapp: &wa,
            store: &w.store,
            attachments: &w.chat,
            transcriber: &w.ears,
            settings: &w.settings,
        };
        let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
        let m = media(MediaKind::Document, "666", "application/pdf");
        let r = service
            .deliver_inbound(InboundRequest {
                origination: &origination,
                token: &ConnectionToken::new("t"),
                media: &m,
                prefix: "p/",
                wamid: "w",
            })
            .await;
        assert!(r.unwrap_err().is_retryable());
    }

    async fn outbound(w: &World, wa: &Wa<'_>, id: &str, name: &str, ct: &str) -> OutboundOutcome {
        let service = MediaService {
            whatsapp: wa,
            store: &w.store,
            attachments: &w.chat,
            transcriber: &w.ears,
            settings: &w.settings,
        };
        let origination = OriginationId::parse("phone-number-id-976c72a700aac43eaf573ae050b1e2f3").unwrap();
        service
            .deliver_outbound(OutboundRequest {
                token: &ConnectionToken::new("t"),
                origination: &origination,
                to: &CustomerId::parse("14255550150").unwrap(),
                attachment_id: id,
                name,
                content_type: ct,
                prefix: "outbound/c1/",
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn agent_files_go_by_media_id() {
        let mut w = World::new();
        w.chat.files = HashMap::from([
            ("a1".to_owned(), b"\x89PNGimage".to_vec()),
            ("a2".to_owned(), b"%PDF-1.4".to_vec()),
            ("a3".to_owned(), b"PK zip".to_vec()),
        ]);
        let wa = w.wa(&[], "");
        let OutboundOutcome::Sent { message, .. } = outbound(&w, &wa, "a1", "map.png", "image/png").await else {
            panic!()
        };
        assert_eq!(message["type"], "image");
        assert_eq!(message["image"], json!({"id": "m1"}));
        assert_eq!(message["to"], "14255550150");
        let OutboundOutcome::Sent { message, .. } =
            outbound(&w, &wa, "a2", "guía de devolución.pdf", "application/pdf").await
        else {
            panic!()
        };
        assert_eq!(message["type"], "document");
        assert_eq!(message["document"]["filename"], "guía de devolución.pdf");
        let OutboundOutcome::Sent { message, .. } = outbound(&w, &wa, "a3", "files.zip", "application/zip").await
        else {
            panic!()
        };
        assert_eq!(message["type"], "document");
        assert_eq!(wa.sent.lock().unwrap().len(), 3);
        let up = wa.uploaded.lock().unwrap();
        assert!(up[0].0.starts_with("outbound/c1/a1/"));
        assert_eq!(up[1].1, "application/pdf");
    }

    #[test]
    fn settings_from_env() {
        let s = MediaSettings::from_lookup(|k| match k {
            "MEDIA_BUCKET_NAME" => Some("b".into()),
            "TRANSCRIBE_LANGUAGE_OPTIONS" => Some("en-US, es-US".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            s.transcribe,
            Some(TranscribeLanguage::Identify(vec!["en-US".into(), "es-US".into()]))
        );
        let s = MediaSettings::from_lookup(|k| match k {
            "MEDIA_BUCKET_NAME" => Some("b".into()),
            "TRANSCRIBE_LANGUAGE" => Some("es-ES".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(s.transcribe, Some(TranscribeLanguage::Fixed("es-ES".into())));
        assert_eq!((s.stream_speed, s.echo_transcript), (1.0, true));
        let s = MediaSettings::from_lookup(|k| match k {
            "MEDIA_BUCKET_NAME" => Some("b".into()),
            "TRANSCRIBE_VOICE_NOTES" => Some("false".into()),
            "TRANSCRIBE_STREAM_SPEED" => Some("4".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!((s.transcribe, s.stream_speed), (None, 4.0));
        assert!(
            MediaSettings::from_lookup(|k| match k {
                "MEDIA_BUCKET_NAME" => Some("b".into()),
                "TRANSCRIBE_STREAM_SPEED" => Some("0".into()),
                _ => None,
            })
            .is_err()
        );
        assert!(MediaSettings::from_lookup(|_| None).is_err());
    }
}
