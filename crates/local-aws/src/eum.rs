//! The simulated AWS End User Messaging Social side: inbound WhatsApp webhooks and outbound sends.
//!
//! Inbound, it turns a Meta message/status object into the exact three-layer document EUM
//! publishes to its SNS event destination (header → `whatsAppWebhookEntry` string → Meta entry),
//! filling the fields Meta would (`from`, `id`, `timestamp`, `recipient_id`). Outbound, it
//! validates SendWhatsAppMessage the way the service does and records what was "sent to Meta" so
//! tests can assert on it. Building and validating are pure functions; the control API and the
//! wire layer own delivery and storage.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::config::{BusinessNumber, TwinConfig};
use crate::error::ApiError;
use crate::time::{iso_millis, rfc3339_nanos};

/// A unique Meta message id (`wamid.` + base64, like Meta's).
pub fn new_wamid(wa_id: &str) -> String {
    let raw = format!("{wa_id}{}", uuid::Uuid::new_v4().simple().to_string().to_uppercase());
    format!("wamid.{}", base64::engine::general_purpose::STANDARD.encode(raw))
}

/// The SNS `Message` EUM publishes for one Meta `value` (messages or statuses).
pub fn eum_message(cfg: &TwinConfig, number: &BusinessNumber, value: Value, now_nanos: u64) -> String {
    let entry = json!({
        "id": number.waba_id,
        "changes": [ { "value": value, "field": "messages" } ],
    });
    json!({
        "context": {
            "MetaWabaIds": [ {
                "wabaId": number.waba_id,
                "arn": number.waba_arn(&cfg.region, &cfg.account_id),
            } ],
            "MetaPhoneNumberIds": [ {
                "metaPhoneNumberId": number.meta_phone_number_id,
                "arn": number.arn(&cfg.region, &cfg.account_id),
            } ],
        },
        "whatsAppWebhookEntry": entry.to_string(),
        "aws_account_id": cfg.account_id,
        "message_timestamp": rfc3339_nanos(now_nanos),
    })
    .to_string()
}

fn metadata(number: &BusinessNumber) -> Value {
    json!({
        "display_phone_number": number.display_phone_number,
        "phone_number_id": number.meta_phone_number_id,
    })
}

/// Options the control API accepts next to the Meta object.
pub struct InboundOptions {
    pub profile_name: Option<String>,
    pub business_number: Option<String>,
    pub timestamp: Option<String>,
    /// The customer's business-scoped user id, sent alongside the phone number in the path.
    pub user_id: Option<String>,
}

/// Splits the twin's own keys out of a control-API body; the rest is the Meta object.
pub fn split_options(body: Value) -> Result<(Map<String, Value>, InboundOptions), String> {
    let Value::Object(mut obj) = body else {
        return Err("body must be a JSON object".into());
    };
    let text = |v: Option<Value>| -> Result<Option<String>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(format!("expected a string, got {other}")),
        }
    };
    let opts = InboundOptions {
        profile_name: text(obj.remove("profile_name"))?,
        business_number: text(obj.remove("business_number"))?,
        timestamp: text(obj.remove("timestamp"))?,
        user_id: text(obj.remove("user_id"))?,
    };
    Ok((obj, opts))
}

fn pick_number<'a>(cfg: &'a TwinConfig, id: Option<&str>) -> Result<&'a BusinessNumber, String> {
    match id {
        None => cfg
            .business_numbers
            .first()
            .ok_or_else(|| "no business numbers are configured".to_owned()),
        Some(id) => cfg
            .find_number(id)
            .ok_or_else(|| format!("{id} is not a configured business number")),
    }
}

/// How WhatsApp identifies the customer in a webhook: the phone number (`wa_id`), the business-scoped
/// user id, or both. The path names either: digits are a phone number (with `user_id` from the body's
/// options, if given); `CC.<alphanumerics>` is a customer who hid their number behind a username.
struct Sender {
    phone: Option<String>,
    user_id: Option<String>,
}

