//! Starting the stack: bind, assemble the real authorizer and api with the
//! chosen backends, serve, and only then warm the authorizer up (its JWKS
//! comes from this very server when the development identity provider is on).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use api::App;
use api::cors::Cors;
use api::cursor::CursorCodec;
use authorizer::{Authorizer, AuthorizerBuilder};
use axum::Router;
use axum::body::Body;
use http::Request;
use telemetry::{MetricsConfig, Sink};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::backends::{Registry, Store};
use crate::config::{IdpChoice, IdpOff, StackConfig};
use crate::gateway::{Authorize, BadCorsOrigin, Gateway};
use crate::idp::{
    DEV_CLIENT_ID, DEV_MACHINE_CLIENT_ID, DEV_POOL_ID, DevIdp, IdpError, JWKS_PATH, MintRequest,
};
use crate::listen::peer_of;

/// Why the stack did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound (in use?).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The authorizer refused its configuration.
    #[error("authorizer configuration: {0}")]
    AuthorizerConfig(#[from] authorizer::ConfigError),
    /// The HTTP client for the issuers' keys could not be built.
    #[error("JWKS client: {0}")]
    Jwks(#[source] reqwest::Error),
    /// The development identity provider could not make its key.
    #[error("development identity provider: {0}")]
    Idp(#[from] IdpError),
    /// The partner key registry could not be prepared.
    #[error("partner key registry: {0}")]
    Registry(#[from] authorizer::apikey::admin::AdminError),
    /// The cursor key is too short.
    #[error("--cursor-key / CURSOR_KEY must be at least 32 bytes")]
    CursorKey,
    /// The random number generator failed.
    #[error("the random number generator failed")]
    Random,
    /// `--cors-origin` is not a header value.
    #[error(transparent)]
    Cors(#[from] BadCorsOrigin),
    /// `--cors-origin` is not an origin the api accepts as `ALLOWED_ORIGIN`.
    #[error("--cors-origin: {0}")]
    CorsOrigin(#[source] api::cors::BadOrigin),
    /// The metrics settings are refused (cannot happen with the defaults).
    #[error("metrics: {0}")]
    Metrics(#[source] telemetry::MetricsConfigError),
}

/// A running stack.
#[derive(Debug)]
pub struct Stack {
    addr: SocketAddr,
    gateway: Arc<Gateway>,
    idp: Option<Arc<DevIdp>>,
    idp_off: Option<IdpOff>,
    partner_key: Option<String>,
    router: Router,
    shutdown: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

impl Stack {
    /// Starts the stack for `config` with the real authorizer.
    pub async fn start(config: StackConfig) -> Result<Self, StartError> {
        Self::start_with(config, |a| a).await
    }

    /// Starts the stack with the real authorizer wrapped by `wrap` (tests
    /// use it to make the authorizer fail).
    pub async fn start_with(
        config: StackConfig,
        wrap: impl FnOnce(Arc<dyn Authorize>) -> Arc<dyn Authorize>,
    ) -> Result<Self, StartError> {
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| StartError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| StartError::Bind {
            addr: config.addr,
            source,
        })?;
        // Where this process reaches itself, even when bound to 0.0.0.0.
        let self_addr = if addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        } else {
            addr
        };

        // Decided on the address really bound: off a loopback one, the
        // development identity provider would mint tokens for the network.
        let idp_choice = config
            .idp
            .clone()
            .listening_on(addr, config.dev_idp_on_network);
        let (idp, idp_off) = match &idp_choice {
            IdpChoice::Development => (Some(Arc::new(DevIdp::generate()?)), None),
            IdpChoice::Cognito { .. } => (None, None),
            IdpChoice::Off(why) => (None, Some(why.clone())),
        };
        let registry = Registry::open(&config.registry).await?;
        let mut vars: Vec<(&str, String)> =
            vec![("API_KEYS_SECRET_ID", registry.secret_id.clone())];
        match &idp_choice {
            IdpChoice::Development => {
                vars.push(("COGNITO_USER_POOL_ID", DEV_POOL_ID.into()));
                vars.push((
                    "COGNITO_CLIENT_IDS",
                    format!("{DEV_CLIENT_ID},{DEV_MACHINE_CLIENT_ID}"),
                ));
                vars.push(("JWKS_URI", format!("http://{self_addr}{JWKS_PATH}")));
            }
            IdpChoice::Cognito {
                user_pool_id,
                client_ids,
                jwks_uri,
            } => {
                vars.push(("COGNITO_USER_POOL_ID", user_pool_id.clone()));
                vars.push(("COGNITO_CLIENT_IDS", client_ids.clone()));
                if let Some(uri) = jwks_uri {
                    vars.push(("JWKS_URI", uri.clone()));
                }
            }
            // JWT authentication is off: partner keys only.
            IdpChoice::Off(_) => {}
        }
        if let Some(trusted) = &config.trusted_issuers {
            vars.push(("TRUSTED_ISSUERS", trusted.clone()));
        }
        let authorizer_config = authorizer::Config::from_pairs(&vars)?;
        // The functions' EMF lines, as CloudWatch would receive them.
        let emf = if config.print_emf {
            Sink::Stderr
        } else {
            Sink::Null
        };
        // Every issuer's keys over HTTP, as the Lambda fetches them: the
        // pool's JWKS, the trusted issuers' by discovery or their jwksUri.
        let builder = AuthorizerBuilder::new(&authorizer_config)
            .secret_store(registry.store)
            .user_usage_key(crate::config::LOCAL_USER_USAGE_KEY.into())
            .sink(emf.clone())
            .http_key_sources()
            .map_err(StartError::Jwks)?;
        let authorizer: Arc<Authorizer> = Arc::new(builder.build());

        let cursor_key = match &config.cursor_key {
            Some(k) => k.as_bytes().to_vec(),
            None => {
                let mut key = vec![0u8; 32];
                aws_lc_rs::rand::fill(&mut key).map_err(|_| StartError::Random)?;
                key
            }
        };
        let codec = CursorCodec::new(&cursor_key).map_err(|_| StartError::CursorKey)?;
        let api_metrics =
            MetricsConfig::from_lookup(|_| None, "api").map_err(StartError::Metrics)?;
        // The template gives the api ALLOWED_ORIGIN = AllowedOrigin, the same
        // origin as the preflight and the gateway responses: with a proxy
        // integration API Gateway adds no CORS header to the function's
        // answers, so without this a browser hides every 200/201 from a page.
        let cors = Cors::new(&config.cors_origin).map_err(StartError::CorsOrigin)?;
        let app = App::new(Store::open(&config.store).await, codec)
            .with_metrics(api_metrics, emf)
            .with_cors(cors);
        let gateway = Arc::new(Gateway::new(
            &config,
            self_addr,
            wrap(Arc::clone(&authorizer) as Arc<dyn Authorize>),
            app,
        )?);

        let router = router(Arc::clone(&gateway), idp.clone(), idp_off.clone());
        let (shutdown, signal) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::listen::serve(
            listener,
            router.clone(),
            crate::listen::http1(config.header_read_timeout)
                .body_idle_timeout(config.body_idle_timeout),
            async {
                let _ = signal.await;
            },
        ));

        // Now that the server listens, the authorizer can fetch the JWKS from it.
        authorizer.warm_up().await;

        Ok(Stack {
            addr: self_addr,
            gateway,
            idp,
            idp_off,
            partner_key: registry.dev_key,
            router,
            shutdown,
            task,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The gateway (for its authorizer call count).
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// How many times the authorizer ran.
    pub fn authorizer_calls(&self) -> usize {
        self.gateway.authorizer_calls()
    }

    /// The router the listener serves (the fuzz target feeds it connections
    /// of its own through [`crate::listen::connection`]).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// The development partner key (embedded registry only).
    pub fn partner_key(&self) -> Option<&str> {
        self.partner_key.as_deref()
    }

    /// Whether the development identity provider is on.
    pub fn has_dev_idp(&self) -> bool {
        self.idp.is_some()
    }

    /// Why the development identity provider is off, when it is (not when
    /// a Cognito pool replaces it).
    pub fn idp_off(&self) -> Option<&IdpOff> {
        self.idp_off.as_ref()
    }

    /// A development access token for `sub` (development identity provider only).
    pub fn mint(
        &self,
        sub: &str,
        groups: &[&str],
        scope: Option<&str>,
    ) -> Option<Result<String, IdpError>> {
        self.mint_at(sub, groups, scope, unix_now())
    }

    /// As [`Self::mint`], issued at `issued_at` (Unix seconds): tests make
    /// tokens near the end of their life with it.
    pub fn mint_at(
        &self,
        sub: &str,
        groups: &[&str],
        scope: Option<&str>,
        issued_at: u64,
    ) -> Option<Result<String, IdpError>> {
        let request = MintRequest::user(sub, groups, scope);
        self.mint_request(&request, issued_at)
    }

    /// A development machine (`client_credentials`) token for `scope`.
    pub fn mint_machine(&self, scope: &str) -> Option<Result<String, IdpError>> {
        self.mint_request(&MintRequest::machine(scope), unix_now())
    }

    fn mint_request(
        &self,
        request: &MintRequest,
        issued_at: u64,
    ) -> Option<Result<String, IdpError>> {
        let idp = self.idp.as_ref()?;
        Some(idp.mint(request, issued_at).map(|r| r.access_token))
    }

    /// Stops accepting, lets open requests finish, and returns.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(());
        match self.task.await {
            Ok(result) => result,
            Err(e) => Err(std::io::Error::other(e)),
        }
    }
}

/// Unix seconds now.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}

fn router(gateway: Arc<Gateway>, idp: Option<Arc<DevIdp>>, idp_off: Option<IdpOff>) -> Router {
    let mut router = crate::dev_endpoints::metrics_route(Arc::clone(gateway.stats()))
        .merge(crate::contract::openapi_route());
    if let Some(idp) = idp {
        router = router.merge(crate::dev_endpoints::routes(idp));
    } else if let Some(why) = idp_off {
        router = router.merge(crate::dev_endpoints::off_routes(&why));
    }
    router.fallback(move |request: Request<Body>| {
        let gateway = Arc::clone(&gateway);
        async move {
            let peer = peer_of(&request);
            gateway.handle(request, peer).await
        }
    })
}
