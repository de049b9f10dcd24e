//! Issue #20: the bridge under AWS's real timing, on a twin that keeps AWS's proportions of time
//! (`StackOptions::aws_proportions`: function timeouts, Lambda's retries a minute and two minutes
//! apart, all divided by 30, or 120 where a 6 h maximum event age must pass). A handler killed in the
//! middle of an invocation or hung past its timeout, a DynamoDB answer lost after the write took
//! effect, a chat's items delivered concurrently and out of order, and events redelivered shortly
//! before their maximum age.

use e2e::{TestStack, Twin, customer_texts};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

/// AWS's durations divided by this: WhatsappHandler's 300 s timeout is 10 s, Lambda's retries come
/// 2 s and 4 s after a failure.
const SCALE: u32 = 30;

async fn contact_of(twin: &Twin, customer: &str) -> String {
    twin.contacts_of(customer).await[0]["contact_id"]
        .as_str()
        .expect("contact id")
        .to_owned()
}

/// A customer in a chat an agent has joined; returns the contact id.
async fn chat_with_agent(twin: &Twin, customer: &str) -> String {
    twin.customer_texts(customer, "hello").await;
    let contact = contact_of(twin, customer).await;
    twin.agent(&contact, json!({"action": "join", "display_name": "Ana"}))
        .await;
    twin.settle().await;
    contact
}