fn sender(id: &str, user_id: Option<&str>) -> Result<Sender, String> {
    let bsuid = |v: &str| {
        v.split_once('.').is_some_and(|(cc, rest)| {
            cc.len() == 2 && !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        })
    };
    if let Some(u) = user_id.filter(|u| !bsuid(u)) {
        return Err(format!("user_id must look like US.13491208655302741918: {u:?}"));
    }
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_digit()) {
        Ok(Sender {
            phone: Some(id.to_owned()),
            user_id: user_id.map(str::to_owned),
        })
    } else if bsuid(id) {
        Ok(Sender {
            phone: None,
            user_id: Some(id.to_owned()),
        })
    } else {
        Err(format!(
            "customer must be a wa_id (digits without '+') or a business-scoped user id: {id:?}"
        ))
    }
}

/// Builds the SNS message for a customer's inbound message; returns `(wamid, sns message)`.
pub fn inbound_message(
    cfg: &TwinConfig,
    wa_id: &str,
    message: Map<String, Value>,
    opts: &InboundOptions,
    now_nanos: u64,
) -> Result<(String, String), String> {
    let who = sender(wa_id, opts.user_id.as_deref())?;
    if !message.get("type").is_some_and(Value::is_string) {
        return Err("message needs a string \"type\" (e.g. {\"type\":\"text\",\"text\":{\"body\":\"hi\"}})".into());
    }
    let number = pick_number(cfg, opts.business_number.as_deref())?;
    let wamid = new_wamid(wa_id);
    let ts = opts
        .timestamp
        .clone()
        .unwrap_or_else(|| (now_nanos / 1_000_000_000).to_string());
    let mut full = Map::new();
    let mut contact = Map::new();
    if let Some(phone) = &who.phone {
        full.insert("from".into(), json!(phone));
        contact.insert("wa_id".into(), json!(phone));
    }
    if let Some(user_id) = &who.user_id {
        full.insert("from_user_id".into(), json!(user_id));
        contact.insert("user_id".into(), json!(user_id));
    }
    full.insert("id".into(), json!(wamid));
    full.insert("timestamp".into(), json!(ts));
    for (k, v) in message {
        if !matches!(k.as_str(), "from" | "from_user_id" | "id" | "timestamp") {
            full.insert(k, v);
        }
    }
    let last4 = &wa_id[wa_id.len().saturating_sub(4)..];
    let name = opts.profile_name.clone().unwrap_or_else(|| format!("Customer {last4}"));
    contact.insert("profile".into(), json!({ "name": name }));
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(number),
        "contacts": [ Value::Object(contact) ],
        "messages": [ Value::Object(full) ],
    });
    Ok((wamid, eum_message(cfg, number, value, now_nanos)))
}

/// Builds the SNS message for a status update; returns `(status id, sns message)`.
pub fn inbound_status(
    cfg: &TwinConfig,
    wa_id: &str,
    status: Map<String, Value>,
    opts: &InboundOptions,
    now_nanos: u64,
) -> Result<(String, String), String> {
    let who = sender(wa_id, opts.user_id.as_deref())?;
    if !status.get("status").is_some_and(Value::is_string) {
        return Err("status object needs a string \"status\" (sent|delivered|read|failed|…)".into());
    }
    let number = pick_number(cfg, opts.business_number.as_deref())?;
    let id = status
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| new_wamid(wa_id));
    let ts = opts
        .timestamp
        .clone()
        .or_else(|| status.get("timestamp").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| (now_nanos / 1_000_000_000).to_string());
    let mut full = Map::new();
    full.insert("id".into(), json!(id));
    full.insert("status".into(), status["status"].clone());
    full.insert("timestamp".into(), json!(ts));
    if let Some(phone) = &who.phone {
        full.insert("recipient_id".into(), json!(phone));
    }
    if let Some(user_id) = &who.user_id {
        full.insert("recipient_user_id".into(), json!(user_id));
    }
    for (k, v) in status {
        if !matches!(
            k.as_str(),
            "id" | "status" | "timestamp" | "recipient_id" | "recipient_user_id"
        ) {
            full.insert(k, v);
        }
    }
    let value = json!({
        "messaging_product": "whatsapp",
        "metadata": metadata(number),
        "statuses": [ Value::Object(full) ],
    });
    Ok((id, eum_message(cfg, number, value, now_nanos)))
}

