//! The Participant Service's attachment API in memory: uploads checked against their ticket and
//! declared size, the agents' files to download, and the notes sent into the chat.

use super::{Faults, gather, in_chunks};
use crate::ids::ConnectionToken;
use crate::media::ports::{Capped, ChatAttachments, FileStream, UploadTicket};
use crate::ports::PortResult;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A file in the chat: (name, content type, bytes).
pub type File = (String, String, Vec<u8>);

/// A chat's attachments; clones share them.
#[derive(Clone, Default)]
pub struct FakeAttachments {
    /// The agents' files, by attachment id.
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    pending: Arc<Mutex<HashMap<String, File>>>,
    attached: Arc<Mutex<Vec<File>>>,
    /// How many chunks each PUT's body arrived in.
    put_chunks: Arc<Mutex<Vec<usize>>>,
    /// (text, client token) of each note.
    texts: Arc<Mutex<Vec<(String, String)>>>,
    faults: Arc<Faults>,
}

impl FakeAttachments {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// An agent's file in the chat, to be downloaded by its attachment id.
    pub fn add_file(&self, attachment_id: &str, bytes: &[u8]) {
        self.files
            .lock()
            .unwrap()
            .insert(attachment_id.to_owned(), bytes.to_vec());
    }

    /// The files attached (upload completed), oldest first.
    pub fn attached(&self) -> Vec<File> {
        self.attached.lock().unwrap().clone()
    }

    /// How many chunks each uploaded body arrived in.
    pub fn put_chunks(&self) -> Vec<usize> {
        self.put_chunks.lock().unwrap().clone()
    }

    /// (text, client token) of each note sent into the chat, oldest first.
    pub fn texts(&self) -> Vec<(String, String)> {
        self.texts.lock().unwrap().clone()
    }
}

impl ChatAttachments for FakeAttachments {
    async fn start_upload(
        &self,
        _token: &ConnectionToken,
        name: &str,
        content_type: &str,
        size: u64,
        _client_token: &str,
    ) -> PortResult<UploadTicket> {
        let answer = self.faults.enter("start_upload").await?;
        let mut pending = self.pending.lock().unwrap();
        let id = format!("att{}", pending.len());
        let declared = vec![0; usize::try_from(size).expect("a size that fits in memory")];
        pending.insert(id.clone(), (name.to_owned(), content_type.to_owned(), declared));
        answer.give(Ok(UploadTicket {
            attachment_id: id.clone(),
            url: format!("http://upload/{id}"),
            headers: BTreeMap::from([("Content-Type".to_owned(), content_type.to_owned())]),
        }))
    }

    async fn put_file(&self, ticket: &UploadTicket, body: FileStream) -> PortResult<()> {
        let answer = self.faults.enter("put_file").await?;
        let (bytes, chunks) = gather(body).await?;
        self.put_chunks.lock().unwrap().push(chunks);
        let mut pending = self.pending.lock().unwrap();
        let entry = pending.get_mut(&ticket.attachment_id).expect("a started upload");
        assert_eq!(ticket.headers["Content-Type"], entry.1, "PUT with the ticket's headers");
        assert_eq!(entry.2.len(), bytes.len(), "the declared size");
        entry.2 = bytes;
        answer.give(Ok(()))
    }

    async fn complete(&self, _token: &ConnectionToken, attachment_id: &str, _client_token: &str) -> PortResult<()> {
        let answer = self.faults.enter("complete").await?;
        let file = self
            .pending
            .lock()
            .unwrap()
            .remove(attachment_id)
            .expect("a started upload");
        self.attached.lock().unwrap().push(file);
        answer.give(Ok(()))
    }

    async fn send_text(&self, _token: &ConnectionToken, text: &str, client_token: &str) -> PortResult<()> {
        let answer = self.faults.enter("send_text").await?;
        self.texts
            .lock()
            .unwrap()
            .push((text.to_owned(), client_token.to_owned()));
        answer.give(Ok(()))
    }

    async fn download(
        &self,
        _token: &ConnectionToken,
        attachment_id: &str,
        max_bytes: u64,
    ) -> PortResult<Capped<FileStream>> {
        let answer = self.faults.enter("download").await?;
        let files = self.files.lock().unwrap();
        let bytes = files.get(attachment_id).expect("an agent's file in the chat");
        let body = if bytes.len() as u64 > max_bytes {
            Capped::Over {
                size: bytes.len() as u64,
            }
        } else {
            Capped::Within(in_chunks(bytes))
        };
        answer.give(Ok(body))
    }
}
