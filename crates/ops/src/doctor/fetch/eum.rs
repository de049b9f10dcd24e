//! EUM Social: `ListLinkedWhatsAppBusinessAccounts` (every page), then
//! `GetLinkedWhatsAppBusinessAccount` for each WABA and
//! `GetLinkedWhatsAppBusinessAccountPhoneNumber` for each of its numbers, each level concurrently.

use futures_util::future::join_all;

use super::{Clients, fetch_error};
use crate::doctor::FetchError;
use crate::doctor::eum::{Facts, Number, Waba};
use crate::doctor::{ErrorKind, Fact};

const LIST: &str = "social-messaging:ListLinkedWhatsAppBusinessAccounts";
const GET: &str = "social-messaging:GetLinkedWhatsAppBusinessAccount";
const PHONE: &str = "social-messaging:GetLinkedWhatsAppBusinessAccountPhoneNumber";

pub async fn facts(clients: &Clients) -> Facts {
    Facts {
        wabas: wabas(&clients.social).await,
    }
}

async fn wabas(social: &aws_sdk_socialmessaging::Client) -> Fact<Vec<Waba>> {
    let mut summaries = Vec::new();
    let mut next = None;
    loop {
        let page = social
            .list_linked_whats_app_business_accounts()
            .set_next_token(next)
            .send()
            .await
            .map_err(|e| fetch_error(LIST, e))?;
        summaries.extend(page.linked_accounts().to_vec());
        next = page.next_token().map(str::to_owned);
        if next.is_none() {
            break;
        }
    }
    let numbers = join_all(summaries.iter().map(|s| numbers(social, s.id()))).await;
    Ok(summaries
        .iter()
        .zip(numbers)
        .map(|(s, numbers)| Waba {
            id: s.id().to_owned(),
            waba_id: s.waba_id().to_owned(),
            registration_status: s.registration_status().as_str().to_owned(),
            event_destinations: s
                .event_destinations()
                .iter()
                .map(|d| d.event_destination_arn().to_owned())
                .collect(),
            numbers,
        })
        .collect())
}

/// The WABA's numbers, each with the WABA the phone-number API links it to.
async fn numbers(social: &aws_sdk_socialmessaging::Client, waba_id: &str) -> Fact<Vec<Number>> {
    let out = social
        .get_linked_whats_app_business_account()
        .id(waba_id)
        .send()
        .await
        .map_err(|e| fetch_error(GET, e))?;
    let listed = out.account().map(|a| a.phone_numbers()).unwrap_or_default();
    let linked = join_all(listed.iter().map(|n| linked_waba(social, n.phone_number_id()))).await;
    Ok(listed
        .iter()
        .zip(linked)
        .map(|(n, linked_waba)| Number {
            meta_phone_number_id: n.meta_phone_number_id().to_owned(),
            phone_number_id: n.phone_number_id().to_owned(),
            linked_waba,
        })
        .collect())
}

async fn linked_waba(social: &aws_sdk_socialmessaging::Client, phone_number_id: &str) -> Fact<String> {
    let out = social
        .get_linked_whats_app_business_account_phone_number()
        .id(phone_number_id)
        .send()
        .await
        .map_err(|e| fetch_error(PHONE, e))?;
    out.linked_whats_app_business_account_id()
        .map(str::to_owned)
        .ok_or_else(|| FetchError::new(PHONE, ErrorKind::Other, "the answer names no WABA"))
}
