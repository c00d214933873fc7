//! The floor of a Lambda function on `lambda_runtime`: the same runtime, the
//! same Tokio flavour and allocator as the authorizer, a handler that reads
//! no field and refuses every event as the authorizer refuses a credential
//! (`Unauthorized`, posted to the Runtime API's error endpoint).
//!
//! `scripts/invocation-cpu.py` runs it to say how much of the authorizer's
//! per-invocation CPU is the runtime's two Runtime API exchanges, which no
//! change to the handler can cut:
//!
//! ```text
//! cargo build --release -p authorizer --example runtime_floor
//! INVOCATION_CPU_LOADS=malformed scripts/invocation-cpu.py target/release/examples/runtime_floor
//! ```

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde::de::IgnoredAny;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<IgnoredAny>| async {
        Err::<(), _>(Diagnostic {
            error_type: "Unauthorized".into(),
            error_message: "Unauthorized".into(),
        })
    }))
    .await
}
