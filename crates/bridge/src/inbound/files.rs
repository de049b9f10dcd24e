//! A customer's file after its description is in the chat: the file itself, its caption, transcript
//! or notes for the agent, and what the customer is told. What it came to is recorded on the claim, so a
//! retry neither fetches, converts and transcribes it again nor says it twice.

use super::InboundBridge;
use super::claimed::Claimed;
use crate::content_type::TEXT_PLAIN;
use crate::ids::short_hash;
use crate::media::handler::MediaHandler;
use crate::media::service::{InboundOutcome, InboundRequest};
use crate::ports::{
    ContactCenter, Conversation, ConversationState, MediaAftermath, Participant, PortResult, Said, StateStore, Step,
    Whatsapp,
};
use crate::rounds::behind;
use crate::whatsapp::Media;
use crate::whatsapp::outgoing::OutgoingMessage;
use crate::wording::{Arg, Text, Wording};

/// What a customer's file came to, as a retry needs it: the texts for the chat, then what the customer is
/// told (a notice about the file, and their transcript if it is echoed).
pub(super) fn aftermath_of(w: &Wording, outcome: &InboundOutcome, echo_transcript: bool) -> MediaAftermath {
    let echo = outcome
        .transcript_text()
        .filter(|_| echo_transcript)
        .map(|text| w.word(Text::TranscriptEcho, &[("transcript", Arg::from(text))]));
    MediaAftermath {
        chat_texts: outcome.chat_texts(w),
        customer_texts: outcome.customer_notice.iter().cloned().chain(echo).collect(),
    }
}

impl<S: StateStore, C: ContactCenter, P: Participant, W: Whatsapp> InboundBridge<S, C, P, W> {
    /// After the description went in: the file itself, then its caption, transcript or notes; the
    /// customer hears about what did not reach the agent (and, if configured, their transcript). What the
    /// file came to is recorded before anything is said about it, so a retry neither fetches, converts and
    /// transcribes it again nor repeats what the customer was told.
    pub(super) async fn deliver_media(
        &self,
        claimed: &Claimed<'_>,
        file: &Media,
        media: &dyn MediaHandler,
    ) -> PortResult<()> {
        let (key, origination, message) = (claimed.key, claimed.origination, claimed.message);
        let Some(Conversation {
            state: ConversationState::Active(chat),
            ..
        }) = self.store.load_conversation(key).await?.conversation
        else {
            return Ok(());
        };
        let chat = self.fresh(key, &chat).await?;
        let route = self.route(key);
        let aftermath = match &claimed.progress.media {
            Some(recorded) => recorded.clone(),
            None => {
                let prefix = format!("inbound/{}/", key.digest());
                let request = InboundRequest {
                    origination,
                    token: &chat.connection_token,
                    media: file,
                    prefix: &prefix,
                    wamid: message.wamid.as_str(),
                    wording: &route.wording,
                    transcribe: route.transcribe.as_ref(),
                };
                match media.inbound(request).await {
                    Ok(outcome) => aftermath_of(&route.wording, &outcome, media.settings().echo_transcript),
                    Err(e) if e.is_retryable() => return Err(e),
                    // WhatsApp no longer has the file (or refuses it): the description is in; say so once.
                    Err(e) => {
                        tracing::warn!(error = %e, "customer's media could not be fetched");
                        let note = route.wording.word(Text::FileNotRetrieved, &[]);
                        // The caption was left out of the description: it still reaches the agent.
                        let caption = file.caption.clone().filter(|c| !c.trim().is_empty());
                        MediaAftermath {
                            chat_texts: std::iter::once(note).chain(caption).collect(),
                            customer_texts: Vec::new(),
                        }
                    }
                }
            }
        };
        let chat_texts = async {
            for (i, text) in aftermath.chat_texts.iter().enumerate() {
                let client_token = short_hash(&format!("{}#{}#media{i}", message.wamid, chat.contact_id));
                self.send(key, &chat, TEXT_PLAIN, text, &client_token, 0).await?;
            }
            PortResult::Ok(())
        };
        // Recorded beside the chat texts (which Connect deduplicates anyway), not before them: one round
        // less, and still before anything is said to the customer.
        let record = async {
            if claimed.progress.media.is_none() {
                self.remember(claimed, Step::Media(&aftermath)).await;
            }
        };
        let (sent, ()) = tokio::join!(chat_texts, behind(record));
        sent?;
        for (i, text) in aftermath.customer_texts.iter().enumerate() {
            let outgoing = OutgoingMessage::text(message.reply_to(), text.clone());
            self.say(claimed, Said::MediaReply(i), &outgoing).await?;
        }
        Ok(())
    }
}
