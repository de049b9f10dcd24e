//! Amazon Transcribe streaming (`StartStreamTranscription`, `POST /stream-transcription`).
//!
//! The request body is an AWS event stream: every frame is a signed envelope (`:date`,
//! `:chunk-signature`) whose payload is an `AudioEvent` message; an envelope with an empty payload
//! ends the stream. The answer is an event stream of `TranscriptEvent`s (one partial, one final
//! result) or an in-stream exception. The headers are validated as the service does: the model's
//! constraints of every header first (`validate`: encoding, sample rate, language codes, names,
//! lengths and patterns), then the rules between them that the API reference states (exactly one
//! language setting, two to five language options, PII and channel settings in pairs). What the twin "hears"
//! is what a test registered for the audio's SHA-256; unregistered audio is silence (no results).

use std::collections::BTreeSet;

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::media::{MediaState, sha256_hex};
use crate::validate::Input;

/// Largest audio chunk a single AudioEvent may carry ("Your stream is too big" above it).
pub const MAX_CHUNK_BYTES: usize = 64 * 1024;

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new("BadRequestException", msg)
}

/// The validated session parameters.
#[derive(Debug, Clone)]
pub struct Session {
    pub language_code: Option<String>,
    pub language_options: Vec<String>,
    pub preferred_language: Option<String>,
    pub media_encoding: String,
    pub sample_rate: u32,
}

pub fn validate(headers: &HeaderMap) -> Result<Session, ApiError> {
    crate::validate::check(
        "transcribe",
        "StartStreamTranscription",
        &Input::new(headers, &serde_json::Value::Null),
    )?;
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let flag = |name: &str| h(name).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let encoding = h("x-amzn-transcribe-media-encoding").unwrap_or_default();
    let rate: u32 = h("x-amzn-transcribe-sample-rate")
        .and_then(|r| r.trim().parse().ok())
        .unwrap_or_default();
    let code = h("x-amzn-transcribe-language-code");
    let identify = flag("x-amzn-transcribe-identify-language");
    let identify_multiple = flag("x-amzn-transcribe-identify-multiple-languages");
    let set = usize::from(code.is_some()) + usize::from(identify) + usize::from(identify_multiple);
    if set != 1 {
        return Err(bad(
            "Specify exactly one of LanguageCode, IdentifyLanguage or IdentifyMultipleLanguages",
        ));
    }
    let options: Vec<String> = h("x-amzn-transcribe-language-options")
        .map(|o| {
            o.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let preferred = h("x-amzn-transcribe-preferred-language");
    pairing_rules(&h)?;
    if code.is_some() {
        if !options.is_empty() || preferred.is_some() {
            return Err(bad("LanguageOptions and PreferredLanguage need IdentifyLanguage"));
        }
    } else {
        if !(2..=5).contains(&options.len()) {
            return Err(bad("Language identification needs two to five LanguageOptions"));
        }
        if preferred.is_some() && !identify {
            return Err(bad("PreferredLanguage needs IdentifyLanguage"));
        }
        if h("x-amzn-transcribe-language-model-name").is_some()
            || h("x-amzn-transcribe-content-redaction-type").is_some()
        {
            return Err(bad(
                "Language identification cannot be combined with a custom language model or content redaction",
            ));
        }
        let languages_supported = crate::validate::enum_values("transcribe", "LanguageCode");
        let mut languages = BTreeSet::new();
        for o in &options {
            if !languages_supported.iter().any(|l| l == o) {
                return Err(bad(format!("LanguageOptions contains unsupported {o}")));
            }
            if !languages.insert(o.split('-').next().unwrap_or(o).to_owned()) {
                return Err(bad(format!(
                    "LanguageOptions may contain only one dialect per language ({o})"
                )));
            }
        }
        if let Some(p) = &preferred
            && !options.contains(p)
        {
            return Err(bad(format!("PreferredLanguage {p} must be one of the LanguageOptions")));
        }
    }
    Ok(Session {
        language_code: code,
        language_options: options,
        preferred_language: preferred,
        media_encoding: encoding,
        sample_rate: rate,
    })
}

/// The rules between the other settings that the API reference states (each answered with
/// BadRequestException): PII identification or redaction, not both, and entity types only with one
/// of them; channel identification always with its number of channels, which must be 2.
fn pairing_rules(h: &impl Fn(&str) -> Option<String>) -> Result<(), ApiError> {
    let identification = h("x-amzn-transcribe-content-identification-type").is_some();
    let redaction = h("x-amzn-transcribe-content-redaction-type").is_some();
    if identification && redaction {
        return Err(bad("Set ContentIdentificationType or ContentRedactionType, not both"));
    }
    if h("x-amzn-transcribe-pii-entity-types").is_some() && !identification && !redaction {
        return Err(bad(
            "PiiEntityTypes needs ContentIdentificationType or ContentRedactionType",
        ));
    }
    let channel_identification = h("x-amzn-transcribe-enable-channel-identification").is_some_and(|v| v == "true");
    match h("x-amzn-transcribe-number-of-channels") {
        None if channel_identification => Err(bad("EnableChannelIdentification needs NumberOfChannels")),
        Some(_) if !channel_identification => Err(bad("NumberOfChannels needs EnableChannelIdentification")),
        Some(n) if n.trim() != "2" => Err(bad("NumberOfChannels must be 2")),
        _ => Ok(()),
    }
}

fn string_header(name: &'static str, value: impl Into<String>) -> Header {
    Header::new(name, HeaderValue::String(value.into().into()))
}

fn header_str<'a>(m: &'a Message, name: &str) -> Option<&'a str> {
    m.headers()
        .iter()
        .find(|h| h.name().as_str() == name)
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str())
}

