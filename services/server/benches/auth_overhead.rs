//! What authentication adds to a small RPC: `ListConfigurations` on an
//! empty SQLite catalog, round trips over loopback, against the same
//! catalog served with the auth layer (bearer token checked, caller cached)
//! and without it. Prints the median time per call of each and the ratio.
//!
//! ```text
//! cargo bench -p vigil-server --bench auth_overhead
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use vigil_auth::{AuthChannel, ClientCredentials, Token};
use vigil_catalog::{Catalog, CatalogOptions};
use vigil_proto::catalog::v1::ListConfigurationsRequest;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_server_common::auth::AuthPolicy;
use vigil_server_common::{GrpcServer, ServerHandle, Shutdown};

/// Calls per measured batch.
const CALLS: usize = 2_000;
/// Batches per variant; they alternate so that drift hits both alike.
const ROUNDS: usize = 7;

async fn serve(catalog: &Catalog, policy: Option<AuthPolicy>, shutdown: &Shutdown) -> ServerHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut server = GrpcServer::builder().add_service(catalog.catalog_service());
    if let Some(policy) = policy {
        server = server.auth(policy);
    }
    server.spawn(listener, shutdown).unwrap()
}

async fn client(handle: &ServerHandle, token: Option<&str>) -> CatalogServiceClient<AuthChannel> {
    let credentials = ClientCredentials {
        token: token.map(Token::new),
        ..Default::default()
    };
    let channel = credentials
        .endpoint(&handle.endpoint())
        .unwrap()
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    CatalogServiceClient::new(credentials.wrap(channel))
}

async fn batch(client: &CatalogServiceClient<AuthChannel>) -> Duration {
    let started = Instant::now();
    for _ in 0..CALLS {
        client
            .clone()
            .list_configurations(ListConfigurationsRequest::default())
            .await
            .unwrap();
    }
    started.elapsed() / CALLS as u32
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::open(CatalogOptions::new(dir.path()))
            .await
            .unwrap();
        catalog.bootstrap_tokens(dir.path()).await.unwrap();
        let token = std::fs::read_to_string(dir.path().join("admin.token")).unwrap();
        let shutdown = Shutdown::new(Duration::from_secs(1));
        let policy = AuthPolicy::new(Arc::new(catalog.authenticator()));
        let open = serve(&catalog, None, &shutdown).await;
        let guarded = serve(&catalog, Some(policy), &shutdown).await;
        let plain_client = client(&open, None).await;
        let auth_client = client(&guarded, Some(token.trim())).await;
        batch(&plain_client).await;
        batch(&auth_client).await;
        let (mut plain, mut authed) = (Vec::new(), Vec::new());
        for _ in 0..ROUNDS {
            plain.push(batch(&plain_client).await);
            authed.push(batch(&auth_client).await);
        }
        let (plain, authed) = (median(plain), median(authed));
        let ratio = authed.as_secs_f64() / plain.as_secs_f64();
        println!("ListConfigurations round trip, median of {ROUNDS} x {CALLS} calls");
        println!("  without auth: {:>8.1} us", plain.as_secs_f64() * 1e6);
        println!("  with auth:    {:>8.1} us", authed.as_secs_f64() * 1e6);
        println!("  ratio:        {ratio:>8.3} (target <= 1.10)");
        shutdown.trigger();
    });
}
