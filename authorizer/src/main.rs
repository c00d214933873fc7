//! The authorizer Lambda: read the configuration, build the clients, run.

use authorizer::{Authorizer, AuthorizerEvent, Config};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    authorizer::telemetry::init();
    // A bad configuration stops the cold start with the variable's name.
    let config = Config::from_env()?;
    let authorizer = Authorizer::from_config(&config).await?;
    let authorizer = &authorizer;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<AuthorizerEvent>| async move {
        authorizer.handle(event.payload).await
    }))
    .await
}