/// A SendWhatsAppMessage the twin accepted.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub origination_phone_number_id: String,
    pub meta_api_version: String,
    pub message: Value,
    pub message_id: String,
    pub time_ms: u64,
    /// For media sent by id: the uploaded file (`media_id`, `mime_type`, `size`, `sha256`).
    pub media: Option<Value>,
}

impl SentMessage {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "origination_phone_number_id": self.origination_phone_number_id,
            "meta_api_version": self.meta_api_version,
            "message": self.message,
            "message_id": self.message_id,
            "time": iso_millis(self.time_ms),
        });
        if let Some(m) = &self.media {
            v["media"] = m.clone();
        }
        v
    }
}

fn valid_api_version(v: &str) -> bool {
    let Some(rest) = v.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.splitn(2, '.');
    let major = parts.next().unwrap_or("");
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    digits(major) && parts.next().is_none_or(digits)
}

/// Validates a SendWhatsAppMessage body the way EUM does beyond its model's constraints (which
/// `validate` checks first): a number of this account, Meta's API version, a WhatsApp message.
pub fn send_whatsapp_message(cfg: &TwinConfig, body: &Value, now_ms: u64) -> Result<SentMessage, ApiError> {
    let field = |name: &str| body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let origination = field("originationPhoneNumberId")
        .ok_or_else(|| ApiError::validation("originationPhoneNumberId is required"))?;
    let version = field("metaApiVersion").ok_or_else(|| ApiError::validation("metaApiVersion is required"))?;
    let blob = field("message").ok_or_else(|| ApiError::validation("message is required"))?;
    let known = cfg
        .business_numbers
        .iter()
        .any(|n| n.aws_id == origination || n.arn(&cfg.region, &cfg.account_id) == origination);
    if !known {
        return Err(ApiError::validation(format!(
            "originationPhoneNumberId {origination} is not a phone number of this account \
             (expected phone-number-id-<32 hex> or its ARN)"
        )));
    }
    if !valid_api_version(version) {
        return Err(ApiError::validation(format!(
            "metaApiVersion {version} must look like v20.0"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(blob)
        .map_err(|e| ApiError::validation(format!("message is not valid base64: {e}")))?;
    let message: Value =
        serde_json::from_slice(&bytes).map_err(|e| ApiError::validation(format!("message is not JSON: {e}")))?;
    if message.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return Err(ApiError::validation(
            "message must contain \"messaging_product\":\"whatsapp\"",
        ));
    }
    // `to` a phone number, or `recipient` a business-scoped user id (a customer with a username).
    let to = message
        .get("to")
        .or_else(|| message.get("recipient"))
        .and_then(Value::as_str)
        .unwrap_or("0");
    let digits: String = to.chars().filter(char::is_ascii_digit).collect();
    Ok(SentMessage {
        origination_phone_number_id: origination.to_owned(),
        meta_api_version: version.to_owned(),
        message,
        message_id: new_wamid(&digits),
        time_ms: now_ms,
        media: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(v: &Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(v.to_string())
    }

    #[test]
    fn inbound_message_has_three_layers() {
        let cfg = TwinConfig::default();
        let (body, opts) = split_options(json!({"type":"text","text":{"body":"hi"},"profile_name":"Sheena"})).unwrap();
        let (wamid, msg) = inbound_message(&cfg, "16505551234", body, &opts, 1_762_843_883_476_795_989).unwrap();
        let header: Value = serde_json::from_str(&msg).unwrap();
        assert_eq!(header["message_timestamp"], "2025-11-11T06:51:23.476795989Z");
        assert_eq!(
            header["context"]["MetaPhoneNumberIds"][0]["arn"],
            "arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050b1e2f3"
        );
        let entry: Value = serde_json::from_str(header["whatsAppWebhookEntry"].as_str().unwrap()).unwrap();
        let value = &entry["changes"][0]["value"];
        assert_eq!(entry["id"], "102290129340398");
        assert_eq!(value["metadata"]["phone_number_id"], "106540352242922");
        assert_eq!(value["contacts"][0]["profile"]["name"], "Sheena");
        let m = &value["messages"][0];
        assert_eq!(m["from"], "16505551234");
        assert_eq!(m["id"], wamid.as_str());
        assert_eq!(m["timestamp"], "1762843883");
        assert_eq!(m["text"]["body"], "hi");
        assert!(wamid.starts_with("wamid."));
    }

    #[test]
    fn default_profile_name_and_second_number() {
        let cfg = TwinConfig::default();
        let (body, opts) =
            split_options(json!({"type":"text","text":{"body":"x"},"business_number":"113870475123456"})).unwrap();
        let (_, msg) = inbound_message(&cfg, "5511999990000", body, &opts, 0).unwrap();
        let header: Value = serde_json::from_str(&msg).unwrap();
        let entry: Value = serde_json::from_str(header["whatsAppWebhookEntry"].as_str().unwrap()).unwrap();
        let value = &entry["changes"][0]["value"];
        assert_eq!(value["contacts"][0]["profile"]["name"], "Customer 0000");
        assert_eq!(value["metadata"]["display_phone_number"], "15550991234");
        let (body, opts) = split_options(json!({"type":"text","business_number":"999"})).unwrap();
        assert!(inbound_message(&cfg, "1", body, &opts, 0).is_err());
    }

    #[test]
    fn status_gets_recipient() {
        let cfg = TwinConfig::default();
        let (body, opts) = split_options(json!({"id":"wamid.X","status":"read"})).unwrap();
        let (id, msg) = inbound_status(&cfg, "16505551234", body, &opts, 5_000_000_000).unwrap();
        assert_eq!(id, "wamid.X");
        let header: Value = serde_json::from_str(&msg).unwrap();
        let entry: Value = serde_json::from_str(header["whatsAppWebhookEntry"].as_str().unwrap()).unwrap();
        let s = &entry["changes"][0]["value"]["statuses"][0];
        assert_eq!(s["recipient_id"], "16505551234");
        assert_eq!(s["timestamp"], "5");
        assert!(entry["changes"][0]["value"].get("messages").is_none());
    }

    #[test]
    fn send_validation() {
        let cfg = TwinConfig::default();
        let good = json!({"messaging_product":"whatsapp","to":"+16505551234","type":"text","text":{"body":"hi"}});
        let ok = |origination: &str, version: &str, msg: &Value| {
            send_whatsapp_message(
                &cfg,
                &json!({"originationPhoneNumberId":origination,"metaApiVersion":version,"message":b64(msg)}),
                0,
            )
        };
        let id = "phone-number-id-976c72a700aac43eaf573ae050b1e2f3";
        let arn = "arn:aws:social-messaging:us-east-1:123456789012:phone-number-id/976c72a700aac43eaf573ae050b1e2f3";
        assert!(ok(id, "v20.0", &good).is_ok());
        assert!(ok(arn, "v24", &good).is_ok());
        assert_eq!(
            ok("phone-number-id-0000", "v20.0", &good).unwrap_err().code,
            "ValidationException"
        );
        assert!(ok(id, "20.0", &good).is_err());
        assert!(ok(id, "v20.x", &good).is_err());
        assert!(ok(id, "v20.0", &json!({"to":"1"})).is_err());
        let sent = ok(id, "v20.0", &good).unwrap();
        assert_eq!(sent.message["text"]["body"], "hi");
        assert!(
            send_whatsapp_message(
                &cfg,
                &json!({"originationPhoneNumberId":id,"metaApiVersion":"v1","message":"%%%"}),
                0
            )
            .is_err()
        );
    }
}
