//! Test harness: a real catalog on 127.0.0.1:0 (SQLite, or PostgreSQL from
//! VIGIL_TEST_POSTGRES_URL), a manual clock shared by the catalog and the
//! scheduler, and small helpers over the generated clients.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio_stream::StreamExt;
use tonic::transport::Channel;
use vigil_catalog::testing;
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::{
    self as pb, Alert, BackupConfiguration, BackupJob, BackupKind, Component, ComponentKind,
    CreateConfigurationRequest, GetScheduleStateRequest, LeaseJobRequest, ListAlertsRequest,
    ListJobsRequest, ReportHeartbeatRequest, Retention, ScheduleOutcome, ScheduleState, Source,
    UpdateConfigurationRequest, WatchEventsRequest,
};
use vigil_scheduler::{Catalog, Engine, SchedulerSettings};
use vigil_server_common::clock::{ManualClock, SharedClock};

/// Parses an RFC 3339 instant.
pub(crate) fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .to_utc()
}

/// An instant as a protobuf timestamp.
pub(crate) fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    vigil_proto::timestamp_from_micros(t.timestamp_micros())
}

/// A protobuf timestamp as an instant.
pub(crate) fn at(ts: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(vigil_proto::timestamp_to_micros(ts)).unwrap()
}

/// Settings for focused tests: no system schedules, executors checked at once.
pub(crate) fn settings() -> SchedulerSettings {
    SchedulerSettings {
        system_schedules: false,
        executor_check_delay: Duration::ZERO,
        ..SchedulerSettings::default()
    }
}

