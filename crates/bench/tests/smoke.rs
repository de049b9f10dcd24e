//! The benchmark's smoke run (tiny counts, the debug handler binaries `make build` made) as a test:
//! every case is measured, the calls a case must make are seen, and the numbers hold together, so a
//! change that breaks the measurement (or the twin's timing endpoints) fails `make test`.

use serde_json::Value;
use std::process::Command;

fn case<'a>(results: &'a Value, name: &str) -> &'a Value {
    results["cases"]
        .as_array()
        .and_then(|cases| cases.iter().find(|c| c["name"] == name))
        .unwrap_or_else(|| panic!("no case {name} in {results}"))
}

fn num(v: &Value, path: &[&str]) -> u64 {
    path.iter()
        .fold(v, |v, k| &v[*k])
        .as_u64()
        .unwrap_or_else(|| panic!("{} is not a number in {v}", path.join(".")))
}

#[test]
fn smoke_run_measures_every_case_with_plausible_numbers() {
    let out = std::env::temp_dir().join(format!("bench-smoke-{}.json", std::process::id()));
    let run = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smoke", "--out"])
        .arg(&out)
        .output()
        .expect("the bench binary runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "bench --smoke failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(stdout.contains("TARGETS"), "the table is printed: {stdout}");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(&out).expect("results written")).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(results["mode"], "smoke");
    assert_eq!(results["machine"]["idle_cores"], "allowed to sleep (--smoke)");

    let must_call = [
        ("inbound_text", "connectparticipant.SendMessage"),
        ("inbound_text_new_chat", "connect.StartChatContact"),
        ("agent_text", "socialmessaging.SendWhatsAppMessage"),
        ("agent_interactive", "socialmessaging.SendWhatsAppMessage"),
        ("inbound_image_1mb", "connectparticipant.CompleteAttachmentUpload"),
        ("voice_note", "transcribe.StartStreamTranscription"),
    ];
    assert_eq!(results["cases"].as_array().map(Vec::len), Some(must_call.len()));
    for (name, op) in must_call {
        let c = case(&results, name);
        let calls: Vec<&str> = c["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(calls.contains(&op), "{name} makes {op}: {calls:?}");
        // DynamoDB goes through the twin's moto proxy, so the claim is seen too.
        assert!(calls.iter().any(|c| c.starts_with("dynamodb.")), "{name}: {calls:?}");
        let handler = num(c, &["handler_us", "p50"]);
        let wait = num(c, &["aws_wait_us", "p50"]);
        assert!(
            handler > 0 && wait > 0 && wait <= handler,
            "{name}: handler {handler} µs, wait {wait} µs"
        );
        assert!(handler < 30_000_000, "{name}: {handler} µs");
        // The kernel's count of the handler waiting for a CPU is read for every event, and lies within
        // its handler time.
        assert_eq!(num(c, &["queued_us", "n"]), num(c, &["handler_us", "n"]), "{name}: {c}");
        let queued = num(c, &["queued_us", "max"]);
        assert!(queued <= num(c, &["handler_us", "max"]), "{name}: queued {queued} µs");
        // With 20 ms added to every call, the calls made one after another cannot take less.
        let seq = num(c, &["latency", "sequential_calls"]);
        let slow = num(c, &["latency", "duration_us", "min"]);
        assert!(
            seq >= 1 && slow >= seq * 20_000,
            "{name}: {seq} sequential calls in {slow} µs"
        );
        assert!(num(c, &["latency", "floor_us"]) >= 40_000, "{name}");
        // Every event delivers its message, no later than the handler answers, and at 20 ms per call
        // no sooner than its delivery's floor of two rounds.
        assert_eq!(
            num(c, &["delivery_us", "n"]),
            num(c, &["handler_us", "n"]),
            "{name}: {c}"
        );
        assert!(
            num(c, &["delivery_us", "max"]) <= num(c, &["handler_us", "max"]),
            "{name}: {c}"
        );
        assert!(num(c, &["latency", "delivery_us", "min"]) >= 40_000, "{name}: {c}");
    }

    let cold = results["cold_start"].as_array().unwrap();
    assert_eq!(cold.len(), 2);
    for c in cold {
        let poll = num(c, &["to_first_poll_us", "p50"]);
        let end = num(c, &["to_end_of_first_event_us", "p50"]);
        assert!(
            num(c, &["starts"]) >= 2 && poll > 0 && poll < end && end < 30_000_000,
            "{c}"
        );
    }

    for m in results["memory"].as_array().unwrap() {
        let text = num(m, &["text_peak_kib"]);
        assert!((1024..1024 * 1024).contains(&text), "{m}");
        assert!(num(m, &["video_peak_kib"]) >= num(m, &["before_video_rss_kib"]), "{m}");
    }
    let binaries = results["binaries"].as_array().unwrap();
    assert!(
        binaries.len() >= 2 && binaries.iter().all(|b| num(b, &["bytes"]) > 0),
        "{binaries:?}"
    );
    assert!(!results["targets"].as_array().unwrap().is_empty());
}
