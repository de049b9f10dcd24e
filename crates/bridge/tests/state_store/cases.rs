//! The cases of the state store's contract (see `tests/state_store.rs`), each generic over
//! [`StateStore`] and given a fresh, empty store.

use super::{HOUR_MS, hash, item_terms};
use bridge::ids::{
    ConnectionToken, ContactId, ConversationKey, CustomerId, ItemId, OriginationId, ParticipantToken, PhoneNumberId,
};
use bridge::ports::{
    ActiveChat, Claim, ClaimTerms, ContactRecord, ConversationState, ConversationView, Finished, Inflight, ItemTerms,
    MediaAftermath, OpenedWith, Opener, Renewal, Said, SentRecord, StartLock, StateStore, Step,
};
use bridge::rich::menu::Menu;

pub fn conversation_key() -> ConversationKey {
    ConversationKey::new(
        PhoneNumberId::parse("106540352242922").unwrap(),
        CustomerId::parse("14255550150").unwrap(),
    )
}

pub async fn the_start_lock_rides_on_the_registration_stays_with_its_chat_and_is_taken_over_only_after_its_hold(
    store: &impl StateStore,
) {
    let key = conversation_key();
    let now = bridge::telemetry::now_ms();
    let register = |tag: &'static str, opener_until: Option<i64>| {
        let store = &store;
        let key = &key;
        async move {
            let me = Inflight {
                tag: tag.into(),
                timestamp: now / 1000,
                received_ns: now * 1_000_000,
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
            .take_start_lock(&key, &second_opener, now, Some("q_first"))
            .await
            .unwrap()
            .is_none(),
        "the first holder's hold is running"
    );
    assert!(store.load_conversation(&key).await.unwrap().tried.is_empty());
    // The first holder died: after its hold, the lock is taken over, and the dead start cannot activate.
    // Its start may have landed: it is remembered as tried.
    let taken = store
        .take_start_lock(&key, &second_opener, now + 2_000, Some("q_first"))
        .await
        .unwrap()
        .expect("taken over");
    assert_eq!(holder(&taken).as_deref(), Some("q_second"));
    assert_eq!(taken.tried, ["q_first"]);
    // Its holder's heartbeat keeps it; the dead holder's renewal (a beat in flight as it died) does not.
    let renew = |tag, until_ms| {
        let renewal = Renewal {
            source: "wa",
            id: "wamid.unclaimed",
            key: &key,
            tag,
            owner: "owner",
            until_ms,
            opening: true,
        };
        let store = &store;
        async move { store.extend(&renewal).await.unwrap() }
    };
    let until = || async { store.load_conversation(&key).await.unwrap().opener.map(|o| o.until_ms) };
    renew("q_first", now + 90_000).await;
    assert_eq!(until().await, Some(now + 30_000), "only the holder renews the lock");
    renew("q_second", now + 45_000).await;
    assert_eq!(until().await, Some(now + 45_000), "renewed by its holder");
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
    assert!(store.activate(&lock("q_first"), &chat, None, 3600).await.is_err());
    // A start given back is tried too; taking the lock again adds nobody.
    store.abandon_start(&lock("q_second"), false).await.unwrap();
    let given_back = store.load_conversation(&key).await.unwrap();
    assert_eq!(
        (given_back.opener, given_back.tried),
        (None, vec!["q_first".to_owned(), "q_second".to_owned()])
    );
    let retaken = store
        .take_start_lock(&key, &second_opener, now + 2_000, None)
        .await
        .unwrap();
    assert_eq!(retaken.map(|view| view.tried.len()), Some(2));
    // The chat holds one of their texts: the activation records it, and what was tried is spent.
    let opened_with = OpenedWith {
        tags: vec!["q_first".into(), "q_second".into()],
        digest: "d1".into(),
    };
    let active = store
        .activate(&lock("q_second"), &chat, Some(&opened_with), 3600)
        .await
        .unwrap();
    assert!(matches!(
        active.conversation.as_ref().map(|c| &c.state),
        Some(ConversationState::Active(c)) if *c == chat
    ));
    assert!(active.tried.is_empty());
    let stored = store.load_conversation(&key).await.unwrap();
    assert_eq!(stored.conversation.and_then(|c| c.opened_with), Some(opened_with));
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
            .take_start_lock(&key, &later_opener, now + 60_000, Some("q_second"))
            .await
            .unwrap()
            .is_none()
    );
    // A holder that opened a chat has nothing to give back.
    store.abandon_start(&lock("q_second"), false).await.unwrap();
    let kept = store.load_conversation(&key).await.unwrap();
    assert_eq!(holder(&kept).as_deref(), Some("q_second"));
    assert!(kept.tried.is_empty());

    // The chat's end frees it for the next message, which gives it back when it opens no chat.
    assert!(store.mark_ended(&key, &chat.contact_id, "item-end").await.unwrap());
    assert!(
        !store.mark_ended(&key, &chat.contact_id, "item-other").await.unwrap(),
        "a second end event finds it ended"
    );
    assert_eq!(holder(&store.load_conversation(&key).await.unwrap()), None);
    let next = register("q_next", Some(now + 30_000)).await;
    assert_eq!(holder(&next).as_deref(), Some("q_next"));
    assert!(
        store.mark_ended(&key, &chat.contact_id, "item-end").await.unwrap(),
        "a retry of the event that ended it (its notice may not have gone out)"
    );
    assert_eq!(
        holder(&store.load_conversation(&key).await.unwrap()).as_deref(),
        Some("q_next"),
        "and it writes nothing: the next chat's start lock stays"
    );
    store.abandon_start(&lock("q_next"), false).await.unwrap();
    let view = store.load_conversation(&key).await.unwrap();
    assert_eq!(holder(&view), None);
    assert_eq!(
        view.conversation.map(|c| c.generation),
        Some(1),
        "an unused lock consumes no generation"
    );
}

