//! The panic hook, in a test binary of its own: the hook is the process's.

#![allow(clippy::unwrap_used, clippy::panic)]

use telemetry::{Invocation, Sink};

#[tokio::test]
async fn a_panic_is_one_json_error_line_with_the_invocations_ids() {
    let sink = Sink::memory();
    telemetry::log::install_panic_hook(sink.clone());
    let invocation = Invocation {
        request_id: "req-7".into(),
        api_request_id: Some("gw-7".into()),
        trace_id: None,
    };
    let caught = invocation
        .scope(async { std::panic::catch_unwind(|| panic!("store \"gone\"\nat once")) })
        .await;
    assert!(caught.is_err());
    let text = sink.contents();
    assert_eq!(text.lines().count(), 1, "{text}");
    let line: serde_json::Value = serde_json::from_str(text.trim_end()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert_eq!(line["target"], "panic");
    assert_eq!(line["message"], "store \"gone\"\nat once");
    assert!(line["location"].as_str().unwrap().contains("panic_hook.rs"));
    assert_eq!(line["requestId"], "req-7");
    assert_eq!(line["apiRequestId"], "gw-7");
}
