//! The media bucket in memory: objects by `bucket/key`, read back in chunks as S3 streams them.

use super::{Faults, capped_chunks, gather};
use crate::media::ports::{Capped, FileStream, ObjectStore, StoredObject};
use crate::ports::PortResult;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// `bucket/key` → (content type, bytes).
type Objects = BTreeMap<String, (String, Vec<u8>)>;

/// The bucket; clones share it.
#[derive(Clone, Default)]
pub struct FakeObjectStore {
    objects: Arc<Mutex<Objects>>,
    /// How many chunks each put's body arrived in.
    put_chunks: Arc<Mutex<Vec<usize>>>,
    faults: Arc<Faults>,
}

impl FakeObjectStore {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Every object's `bucket/key`, in order.
    pub fn keys(&self) -> Vec<String> {
        self.objects.lock().unwrap().keys().cloned().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.lock().unwrap().is_empty()
    }

    /// How many chunks each body put so far arrived in: more than one means it was passed on as it
    /// was read, not gathered first.
    pub fn put_chunks(&self) -> Vec<usize> {
        self.put_chunks.lock().unwrap().clone()
    }
}

impl ObjectStore for FakeObjectStore {
    async fn put(&self, bucket: &str, key: &str, content_type: &str, body: FileStream) -> PortResult<()> {
        let answer = self.faults.enter("put").await?;
        let (bytes, chunks) = gather(body).await?;
        self.put_chunks.lock().unwrap().push(chunks);
        self.objects
            .lock()
            .unwrap()
            .insert(format!("{bucket}/{key}"), (content_type.to_owned(), bytes));
        answer.give(Ok(()))
    }

    async fn get(&self, bucket: &str, key: &str, max_bytes: u64) -> PortResult<Option<Capped<StoredObject>>> {
        let answer = self.faults.enter("get").await?;
        let objects = self.objects.lock().unwrap();
        let found = objects.get(&format!("{bucket}/{key}")).map(|(content_type, bytes)| {
            match capped_chunks(bytes, max_bytes) {
                Capped::Within(body) => Capped::Within(StoredObject {
                    content_type: Some(content_type.clone()),
                    body,
                }),
                Capped::Over { size } => Capped::Over { size },
            }
        });
        answer.give(Ok(found))
    }

    async fn delete(&self, bucket: &str, key: &str) -> PortResult<()> {
        let answer = self.faults.enter("delete").await?;
        self.objects.lock().unwrap().remove(&format!("{bucket}/{key}"));
        answer.give(Ok(()))
    }

    async fn list(&self, bucket: &str, prefix: &str) -> PortResult<Vec<String>> {
        let answer = self.faults.enter("list").await?;
        let full = format!("{bucket}/{prefix}");
        let keys = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with(&full))
            .map(|k| k[bucket.len() + 1..].to_owned())
            .collect();
        answer.give(Ok(keys))
    }
}
