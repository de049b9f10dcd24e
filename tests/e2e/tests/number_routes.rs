//! One stack, two business numbers routed apart (`NUMBER_ROUTES`), through the real handlers and the
//! twin: a Spanish-speaking customer on the first number and a Portuguese-speaking one on the second
//! each start in their number's contact flow and hear their number's language in every notice, menu
//! and confirmation.

use e2e::local_aws::{PORTUGUESE_FLOW_ID, SPANISH_FLOW_ID};
use e2e::{TestStack, Twin};
use serde_json::{Value, json};

const ANA: &str = "5215550100001";
const JOAO: &str = "5511955500002";

fn routes(numbers: &[e2e::local_aws::BusinessNumber]) -> String {
    json!({
        numbers[0].meta_phone_number_id.clone(): {
            "contact_flow_id": SPANISH_FLOW_ID,
            "language": "es-419",
            "transcribe_languages": ["es-US"],
            "end_keyword": "#fin",
        },
        numbers[1].meta_phone_number_id.clone(): {
            "contact_flow_id": PORTUGUESE_FLOW_ID,
            "language": "pt-BR",
            "transcribe_languages": ["pt-BR"],
        },
    })
    .to_string()
}

/// Eleven options: more than a WhatsApp list holds, so the list is paged with a "more options" row.
fn long_list_picker() -> String {
    let elements: Vec<Value> = (1..=11).map(|i| json!({"title": format!("{i}")})).collect();
    json!({"templateType": "ListPicker", "version": "1.0",
           "data": {"content": {"title": "?", "elements": elements}}})
    .to_string()
}

/// The customer writes to `number`, an agent joins and sends a long list.
async fn converse(twin: &Twin, customer: &str, number: &str, says: &str) -> Value {
    let (_, first) = twin
        .customer_sends(
            customer,
            json!({"type": "text", "text": {"body": says}, "profile_name": "Cliente", "business_number": number}),
        )
        .await;
    assert!(first.ok, "{first:?}");
    twin.settle().await;
    let contact = twin.contacts_of(customer).await.remove(0);
    let contact_id = contact["contact_id"].as_str().unwrap().to_owned();
    twin.agent(&contact_id, json!({"action": "join", "display_name": "Ana"}))
        .await;
    twin.agent(
        &contact_id,
        json!({"action": "message", "content_type": "application/vnd.amazonaws.connect.message.interactive",
               "content": long_list_picker()}),
    )
    .await;
    twin.settle().await;
    contact
}

fn list_labels(sent: &[Value]) -> (String, Vec<String>) {
    let list = sent
        .iter()
        .find(|s| s["message"]["interactive"]["type"] == "list")
        .expect("a list was sent");
    let action = &list["message"]["interactive"]["action"];
    let rows = action["sections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["rows"].as_array().unwrap().iter())
        .map(|r| r["title"].as_str().unwrap().to_owned())
        .collect();
    (action["button"].as_str().unwrap().to_owned(), rows)
}

#[tokio::test]
async fn each_number_starts_its_own_flow_and_speaks_its_own_language() {
    let stack = TestStack::start_with(|o| {
        let numbers = e2e::local_aws::TwinConfig::default().business_numbers;
        o.extra_env.push(("NUMBER_ROUTES".to_owned(), routes(&numbers)));
    })
    .await;
    let twin = stack.twin();
    let numbers = stack.business_numbers();

    let spanish = converse(twin, ANA, &numbers[0].meta_phone_number_id, "Hola").await;
    let portuguese = converse(twin, JOAO, &numbers[1].meta_phone_number_id, "Olá").await;
    assert_eq!(spanish["contact_flow_id"], SPANISH_FLOW_ID);
    assert_eq!(portuguese["contact_flow_id"], PORTUGUESE_FLOW_ID);

    // Spanish: the agent's arrival, the paged menu, and the end keyword's confirmation.
    let (_, ended) = twin
        .customer_sends(
            ANA,
            json!({"type": "text", "text": {"body": "#FIN"}, "business_number": numbers[0].meta_phone_number_id}),
        )
        .await;
    assert!(ended.ok, "{ended:?}");
    twin.settle().await;
    heard(
        twin,
        ANA,
        Heard {
            number: &numbers[0].aws_id,
            button: "Elige una opción",
            more: "Más opciones",
            joined: "Ana se unió al chat.",
            last: "Terminaste el chat. Escríbenos cuando quieras para iniciar uno nuevo.",
        },
    )
    .await;

    // Portuguese: the same, ended by the agent.
    let contact_id = portuguese["contact_id"].as_str().unwrap();
    twin.agent(contact_id, json!({"action": "end"})).await;
    twin.settle().await;
    heard(
        twin,
        JOAO,
        Heard {
            number: &numbers[1].aws_id,
            button: "Escolha uma opção",
            more: "Mais opções",
            joined: "Ana entrou na conversa.",
            last: "Esta conversa foi encerrada. Mande uma mensagem quando quiser para começar uma nova.",
        },
    )
    .await;
}

/// What one customer must have been sent, from their own number, in their number's language.
struct Heard<'a> {
    number: &'a str,
    button: &'a str,
    more: &'a str,
    joined: &'a str,
    last: &'a str,
}

async fn heard(twin: &Twin, customer: &str, expected: Heard<'_>) {
    let sent = twin.sent_to(customer).await;
    let (button, rows) = list_labels(&sent);
    assert_eq!(button, expected.button);
    assert_eq!(rows.last().map(String::as_str), Some(expected.more));
    let texts = twin.texts_to(customer).await;
    assert!(texts.iter().any(|t| t == expected.joined), "{texts:?}");
    assert_eq!(texts.last().map(String::as_str), Some(expected.last), "{texts:?}");
    assert!(
        sent.iter().all(|s| s["origination_phone_number_id"] == expected.number),
        "answered from the number written to"
    );
}

#[tokio::test]
async fn a_notice_one_number_silences_still_reaches_the_other_number() {
    let numbers = e2e::local_aws::TwinConfig::default().business_numbers;
    let table = json!({
        numbers[0].meta_phone_number_id.clone(): {"messages": {"notice-agent-joined": ""}},
    });
    let stack = TestStack::start_with(|o| o.extra_env.push(("NUMBER_ROUTES".to_owned(), table.to_string()))).await;
    let twin = stack.twin();
    let quiet = converse(twin, ANA, &numbers[0].meta_phone_number_id, "Hi").await;
    let loud = converse(twin, JOAO, &numbers[1].meta_phone_number_id, "Hi").await;
    assert_eq!(
        quiet["contact_flow_id"], loud["contact_flow_id"],
        "both on the stack's flow"
    );
    let joined = "Ana has joined the chat.";
    assert!(
        !twin.texts_to(ANA).await.iter().any(|t| t == joined),
        "silenced on the first number"
    );
    assert!(
        twin.texts_to(JOAO).await.iter().any(|t| t == joined),
        "said on the second"
    );
    // The silenced item was completed, not left to be retried into a dead letter.
    assert_eq!(twin.dead_letters().await, 0);
}