/// Waits until the contact's transcript has `count` customer messages (or `limit` passes).
async fn until_customer_said(twin: &Twin, customer: &str, count: usize, limit: Duration) {
    let started = Instant::now();
    loop {
        let said = customer_texts(&twin.contacts_of(customer).await[0]);
        if said.len() >= count || started.elapsed() > limit {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_invocation_was_killed_reaches_connect_once_and_holds_the_next_one_briefly() {
    let stack = TestStack::start_with(|o| o.twin = o.twin.clone().with_aws_time_scale(SCALE)).await;
    let twin = stack.twin();
    let customer = "14255550301";
    chat_with_agent(twin, customer).await;
    // A new process knows no open chat: the next message holds its claim exclusively from the start.
    twin.post("/processes/restart", json!({"function": "WhatsappHandler"}))
        .await;
    twin.fault(json!({"service": "connectparticipant", "operation": "SendMessage", "kill_caller": true, "times": 1}))
        .await;

    // The killed message's delivery (all of Lambda's attempts) runs on while the customer writes on.
    let delivery = {
        let twin = twin.clone();
        let started = Instant::now();
        tokio::spawn(async move { (twin.customer_texts(customer, "order 4411").await.1, started.elapsed()) })
    };
    twin.until_faults_fired().await;
    let started = Instant::now();
    let (_, next) = twin.customer_texts(customer, "are you there?").await;
    let held = started.elapsed();
    assert!(next.ok, "{next:?}");
    assert!(
        held < Duration::from_secs(5),
        "the next message waited {held:?} behind one whose invocation was killed (its hold must lapse within seconds)"
    );
    let (killed, delivered_after) = delivery.await.expect("delivery task");
    assert!(
        !killed.ok,
        "the process died after its claim, before its send: {killed:?}"
    );
    assert!(
        delivered_after < Duration::from_secs(8),
        "Lambda's retry (2 s after the failure) waited {delivered_after:?} for the dead attempt's claim"
    );

    until_customer_said(twin, customer, 3, Duration::from_secs(30)).await;
    twin.settle().await;
    let said = customer_texts(&twin.contacts_of(customer).await[0]);
    let killed_said = said.iter().filter(|text| *text == "order 4411").count();
    assert_eq!(
        killed_said, 1,
        "the killed message reaches the agent once, on Lambda's retry: {said:?}"
    );
    assert_eq!(
        said.iter().filter(|text| *text == "are you there?").count(),
        1,
        "{said:?}"
    );
    assert_eq!(twin.dead_letters().await, 0, "nothing is dead-lettered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invocation_whose_claim_answer_was_lost_does_not_wait_for_itself() {
    let stack = TestStack::start_with(|o| {
        o.twin = o.twin.clone().with_aws_time_scale(SCALE);
        o.proxy_moto = true;
    })
    .await;
    let twin = stack.twin();
    let customer = "14255550302";
    // The message's first two writes, its claim and its registration, side by side: both take effect
    // and both answers are lost, so the SDK sends each again.
    twin.fault(json!({"service": "dynamodb", "operation": "UpdateItem", "lose_answer": true, "times": 2}))
        .await;
    let started = Instant::now();
    let (_, first) = twin.customer_texts(customer, "hello, anyone?").await;
    let took = started.elapsed();
    assert!(first.ok, "delivered by its first invocation: {first:?}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?}: the retried claim found the invocation's own claim and waited for it"
    );
    twin.settle().await;
    assert_eq!(customer_texts(&twin.contacts_of(customer).await[0]), ["hello, anyone?"]);
    assert_eq!(twin.dead_letters().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_and_bots_messages_reach_the_customer_once_and_in_order_when_delivered_out_of_order() {
    // Lambda scales out under a burst: each of the chat's items (and duplicates) finds an instance.
    let stack = TestStack::start_with(|o| o.concurrency = 12).await;
    let twin = stack.twin();
    let customer = "14255550303";
    let contact = chat_with_agent(twin, customer).await;
    twin.post(
        "/sns",
        json!({"concurrent": true, "duplicate_rate": 0.2, "reorder_rate": 0.3, "hold_ms": 100, "seed": 7}),
    )
    .await;

    // The agent's six lines and the bot's three, a few milliseconds apart, as typed and answered.
    let mut said: Vec<(String, Option<&str>)> = (1..=6).map(|i| (format!("agent line {i}"), None)).collect();
    said.extend((1..=3).map(|i| (format!("bot answer {i}"), Some("SYSTEM"))));
    let mut sends = JoinSet::new();
    for (i, (text, role)) in said.into_iter().enumerate() {
        let (twin, contact) = (twin.clone(), contact.clone());
        sends.spawn(async move {
            tokio::time::sleep(Duration::from_millis(15 * i as u64)).await;
            let mut action = json!({"action": "message", "content": text});
            if let Some(role) = role {
                action["role"] = Value::from(role);
            }
            twin.agent(&contact, action).await
        });
    }
    while let Some(sent) = sends.join_next().await {
        sent.expect("agent task");
    }
    twin.settle().await;

    let burst = |text: &String| text.starts_with("agent line") || text.starts_with("bot answer");
    let contact_json = twin.contacts_of(customer).await.remove(0);
    let order: Vec<String> = contact_json["transcript"]
        .as_array()
        .expect("transcript")
        .iter()
        .filter(|item| item["type"] == "MESSAGE")
        .filter_map(|item| item["content"].as_str().map(str::to_owned))
        .filter(burst)
        .collect();
    assert_eq!(order.len(), 9, "Connect has the nine messages: {order:?}");
    let on_whatsapp: Vec<String> = twin.texts_to(customer).await.into_iter().filter(burst).collect();
    assert_eq!(
        on_whatsapp, order,
        "the customer reads each message once, in the order Connect received them"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_typing_quickly_is_not_slowed_down_by_lambdas_scaling() {
    // Three instances, as Lambda scales out under a burst: a message rarely lands on the instance that
    // delivered the one before.
    let stack = TestStack::start_with(|o| o.concurrency = 3).await;
    let twin = stack.twin();
    let customer = "14255550304";
    chat_with_agent(twin, customer).await;
    let since = twin.get("/clock").await["now_us"].as_u64().expect("twin clock");

    let mut sends = JoinSet::new();
    for i in 1..=9u64 {
        let twin = twin.clone();
        sends.spawn(async move {
            tokio::time::sleep(Duration::from_millis(250 * i)).await;
            twin.customer_texts(customer, &format!("line {i}")).await.1
        });
    }
    while let Some(sent) = sends.join_next().await {
        let invocation = sent.expect("customer task");
        assert!(invocation.ok, "{invocation:?}");
    }
    twin.settle().await;

    let said = customer_texts(&twin.contacts_of(customer).await[0]);
    let expected: Vec<String> = std::iter::once("hello".to_owned())
        .chain((1..=9).map(|i| format!("line {i}")))
        .collect();
    assert_eq!(said, expected, "in order, once each");
    let invocations = twin
        .get(&format!("/invocations?since_us={since}&function=WhatsappHandler"))
        .await;
    let took_ms: Vec<u64> = invocations
        .as_array()
        .expect("invocations")
        .iter()
        .map(|i| (i["finished_us"].as_u64().unwrap_or(u64::MAX) - i["handed_out_us"].as_u64().unwrap_or(0)) / 1000)
        .collect();
    assert_eq!(took_ms.len(), 9, "{invocations:#}");
    // Each message goes as soon as it is handled: none waits for the fast hold of one that another
    // instance delivered (870-920 ms of handler time when it did). 500 ms leaves room for a loaded core.
    assert!(
        took_ms.iter().all(|ms| *ms < 500),
        "handler time per message (ms): {took_ms:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whatsapp_send_answered_slower_than_an_attempt_is_not_sent_twice() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let customer = "14255550305";
    let contact = chat_with_agent(twin, customer).await;
    // Longer than the SDK's 10 s attempt timeout, shorter than ConnectHandler's 30 s.
    twin.fault(
        json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "latency_ms": 12_000, "times": 1}),
    )
    .await;
    twin.agent_says(&contact, "your refund is on its way").await;
    twin.settle().await;
    let copies = twin
        .texts_to(customer)
        .await
        .iter()
        .filter(|t| *t == "your refund is on its way")
        .count();
    assert_eq!(
        copies, 1,
        "SendWhatsAppMessage has no idempotency token: a slow answer must be waited for"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_whatsapp_answer_sends_at_most_one_duplicate_and_counts_it() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let customer = "14255550306";
    let contact = chat_with_agent(twin, customer).await;
    twin.fault(
        json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "lose_answer": true, "times": 1}),
    )
    .await;
    twin.agent_says(&contact, "your refund is on its way").await;
    twin.settle().await;
    let copies = twin
        .texts_to(customer)
        .await
        .iter()
        .filter(|t| *t == "your refund is on its way")
        .count();
    assert!((1..=2).contains(&copies), "{copies} copies");
    let counted = twin
        .logs("ConnectHandler")
        .await
        .iter()
        .filter(|line| line.contains("\"PossibleDuplicates\":1"))
        .count();
    assert_eq!(
        counted,
        copies - 1,
        "each possible duplicate is counted (PossibleDuplicates)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ending_notice_whose_send_failed_is_said_on_lambdas_retry() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let customer = "14255550307";
    twin.customer_texts(customer, "hello").await;
    twin.settle().await;
    let contact = contact_of(twin, customer).await;
    // Throttled through every attempt of the first try: the conversation is marked ended by then.
    twin.fault(json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "error": "ThrottlingException", "times": 4}))
        .await;
    twin.agent(&contact, json!({"action": "end"})).await;
    twin.settle().await;
    let said = twin
        .texts_to(customer)
        .await
        .iter()
        .filter(|text| text.starts_with("This chat has ended"))
        .count();
    assert_eq!(said, 1, "the customer is told once that the chat ended");
    assert_eq!(twin.dead_letters().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_end_keywords_confirmation_whose_send_failed_is_said_on_lambdas_retry() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let customer = "14255550308";
    twin.customer_texts(customer, "hello").await;
    twin.settle().await;
    // Throttled through every attempt of the first try: the chat is ended by then.
    twin.fault(json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "error": "ThrottlingException", "times": 4}))
        .await;
    twin.customer_texts(customer, "#end").await;
    twin.settle().await;
    let said = twin
        .texts_to(customer)
        .await
        .iter()
        .filter(|text| text.starts_with("You've ended the chat"))
        .count();
    assert_eq!(said, 1, "the customer is told once that they ended the chat");
    assert_eq!(twin.dead_letters().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_message_whose_second_part_failed_resends_only_that_part() {
    let stack = TestStack::start().await;
    let twin = stack.twin();
    let customer = "14255550309";
    let contact = chat_with_agent(twin, customer).await;
    // Longer than one WhatsApp text: two parts. The first goes; the second is throttled through every
    // attempt of the first try, and Lambda's retry sends the rest.
    let long = format!("{}\n\n{}", "a".repeat(3_000), "b".repeat(3_000));
    twin.fault(json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "latency_ms": 1, "times": 1}))
        .await;
    twin.fault(json!({"service": "socialmessaging", "operation": "SendWhatsAppMessage", "error": "ThrottlingException", "times": 4}))
        .await;
    twin.agent_says(&contact, &long).await;
    twin.settle().await;
    let texts = twin.texts_to(customer).await;
    let parts = |start: &str| texts.iter().filter(|text| text.starts_with(start)).count();
    assert_eq!((parts("aaa"), parts("bbb")), (1, 1), "each part once");
    assert_eq!(twin.dead_letters().await, 0);
}

/// The outcomes (`ok`) of the invocations of `function` handed out at least `after` after the twin's
/// clock read `since_us`, once there is one and all have finished (or a minute more has passed).
async fn invocations_after(twin: &Twin, function: &str, since_us: u64, after: Duration) -> Vec<Option<bool>> {
    let from = since_us + after.as_micros() as u64;
    let started = Instant::now();
    loop {
        let invocations = twin
            .get(&format!("/invocations?since_us={from}&function={function}"))
            .await;
        let outcomes: Vec<Option<bool>> = invocations
            .as_array()
            .expect("invocations")
            .iter()
            .map(|i| i["ok"].as_bool())
            .collect();
        let finished = !outcomes.is_empty() && outcomes.iter().all(Option::is_some);
        if finished || started.elapsed() > after + Duration::from_secs(60) {
            return outcomes;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Every event published from now on is delivered a second time (same SNS message) `before` ahead of
/// `function`'s maximum event age, as Lambda's queue may redeliver one it already handled; returns
/// when that copy comes, counted from the publish.
async fn redeliver_before_maximum_age(twin: &Twin, function: &str, before: Duration) -> Duration {
    let age = twin.get("/config").await["maximum_event_age_ms"][function]
        .as_u64()
        .expect("maximum event age");
    let after = Duration::from_millis(age) - before;
    twin.post(
        "/sns",
        json!({"duplicate_rate": 1.0, "duplicate_after_ms": after.as_millis() as u64}),
    )
    .await;
    after
}

fn clock_us(clock: &Value) -> u64 {
    clock["now_us"].as_u64().expect("twin clock")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_message_redelivered_at_the_maximum_event_age_reaches_connect_once() {
    // WhatsappHandler's 6 h maximum age would be 12 min at 30; 120 makes it 3 min (its timeout 2.5 s).
    let stack = TestStack::start_with(|o| o.twin = o.twin.clone().with_aws_time_scale(120)).await;
    let twin = stack.twin();
    let customer = "14255550310";
    twin.customer_texts(customer, "hello").await;
    twin.settle().await;
    let copy_after = redeliver_before_maximum_age(twin, "WhatsappHandler", Duration::from_secs(10)).await;
    let since = clock_us(&twin.get("/clock").await);
    let (_, first) = twin.customer_texts(customer, "order 6620 is late").await;
    assert!(first.ok, "{first:?}");
    let sends = twin.calls_to("SendMessage").await;
    let copies = invocations_after(twin, "WhatsappHandler", since, copy_after - Duration::from_secs(1)).await;
    twin.settle().await;
    // Known by its done claim, not only by SendMessage's ClientToken, which AWS does not promise to
    // remember for six hours.
    assert_eq!(
        twin.calls_to("SendMessage").await,
        sends,
        "the redelivered message is recognised as done before it is sent again"
    );
    assert_eq!(
        copies,
        [Some(true)],
        "the copy reached WhatsappHandler shortly before the maximum age, and was handled"
    );
    let said = customer_texts(&twin.contacts_of(customer).await[0]);
    assert_eq!(
        said,
        ["hello", "order 6620 is late"],
        "the redelivered message is recognised as done: Connect has it once"
    );
    // ConnectHandler, whose 30 s timeout is 250 ms at this scale, has no part in this message.
    let lost = twin.get("/dlq").await;
    let lost: Vec<&Value> = lost
        .as_array()
        .expect("dead letters")
        .iter()
        .filter(|entry| entry["function"] == "WhatsappHandler")
        .collect();
    assert!(lost.is_empty(), "{lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_message_redelivered_at_the_maximum_event_age_reaches_the_customer_once() {
    // ConnectHandler's 1 h maximum age is 2 min at 30.
    let stack = TestStack::start_with(|o| o.twin = o.twin.clone().with_aws_time_scale(SCALE)).await;
    let twin = stack.twin();
    let customer = "14255550311";
    let contact = chat_with_agent(twin, customer).await;
    let copy_after = redeliver_before_maximum_age(twin, "ConnectHandler", Duration::from_secs(5)).await;
    let since = clock_us(&twin.get("/clock").await);
    let delivered = twin.agent_says(&contact, "your parcel left the depot").await;
    assert!(delivered.iter().all(|d| d.ok), "{delivered:?}");
    let copies = invocations_after(twin, "ConnectHandler", since, copy_after - Duration::from_secs(1)).await;
    twin.settle().await;
    assert!(
        !copies.is_empty() && copies.iter().all(|ok| *ok == Some(true)),
        "the copy reached ConnectHandler shortly before the maximum age, and was handled: {copies:?}"
    );
    let copies_read = twin
        .texts_to(customer)
        .await
        .iter()
        .filter(|text| *text == "your parcel left the depot")
        .count();
    assert_eq!(
        copies_read, 1,
        "the redelivered item is recognised as done: the customer reads it once"
    );
    assert_eq!(twin.dead_letters().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_invocation_hung_past_its_timeout_reaches_connect_once_on_lambdas_retry() {
    // Two instances, as Lambda starts another while one is busy.
    let stack = TestStack::start_with(|o| {
        o.twin = o.twin.clone().with_aws_time_scale(SCALE);
        o.concurrency = 2;
    })
    .await;
    let twin = stack.twin();
    let customer = "14255550312";
    chat_with_agent(twin, customer).await;
    let timeout = Duration::from_millis(
        twin.get("/config").await["function_timeouts_ms"]["WhatsappHandler"]
            .as_u64()
            .expect("timeout"),
    );
    // The first attempt's send to Connect answers only after the function's timeout: Lambda kills it.
    let hang = timeout + Duration::from_secs(5);
    twin.fault(json!({"service": "connectparticipant", "operation": "SendMessage",
        "latency_ms": hang.as_millis() as u64, "times": 1}))
        .await;
    let delivery = {
        let twin = twin.clone();
        let started = Instant::now();
        tokio::spawn(async move { (twin.customer_texts(customer, "order 7731").await.1, started.elapsed()) })
    };
    twin.until_faults_fired().await;
    // The customer writes on while the first invocation hangs.
    let started = Instant::now();
    let (_, next) = twin.customer_texts(customer, "hello, still there?").await;
    let held = started.elapsed();
    let (hung, delivered_after) = delivery.await.expect("delivery task");
    assert!(
        hung.error.as_deref().is_some_and(|e| e.contains("Task timed out")),
        "the first attempt is killed at its timeout: {hung:?}"
    );
    // Lambda's retry comes a scaled minute (2 s) after the timeout.
    assert!(
        delivered_after < timeout + Duration::from_secs(10),
        "delivered {delivered_after:?} after it was sent"
    );

    until_customer_said(twin, customer, 3, Duration::from_secs(30)).await;
    // The hung send is still applied by Connect when its latency is over.
    tokio::time::sleep(hang.saturating_sub(delivered_after) + Duration::from_secs(1)).await;
    twin.settle().await;
    let said = customer_texts(&twin.contacts_of(customer).await[0]);
    for text in ["order 7731", "hello, still there?"] {
        assert_eq!(
            said.iter().filter(|t| *t == text).count(),
            1,
            "{text} reaches the agent once: {said:?}"
        );
    }
    assert_eq!(twin.dead_letters().await, 0, "nothing is dead-lettered");
    // It waits for the hung message's turn at most 5 s (then goes: the hung one is alive, renewing
    // its hold, and may hang until its timeout).
    assert!(
        next.ok && held < Duration::from_secs(7),
        "the next message waited {held:?} behind one whose invocation hangs: {next:?}"
    );
}
