//! Transcribe streaming in memory: one answer for every recording, and the recordings it was given.

use super::Faults;
use crate::media::ports::{TranscribeLanguage, Transcriber};
use crate::ports::PortResult;
use std::sync::{Arc, Mutex};

/// Hears `transcript` in whatever it is given (script failures with [`Faults`], as `transcribe`).
#[derive(Clone, Default)]
pub struct FakeTranscriber {
    transcript: Arc<Mutex<String>>,
    heard: Arc<Mutex<Vec<Vec<u8>>>>,
    faults: Arc<Faults>,
}

impl FakeTranscriber {
    pub fn hearing(transcript: &str) -> Self {
        let fake = Self::default();
        fake.now_hearing(transcript);
        fake
    }

    /// Hears `transcript` from now on.
    pub fn now_hearing(&self, transcript: &str) {
        *self.transcript.lock().unwrap() = transcript.to_owned();
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The recordings it was given, oldest first.
    pub fn heard(&self) -> Vec<Vec<u8>> {
        self.heard.lock().unwrap().clone()
    }
}

impl Transcriber for FakeTranscriber {
    async fn transcribe_ogg_opus(&self, audio: &[u8], _language: &TranscribeLanguage) -> PortResult<String> {
        let answer = self.faults.enter("transcribe").await?;
        self.heard.lock().unwrap().push(audio.to_vec());
        answer.give(Ok(self.transcript.lock().unwrap().clone()))
    }
}
