//! What a newcomer reads before a first deploy holds to `template.yaml`: `docs/deploy.md`'s parameter
//! table lists exactly the template's parameters, and the parameters refuse the values that deploy a
//! broken stack (a reserved concurrency of 0 throttles every function; a malformed alarm e-mail is a
//! subscription that never confirms). The dashboard's name, which CloudWatch keeps per account, not per
//! Region, names the Region, so the same stack deploys in two Regions.

use std::collections::BTreeSet;
use std::path::Path;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(path)).unwrap()
}

/// The template's `Parameters:` section, each parameter with its lines.
fn parameters() -> Vec<(String, Vec<String>)> {
    let template = read("template.yaml");
    let mut lines = template.lines().skip_while(|l| *l != "Parameters:").skip(1);
    let mut parameters: Vec<(String, Vec<String>)> = Vec::new();
    for line in lines.by_ref() {
        if !line.is_empty() && !line.starts_with(' ') {
            break;
        }
        match line.strip_prefix("  ").filter(|l| !l.starts_with(' ')) {
            Some(name) => parameters.push((name.trim_end_matches(':').to_owned(), Vec::new())),
            None => {
                if let Some((_, body)) = parameters.last_mut() {
                    body.push(line.trim().to_owned());
                }
            }
        }
    }
    parameters
}

/// The `AllowedPattern` of a parameter, as a regex.
fn pattern(name: &str) -> regex_lite::Regex {
    let (_, body) = parameters().into_iter().find(|(n, _)| n == name).unwrap();
    let line = body.iter().find_map(|l| l.strip_prefix("AllowedPattern: ")).unwrap();
    let yaml_string: String = serde_json::from_str(line).unwrap();
    regex_lite::Regex::new(&yaml_string).unwrap()
}

#[test]
fn deploy_md_lists_exactly_the_templates_parameters() {
    let template: BTreeSet<String> = parameters().into_iter().map(|(name, _)| name).collect();
    assert!(template.contains("ConnectInstanceId") && template.contains("NoticeIdle"));
    let deploy = read("docs/deploy.md");
    let table = deploy
        .split("### Parameters")
        .nth(1)
        .and_then(|rest| rest.split("\n\n").find(|block| block.starts_with("| parameter")))
        .expect("deploy.md has a parameter table");
    let documented: BTreeSet<String> = table
        .lines()
        .skip(2)
        .filter_map(|row| row.split('|').nth(1))
        .flat_map(|cell| {
            cell.split('`')
                .skip(1)
                .step_by(2)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(documented, template);
}

#[test]
fn parameters_refuse_values_that_deploy_a_broken_stack() {
    let concurrency = pattern("ReservedConcurrency");
    for (value, allowed) in [
        ("", true),
        ("1", true),
        ("250", true),
        ("0", false),
        ("07", false),
        ("-1", false),
    ] {
        assert_eq!(concurrency.is_match(value), allowed, "ReservedConcurrency {value:?}");
    }
    let email = pattern("AlarmEmail");
    for (value, allowed) in [
        ("", true),
        ("ops@example.com", true),
        ("contact-center.ops+alarms@example.co.uk", true),
        ("ops", false),
        ("ops@example", false),
        ("ops @example.com", false),
        ("a@b@example.com", false),
    ] {
        assert_eq!(email.is_match(value), allowed, "AlarmEmail {value:?}");
    }
}

#[test]
fn the_dashboard_is_named_per_region() {
    let template = read("template.yaml");
    let name = template
        .lines()
        .find_map(|l| l.trim().strip_prefix("DashboardName: "))
        .expect("a dashboard name");
    assert!(name.contains("${AWS::Region}"), "{name}");
}

/// The lines of the key policy statement `sid`, up to the next statement.
fn key_statement(template: &str, sid: &str) -> String {
    let start = template.find(&format!("- Sid: {sid}")).expect("the statement");
    let rest = &template[start + 1..];
    let end = rest.find("- Sid: ").unwrap_or(rest.len());
    rest[..end].to_owned()
}

#[test]
fn the_topic_key_admits_publishers_by_source_or_by_the_stacks_topics() {
    let template = read("template.yaml");
    for (sid, topics) in [
        ("AllowEumSocialPublish", &["WhatsappEventsTopic"][..]),
        ("AllowConnectPublish", &["ConnectStreamTopic", "HandoffStreamTopic"][..]),
    ] {
        let statement = key_statement(&template, sid);
        assert!(
            statement.contains("!If") && statement.contains("TopicKeyScopedByTopic"),
            "{sid}"
        );
        assert!(
            statement.contains("\"aws:SourceAccount\": !Ref AWS::AccountId"),
            "{sid}"
        );
        assert!(statement.contains("kms:EncryptionContext:aws:sns:topicArn"), "{sid}");
        for topic in topics {
            // The pattern names the topic as CloudFormation names it, and the topic is one this key encrypts.
            assert!(
                statement.contains(&format!("${{AWS::StackName}}-{topic}-*")),
                "{sid} {topic}"
            );
            let resource = template
                .split(&format!("\n  {topic}:\n"))
                .nth(1)
                .expect("the topic resource");
            let properties = resource.split("\n\n").next().unwrap_or_default();
            assert!(properties.contains("KmsMasterKeyId: !GetAtt TopicKey.Arn"), "{topic}");
        }
    }
    assert!(template.contains("TopicKeyScopedByTopic: !Equals [!Ref TopicKeyPublisherScope, topic]"));
}
