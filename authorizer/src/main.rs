//! The authorizer Lambda: read the configuration, build the clients, run.

use authorizer::{Authorizer, AuthorizerEvent, Config};
use lambda_runtime::{LambdaEvent, Runtime, service_fn};
use telemetry::Invocation;
use telemetry::log::fail_cold_start;
use telemetry::runtime::InvocationIds;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::log::init();
    // With active tracing, SDK calls and the JWKS fetch become subsegments.
    telemetry::xray::init_from_lambda_env();
    // A bad configuration stops the cold start with the variable's name.
    let config = Config::from_env().unwrap_or_else(|e| fail_cold_start(&e));
    let authorizer = Authorizer::from_config(&config)
        .await
        .unwrap_or_else(|e| fail_cold_start(&e));
    let authorizer = &authorizer;
    Runtime::new(service_fn(move |event: LambdaEvent<AuthorizerEvent>| {
        // Every line of the decision carries its ids, API Gateway's too.
        let invocation = Invocation {
            api_request_id: event.payload.api_request_id().map(str::to_owned),
            request_id: event.context.request_id,
            trace_id: event.context.xray_trace_id,
        };
        invocation.scope(authorizer.handle(event.payload))
    }))
    // And the runtime's own lines carry Lambda's.
    .layer(InvocationIds)
    .run()
    .await
}