pub fn message_terms(now_ms: i64, lease_ms: i64, fast: bool, owner: &str) -> ClaimTerms<'_> {
    ClaimTerms {
        now_ms,
        lease_ms,
        fast,
        owner,
        summary: None,
    }
}

pub async fn a_claim_is_held_by_its_owner_until_its_lease_ends_and_a_quiet_fast_holder_is_replayed(
    store: &impl StateStore,
) {
    let now = bridge::telemetry::now_ms();
    let claim = |id: &'static str, terms: ClaimTerms<'static>| async move {
        store.claim("wa", id, &terms).await.unwrap().claim
    };
    let key = &conversation_key();
    let renew = |owner: &'static str, until_ms| async move {
        let renewal = Renewal {
            source: "wa",
            id: "wamid.held",
            key,
            tag: "q_held",
            owner,
            until_ms,
            opening: false,
        };
        store.extend(&renewal).await.unwrap();
    };

    assert_eq!(
        claim("wamid.held", message_terms(now, 60_000, false, "a")).await,
        Claim::Acquired
    );
    renew("b", now + 1).await;
    assert_eq!(
        claim("wamid.held", message_terms(now + 30_000, 60_000, false, "c")).await,
        Claim::Busy,
        "another invocation's renewal does not shorten the lease"
    );
    let registration = Inflight {
        tag: "q_held".into(),
        timestamp: now / 1000,
        received_ns: now * 1_000_000,
        until_ms: now + 3_000,
    };
    store
        .register(key, &registration, "wamid.held", None, None)
        .await
        .unwrap();
    renew("a", now + 90_000).await;
    let view = store.load_conversation(key).await.unwrap();
    let until: Vec<_> = view.inflight.iter().map(|i| i.until_ms).collect();
    assert_eq!(until, [now + 90_000], "the registration is held as long as the claim");
    store.unregister(key, "q_held").await.unwrap();
    assert!(store.load_conversation(key).await.unwrap().inflight.is_empty());
    assert_eq!(
        claim("wamid.held", message_terms(now + 70_000, 60_000, false, "c")).await,
        Claim::Busy,
        "renewed by its owner"
    );
    assert_eq!(
        claim("wamid.held", message_terms(now + 90_001, 60_000, false, "c")).await,
        Claim::Acquired,
        "an exclusive holder whose lease ran out failed: taken afresh, not replayed"
    );

    assert_eq!(
        claim("wamid.fast", message_terms(now, 1_000, true, "a")).await,
        Claim::Acquired
    );
    assert_eq!(
        claim("wamid.fast", message_terms(now + 500, 60_000, false, "b")).await,
        Claim::Busy
    );
    assert_eq!(
        claim("wamid.fast", message_terms(now + 1_001, 60_000, false, "b")).await,
        Claim::Replay { first_ms: now },
        "a fast holder that went quiet may have delivered it"
    );
    assert_eq!(
        claim("wamid.fast", message_terms(now + 1_002, 60_000, false, "b")).await,
        Claim::Acquired,
        "its own claim again"
    );
    assert_eq!(
        claim("wamid.fast", message_terms(now + 1_003, 60_000, false, "c")).await,
        Claim::Busy
    );
    store.complete("wa", "wamid.fast", None).await.unwrap();
    assert_eq!(
        claim("wamid.fast", message_terms(now + 120_000, 60_000, false, "c")).await,
        Claim::Done
    );
    assert_eq!(
        claim("wamid.unseen", message_terms(now, 60_000, false, "a")).await,
        Claim::Acquired
    );
}

