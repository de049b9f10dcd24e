//! The client store's contract: each case runs on the in-memory fake (`bridge::fakes::FakeClientStore`)
//! and on the DynamoDB adapter against moto, which is the truth. The cases: a record comes back as
//! written, keys and principals included; a principal acts as one client only, and is found for it; a
//! rotated key is written and read back; requests are counted to the limit, then refused until the next
//! second; and instances counting at once grant the limit and not one request more.

use bridge::aws::DynamoClientStore;
use bridge::fakes::FakeClientStore;
use bridge::handoff::auth::store::ClientStore;
use local_aws::Stack;
use std::sync::Arc;

// Each test file uses part of it.
#[allow(dead_code, unused_macros)]
#[macro_use]
mod twin;

/// A store, shared with the tasks a case spawns, and the stack its adapter talks to (kept alive for
/// the case).
pub struct Backend<S> {
    store: Arc<S>,
    _stack: Option<Stack>,
}

fn fake() -> Backend<FakeClientStore> {
    Backend {
        store: Arc::default(),
        _stack: None,
    }
}

async fn on_moto() -> Option<Backend<DynamoClientStore>> {
    let stack = twin::stack().await?;
    let client = aws_sdk_dynamodb::Client::new(&twin::sdk_config(stack.moto_url()?));
    Some(Backend {
        store: Arc::new(DynamoClientStore::new(client, "whatsapp-bridge-state".into())),
        _stack: Some(stack),
    })
}

mod cases {
    use super::{Backend, ClientStore};
    use bridge::error::FailureKind;
    use bridge::handoff::auth::{ApiKey, ClientId, ClientRecord, IamPrincipal, StoredKey, Throttle, Window};
    use std::num::NonZeroU32;
    use std::sync::Arc;

    /// 2026-12-07T00:00:00Z, and a request 300 ms into that second.
    const T0_S: u64 = 1_796_601_600;
    const T0_MS: u64 = T0_S * 1000 + 300;
    const HOUR_MS: u64 = 3_600_000;

    fn id(raw: &str) -> ClientId {
        ClientId::parse(raw).unwrap()
    }

    fn key(client: &str, byte: u8) -> ApiKey {
        ApiKey::mint(&id(client), &[byte; 32])
    }

    fn role(name: &str) -> IamPrincipal {
        IamPrincipal::parse(&format!("arn:aws:iam::123456789012:role/bots/{name}")).unwrap()
    }

    /// A role's session, as API Gateway names the caller.
    fn session(name: &str) -> IamPrincipal {
        IamPrincipal::caller(&format!("arn:aws:sts::123456789012:assumed-role/{name}/i-0abc")).unwrap()
    }

    fn record(client: &str, principals: Vec<IamPrincipal>, rps: u32) -> ClientRecord {
        ClientRecord {
            id: id(client),
            keys: vec![StoredKey {
                hash: key(client, 1).hash(),
                created_ms: T0_MS - HOUR_MS,
                expires_ms: None,
            }],
            iam_principals: principals,
            requests_per_second: NonZeroU32::new(rps).unwrap(),
            disabled: false,
        }
    }

    pub async fn a_record_round_trips_with_its_keys_and_principals<S: ClientStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let user = IamPrincipal::parse("arn:aws:iam::123456789012:user/ops/deploy").unwrap();
        let mut acme = record("acme-bot", vec![role("AcmeBot"), user.clone()], 7);
        acme.keys.insert(
            0,
            StoredKey {
                hash: key("acme-bot", 2).hash(),
                created_ms: T0_MS - 2 * HOUR_MS,
                expires_ms: Some(T0_MS + HOUR_MS),
            },
        );
        assert_eq!(store.load_client(&acme.id).await.unwrap(), None);
        store.put_client(&acme).await.unwrap();
        assert_eq!(store.load_client(&acme.id).await.unwrap(), Some(acme.clone()));
        assert_eq!(store.client_of(&session("AcmeBot")).await.unwrap(), Some(acme.clone()));
        assert_eq!(store.client_of(&user).await.unwrap(), Some(acme.clone()));
        assert_eq!(store.client_of(&session("OtherBot")).await.unwrap(), None);
        assert_eq!(store.load_client(&id("other-bot")).await.unwrap(), None);

