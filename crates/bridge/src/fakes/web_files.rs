//! The web as the Handoff API fetches bots' files from it: files served at URLs a test puts, every
//! other URL answered 404, each fetch recorded.

use super::{Faults, capped_chunks};
use crate::error::{FailureKind, PortError};
use crate::media::ports::{Capped, FileStream, WebFiles};
use crate::ports::PortResult;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Files by URL; clones share them.
#[derive(Clone, Default)]
pub struct FakeWebFiles {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    fetched: Arc<Mutex<Vec<String>>>,
    faults: Arc<Faults>,
}

impl FakeWebFiles {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Serves `bytes` at `url`.
    pub fn serve(&self, url: &str, bytes: &[u8]) {
        self.files.lock().unwrap().insert(url.to_owned(), bytes.to_vec());
    }

    /// The URLs fetched, oldest first.
    pub fn fetched(&self) -> Vec<String> {
        self.fetched.lock().unwrap().clone()
    }
}

impl WebFiles for FakeWebFiles {
    async fn fetch(&self, url: &str, max_bytes: u64) -> PortResult<Capped<FileStream>> {
        let answer = self.faults.enter("fetch").await?;
        self.fetched.lock().unwrap().push(url.to_owned());
        let files = self.files.lock().unwrap();
        let bytes = files
            .get(url)
            .ok_or_else(|| PortError::new(FailureKind::Rejected, "FileDownload", "HTTP 404"))?;
        answer.give(Ok(capped_chunks(bytes, max_bytes)))
    }
}