pub async fn what_an_attempt_recorded_survives_its_release_and_goes_with_completion(store: &impl StateStore) {
    let now = bridge::telemetry::now_ms();
    let terms = |owner| ClaimTerms {
        summary: Some("what the customer said"),
        ..message_terms(now, 60_000, false, owner)
    };
    let first = store.claim("wa", "wamid.steps", &terms("a")).await.unwrap();
    assert_eq!(first.progress, Default::default());
    let aftermath = MediaAftermath {
        chat_texts: vec!["caption".into()],
        customer_texts: vec!["transcript".into()],
    };
    store
        .record("wa", "wamid.steps", "a", Step::Said(Said::MediaReply(0)))
        .await
        .unwrap();
    store
        .record("wa", "wamid.steps", "a", Step::Media(&aftermath))
        .await
        .unwrap();
    store
        .record("wa", "wamid.steps", "b", Step::Said(Said::MenuPage))
        .await
        .unwrap();
    assert_eq!(
        store.load_quote("wamid.steps").await.unwrap().as_deref(),
        Some("what the customer said"),
        "a reply to the customer's message quotes its summary"
    );

    // The owner's attempt failed: the retry (another invocation) starts from what it recorded.
    store.release("wa", "wamid.steps", "b").await.unwrap();
    store.release("wa", "wamid.steps", "a").await.unwrap();
    let retry = store.claim("wa", "wamid.steps", &terms("b")).await.unwrap();
    assert_eq!(retry.claim, Claim::Acquired);
    assert_eq!(retry.progress.said, [Said::MediaReply(0)], "only the owner's steps");
    assert_eq!(retry.progress.media.as_ref(), Some(&aftermath));
    store
        .record("wa", "wamid.steps", "a", Step::Said(Said::MediaReply(1)))
        .await
        .unwrap();

    // Completing removes the registration and the lapsed ones it names, in the same write.
    let key = conversation_key();
    for tag in ["q_steps", "q_lapsed", "q_other"] {
        let me = Inflight {
            tag: tag.into(),
            timestamp: now / 1000,
            received_ns: now * 1_000_000,
            until_ms: now + 60_000,
        };
        store.register(&key, &me, "wamid.steps", None, None).await.unwrap();
    }
    let finished = Finished {
        key: &key,
        tag: "q_steps",
        clear_menu: true,
        lapsed: &["q_lapsed".to_owned()],
    };
    store.complete("wa", "wamid.steps", Some(&finished)).await.unwrap();
    let left: Vec<_> = store
        .load_conversation(&key)
        .await
        .unwrap()
        .inflight
        .into_iter()
        .map(|i| i.tag)
        .collect();
    assert_eq!(left, ["q_other"]);
    let done = store.claim("wa", "wamid.steps", &terms("c")).await.unwrap();
    assert_eq!((done.claim, done.progress), (Claim::Done, Default::default()));
    assert_eq!(
        store.load_quote("wamid.steps").await.unwrap().as_deref(),
        Some("what the customer said"),
        "the summary outlives the claim's lease"
    );
    assert_eq!(store.load_quote("wamid.unknown").await.unwrap(), None);
}

