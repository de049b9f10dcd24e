//! IAM callers: the principal behind a SigV4-signed request, and the roles and users a client record
//! lets act as the client.
//!
//! On a route with `AWS_IAM` authorization, API Gateway has already checked the signature and the
//! caller's `execute-api:Invoke` permission; the function's event carries who signed in
//! `requestContext.authorizer.iam` ([`IamIdentity`]). Its `userArn` is what is matched: `callerId` is
//! the principal's unique id (`AROA…:<session>` for a role), which no one writes into a configuration.
//!
//! A caller on AWS is nearly always a role session, whose ARN is
//! `arn:<partition>:sts::<account>:assumed-role/<role name>/<session name>`, while a record names the
//! role as `arn:<partition>:iam::<account>:role/<path>/<role name>`. The session ARN carries neither
//! the role's path nor a stable session name, so a principal is compared by partition, account and role
//! name; a role's name is unique in its account whatever its path, so nothing is lost. IAM users are
//! compared by their whole name, path included, as both ARNs carry it. The account root, federated users
//! and anything else are not accepted as clients' principals.
//!
//! A principal's canonical form ([`IamPrincipal`]'s `Display`) is the role's or user's own ARN without
//! a role path: it never holds a session name (which is often a person's e-mail address), so it may be
//! logged, and it is what a store indexes a principal by.

use serde::Deserialize;
use std::fmt;

/// A role or user, in a client record or as the caller of a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IamPrincipal {
    partition: String,
    account: String,
    entity: Entity,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Entity {
    /// The role's name, without its path.
    Role(String),
    /// The user's path and name, as in its ARN.
    User(String),
}

impl IamPrincipal {
    /// A principal as a client record names it: a role's ARN (`arn:aws:iam::123456789012:role/Bot`, a
    /// path allowed) or a user's.
    pub fn parse(arn: &str) -> Option<Self> {
        let (partition, account, resource) = split_arn(arn, "iam")?;
        let entity = match resource.split_once('/')? {
            ("role", path_and_name) => Entity::Role(path_and_name.rsplit('/').next()?.to_owned()),
            ("user", path_and_name) => Entity::User(path_and_name.to_owned()),
            _ => return None,
        };
        Self::new(partition, account, entity)
    }

    /// The caller of a request from its `userArn`: a role session's ARN
    /// (`arn:aws:sts::123456789012:assumed-role/Bot/i-0abc`) or an IAM user's.
    pub fn caller(user_arn: &str) -> Option<Self> {
        if let Some((partition, account, resource)) = split_arn(user_arn, "sts") {
            let mut parts = resource.split('/');
            return match (parts.next(), parts.next(), parts.next(), parts.next()) {
                (Some("assumed-role"), Some(role), Some(session), None) if !session.is_empty() => {
                    Self::new(partition, account, Entity::Role(role.to_owned()))
                }
                _ => None,
            };
        }
        Self::parse(user_arn).filter(|principal| matches!(principal.entity, Entity::User(_)))
    }

    fn new(partition: &str, account: &str, entity: Entity) -> Option<Self> {
        let (Entity::Role(name) | Entity::User(name)) = &entity;
        let valid = !partition.is_empty()
            && partition.bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty()
            && !name.starts_with('/')
            && !name.ends_with('/');
        valid.then(|| Self {
            partition: partition.to_owned(),
            account: account.to_owned(),
            entity,
        })
    }
}

/// `arn:<partition>:<service>::<account>:<resource>` for a global service (no region).
fn split_arn<'a>(arn: &'a str, service: &str) -> Option<(&'a str, &'a str, &'a str)> {
    let mut parts = arn.splitn(6, ':');
    match [(); 6].map(|()| parts.next()) {
        [
            Some("arn"),
            Some(partition),
            Some(s),
            Some(""),
            Some(account),
            Some(resource),
        ] if s == service => Some((partition, account, resource)),
        _ => None,
    }
}

impl fmt::Display for IamPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, name) = match &self.entity {
            Entity::Role(name) => ("role", name),
            Entity::User(name) => ("user", name),
        };
        write!(f, "arn:{}:iam::{}:{kind}/{name}", self.partition, self.account)
    }
}

/// `requestContext.authorizer.iam` of an HTTP API request (payload 2.0) on an `AWS_IAM` route; only the
/// field matched is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IamIdentity {
    pub user_arn: String,
}

