//! The Participant Service's attachment API in memory: uploads started once per client token, checked
//! against their ticket and declared size (a PUT that breaks it, or comes after the upload was
//! completed, is refused, as S3 refuses it), every file of the chat (the
//! agents' and the completed uploads) to download, and the notes sent into the chat, once per client
//! token.

use super::{Faults, capped_chunks, gather};
use crate::error::{FailureKind, PortError};
use crate::ids::ConnectionToken;
use crate::media::ports::{AttachmentLink, Capped, ChatAttachments, FileStream, UploadTicket};
use crate::ports::PortResult;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A file in the chat: (name, content type, bytes).
pub type File = (String, String, Vec<u8>);

/// An upload started: what its ticket declared, and the bytes once they were PUT.
struct Upload {
    name: String,
    content_type: String,
    size: usize,
    bytes: Option<Vec<u8>>,
}

/// A chat's attachments; clones share them.
#[derive(Clone, Default)]
pub struct FakeAttachments {
    /// Every file in the chat (the agents' and the uploads completed), by attachment id.
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    /// Uploads not completed yet, by attachment id; `started` counts them all, for their ids.
    pending: Arc<Mutex<HashMap<String, Upload>>>,
    started: Arc<Mutex<usize>>,
    attached: Arc<Mutex<Vec<File>>>,
    /// How many chunks each PUT's body arrived in.
    put_chunks: Arc<Mutex<Vec<usize>>>,
    /// (text, client token) of each note.
    texts: Arc<Mutex<Vec<(String, String)>>>,
    /// Each upload's ticket by the client token it was started with: a repeat gets it again.
    tickets: Arc<Mutex<HashMap<String, UploadTicket>>>,
    faults: Arc<Faults>,
}

/// When every link the fake gives expires.
pub const LINK_EXPIRY: &str = "2030-01-01T00:00:00.000Z";

/// A refusal of a call as the Participant Service (or S3 behind its upload URL) answers it.
fn refused(operation: &'static str, detail: &str) -> PortError {
    PortError::new(FailureKind::Rejected, operation, detail)
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
        client_token: &str,
    ) -> PortResult<UploadTicket> {
        let answer = self.faults.enter("start_upload").await?;
        if let Some(ticket) = self.tickets.lock().unwrap().get(client_token) {
            return answer.give(Ok(ticket.clone()));
        }
        let id = {
            let mut started = self.started.lock().unwrap();
            *started += 1;
            format!("att{started}")
        };
        let upload = Upload {
            name: name.to_owned(),
            content_type: content_type.to_owned(),
            size: usize::try_from(size).expect("a size that fits in memory"),
            bytes: None,
        };
        self.pending.lock().unwrap().insert(id.clone(), upload);
        let ticket = UploadTicket {
            attachment_id: id.clone(),
            url: format!("http://upload/{id}"),
            headers: BTreeMap::from([("Content-Type".to_owned(), content_type.to_owned())]),
        };
        self.tickets
            .lock()
            .unwrap()
            .insert(client_token.to_owned(), ticket.clone());
        answer.give(Ok(ticket))
    }

    async fn put_file(&self, ticket: &UploadTicket, body: FileStream) -> PortResult<()> {
        const OP: &str = "AttachmentUpload";
        let answer = self.faults.enter("put_file").await?;
        let (bytes, chunks) = gather(body).await?;
        self.put_chunks.lock().unwrap().push(chunks);
        let mut pending = self.pending.lock().unwrap();
        let upload = pending
            .get_mut(&ticket.attachment_id)
            .ok_or_else(|| refused(OP, "HTTP 403"))?;
        // The presigned URL is signed for the ticket's headers and declared size, as S3 checks them.
        if ticket.headers.get("Content-Type") != Some(&upload.content_type) {
            return Err(refused(OP, "HTTP 403"));
        }
        if bytes.len() != upload.size {
            return Err(refused(OP, "HTTP 400"));
        }
        upload.bytes = Some(bytes);
        answer.give(Ok(()))
    }

    async fn complete(&self, _token: &ConnectionToken, attachment_id: &str, _client_token: &str) -> PortResult<()> {
        let answer = self.faults.enter("complete").await?;
        let mut pending = self.pending.lock().unwrap();
        let Some(Upload {
            name,
            content_type,
            bytes: Some(bytes),
            ..
        }) = pending.remove(attachment_id)
        else {
            return Err(refused("CompleteAttachmentUpload", "ValidationException"));
        };
        self.files
            .lock()
            .unwrap()
            .insert(attachment_id.to_owned(), bytes.clone());
        self.attached.lock().unwrap().push((name, content_type, bytes));
        answer.give(Ok(()))
    }

    async fn send_text(&self, _token: &ConnectionToken, text: &str, client_token: &str) -> PortResult<()> {
        let answer = self.faults.enter("send_text").await?;
        let mut texts = self.texts.lock().unwrap();
        // SendMessage: a client token already used in the chat sends nothing new.
        if !texts.iter().any(|(_, t)| t == client_token) {
            texts.push((text.to_owned(), client_token.to_owned()));
        }
        answer.give(Ok(()))
    }

    async fn link(&self, _token: &ConnectionToken, attachment_id: &str) -> PortResult<AttachmentLink> {
        let answer = self.faults.enter("link").await?;
        let size = self
            .files
            .lock()
            .unwrap()
            .get(attachment_id)
            .map(|bytes| bytes.len() as u64)
            .ok_or_else(|| refused("GetAttachment", "ValidationException"))?;
        answer.give(Ok(AttachmentLink {
            url: format!("https://attachments.example/{attachment_id}"),
            expires_at: LINK_EXPIRY.to_owned(),
            size,
        }))
    }

    async fn download(
        &self,
        _token: &ConnectionToken,
        attachment_id: &str,
        max_bytes: u64,
    ) -> PortResult<Capped<FileStream>> {
        let answer = self.faults.enter("download").await?;
        let files = self.files.lock().unwrap();
        let bytes = files
            .get(attachment_id)
            .ok_or_else(|| refused("GetAttachment", "ValidationException"))?;
        answer.give(Ok(capped_chunks(bytes, max_bytes)))
    }
}