/// An enabled FULL configuration on `cron` in `timezone`. Its overlap
/// policy is ALLOW, so that runs nobody executes do not hide later due
/// times; tests of overlap set the policy themselves.
pub(crate) fn config(name: &str, cron: &str, timezone: &str) -> BackupConfiguration {
    BackupConfiguration {
        name: name.to_owned(),
        kind: BackupKind::Full as i32,
        enabled: Some(true),
        schedule: Some(pb::Schedule {
            spec: Some(pb::schedule::Spec::Cron(cron.to_owned())),
            timezone: timezone.to_owned(),
            overlap: pb::OverlapPolicy::Allow as i32,
            ..Default::default()
        }),
        source: Some(Source {
            paths: vec!["/srv/data".into()],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The same configuration with a retention policy.
pub(crate) fn with_retention(mut c: BackupConfiguration) -> BackupConfiguration {
    c.retention = Some(Retention {
        keep_daily: 7,
        ..Default::default()
    });
    c
}

/// A catalog served on 127.0.0.1:0 with TCP_NODELAY on accepted
/// connections (without it every small gRPC answer waits for a delayed ACK).
pub(crate) struct TestCatalog {
    pub addr: std::net::SocketAddr,
    /// The catalog behind the server, for writes straight into its database.
    pub catalog: vigil_catalog::Catalog,
    _stop: tokio_util::sync::DropGuard,
}

impl TestCatalog {
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }
}

async fn serve_catalog(options: vigil_catalog::CatalogOptions) -> TestCatalog {
    let catalog = vigil_catalog::Catalog::open(options)
        .await
        .expect("open the test catalog");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    let served = catalog.clone();
    let background = {
        let (catalog, stop) = (catalog.clone(), stop.clone());
        tokio::spawn(async move { catalog.run_background(stop).await })
    };
    let token = stop.clone();
    tokio::spawn(async move {
        let incoming =
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        tonic::transport::Server::builder()
            .add_service(catalog.catalog_service())
            .add_service(catalog.coordination_service())
            .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
            .await
            .unwrap();
        let _ = background.await;
    });
    TestCatalog {
        addr,
        catalog: served,
        _stop: stop.drop_guard(),
    }
}

/// A real catalog plus a manual clock.
pub(crate) struct Harness {
    pub clock: ManualClock,
    pub catalog: TestCatalog,
    pub cat: CatalogServiceClient<Channel>,
    pub coord: CoordinationServiceClient<Channel>,
    _dir: Option<tempfile::TempDir>,
}

impl Harness {
    /// A SQLite catalog whose clock starts at `start`.
    pub(crate) async fn sqlite(start: &str) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut options = testing::sqlite_options(dir.path());
        let clock = ManualClock::new(t(start));
        options.clock = Arc::new(clock.clone());
        Self::spawn(options, clock, Some(dir)).await
    }

    /// A PostgreSQL catalog; panics naming `VIGIL_TEST_POSTGRES_URL`
    /// without one.
    pub(crate) async fn postgres(start: &str) -> Harness {
        let mut options = testing::postgres_options_from_env().await;
        let clock = ManualClock::new(t(start));
        options.clock = Arc::new(clock.clone());
        Self::spawn(options, clock, None).await
    }

    async fn spawn(
        options: vigil_catalog::CatalogOptions,
        clock: ManualClock,
        dir: Option<tempfile::TempDir>,
    ) -> Harness {
        let catalog = serve_catalog(options).await;
        let channel = tonic::transport::Endpoint::from_shared(catalog.endpoint())
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
        let cat = CatalogServiceClient::new(channel.clone());
        let coord = CoordinationServiceClient::new(channel);
        Harness {
            clock,
            catalog,
            cat,
            coord,
            _dir: dir,
        }
    }

    /// The clock as the scheduler takes it.
    pub(crate) fn shared_clock(&self) -> SharedClock {
        Arc::new(self.clock.clone())
    }

    /// A running replica (loops, event watcher, heartbeat) on this catalog
    /// and clock, until `shutdown` is cancelled.
    pub(crate) async fn start_scheduler(
        &self,
        replica: &str,
        settings: SchedulerSettings,
        shutdown: &tokio_util::sync::CancellationToken,
    ) -> vigil_scheduler::Scheduler {
        vigil_scheduler::Scheduler::start(
            vigil_scheduler::SchedulerOptions {
                catalog_endpoint: self.catalog.endpoint(),
                replica_id: replica.into(),
                clock: self.shared_clock(),
                settings,
                endpoint: String::new(),
            },
            shutdown.clone(),
        )
        .await
        .unwrap()
    }

    /// An engine (a scheduler replica without its loops) with its own client.
    pub(crate) fn engine(&self, replica: &str, settings: SchedulerSettings) -> Arc<Engine> {
        let catalog = Catalog::connect_lazy(&self.catalog.endpoint()).unwrap();
        Engine::new(catalog, self.shared_clock(), settings, replica, None)
    }

    /// An engine that delivers alert webhooks with `settings`.
    pub(crate) fn engine_with_webhooks(
        &self,
        replica: &str,
        settings: SchedulerSettings,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> Arc<Engine> {
        let catalog = Catalog::connect_lazy(&self.catalog.endpoint()).unwrap();
        let notifier = vigil_scheduler::webhook::spawn(
            &settings,
            catalog.clone(),
            self.shared_clock(),
            replica,
            shutdown,
        )
        .unwrap();
        assert!(notifier.is_some(), "webhook settings without URLs");
        Engine::new(catalog, self.shared_clock(), settings, replica, notifier)
    }

    /// Moves the shared clock to `to`.
    pub(crate) fn set(&self, to: &str) {
        self.clock.set(t(to));
    }

    /// The current instant of the shared clock.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        vigil_server_common::clock::Clock::now(&self.clock)
    }

    pub(crate) async fn create(&self, c: BackupConfiguration) -> BackupConfiguration {
        self.cat
            .clone()
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(c),
            })
            .await
            .unwrap()
            .into_inner()
            .configuration
            .unwrap()
    }

    /// Replaces every mutable field of the configuration.
    pub(crate) async fn update(&self, c: BackupConfiguration) -> BackupConfiguration {
        self.cat
            .clone()
            .update_configuration(UpdateConfigurationRequest {
                configuration: Some(c),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["*".into()],
                }),
            })
            .await
            .unwrap()
            .into_inner()
            .configuration
            .unwrap()
    }

    pub(crate) async fn set_enabled(&self, name: &str, enabled: bool) {
        let mut cat = self.cat.clone();
        if enabled {
            cat.enable_configuration(pb::EnableConfigurationRequest { name: name.into() })
                .await
                .unwrap();
        } else {
            cat.disable_configuration(pb::DisableConfigurationRequest { name: name.into() })
                .await
                .unwrap();
        }
    }

    /// Every job of `configuration`, oldest due time first.
    pub(crate) async fn jobs(&self, configuration: &str) -> Vec<BackupJob> {
        let mut out = Vec::new();
        let mut token = String::new();
        loop {
            let resp = self
                .cat
                .clone()
                .list_jobs(ListJobsRequest {
                    page_size: 1000,
                    page_token: token,
                    configuration: configuration.to_owned(),
                    ..Default::default()
                })
                .await
                .unwrap()
                .into_inner();
            out.extend(resp.jobs);
            if resp.next_page_token.is_empty() {
                break;
            }
            token = resp.next_page_token;
        }
        out.sort_by_key(|j| j.due_time.as_ref().map(at));
        out
    }

    /// Due times of the jobs of `configuration`, ascending.
    pub(crate) async fn job_due_times(&self, configuration: &str) -> Vec<DateTime<Utc>> {
        self.jobs(configuration)
            .await
            .iter()
            .filter_map(|j| j.due_time.as_ref().map(at))
            .collect()
    }

    /// A schedule state and its newest outcomes (newest first); panics if missing.
    pub(crate) async fn state(
        &self,
        key: &str,
        outcomes: i32,
    ) -> (ScheduleState, Vec<ScheduleOutcome>) {
        self.try_state(key, outcomes)
            .await
            .unwrap_or_else(|| panic!("no state for {key}"))
    }

    pub(crate) async fn try_state(
        &self,
        key: &str,
        outcomes: i32,
    ) -> Option<(ScheduleState, Vec<ScheduleOutcome>)> {
        match self
            .coord
            .clone()
            .get_schedule_state(GetScheduleStateRequest {
                schedule: key.to_owned(),
                outcome_count: outcomes,
            })
            .await
        {
            Ok(r) => {
                let r = r.into_inner();
                Some((r.state.unwrap(), r.outcomes))
            }
            Err(s) if s.code() == tonic::Code::NotFound => None,
            Err(s) => panic!("GetScheduleState {key}: {s}"),
        }
    }

    /// Alerts, open ones only unless `resolved`.
    pub(crate) async fn alerts(&self, resolved: bool) -> Vec<Alert> {
        self.cat
            .clone()
            .list_alerts(ListAlertsRequest {
                page_size: 1000,
                include_resolved: resolved,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .alerts
    }

    /// The open alert with `key`, if any.
    pub(crate) async fn open_alert(&self, key: &str) -> Option<Alert> {
        self.alerts(false)
            .await
            .into_iter()
            .find(|a| a.dedup_key == key)
    }

    /// Reports a heartbeat of an executor offering `caps`.
    pub(crate) async fn executor(&self, id: &str, caps: &[&str]) {
        self.coord
            .clone()
            .report_heartbeat(ReportHeartbeatRequest {
                component: Some(Component {
                    id: id.into(),
                    kind: ComponentKind::Executor as i32,
                    capabilities: caps.iter().map(|c| (*c).to_owned()).collect(),
                    ..Default::default()
                }),
            })
            .await
            .unwrap();
    }

    /// Leases one job as executor `id` offering `caps`.
    pub(crate) async fn lease(&self, id: &str, caps: &[&str]) -> Option<BackupJob> {
        self.lease_held(id, caps).await.map(|(job, _)| job)
    }

    /// Leases one job as executor `id` offering `caps`: the job and its lease token.
    pub(crate) async fn lease_held(&self, id: &str, caps: &[&str]) -> Option<(BackupJob, String)> {
        let resp = self
            .coord
            .clone()
            .lease_job(LeaseJobRequest {
                executor_id: id.into(),
                capabilities: caps.iter().map(|c| (*c).to_owned()).collect(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        resp.job.map(|job| (job, resp.lease_token))
    }

    /// Completes backup `job` leased by `executor` with `token`, recording a snapshot.
    pub(crate) async fn complete(&self, job: &str, executor: &str, token: &str) {
        self.coord
            .clone()
            .complete_job(pb::CompleteJobRequest {
                job_id: job.into(),
                executor_id: executor.into(),
                lease_token: token.into(),
                artifact: Some(pb::Artifact {
                    format: pb::ArtifactFormat::Snapshot as i32,
                    location: format!("snapshot-of-{job}"),
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .unwrap();
    }

    /// Components of `kind`.
    pub(crate) async fn components(&self, kind: ComponentKind) -> Vec<Component> {
        self.coord
            .clone()
            .list_components(pb::ListComponentsRequest {
                kind: kind as i32,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .components
    }

    /// Waits, event-driven, until `check` holds: re-checks after every
    /// catalog event (or every 50 ms), for at most `limit` of wall time.
    pub(crate) async fn until<F, Fut>(&self, limit: Duration, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let mut events = self
            .coord
            .clone()
            .watch_events(WatchEventsRequest { kinds: vec![] })
            .await
            .unwrap()
            .into_inner();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if check().await {
                return;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("timed out waiting until {what}");
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), events.next()).await;
        }
    }
}

/// Kinds of the recorded outcomes, oldest first, one per due time (a
/// MISSED or PAUSED range stored as one row counts `count` times).
pub(crate) fn outcome_kinds(outcomes: &[ScheduleOutcome]) -> Vec<pb::OutcomeKind> {
    let mut o: Vec<_> = outcomes.to_vec();
    o.sort_by_key(|o| o.due_time.as_ref().map(at));
    o.iter()
        .flat_map(|o| std::iter::repeat_n(o.outcome(), o.count.max(1) as usize))
        .collect()
}

/// Settings that deliver webhooks to `url`, signed with the secret written
/// to a file in `dir`, retrying after 1 ms.
pub(crate) fn webhook_settings(
    url: &str,
    dir: &std::path::Path,
    secret: &str,
) -> SchedulerSettings {
    let path = dir.join("webhook.secret");
    std::fs::write(&path, format!("{secret}\n")).unwrap();
    SchedulerSettings {
        webhook_urls: vec![url.to_owned()],
        webhook_secret_file: Some(path),
        webhook_initial_backoff: Duration::from_millis(1),
        webhook_max_backoff: Duration::from_millis(4),
        ..settings()
    }
}
