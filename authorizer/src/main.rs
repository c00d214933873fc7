//! The authorizer Lambda: read the configuration, build the clients, run.

use authorizer::{Authorizer, AuthorizerEvent, Config};
use lambda_runtime::{LambdaEvent, service_fn};
use telemetry::Invocation;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::log::init();
    // With active tracing, SDK calls and the JWKS fetch become subsegments.
    telemetry::xray::init_from_lambda_env();
    // A bad configuration stops the cold start with the variable's name.
    let config = Config::from_env()?;
    let authorizer = Authorizer::from_config(&config).await?;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<AuthorizerEvent>| {
        // Every line of this invocation carries its ids.
        let invocation = Invocation {
            api_request_id: event.payload.api_request_id().map(str::to_owned),
            request_id: event.context.request_id,
            trace_id: event.context.xray_trace_id,
        };
        invocation.scope(authorizer.handle(event.payload))
    }))
    .await
}