pub async fn a_connect_item_is_claimed_on_its_mapping_with_what_a_failed_attempt_sent(store: &impl StateStore) {
    let now = bridge::telemetry::now_ms();
    let contact_id = ContactId::parse("contact-1").unwrap();
    let item = |id: &str| ItemId::parse(id).unwrap();
    let unknown = store
        .claim_item(
            &ContactId::parse("contact-unknown").unwrap(),
            &item("item-1"),
            &item_terms(now, "a"),
        )
        .await
        .unwrap();
    assert_eq!(unknown.contact, None, "not a chat of ours");
    let contact = ContactRecord {
        initial_contact_id: contact_id.clone(),
        phone_number_id: PhoneNumberId::parse("106540352242922").unwrap(),
        customer_id: CustomerId::parse("14255550150").unwrap(),
        phone: Some(CustomerId::parse("14255550199").unwrap()),
        origination_id: OriginationId::parse("phone-number-id-976c").unwrap(),
    };
    store.put_contact(&contact, 3600).await.unwrap();
    assert_eq!(store.load_contact(&contact_id).await.unwrap().as_ref(), Some(&contact));
    let mapping = &contact_id;
    let claim = |id: &'static str, terms: ItemTerms<'static>| async move {
        store
            .claim_item(mapping, &ItemId::parse(id).unwrap(), &terms)
            .await
            .unwrap()
    };

    let first = claim(
        "item-1",
        ItemTerms {
            at_ms: now - 5,
            ..item_terms(now, "a")
        },
    )
    .await;
    assert_eq!(first.claim, Claim::Acquired);
    assert_eq!(first.contact.as_ref(), Some(&contact));
    assert_eq!(
        first.me.as_ref().map(|me| (me.at_ms, me.until_ms)),
        Some((now - 5, now + 60_000))
    );
    assert!(first.in_flight.is_empty() && first.expired.is_empty());
    let second = claim("item-2", item_terms(now, "a")).await;
    let others: Vec<_> = second.in_flight.iter().map(|i| (i.name.clone(), i.at_ms)).collect();
    assert_eq!(others, [(format!("i_{}", hash("item-1")), now - 5)]);
    assert!(first.me.unwrap().precedes(&second.me.unwrap()));

    assert_eq!(claim("item-1", item_terms(now, "b")).await.claim, Claim::Busy);
    assert_eq!(
        claim("item-1", item_terms(now, "a")).await.claim,
        Claim::Acquired,
        "its owner's again"
    );
    store.release_item(&contact_id, &item("item-1"), "b", 1).await.unwrap();
    assert_eq!(
        claim("item-1", item_terms(now, "b")).await.claim,
        Claim::Busy,
        "only its owner releases it"
    );
    store.release_item(&contact_id, &item("item-1"), "a", 2).await.unwrap();
    let retry = claim("item-1", item_terms(now, "b")).await;
    assert_eq!(
        (retry.claim, retry.parts_sent),
        (Claim::Acquired, 2),
        "the retry skips what went out"
    );
    assert_eq!(
        claim("item-2", item_terms(now + 60_001, "b")).await.claim,
        Claim::Acquired,
        "a holder that died holds no longer than its lease"
    );

    let sent = SentRecord {
        wa_message_id: "wamid.agent-1".into(),
        contact_id: contact_id.clone(),
        item_id: item("item-1"),
        summary: "from the agent".into(),
    };
    store
        .complete_item(
            &contact_id,
            &item("item-1"),
            std::slice::from_ref(&sent),
            &retry.expired,
        )
        .await
        .unwrap();
    assert_eq!(store.load_sent("wamid.agent-1").await.unwrap().as_ref(), Some(&sent));
    assert_eq!(
        store.load_quote("wamid.agent-1").await.unwrap().as_deref(),
        Some("from the agent")
    );
    assert_eq!(store.load_sent("wamid.unknown").await.unwrap(), None);
    let in_flight: Vec<_> = store
        .items_in_flight(&contact_id)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(in_flight, [format!("i_{}", hash("item-2"))]);
    assert!(
        store
            .complete_item(&contact_id, &item("item-3"), &[], &[])
            .await
            .is_err(),
        "an item nobody claimed is not completed"
    );
    assert_eq!(store.load_sent("wamid.never").await.unwrap(), None);

    // Done, it stays known for this hour and the next; then a claim finds its hour's set expired.
    let redelivered = claim("item-1", item_terms(now, "c")).await;
    assert_eq!((redelivered.claim, redelivered.parts_sent), (Claim::Done, 0));
    assert_eq!(claim("item-1", item_terms(now + HOUR_MS, "c")).await.claim, Claim::Done);
    let forgotten = claim("item-1", item_terms(now + 2 * HOUR_MS, "c")).await;
    assert_eq!(forgotten.claim, Claim::Acquired);
    assert_eq!(forgotten.expired, [format!("d_{}", now.div_euclid(HOUR_MS))]);
}

