//! A real catalog (SQLite) served on `127.0.0.1:0` behind an interceptor
//! that can answer the next calls with a chosen status before they reach
//! the catalog, as a catalog that is restarting or overloaded does, and
//! that records what each call carried.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tonic::metadata::MetadataMap;
use tonic::service::interceptor::InterceptedService;
use tonic::{Code, Request, Status};
use vigil_auth::ClientCredentials;
use vigil_catalog::testing::sqlite_options;
use vigil_catalog_client::{CallSettings, CatalogClient, Result};
use vigil_proto::catalog::v1::{
    GetScheduleStateRequest, ListScheduleStatesRequest, PutScheduleStateRequest, ScheduleState,
};

/// Calls seen and answers to give.
#[derive(Debug, Default)]
struct Script {
    refusals: VecDeque<Code>,
    seen: Vec<MetadataMap>,
}

/// The fault-injecting interceptor.
#[derive(Debug, Clone, Default)]
pub(crate) struct Faults(Arc<Mutex<Script>>);

impl Faults {
    /// Answers the next `n` calls with `code` instead of passing them on.
    pub(crate) fn refuse_next(&self, n: usize, code: Code) {
        let mut script = self.0.lock().unwrap();
        script.refusals.extend(std::iter::repeat_n(code, n));
    }

    /// How many calls arrived, refused ones included.
    pub(crate) fn calls(&self) -> usize {
        self.0.lock().unwrap().seen.len()
    }

    /// The metadata of call number `i` (0-based).
    pub(crate) fn metadata(&self, i: usize) -> MetadataMap {
        self.0.lock().unwrap().seen[i].clone()
    }

    fn intercept(&self, request: Request<()>) -> Result<Request<()>, Status> {
        let mut script = self.0.lock().unwrap();
        script.seen.push(request.metadata().clone());
        match script.refusals.pop_front() {
            Some(code) => Err(Status::new(code, "refused by the test")),
            None => Ok(request),
        }
    }
}

/// A catalog serving both services behind [`Faults`]; stops when dropped.
pub(crate) struct FaultyCatalog {
    pub(crate) faults: Faults,
    endpoint: String,
    /// Dropping it ends the server.
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl FaultyCatalog {
    /// Serves on `127.0.0.1:0`.
    pub(crate) async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(listener).await
    }

    /// Serves on `listener`.
    pub(crate) async fn start_on(listener: TcpListener) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let catalog = vigil_catalog::Catalog::open(sqlite_options(dir.path()))
            .await
            .unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let faults = Faults::default();
        let (f1, f2) = (faults.clone(), faults.clone());
        let router = tonic::transport::Server::builder()
            .add_service(InterceptedService::new(
                catalog.catalog_service(),
                move |r| f1.intercept(r),
            ))
            .add_service(InterceptedService::new(
                catalog.coordination_service(),
                move |r| f2.intercept(r),
            ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(async move {
            let _keep = catalog;
            router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        FaultyCatalog {
            faults,
            endpoint,
            _stop: stop,
            _dir: dir,
        }
    }

    /// A client with `settings`, presenting `credentials`.
    pub(crate) fn client_with(
        &self,
        credentials: &ClientCredentials,
        settings: CallSettings,
    ) -> CatalogClient {
        CatalogClient::connect_lazy(credentials, &self.endpoint)
            .unwrap()
            .with_settings(settings)
    }

    /// A client with `settings` and no token.
    pub(crate) fn client(&self, settings: CallSettings) -> CatalogClient {
        self.client_with(&ClientCredentials::default(), settings)
    }
}

/// Writes an empty schedule state `key`.
pub(crate) async fn put_state(client: &CatalogClient, key: &str) -> Result<ScheduleState> {
    let state = ScheduleState {
        schedule: key.to_owned(),
        ..Default::default()
    };
    let answer = client.call(PutScheduleStateRequest { state: Some(state) });
    Ok(answer.await?.state.unwrap_or_default())
}

/// Schedule state `key`.
pub(crate) async fn get_state(client: &CatalogClient, key: &str) -> Result<ScheduleState> {
    let request = GetScheduleStateRequest {
        schedule: key.to_owned(),
        outcome_count: 0,
    };
    Ok(client.call(request).await?.state.unwrap_or_default())
}

/// Every schedule state.
pub(crate) async fn list_states(client: &CatalogClient) -> Result<Vec<ScheduleState>> {
    client.all(ListScheduleStatesRequest::default()).await
}
