//! A deployment needs no hand-edited environment: every variable the code reads is set by
//! `template.yaml` (from a stack parameter or the stack's own resources), except the few that keep their
//! defaults in AWS; and the template sets no variable the code does not read (a typo would be silent).

use std::collections::BTreeSet;
use std::path::Path;

/// Read by the code, deliberately left to their defaults in a deployment (docs/configuration.md).
const DEFAULTS_IN_AWS: &[&str] = &[
    "CONNECT_MAX_ATTACHMENT_BYTES",
    // The local twin's only: unset, bots' files come over https.
    "HANDOFF_LOOPBACK_FILE_URLS",
    "NOTICE_AGENT_FALLBACK",
    "TRANSCRIBE_STREAM_SPEED",
];

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

/// Every `"UPPER_CASE"` string literal in the configuration readers: the variables they look up.
fn read_by_code() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for file in [
        "src/config.rs",
        "src/media/service.rs",
        "src/routes.rs",
        "src/wording/overrides.rs",
        "src/handoff/service.rs",
    ] {
        let source = read(file);
        // Tests set variables too; only the code above them counts.
        let code = source.split("#[cfg(test)]").next().unwrap();
        for literal in code.split('"').skip(1).step_by(2) {
            // Every name has an underscore but the two one-word ones (an acronym like "TTL" has none).
            let is_name = (literal.contains('_') || matches!(literal, "LANGUAGE" | "MESSAGES"))
                && literal.len() > 3
                && literal
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if is_name {
                names.insert(literal.to_owned());
            }
        }
    }
    names
}

/// The keys under `Globals.Function.Environment.Variables`.
fn set_by_template() -> BTreeSet<String> {
    let template = read("../../template.yaml");
    let mut lines = template.lines().skip_while(|l| l.trim() != "Variables:").skip(1);
    let mut names = BTreeSet::new();
    for line in lines.by_ref() {
        let trimmed = line.trim_start();
        if line.len() - trimmed.len() < 8 {
            break;
        }
        if trimmed.starts_with('#') {
            continue;
        }
        if let Some((name, _)) = trimmed.split_once(':') {
            names.insert(name.to_owned());
        }
    }
    names
}

#[test]
fn the_template_sets_exactly_what_the_code_reads() {
    let code = read_by_code();
    let template = set_by_template();
    assert!(
        code.contains("CONNECT_INSTANCE_ID") && code.contains("NOTICE_IDLE"),
        "{code:?}"
    );
    let missing: Vec<_> = code
        .iter()
        .filter(|n| !template.contains(*n) && !DEFAULTS_IN_AWS.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "read by the code but not set by template.yaml: {missing:?}"
    );
    let unread: Vec<_> = template
        .iter()
        .filter(|n| !code.contains(*n) && n.as_str() != "RUST_LOG")
        .collect();
    assert!(
        unread.is_empty(),
        "set by template.yaml but read by no code: {unread:?}"
    );
}
