//! The api Lambda: read the configuration once, build the DynamoDB client
//! once, serve requests with [`api::App`].

use std::sync::Arc;
use std::time::Duration;

use api::App;
use api::config::{Config, read_cursor_key};
use api::store::DynamoDbStore;
use lambda_http::lambda_runtime::Runtime;
use lambda_http::request::RequestContext;
use lambda_http::{Adapter, Error, Request, RequestExt, service_fn};
use telemetry::log::fail_cold_start;
use telemetry::runtime::InvocationIds;
use telemetry::xray::XrayInterceptor;
use telemetry::{Invocation, Sink};

/// API Gateway's id of the request (REST and HTTP APIs).
fn gateway_request_id(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(c) => c.request_id.clone(),
        RequestContext::ApiGatewayV2(c) => c.request_id.clone(),
        _ => None,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    telemetry::log::init();
    // With active tracing, every DynamoDB and Secrets Manager call becomes a
    // subsegment of the invocation.
    telemetry::xray::init_from_lambda_env();

    // A bad configuration stops the cold start with a message naming the variable.
    let config = Config::from_env().unwrap_or_else(|e| fail_cold_start(&e));
    // Bounded DynamoDB and Secrets Manager calls: a hung call becomes a 503
    // (or a failed cold start) rather than a Lambda timeout (a 502 from API
    // Gateway).
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .operation_attempt_timeout(Duration::from_secs(2))
        .operation_timeout(Duration::from_secs(5))
        .build();
    // Credentials and region from Lambda's environment, compiled-in roots:
    // the set-up the authorizer shares.
    let aws = sdkconfig::for_lambda(timeouts).await;
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::config::Builder::from(&aws)
            .interceptor(XrayInterceptor)
            .build(),
    );
    // The DynamoDB client is built while the cursor key is on its way: its
    // construction is CPU work (the SDK parses its endpoint rules' partition
    // table, a third of a million instructions), the secret read a wait on
    // the network; one thread does both.
    let table_name = config.table_name;
    let dynamodb = async {
        let client = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&aws)
                .interceptor(XrayInterceptor)
                .build(),
        );
        DynamoDbStore::new(client, table_name)
    };
    let (cursors, store) = tokio::join!(
        // The request goes out first, then the client is built.
        biased;
        read_cursor_key(&secrets, &config.cursor_key_secret_id),
        dynamodb
    );
    let cursors = cursors.unwrap_or_else(|e| fail_cold_start(&e));
    let mut app = App::new(store, cursors).with_metrics(config.metrics, Sink::Stdout);
    if let Some(cors) = config.cors {
        app = app.with_cors(cors);
    }
    let app = Arc::new(app);

    Runtime::new(Adapter::from(service_fn(move |request: Request| {
        let app = Arc::clone(&app);
        // Every line of this invocation carries its ids: Lambda's request
        // id, API Gateway's, and the X-Ray trace.
        let context = request.lambda_context_ref();
        let invocation = Invocation {
            request_id: context.map(|c| c.request_id.clone()).unwrap_or_default(),
            api_request_id: gateway_request_id(&request),
            trace_id: context.and_then(|c| c.xray_trace_id.clone()),
        };
        async move {
            let response = invocation.scope(app.handle(request)).await;
            Ok::<_, std::convert::Infallible>(response)
        }
    })))
    // The runtime's own lines carry Lambda's ids too.
    .layer(InvocationIds)
    .run()
    .await
}