fn event(event_type: &'static str, payload: serde_json::Value) -> Message {
    Message::new(Bytes::from(payload.to_string()))
        .add_header(string_header(":message-type", "event"))
        .add_header(string_header(":event-type", event_type))
        .add_header(string_header(":content-type", "application/json"))
}

fn exception(kind: &'static str, message: &str) -> Message {
    Message::new(Bytes::from(json!({ "Message": message }).to_string()))
        .add_header(string_header(":message-type", "exception"))
        .add_header(string_header(":exception-type", kind))
        .add_header(string_header(":content-type", "application/json"))
}

/// Reads the audio out of the request's event stream.
pub fn read_audio(mut body: &[u8]) -> Result<Vec<u8>, String> {
    let mut audio = Vec::new();
    while !body.is_empty() {
        let envelope = read_message_from(&mut body).map_err(|e| format!("invalid event stream frame: {e}"))?;
        if envelope.payload().is_empty() {
            break; // the signed end-of-stream frame
        }
        let inner = read_message_from(&mut envelope.payload().as_ref())
            .map_err(|e| format!("invalid event stream message: {e}"))?;
        match header_str(&inner, ":event-type") {
            Some("AudioEvent") => {
                if inner.payload().len() > MAX_CHUNK_BYTES {
                    return Err("Your stream is too big. Reduce the frame size and try again.".into());
                }
                audio.extend_from_slice(inner.payload());
            }
            Some("ConfigurationEvent") => {}
            other => return Err(format!("unexpected event type {other:?}")),
        }
    }
    Ok(audio)
}

/// Duration of Ogg/Opus audio from its last granule position (48 kHz clock), if it parses.
fn ogg_duration_secs(audio: &[u8]) -> Option<f64> {
    let mut last = None;
    let mut i = 0;
    while i + 27 <= audio.len() {
        if &audio[i..i + 4] == b"OggS" {
            let g = i64::from_le_bytes(audio[i + 6..i + 14].try_into().ok()?);
            if g > 0 {
                last = Some(g);
            }
        }
        i += 1;
    }
    last.map(|g| g as f64 / 48_000.0)
}

pub fn serve(media: &MediaState, headers: &HeaderMap, body: &[u8]) -> Result<Response, ApiError> {
    let session = validate(headers)?;
    let session_id = headers
        .get("x-amzn-transcribe-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut out: Vec<u8> = Vec::new();
    let push = |m: &Message, out: &mut Vec<u8>| {
        let _ = write_message_to(m, out);
    };
    match read_audio(body) {
        Err(e) => push(&exception("BadRequestException", &e), &mut out),
        Ok(audio) if session.media_encoding == "ogg-opus" && !audio.starts_with(b"OggS") && !audio.is_empty() => push(
            &exception(
                "BadRequestException",
                "The audio is not Ogg/Opus although MediaEncoding is ogg-opus",
            ),
            &mut out,
        ),
        Ok(audio) => {
            let heard = media.transcript_for(&sha256_hex(&audio));
            let end = if session.media_encoding == "ogg-opus" {
                ogg_duration_secs(&audio).unwrap_or(0.0)
            } else {
                audio.len() as f64 / (f64::from(session.sample_rate) * 2.0)
            };
            let language = session.language_code.clone().or_else(|| {
                heard
                    .as_ref()
                    .and_then(|h| h.language_code.clone())
                    .filter(|l| session.language_options.contains(l))
                    .or_else(|| session.preferred_language.clone())
                    .or_else(|| session.language_options.first().cloned())
            });
            if let Some(h) = heard.filter(|h| !h.text.is_empty()) {
                let result_id = uuid::Uuid::new_v4().to_string();
                let words: Vec<&str> = h.text.split_whitespace().collect();
                let half = words[..words.len().div_ceil(2)].join(" ");
                for (partial, text) in [(true, half.as_str()), (false, h.text.as_str())] {
                    let mut result = json!({
                        "ResultId": result_id,
                        "StartTime": 0.0,
                        "EndTime": if partial { end / 2.0 } else { end },
                        "IsPartial": partial,
                        "Alternatives": [ { "Transcript": text, "Items": [] } ],
                        "ChannelId": "ch_0",
                    });
                    if let Some(l) = &language {
                        result["LanguageCode"] = json!(l);
                    }
                    push(
                        &event("TranscriptEvent", json!({ "Transcript": { "Results": [result] } })),
                        &mut out,
                    );
                }
            } else {
                push(
                    &event("TranscriptEvent", json!({ "Transcript": { "Results": [] } })),
                    &mut out,
                );
            }
        }
    }
    let mut resp = (StatusCode::OK, Body::from(out)).into_response();
    let h = resp.headers_mut();
    let mut set = |k: &'static str, v: &str| {
        if let Ok(v) = v.parse() {
            h.insert(k, v);
        }
    };
    set("content-type", "application/vnd.amazon.eventstream");
    set("x-amzn-request-id", &uuid::Uuid::new_v4().to_string());
    set("x-amzn-transcribe-session-id", &session_id);
    set("x-amzn-transcribe-media-encoding", &session.media_encoding);
    set("x-amzn-transcribe-sample-rate", &session.sample_rate.to_string());
    if let Some(l) = &session.language_code {
        set("x-amzn-transcribe-language-code", l);
    }
    if !session.language_options.is_empty() {
        set("x-amzn-transcribe-identify-language", "true");
        set(
            "x-amzn-transcribe-language-options",
            &session.language_options.join(","),
        );
    }
    Ok(resp)
}
