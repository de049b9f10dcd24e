//! The webhook delivery's outer ports in memory: the delivery queue (kicks and dead letters, as SQS
//! would hold them) and a bot's endpoint that answers as the test scripts it and keeps what it got.

use super::Faults;
use crate::handoff::dispatch::{DeadLetter, DeliveryQueue, Posted, Poster};
use crate::handoff::request::HandoffId;
use crate::handoff::webhook::delivery::Answer;
use crate::handoff::webhook::endpoint::WebhookUrl;
use crate::handoff::webhook::signature::Headers;
use crate::ports::PortResult;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Kicks and dead letters, oldest first; clones share them.
#[derive(Clone, Default)]
pub struct FakeDeliveryQueue {
    state: Arc<Mutex<Queued>>,
    faults: Arc<Faults>,
}

#[derive(Default)]
struct Queued {
    kicks: Vec<(HandoffId, Duration)>,
    dead_letters: Vec<DeadLetter>,
}

impl FakeDeliveryQueue {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    pub fn kicks(&self) -> Vec<(HandoffId, Duration)> {
        self.state.lock().unwrap().kicks.clone()
    }

    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.state.lock().unwrap().dead_letters.clone()
    }
}

impl DeliveryQueue for FakeDeliveryQueue {
    async fn kick(&self, id: &HandoffId, delay: Duration) -> PortResult<()> {
        let answer = self.faults.enter("kick").await?;
        self.state.lock().unwrap().kicks.push((id.clone(), delay));
        answer.give(Ok(()))
    }

    async fn dead_letter(&self, letter: &DeadLetter) -> PortResult<()> {
        let answer = self.faults.enter("dead_letter").await?;
        self.state.lock().unwrap().dead_letters.push(letter.clone());
        answer.give(Ok(()))
    }
}

/// One POST as the endpoint got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posting {
    pub url: String,
    pub headers: Headers,
    pub body: String,
    /// What the endpoint answered.
    pub answer: Answer,
}

/// A bot's endpoint: answers the scripted answers first, then 200.
#[derive(Clone, Default)]
pub struct FakePoster {
    state: Arc<Mutex<(VecDeque<Posted>, Vec<Posting>)>>,
}

impl FakePoster {
    /// The next posts get these answers, in order.
    pub fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.state
            .lock()
            .unwrap()
            .0
            .extend(answers.into_iter().map(|answer| Posted {
                answer,
                retry_after_ms: None,
            }));
    }

    pub fn postings(&self) -> Vec<Posting> {
        self.state.lock().unwrap().1.clone()
    }
}

impl Poster for FakePoster {
    async fn post(&self, url: &WebhookUrl, headers: &Headers, body: &str) -> Posted {
        let mut state = self.state.lock().unwrap();
        let posted = state.0.pop_front().unwrap_or(Posted {
            answer: Answer::Status(200),
            retry_after_ms: None,
        });
        state.1.push(Posting {
            url: url.as_str().to_owned(),
            headers: headers.clone(),
            body: body.to_owned(),
            answer: posted.answer,
        });
        posted
    }
}
