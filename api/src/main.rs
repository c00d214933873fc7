//! The api Lambda: read the configuration once, build the DynamoDB client
//! once, serve requests with [`api::App`].

use std::sync::Arc;
use std::time::Duration;

use api::App;
use api::config::{Config, read_cursor_key};
use api::store::DynamoDbStore;
use lambda_http::{Error, Request, run, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .without_time()
        .init();

    // A bad configuration stops the cold start with a message naming the variable.
    let config = Config::from_env()?;
    // Bounded DynamoDB and Secrets Manager calls: a hung call becomes a 503
    // (or a failed cold start) rather than a Lambda timeout (a 502 from API
    // Gateway).
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .load()
        .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let cursors = read_cursor_key(&secrets, &config.cursor_key_secret_id).await?;
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&aws), config.table_name);
    let mut app = App::new(store, cursors);
    if let Some(cors) = config.cors {
        app = app.with_cors(cors);
    }
    let app = Arc::new(app);

    run(service_fn(move |request: Request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, std::convert::Infallible>(app.handle(request).await) }
    }))
    .await
}