impl IamIdentity {
    /// The caller, if it is a role session or an IAM user.
    pub fn caller(&self) -> Option<IamPrincipal> {
        IamPrincipal::caller(&self.user_arn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "123456789012";

    fn configured(arn: &str) -> IamPrincipal {
        IamPrincipal::parse(arn).unwrap_or_else(|| panic!("{arn}"))
    }

    fn caller(arn: &str) -> IamPrincipal {
        IamPrincipal::caller(arn).unwrap_or_else(|| panic!("{arn}"))
    }

    #[test]
    fn a_role_session_is_its_role_whatever_the_session_and_the_roles_path() {
        let role = configured(&format!("arn:aws:iam::{ACCOUNT}:role/Bot"));
        let with_path = configured(&format!("arn:aws:iam::{ACCOUNT}:role/teams/bots/Bot"));
        for session in ["i-0abc", "bot@example.com", "AWSLambda-fn"] {
            let session = caller(&format!("arn:aws:sts::{ACCOUNT}:assumed-role/Bot/{session}"));
            assert_eq!(session, role);
            assert_eq!(session, with_path);
        }
        for other in [
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/OtherBot/s"),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/bot/s"),
            "arn:aws:sts::210987654321:assumed-role/Bot/s".to_owned(),
            format!("arn:aws-cn:sts::{ACCOUNT}:assumed-role/Bot/s"),
        ] {
            assert_ne!(caller(&other), role, "{other}");
        }
    }

    #[test]
    fn users_match_by_path_and_name() {
        let user = configured(&format!("arn:aws:iam::{ACCOUNT}:user/ops/deploy"));
        assert_eq!(caller(&format!("arn:aws:iam::{ACCOUNT}:user/ops/deploy")), user);
        assert_ne!(caller(&format!("arn:aws:iam::{ACCOUNT}:user/deploy")), user);
        assert_ne!(
            caller(&format!("arn:aws:iam::{ACCOUNT}:user/Bot")),
            configured(&format!("arn:aws:iam::{ACCOUNT}:role/Bot")),
            "a user and a role of the same name are different principals"
        );
    }

    #[test]
    fn only_role_sessions_and_users_call_and_only_roles_and_users_are_configured() {
        for not_a_caller in [
            format!("arn:aws:iam::{ACCOUNT}:role/Bot"),
            format!("arn:aws:iam::{ACCOUNT}:root"),
            format!("arn:aws:sts::{ACCOUNT}:federated-user/Bob"),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/Bot"),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/Bot/"),
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/Bot/s/extra"),
            format!("arn:aws:sts:us-east-1:{ACCOUNT}:assumed-role/Bot/s"),
            format!("arn:aws:lambda::{ACCOUNT}:function/Bot"),
            "arn:aws:sts::1234567890:assumed-role/Bot/s".to_owned(),
            "arn:aws:sts::12345678901x:assumed-role/Bot/s".to_owned(),
            format!("arn::sts::{ACCOUNT}:assumed-role/Bot/s"),
            format!("ARN:aws:sts::{ACCOUNT}:assumed-role/Bot/s"),
            "Bot".to_owned(),
            String::new(),
        ] {
            assert_eq!(IamPrincipal::caller(&not_a_caller), None, "{not_a_caller}");
        }
        for not_configurable in [
            format!("arn:aws:sts::{ACCOUNT}:assumed-role/Bot/s"),
            format!("arn:aws:iam::{ACCOUNT}:root"),
            format!("arn:aws:iam::{ACCOUNT}:role/"),
            format!("arn:aws:iam::{ACCOUNT}:role/bots/"),
            format!("arn:aws:iam::{ACCOUNT}:user/"),
            format!("arn:aws:iam::{ACCOUNT}:group/Bots"),
            format!("arn:aws:iam::{ACCOUNT}:policy/Bot"),
        ] {
            assert_eq!(IamPrincipal::parse(&not_configurable), None, "{not_configurable}");
        }
    }

    #[test]
    fn the_canonical_form_drops_the_session_and_the_role_path() {
        let session = caller(&format!(
            "arn:aws-us-gov:sts::{ACCOUNT}:assumed-role/Bot/bob@example.com"
        ));
        assert_eq!(session.to_string(), format!("arn:aws-us-gov:iam::{ACCOUNT}:role/Bot"));
        let with_path = configured(&format!("arn:aws:iam::{ACCOUNT}:role/teams/Bot"));
        assert_eq!(with_path.to_string(), format!("arn:aws:iam::{ACCOUNT}:role/Bot"));
        let user = configured(&format!("arn:aws:iam::{ACCOUNT}:user/ops/deploy"));
        assert_eq!(IamPrincipal::parse(&user.to_string()), Some(user));
    }

    #[test]
    fn the_caller_is_read_from_the_request_contexts_iam_authorizer() {
        // `requestContext.authorizer.iam` as the HTTP API payload 2.0 documents it (the docs' example,
        // with a role session's ARN and a 12-digit account).
        let iam: IamIdentity = serde_json::from_value(serde_json::json!({
            "accessKey": "ASIA2ZJZYVUEREEIHAKY",
            "accountId": ACCOUNT,
            "callerId": "AROA7ZJZYVRE7C3DUXHH6:i-0abc",
            "cognitoIdentity": null,
            "principalOrgId": "o-example",
            "userArn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/Bot/i-0abc"),
            "userId": "AROA7ZJZYVRE7C3DUXHH6:i-0abc"
        }))
        .unwrap();
        assert_eq!(
            iam.caller(),
            Some(configured(&format!("arn:aws:iam::{ACCOUNT}:role/x/Bot")))
        );
    }
}
