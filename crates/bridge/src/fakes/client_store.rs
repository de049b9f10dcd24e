//! Client records in memory, with the rules of the DynamoDB adapter: a principal acts as one client
//! only, and requests are counted by [`throttle`] under one lock, on clients that have a record.

use super::Faults;
use crate::error::{FailureKind, PortError};
use crate::handoff::auth::store::ClientStore;
use crate::handoff::auth::{ClientId, ClientRecord, IamPrincipal, Throttle, Window, throttle};
use crate::handoff::dispatch::EndpointStore;
use crate::handoff::webhook::endpoint::WebhookEndpoint;
use crate::ports::PortResult;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The in-memory client items; clones share them.
#[derive(Clone, Default)]
pub struct FakeClientStore {
    table: Arc<Mutex<Table>>,
    faults: Arc<Faults>,
}

#[derive(Default)]
struct Table {
    clients: HashMap<ClientId, ClientRecord>,
    windows: HashMap<ClientId, Window>,
    webhooks: HashMap<String, WebhookEndpoint>,
}

impl FakeClientStore {
    pub fn faults(&self) -> &Faults {
        &self.faults
    }
}

impl ClientStore for FakeClientStore {
    async fn load_client(&self, id: &ClientId) -> PortResult<Option<ClientRecord>> {
        let answer = self.faults.enter("load_client").await?;
        let found = self.table.lock().unwrap().clients.get(id).cloned();
        answer.give(Ok(found))
    }

    async fn client_of(&self, principal: &IamPrincipal) -> PortResult<Option<ClientRecord>> {
        let answer = self.faults.enter("client_of").await?;
        let table = self.table.lock().unwrap();
        let found = table
            .clients
            .values()
            .find(|record| record.iam_principals.contains(principal))
            .cloned();
        answer.give(Ok(found))
    }

    async fn count_request(&self, record: &ClientRecord, now_ms: u64) -> PortResult<Throttle> {
        let answer = self.faults.enter("count_request").await?;
        let mut table = self.table.lock().unwrap();
        // The counter lives on the client's item, which an update does not make up.
        if !table.clients.contains_key(&record.id) {
            return answer.give(Err(PortError::new(
                FailureKind::Rejected,
                "UpdateItem",
                "no such client",
            )));
        }
        let decided = throttle(
            record.requests_per_second,
            table.windows.get(&record.id).copied(),
            now_ms,
        );
        if let Throttle::Allowed(window) = decided {
            table.windows.insert(record.id.clone(), window);
        }
        answer.give(Ok(decided))
    }

    async fn put_client(&self, record: &ClientRecord) -> PortResult<()> {
        let answer = self.faults.enter("put_client").await?;
        let mut table = self.table.lock().unwrap();
        let taken = table.clients.values().any(|other| {
            other.id != record.id && other.iam_principals.iter().any(|p| record.iam_principals.contains(p))
        });
        let put = if taken {
            Err(PortError::new(
                FailureKind::Conflict,
                "TransactWriteItems",
                "an IAM principal acts as another client",
            ))
        } else {
            table.clients.insert(record.id.clone(), record.clone());
            Ok(())
        };
        answer.give(put)
    }
}

impl EndpointStore for FakeClientStore {
    async fn load_webhook(&self, client: &str) -> PortResult<Option<WebhookEndpoint>> {
        let answer = self.faults.enter("load_webhook").await?;
        let found = self.table.lock().unwrap().webhooks.get(client).cloned();
        answer.give(Ok(found))
    }

    async fn put_webhook(&self, client: &str, endpoint: &WebhookEndpoint) -> PortResult<()> {
        let answer = self.faults.enter("put_webhook").await?;
        self.table
            .lock()
            .unwrap()
            .webhooks
            .insert(client.to_owned(), endpoint.clone());
        answer.give(Ok(()))
    }
}
