//! The DynamoDB adapter against moto, for what the end-to-end scenarios cannot reach in their time:
//! a Connect item's done claim that has outlived its keep is removed from the contact mapping by the
//! next item's completing write, so a long chat's mapping does not grow without bound; and a start lock
//! whose holder died is taken over once its hold ran out, and only then.

use aws_sdk_dynamodb::types::AttributeValue;
use bridge::aws::DynamoStore;
use bridge::ids::{
    ConnectionToken, ContactId, ConversationKey, CustomerId, ItemId, OriginationId, ParticipantToken, PhoneNumberId,
};
use bridge::ports::{
    ActiveChat, Claim, ContactRecord, ConversationState, ConversationView, Inflight, Opener, SentRecord, StartLock,
    StateStore,
};
use local_aws::{Stack, StackOptions};
use std::collections::HashMap;

const TABLE: &str = "whatsapp-bridge-state";

fn client(moto: &str) -> aws_sdk_dynamodb::Client {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "test"),
        ))
        .build();
    aws_sdk_dynamodb::Client::new(&config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_item_claims_leave_the_contact_mapping_with_the_next_completion() {
    // moto from the project's venv (`make setup`), as every test of the stack needs.
    let opts = StackOptions::default().without_handlers();
    let stack = Stack::start(opts).await.unwrap();
    let dynamodb = client(stack.moto_url().unwrap());
    let store = DynamoStore::new(dynamodb.clone(), TABLE.into());
    let contact_id = ContactId::parse("contact-1").unwrap();
    store
        .put_contact(
            &ContactRecord {
                initial_contact_id: contact_id.clone(),
                phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
                customer_id: CustomerId::parse("14255550150").unwrap(),
                phone: None,
                origination_id: OriginationId::parse("phone-number-id-976c").unwrap(),
            },
            3600,
        )
        .await
        .unwrap();
    let now = bridge::telemetry::now_ms();

    // An item bridged two hours ago, and one a minute ago.
    for (id, ago_ms) in [("item-old", 7_200_000), ("item-recent", 60_000)] {
        let item = ItemId::parse(id).unwrap();
        let taken = store
            .claim_item(&contact_id, &item, now - ago_ms, 60_000)
            .await
            .unwrap();
        assert_eq!(taken.claim, Claim::Acquired);
        store.complete_item(&contact_id, &item, &[], &[]).await.unwrap();
        // The completion stamps the time; move it back to when the item was bridged.
        let attribute = newest_claim(&dynamodb, &contact_id).await;
        dynamodb
            .update_item()
            .table_name(TABLE)
            .key("pk", AttributeValue::S(format!("contact#{contact_id}")))
            .update_expression("SET #c = :at")
            .expression_attribute_names("#c", attribute)
            .expression_attribute_values(":at", AttributeValue::N((now - ago_ms).to_string()))
            .send()
            .await
            .unwrap();
    }
    assert_eq!(claim_names(&dynamodb, &contact_id).await.len(), 2);

    let next = ItemId::parse("item-next").unwrap();
    let taken = store.claim_item(&contact_id, &next, now, 60_000).await.unwrap();
    assert_eq!(taken.claim, Claim::Acquired);
    assert_eq!(
        taken.expired.len(),
        1,
        "only the two-hour-old claim: {:?}",
        taken.expired
    );
    let sent = SentRecord {
        wa_message_id: "wamid.out-1".into(),
        contact_id: contact_id.clone(),
        item_id: next.clone(),
        summary: "hello".into(),
    };
    store
        .complete_item(&contact_id, &next, std::slice::from_ref(&sent), &taken.expired)
        .await
        .unwrap();

    let names = claim_names(&dynamodb, &contact_id).await;
    assert_eq!(names.len(), 2, "the recent claim and the new one stay: {names:?}");
    assert!(!names.contains(&taken.expired[0]));
    // The redelivery of the recent item still finds it done, and the sent record is in.
    let recent = store
        .claim_item(&contact_id, &ItemId::parse("item-recent").unwrap(), now, 60_000)
        .await
        .unwrap();
    assert_eq!(recent.claim, Claim::Done);
    assert_eq!(store.load_sent("wamid.out-1").await.unwrap(), Some(sent));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_start_lock_rides_on_the_registration_stays_with_its_chat_and_is_taken_over_only_after_its_hold() {
    let stack = Stack::start(StackOptions::default().without_handlers()).await.unwrap();
    let store = DynamoStore::new(client(stack.moto_url().unwrap()), TABLE.into());
    let key = ConversationKey::new(
        PhoneNumberId::parse("106540352242922").unwrap(),
        CustomerId::parse("14255550150").unwrap(),
    );
    let now = bridge::telemetry::now_ms();
    let register = |tag: &'static str, opener_until: Option<i64>| {
        let store = &store;
        let key = &key;
        async move {
            let me = Inflight {
                tag: tag.into(),
                timestamp: now / 1000,
                registered_ms: now,
                until_ms: now + 60_000,
            };
            store
                .register(key, &me, &format!("wamid.{tag}"), None, opener_until)
                .await
                .unwrap()
        }
    };
    let holder = |view: &ConversationView| view.opener.as_ref().map(|o| o.tag.clone());

    // The first message to register takes the lock; the next (even one that may open a chat) does not.
    let first = register("q_first", Some(now + 1_000)).await;
    assert_eq!(holder(&first).as_deref(), Some("q_first"));
    assert!(first.conversation.is_none(), "no chat yet");
    let second = register("q_second", Some(now + 30_000)).await;
    assert_eq!(holder(&second).as_deref(), Some("q_first"));
    let second_opener = Opener {
        tag: "q_second".into(),
        until_ms: now + 30_000,
    };
    assert!(
        store
            .take_start_lock(&key, &second_opener, now)
            .await
            .unwrap()
            .is_none(),
        "the first holder's hold is running"
    );
    // The first holder died: after its hold, the lock is taken over, and the dead start cannot activate.
    let taken = store
        .take_start_lock(&key, &second_opener, now + 2_000)
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!(holder(&taken).as_deref(), Some("q_second"));
    let chat = ActiveChat {
        contact_id: ContactId::parse("contact-1").unwrap(),
        participant_token: ParticipantToken::new("pt"),
        connection_token: ConnectionToken::new("ct"),
        connection_expires_at: now / 1000 + 3600,
    };
    let lock = |tag: &str| StartLock {
        key: key.clone(),
        tag: tag.into(),
        generation: 1,
    };
    assert!(store.activate(&lock("q_first"), &chat, 3600).await.is_err());
    let active = store.activate(&lock("q_second"), &chat, 3600).await.unwrap();
    assert!(matches!(
        active.conversation.as_ref().map(|c| &c.state),
        Some(ConversationState::Active(c)) if *c == chat
    ));
    assert_eq!(active.conversation.as_ref().map(|c| c.generation), Some(1));
    assert_eq!(
        active.inflight.len(),
        2,
        "who else is in flight comes with the activation"
    );

    // While the chat is active the lock stays with it: nobody takes it, by registering or otherwise.
    let later = register("q_later", Some(now + 30_000)).await;
    assert_eq!(holder(&later).as_deref(), Some("q_second"));
    let later_opener = Opener {
        tag: "q_later".into(),
        until_ms: now + 30_000,
    };
    assert!(
        store
            .take_start_lock(&key, &later_opener, now + 60_000)
            .await
            .unwrap()
            .is_none()
    );
    // A holder that opened a chat has nothing to give back.
    store.abandon_start(&lock("q_second"), false).await.unwrap();
    assert_eq!(
        holder(&store.load_conversation(&key).await.unwrap()).as_deref(),
        Some("q_second")
    );

    // The chat's end frees it for the next message, which gives it back when it opens no chat.
    assert!(store.mark_ended(&key, &chat.contact_id).await.unwrap());
    assert_eq!(holder(&store.load_conversation(&key).await.unwrap()), None);
    let next = register("q_next", Some(now + 30_000)).await;
    assert_eq!(holder(&next).as_deref(), Some("q_next"));
    store.abandon_start(&lock("q_next"), false).await.unwrap();
    let view = store.load_conversation(&key).await.unwrap();
    assert_eq!(holder(&view), None);
    assert_eq!(
        view.conversation.map(|c| c.generation),
        Some(1),
        "an unused lock consumes no generation"
    );
}

async fn item(dynamodb: &aws_sdk_dynamodb::Client, contact_id: &ContactId) -> HashMap<String, AttributeValue> {
    dynamodb
        .get_item()
        .table_name(TABLE)
        .key("pk", AttributeValue::S(format!("contact#{contact_id}")))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .unwrap()
}

async fn claim_names(dynamodb: &aws_sdk_dynamodb::Client, contact_id: &ContactId) -> Vec<String> {
    let mut names: Vec<String> = item(dynamodb, contact_id)
        .await
        .into_keys()
        .filter(|k| k.starts_with("i_"))
        .collect();
    names.sort();
    names
}

/// The claim attribute completed last (the newest done time).
async fn newest_claim(dynamodb: &aws_sdk_dynamodb::Client, contact_id: &ContactId) -> String {
    let item = item(dynamodb, contact_id).await;
    let newest = item
        .iter()
        .filter(|(k, _)| k.starts_with("i_"))
        // A done claim is the time it was done.
        .max_by_key(|(_, v)| v.as_n().ok().and_then(|at| at.parse::<i64>().ok()).unwrap_or_default())
        .map(|(k, _)| k.clone());
    newest.expect("a completed claim")
}