        let disabled = ClientRecord {
            disabled: true,
            requests_per_second: NonZeroU32::new(1).unwrap(),
            ..acme.clone()
        };
        store.put_client(&disabled).await.unwrap();
        assert_eq!(store.load_client(&acme.id).await.unwrap(), Some(disabled.clone()));
        assert_eq!(store.client_of(&session("AcmeBot")).await.unwrap(), Some(disabled));
    }

    pub async fn a_principal_acts_as_one_client_only<S: ClientStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let acme = record("acme-bot", vec![role("AcmeBot")], 5);
        store.put_client(&acme).await.unwrap();

        let thief = record("other-bot", vec![role("OtherBot"), role("AcmeBot")], 5);
        let refused = store.put_client(&thief).await.unwrap_err();
        assert_eq!(refused.kind, FailureKind::Conflict, "{refused}");
        assert_eq!(
            store.load_client(&thief.id).await.unwrap(),
            None,
            "nothing of it written"
        );
        assert_eq!(store.client_of(&session("OtherBot")).await.unwrap(), None);
        assert_eq!(store.client_of(&session("AcmeBot")).await.unwrap(), Some(acme.clone()));

        let other = record("other-bot", vec![role("OtherBot")], 5);
        store.put_client(&other).await.unwrap();
        assert_eq!(
            store.client_of(&session("OtherBot")).await.unwrap(),
            Some(other.clone())
        );

        // Once acme no longer names the role, it is free for another client.
        let acme_without = ClientRecord {
            iam_principals: vec![],
            ..acme.clone()
        };
        store.put_client(&acme_without).await.unwrap();
        assert_eq!(store.client_of(&session("AcmeBot")).await.unwrap(), None);
        let other_with = ClientRecord {
            iam_principals: vec![role("OtherBot"), role("AcmeBot")],
            ..other
        };
        store.put_client(&other_with).await.unwrap();
        assert_eq!(
            store.client_of(&session("AcmeBot")).await.unwrap(),
            Some(other_with.clone())
        );
        assert_eq!(store.load_client(&acme.id).await.unwrap(), Some(acme_without));
        let refused = store.put_client(&acme).await.unwrap_err();
        assert_eq!(refused.kind, FailureKind::Conflict, "{refused}");
    }

    pub async fn a_rotation_is_written_and_read_back<S: ClientStore>(backend: &Backend<S>) {
        let store = &backend.store;
        let acme = record("acme-bot", vec![], 5);
        store.put_client(&acme).await.unwrap();

        let mut rotated = store.load_client(&acme.id).await.unwrap().unwrap();
        rotated.rotate(key("acme-bot", 2).hash(), T0_MS, HOUR_MS);
        store.put_client(&rotated).await.unwrap();
        let stored = store.load_client(&acme.id).await.unwrap().unwrap();
        assert_eq!(stored, rotated);
        let (old, new) = (key("acme-bot", 1).hash(), key("acme-bot", 2).hash());
        assert_eq!(stored.admits(&old, T0_MS + HOUR_MS - 1), Ok(()));
        assert_eq!(stored.admits(&new, T0_MS + HOUR_MS), Ok(()));
        assert!(stored.admits(&old, T0_MS + HOUR_MS).is_err(), "the overlap is over");

        // A leak: rotated again with no overlap, only the newest key works.
        let mut revoked = stored;
        revoked.rotate(key("acme-bot", 3).hash(), T0_MS + 1000, 0);
        store.put_client(&revoked).await.unwrap();
        let stored = store.load_client(&acme.id).await.unwrap().unwrap();
        assert_eq!(stored, revoked);
        assert!(stored.admits(&new, T0_MS + 1000).is_err());
        assert_eq!(stored.admits(&key("acme-bot", 3).hash(), T0_MS + 1000), Ok(()));
    }

    pub async fn requests_are_counted_to_the_limit_then_limited_until_the_next_second<S: ClientStore>(
        backend: &Backend<S>,
    ) {
        let store = &backend.store;
        let acme = record("acme-bot", vec![], 3);
        store.put_client(&acme).await.unwrap();
        let allowed = |start_s, count| Throttle::Allowed(Window { start_s, count });

        for (at, count) in [(T0_MS, 1), (T0_MS + 100, 2), (T0_MS + 600, 3)] {
            assert_eq!(store.count_request(&acme, at).await.unwrap(), allowed(T0_S, count));
        }
        assert_eq!(
            store.count_request(&acme, T0_MS + 650).await.unwrap(),
            Throttle::Limited { retry_after_secs: 1 }
        );
        // Rewriting the record (a rotation) leaves its window as it is.
        let mut rotated = acme.clone();
        rotated.rotate(key("acme-bot", 2).hash(), T0_MS, HOUR_MS);
        store.put_client(&rotated).await.unwrap();
        assert_eq!(
            store.count_request(&rotated, T0_MS + 699).await.unwrap(),
            Throttle::Limited { retry_after_secs: 1 }
        );

        assert_eq!(
            store.count_request(&acme, T0_MS + 700).await.unwrap(),
            allowed(T0_S + 1, 1)
        );
        assert_eq!(
            store.count_request(&acme, T0_MS + 900).await.unwrap(),
            allowed(T0_S + 1, 2)
        );
        // A quiet hour later, a fresh window; an instance whose clock lags a second counts in it.
        let later = T0_MS + HOUR_MS;
        assert_eq!(
            store.count_request(&acme, later).await.unwrap(),
            allowed(T0_S + 3600, 1)
        );
        assert_eq!(
            store.count_request(&acme, later - 1000).await.unwrap(),
            allowed(T0_S + 3600, 2)
        );

        let unknown = record("ghost-bot", vec![], 3);
        let refused = store.count_request(&unknown, T0_MS).await.unwrap_err();
        assert_eq!(refused.kind, FailureKind::Rejected, "{refused}");
        assert_eq!(store.load_client(&unknown.id).await.unwrap(), None, "no record made up");
    }

    pub async fn concurrent_counts_grant_exactly_the_limit<S: ClientStore + 'static>(backend: &Backend<S>) {
        let acme = Arc::new(record("acme-bot", vec![], 5));
        backend.store.put_client(&acme).await.unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let (store, acme) = (Arc::clone(&backend.store), Arc::clone(&acme));
                tokio::spawn(async move { store.count_request(&acme, T0_MS).await })
            })
            .collect();
        let mut counts = Vec::new();
        let mut limited = 0;
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Throttle::Allowed(window) => {
                    assert_eq!(window.start_s, T0_S);
                    counts.push(window.count);
                }
                Throttle::Limited { retry_after_secs } => {
                    assert_eq!(retry_after_secs, 1);
                    limited += 1;
                }
            }
        }
        counts.sort_unstable();
        assert_eq!(counts, [1, 2, 3, 4, 5], "each count granted once");
        assert_eq!(limited, 15);
    }
}

contract!(
    fake: super::fake(),
    twin: super::on_moto().await,
    cases:
    a_record_round_trips_with_its_keys_and_principals,
    a_principal_acts_as_one_client_only,
    a_rotation_is_written_and_read_back,
    requests_are_counted_to_the_limit_then_limited_until_the_next_second,
    concurrent_counts_grant_exactly_the_limit,
);
