//! AWS End User Messaging Social: sending Meta message objects to WhatsApp.
//!
//! `SendWhatsAppMessage` has no idempotency token, so a message (text, interactive, or media, which
//! [`super::EumMedia`] sends through [`send_message`] too) is sent again only when that cannot
//! show the customer a message twice, or at most once more: a throttled send (which did not take
//! effect) is retried with backoff; a send that may have taken effect (no answer, a lost one, a server
//! error) is sent once more, counted as a possible duplicate; a slow answer is waited for (the client has
//! no attempt timeout), never abandoned and sent again. Read marks repeat harmlessly and keep the SDK's
//! retries.

use super::{Boxed, Resend, classify, missing, resend};
use crate::ids::OriginationId;
use crate::metrics::{self, Metric};
use crate::ports::{PortResult, Whatsapp};
use crate::whatsapp::outgoing::{OutgoingMessage, ReadMark};
use aws_sdk_socialmessaging::primitives::Blob;
use std::time::Duration;

/// Attempts at a message in all, and the pause before the first throttled one is sent again (doubling).
const SEND_ATTEMPTS: u32 = 4;
const FIRST_PAUSE: Duration = Duration::from_millis(100);

pub struct EumSender {
    client: aws_sdk_socialmessaging::Client,
    /// Without the SDK's retries and attempt timeout (see the module doc).
    sends: aws_sdk_socialmessaging::Client,
    meta_api_version: String,
}

impl EumSender {
    pub fn new(
        client: aws_sdk_socialmessaging::Client,
        sends: aws_sdk_socialmessaging::Client,
        meta_api_version: String,
    ) -> Self {
        Self {
            client,
            sends,
            meta_api_version,
        }
    }
}

impl Whatsapp for EumSender {
    async fn send(&self, from: &OriginationId, message: &OutgoingMessage) -> PortResult<String> {
        send_message(&self.sends, from, Blob::new(message.to_json()), &self.meta_api_version).await
    }

    async fn mark_read(&self, from: &OriginationId, wamid: &str, typing: bool) -> PortResult<()> {
        const OP: &str = "SendWhatsAppMessage";
        self.client
            .send_whats_app_message()
            .origination_phone_number_id(from.as_str())
            .message(Blob::new(ReadMark::new(wamid, typing).to_json()))
            .meta_api_version(&self.meta_api_version)
            .send()
            .boxed()
            .await
            .map_err(|e| classify(OP, e, false))?;
        Ok(())
    }
}

/// Sends one message to the customer with `sends` (a client without the SDK's retries and attempt
/// timeout), sending it again only as the module doc says; returns WhatsApp's message id.
pub(crate) async fn send_message(
    sends: &aws_sdk_socialmessaging::Client,
    from: &OriginationId,
    body: Blob,
    meta_api_version: &str,
) -> PortResult<String> {
    const OP: &str = "SendWhatsAppMessage";
    let mut pause = FIRST_PAUSE;
    let mut may_repeat = true;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = sends
            .send_whats_app_message()
            .origination_phone_number_id(from.as_str())
            .message(body.clone())
            .meta_api_version(meta_api_version)
            .send()
            .boxed()
            .await;
        let err = match sent {
            Ok(out) => {
                return out
                    .message_id()
                    .map(str::to_owned)
                    .ok_or_else(|| missing(OP, "messageId"));
            }
            Err(err) => err,
        };
        match resend(&err) {
            Resend::Safe if attempt < SEND_ATTEMPTS => {
                tokio::time::sleep(pause).await;
                pause *= 2;
            }
            Resend::MayRepeat if may_repeat && attempt < SEND_ATTEMPTS => {
                may_repeat = false;
                tracing::warn!(error = %classify(OP, err, false), "a message to WhatsApp may have been sent; sending it once more");
                metrics::record(&Metric::PossibleDuplicate { operation: OP });
            }
            _ => return Err(classify(OP, err, false)),
        }
    }
}
