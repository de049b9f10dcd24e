//! AWS End User Messaging Social: the business numbers the bridge serves are linked, and their
//! WhatsApp Business Accounts send events to the bridge's topic.
//!
//! Numbers are named by Meta `phone_number_id` (what `WhatsappPhoneNumberIds` holds). A number
//! counts as linked when a linked WABA lists it and the phone-number API names that WABA for it;
//! a WABA has exactly one event destination, so one pointing elsewhere means the bridge hears
//! nothing from any of its numbers.

use super::{Check, Fact, Target};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waba {
    /// EUM id, `waba-…`.
    pub id: String,
    /// Meta's WABA id.
    pub waba_id: String,
    /// `COMPLETE` or `INCOMPLETE`.
    pub registration_status: String,
    pub event_destinations: Vec<String>,
    pub numbers: Fact<Vec<Number>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Number {
    pub meta_phone_number_id: String,
    /// EUM id, `phone-number-id-…`.
    pub phone_number_id: String,
    /// The WABA the phone-number API links it to.
    pub linked_waba: Fact<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub wabas: Fact<Vec<Waba>>,
}

fn destination_fix(waba: &Waba, topic: &str) -> String {
    format!(
        "aws socialmessaging put-whatsapp-business-account-event-destinations --id {} --event-destinations eventDestinationArn={topic}",
        waba.id
    )
}

fn points_at(waba: &Waba, topic: &str) -> bool {
    waba.event_destinations.iter().any(|d| d == topic)
}

pub fn checks(target: &Target, facts: &Facts) -> Vec<Check> {
    let wabas = match &facts.wabas {
        Err(e) => {
            return vec![e.check("WhatsApp Business Accounts are linked to EUM", || {
                format!(
                    "link the WABA in the EUM console in {} (docs/deploy.md, step 2)",
                    target.region
                )
            })];
        }
        Ok(w) if w.is_empty() => {
            return vec![Check::fail(
                "WhatsApp Business Accounts are linked to EUM",
                format!("no WABA is linked in {}", target.region),
                "link the WABA in the EUM console in the stack's Region (docs/deploy.md, step 2)",
            )];
        }
        Ok(w) => w,
    };
    let mut checks = Vec::new();
    for waba in wabas {
        if let Err(e) = &waba.numbers {
            checks.push(e.check(format!("WABA {} can be read", waba.waba_id), || {
                "list the linked WABAs again: aws socialmessaging list-linked-whatsapp-business-accounts".into()
            }));
        }
    }
    let topic = &target.eum_topic_arn;
    if target.phone_number_ids.is_empty() {
        let title = format!("a linked WABA sends its events to {topic}");
        let sending: Vec<&str> = wabas
            .iter()
            .filter(|w| points_at(w, topic))
            .map(|w| w.waba_id.as_str())
            .collect();
        checks.push(if sending.is_empty() {
            Check::fail(
                title,
                "no linked WABA has it as event destination",
                destination_fix(&wabas[0], topic),
            )
        } else {
            Check::pass(format!("WABA {} sends its events to {topic}", sending.join(", ")))
        });
        return checks;
    }
    let mut serving: Vec<&Waba> = Vec::new();
    for meta_id in &target.phone_number_ids {
        let title = format!("phone number {meta_id} is linked to EUM");
        let found = wabas.iter().find_map(|w| {
            let numbers = w.numbers.as_ref().ok()?;
            numbers
                .iter()
                .find(|n| &n.meta_phone_number_id == meta_id)
                .map(|n| (w, n))
        });
        let Some((waba, number)) = found else {
            checks.push(Check::fail(
                title,
                "no linked WABA has a number with this Meta phone_number_id",
                "use the metaPhoneNumberId that aws socialmessaging get-linked-whatsapp-business-account --id <waba id> lists (not the phone-number-id-… id), or link the number in EUM",
            ));
            continue;
        };
        checks.push(match &number.linked_waba {
            Ok(linked) if linked == &waba.id && waba.registration_status == "COMPLETE" => Check::pass(format!(
                "phone number {meta_id} is linked to EUM (WABA {})",
                waba.waba_id
            )),
            Ok(linked) if linked != &waba.id => Check::fail(
                title,
                format!("WABA {} lists it, but EUM links it to {linked}", waba.waba_id),
                "unlink and link the number again in the EUM console",
            ),
            Ok(_) => Check::fail(
                title,
                format!(
                    "the registration of WABA {} is {}",
                    waba.waba_id, waba.registration_status
                ),
                "finish the WABA's set-up in the EUM console (Business accounts)",
            ),
            Err(e) => e.check(title, || "link the number in the EUM console".into()),
        });
        if !serving.iter().any(|w| w.id == waba.id) {
            serving.push(waba);
        }
    }
    for waba in serving {
        let title = format!("WABA {} sends its events to {topic}", waba.waba_id);
        checks.push(if points_at(waba, topic) {
            Check::pass(title)
        } else {
            let now = if waba.event_destinations.is_empty() {
                "it has no event destination".to_owned()
            } else {
                format!("its event destination is {}", waba.event_destinations.join(", "))
            };
            Check::fail(title, now, destination_fix(waba, topic))
        });
    }
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::{ErrorKind, FetchError};

    const TOPIC: &str = "arn:aws:sns:us-east-1:1:eum";

    fn target(numbers: &[&str]) -> Target {
        Target {
            phone_number_ids: numbers.iter().map(|n| n.to_string()).collect(),
            eum_topic_arn: TOPIC.into(),
            ..Target::placeholder()
        }
    }

    fn waba(id: &str, destination: &str, numbers: &[&str]) -> Waba {
        Waba {
            id: format!("waba-{id}"),
            waba_id: id.into(),
            registration_status: "COMPLETE".into(),
            event_destinations: vec![destination.into()],
            numbers: Ok(numbers
                .iter()
                .map(|n| Number {
                    meta_phone_number_id: n.to_string(),
                    phone_number_id: format!("phone-number-id-{n}"),
                    linked_waba: Ok(format!("waba-{id}")),
                })
                .collect()),
        }
    }

    fn run(numbers: &[&str], wabas: Vec<Waba>) -> Vec<String> {
        checks(&target(numbers), &Facts { wabas: Ok(wabas) })
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    #[test]
    fn served_numbers_are_linked_and_their_wabas_point_at_the_topic() {
        let lines = run(
            &["11", "12"],
            vec![waba("1", TOPIC, &["11", "12"]), waba("2", "other", &["21"])],
        );
        assert_eq!(
            lines,
            [
                "✔ phone number 11 is linked to EUM (WABA 1)",
                "✔ phone number 12 is linked to EUM (WABA 1)",
                &format!("✔ WABA 1 sends its events to {TOPIC}"),
            ]
        );
    }

    #[test]
    fn an_unknown_number_and_a_wrong_destination_fail_with_their_fixes() {
        let lines = run(
            &["99", "21"],
            vec![waba("1", TOPIC, &["11"]), waba("2", "arn:elsewhere", &["21"])],
        );
        assert!(lines[0].starts_with("✘ phone number 99 is linked to EUM: no linked WABA"));
        assert!(lines[0].contains("metaPhoneNumberId"));
        assert_eq!(lines[1], "✔ phone number 21 is linked to EUM (WABA 2)");
        assert!(lines[2].starts_with("✘ WABA 2 sends its events to"));
        assert!(lines[2].contains("its event destination is arn:elsewhere"));
        assert!(lines[2].contains("--id waba-2 --event-destinations eventDestinationArn=arn:aws:sns:us-east-1:1:eum"));
    }

    #[test]
    fn serving_every_number_needs_one_waba_on_the_topic() {
        assert_eq!(
            run(&[], vec![waba("1", "x", &[]), waba("2", TOPIC, &[])]),
            [format!("✔ WABA 2 sends its events to {TOPIC}")]
        );
        assert!(run(&[], vec![waba("1", "x", &[])])[0].starts_with("✘ a linked WABA sends its events"));
        assert!(run(&[], vec![])[0].contains("no WABA is linked in us-east-1"));
    }

    #[test]
    fn incomplete_registration_and_unreadable_wabas_fail() {
        let mut incomplete = waba("1", TOPIC, &["11"]);
        incomplete.registration_status = "INCOMPLETE".into();
        assert!(run(&["11"], vec![incomplete])[0].contains("registration of WABA 1 is INCOMPLETE"));
        let mut unreadable = waba("1", TOPIC, &[]);
        unreadable.numbers = Err(FetchError::new(
            "social-messaging:GetLinkedWhatsAppBusinessAccount",
            ErrorKind::AccessDenied,
            "no",
        ));
        let lines = run(&["11"], vec![unreadable]);
        assert!(lines[0].contains("allow social-messaging:GetLinkedWhatsAppBusinessAccount"));
        assert!(lines[1].starts_with("✘ phone number 11"));
    }
}
