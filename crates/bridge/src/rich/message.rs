//! The WhatsApp message bodies rendering produces: a text, or interactive buttons or a list, in the
//! Meta Cloud API's shape, without the recipient the sender adds.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Meta Cloud API message body without `to` and `messaging_product`, which the sender adds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum WhatsappMessage {
    Text { text: MessageText },
    Interactive { interactive: InteractiveBody },
}

impl WhatsappMessage {
    pub fn text(body: impl Into<String>) -> Self {
        let body = body.into();
        WhatsappMessage::Text {
            text: MessageText {
                preview_url: body.contains("https://") || body.contains("http://"),
                body,
            },
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageText {
    pub body: String,
    #[serde(default)]
    pub preview_url: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum InteractiveBody {
    Button {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: BodyText,
        action: ButtonAction,
    },
    List {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<Header>,
        body: BodyText,
        action: ListAction,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Header {
    Text { text: String },
    Image { image: MediaLink },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaLink {
    pub link: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyText {
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonAction {
    pub buttons: Vec<ReplyButton>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyButton {
    /// Always `reply`.
    #[serde(rename = "type")]
    pub kind: String,
    pub reply: ButtonReply,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ButtonReply {
    pub id: String,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListAction {
    pub button: String,
    pub sections: Vec<Section>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Section {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Row {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}
