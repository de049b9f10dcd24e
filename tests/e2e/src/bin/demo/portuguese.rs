//! The second business number: João writes in Portuguese. His chat starts in the flow the number is
//! routed to, and what the bridge itself says to him (the agent's arrival, the list's labels, the end
//! of the chat) is in Portuguese, from the same stack that answers Diego in Spanish.

use super::{Demo, INTERACTIVE, print_chats, print_whatsapp, step};
use serde_json::json;

/// Plays João's conversation on `number` (a Meta phone number id); returns how many chats it made.
pub async fn act(first: &Demo, number: &str) -> usize {
    println!("\n══ Act 2 — a customer of the second number, in Portuguese ══");
    let mut demo = Demo {
        twin: first.twin.clone(),
        customer: "5511955550123",
        name: "João",
        number: number.to_owned(),
        typed: Vec::new(),
    };
    demo.customer("Oi! Quero mudar o endereço de entrega do pedido #7781.")
        .await;
    let contact = demo.latest_contact().await;
    step(&format!(
        "WhatsappHandler started chat {contact} in the Portuguese flow, which greets João"
    ));
    demo.agent(
        &contact,
        json!({"action": "join", "display_name": "Bia"}),
        "Agent Bia accepts the chat; João is told in Portuguese",
    )
    .await;
    let picker = json!({"templateType": "ListPicker", "version": "1.0", "data": {"content": {
        "title": "Para qual endereço?",
        "elements": [{"title": "Casa"}, {"title": "Trabalho"}, {"title": "Casa dos meus pais"}, {"title": "Outro"}]}}});
    demo.agent(
        &contact,
        json!({"action": "message", "display_name": "Bia", "content_type": INTERACTIVE, "content": picker.to_string()}),
        "Bia sends a ListPicker of four addresses: WhatsApp shows a list with a Portuguese button",
    )
    .await;
    let sent = demo.twin.sent_to(demo.customer).await;
    let row = sent
        .iter()
        .rev()
        .find_map(|s| {
            s["message"]["interactive"]["action"]["sections"][0]["rows"][1]
                .as_object()
                .cloned()
        })
        .expect("a list was sent");
    let title = row["title"].as_str().unwrap_or_default().to_owned();
    demo.customer_sends(
        &format!("[toca] {title}"),
        json!({"type": "interactive", "interactive": {"type": "list_reply",
               "list_reply": {"id": row["id"], "title": title}}}),
        &format!("João taps {title:?}; Connect receives it as the widget would send it"),
    )
    .await;
    demo.customer("Obrigado!").await;
    demo.agent(
        &contact,
        json!({"action": "end"}),
        "Bia ends the chat; João is told in Portuguese",
    )
    .await;

    print_whatsapp(&demo).await;
    let contacts = demo.twin.contacts_of(demo.customer).await;
    print_chats(&contacts);
    contacts.len()
}