pub async fn a_chats_connection_menu_and_typing_slot_belong_to_it_until_it_ends(store: &impl StateStore) {
    let now = bridge::telemetry::now_ms();
    let key = conversation_key();
    assert_eq!(
        store.load_conversation(&key).await.unwrap(),
        ConversationView::default()
    );
    assert_eq!(
        store.take_typing_slot(&key, now, 5_000).await.unwrap(),
        None,
        "nothing to show typing for"
    );
    let me = Inflight {
        tag: "q_1".into(),
        timestamp: now / 1000,
        received_ns: now * 1_000_000,
        until_ms: now + 60_000,
    };
    store
        .register(&key, &me, "wamid.1", None, Some(now + 60_000))
        .await
        .unwrap();
    let lock = |generation| StartLock {
        key: key.clone(),
        tag: "q_1".into(),
        generation,
    };
    // A start that failed for good retires its generation and frees the lock; what was tried for it is
    // no longer in doubt.
    store.abandon_start(&lock(1), false).await.unwrap();
    let relock = Opener {
        tag: "q_1".into(),
        until_ms: now + 60_000,
    };
    assert!(store.take_start_lock(&key, &relock, now, None).await.unwrap().is_some());
    store.abandon_start(&lock(1), true).await.unwrap();
    let retired = store.load_conversation(&key).await.unwrap();
    assert_eq!((retired.opener.clone(), retired.tried.clone()), (None, vec![]));
    let conversation = retired.conversation.expect("a retired start is remembered");
    assert_eq!(
        (conversation.generation, &conversation.state),
        (1, &ConversationState::Ended)
    );
    assert!(store.take_start_lock(&key, &relock, now, None).await.unwrap().is_some());
    let chat = |contact: &str, connection: &str| ActiveChat {
        contact_id: ContactId::parse(contact).unwrap(),
        participant_token: ParticipantToken::new("pt"),
        connection_token: ConnectionToken::new(connection),
        connection_expires_at: now / 1000 + 3600,
    };
    let active = store
        .activate(&lock(2), &chat("contact-1", "ct-1"), None, 3600)
        .await
        .unwrap();
    let state = |view: &ConversationView| view.conversation.as_ref().map(|c| c.state.clone());
    assert_eq!(
        state(&active),
        Some(ConversationState::Active(chat("contact-1", "ct-1")))
    );
    let conversation = active.conversation.as_ref().unwrap();
    assert_eq!(conversation.generation, 2);
    assert!(conversation.activated_ms >= now, "when it became active");

    store
        .update_connection(&key, &chat("contact-other", "ct-x"))
        .await
        .unwrap();
    store.update_connection(&key, &chat("contact-1", "ct-2")).await.unwrap();
    let view = store.load_conversation(&key).await.unwrap();
    assert_eq!(
        state(&view),
        Some(ConversationState::Active(chat("contact-1", "ct-2"))),
        "only the chat's own connection is kept"
    );
    assert_eq!(view.conversation.map(|c| c.generation), Some(2), "the same chat");

    let menu: Menu =
        serde_json::from_value(serde_json::json!({"key": "m1", "style": "numbered", "options": []})).unwrap();
    store
        .save_menu(&key, &ContactId::parse("contact-other").unwrap(), &menu)
        .await
        .unwrap();
    assert_eq!(
        store.load_conversation(&key).await.unwrap().menu,
        None,
        "not this chat's menu"
    );
    let contact = ContactId::parse("contact-1").unwrap();
    store.save_menu(&key, &contact, &menu).await.unwrap();
    assert_eq!(store.load_conversation(&key).await.unwrap().menu, Some(menu));

    assert_eq!(
        store.take_typing_slot(&key, now, 5_000).await.unwrap().as_deref(),
        Some("wamid.1")
    );
    assert_eq!(
        store.take_typing_slot(&key, now + 1_000, 5_000).await.unwrap(),
        None,
        "too soon"
    );
    assert!(
        store.register(&key, &me, "wamid.2", Some("q_1"), None).await.is_err(),
        "a registration cannot leave itself behind"
    );
    let next = Inflight {
        tag: "q_2".into(),
        ..me.clone()
    };
    let view = store.register(&key, &next, "wamid.2", Some("q_1"), None).await.unwrap();
    let tags: Vec<_> = view.inflight.iter().map(|i| i.tag.as_str()).collect();
    assert_eq!(
        tags,
        ["q_2"],
        "the finished message's registration goes in the same write"
    );
    assert_eq!(
        store
            .take_typing_slot(&key, now + 5_000, 5_000)
            .await
            .unwrap()
            .as_deref(),
        Some("wamid.2"),
        "the customer's latest message"
    );

    assert!(store.mark_ended(&key, &contact, "item-end").await.unwrap());
    let ended = store.load_conversation(&key).await.unwrap();
    assert_eq!(ended.menu, None, "the chat's menu ends with it");
    let conversation = ended.conversation.unwrap();
    assert_eq!(conversation.state, ConversationState::Ended);
    assert_eq!(conversation.ended_by.as_deref(), Some("item-end"));
    assert_eq!(conversation.previous_contact_id, Some(contact.clone()));
    store.update_connection(&key, &chat("contact-1", "ct-3")).await.unwrap();
    assert!(
        !store
            .mark_ended(&key, &ContactId::parse("contact-other").unwrap(), "item-end")
            .await
            .unwrap(),
        "another chat's end"
    );
}
