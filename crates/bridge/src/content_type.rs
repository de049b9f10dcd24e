//! Connect's content types, in one place: what the bridge sends to Connect and what it reads in
//! Connect's stream.

pub const TEXT_PLAIN: &str = "text/plain";
pub const TEXT_MARKDOWN: &str = "text/markdown";
/// An interactive template (ListPicker, Panel, …) a flow or bot sends.
pub const INTERACTIVE: &str = "application/vnd.amazonaws.connect.message.interactive";
/// The reply Connect's widget sends for ListPicker pagination.
pub const INTERACTIVE_RESPONSE: &str = "application/vnd.amazonaws.connect.message.interactive.response";
/// Every event's content type starts with this.
pub const EVENT_PREFIX: &str = "application/vnd.amazonaws.connect.event.";
/// Connect's receipt events for what the agent sent.
pub const DELIVERED_EVENT: &str = "application/vnd.amazonaws.connect.event.message.delivered";
pub const READ_EVENT: &str = "application/vnd.amazonaws.connect.event.message.read";
/// A participant is typing.
pub const TYPING_EVENT: &str = "application/vnd.amazonaws.connect.event.typing";
