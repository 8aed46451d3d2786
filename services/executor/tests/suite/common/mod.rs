//! Shared helpers of the integration tests: a real catalog and a real
//! executor on ephemeral loopback ports, and ways to drive jobs through them.
#![allow(dead_code)]

pub(crate) mod craft;
pub(crate) mod db;
pub(crate) mod tree;

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tonic::transport::Channel;
use vigil_catalog::testing::{self, TestCatalog};
use vigil_executor::{Executor, ExecutorOptions};
use vigil_proto::catalog::v1::catalog_service_client::CatalogServiceClient;
use vigil_proto::catalog::v1::coordination_service_client::CoordinationServiceClient;
use vigil_proto::catalog::v1::*;
use vigil_proto::executor::v1::executor_service_client::ExecutorServiceClient;

/// A catalog, an executor serving its API, and a scratch directory.
pub(crate) struct Harness {
    pub catalog: TestCatalog,
    pub dir: tempfile::TempDir,
    pub exec: Option<RunningExecutor>,
}

/// An executor and the server in front of it.
pub(crate) struct RunningExecutor {
    pub executor_addr: std::net::SocketAddr,
    pub shutdown: CancellationToken,
    pub server: JoinHandle<()>,
    pub id: String,
    pub data_dir: PathBuf,
}

/// Settings that make tests fast: short leases and heartbeats.
pub(crate) fn fast_options(catalog: &str, data_dir: &Path) -> ExecutorOptions {
    let mut o = ExecutorOptions::new(catalog, data_dir);
    o.settings.lease_duration = Duration::from_secs(4);
    o.settings.heartbeat_interval = Duration::from_millis(500);
    o.settings.report_interval = Duration::from_millis(500);
    o.settings.lease_wait = Duration::from_secs(1);
    o
}

/// Starts an executor with `opts` and serves it on 127.0.0.1:0.
pub(crate) async fn start_executor(opts: ExecutorOptions) -> RunningExecutor {
    let shutdown = CancellationToken::new();
    let data_dir = opts.data_dir.clone();
    let executor = Executor::start(opts, shutdown.clone())
        .await
        .expect("start the executor");
    let id = executor.id().to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let executor_addr = listener.local_addr().unwrap();
    let token = shutdown.clone();
    let server = tokio::spawn(async move {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        tonic::transport::Server::builder()
            .add_service(executor.service())
            .serve_with_incoming_shutdown(incoming, token.cancelled_owned())
            .await
            .expect("executor server");
        executor.join().await;
    });
    RunningExecutor {
        executor_addr,
        shutdown,
        server,
        id,
        data_dir,
    }
}

impl RunningExecutor {
    /// Stops the executor and waits until its jobs have reported.
    pub(crate) async fn stop(self) {
        self.shutdown.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(30), self.server).await;
    }
}

impl Harness {
    /// A catalog on SQLite and an executor with fast settings.
    pub(crate) async fn start() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        let catalog = testing::spawn(testing::sqlite_options(&dir.path().join("catalog"))).await;
        let opts = fast_options(&catalog.endpoint(), &dir.path().join("data"));
        let exec = Some(start_executor(opts).await);
        Harness { catalog, dir, exec }
    }

    /// Like [`Harness::start`], with the executor's options changed by
    /// `change` (given the scratch directory) before it starts.
    pub(crate) async fn start_with(change: impl FnOnce(&Path, &mut ExecutorOptions)) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("catalog")).unwrap();
        let catalog = testing::spawn(testing::sqlite_options(&dir.path().join("catalog"))).await;
        let mut opts = fast_options(&catalog.endpoint(), &dir.path().join("data"));
        change(dir.path(), &mut opts);
        let exec = Some(start_executor(opts).await);
        Harness { catalog, dir, exec }
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn exec(&self) -> &RunningExecutor {
        self.exec.as_ref().expect("executor running")
    }

    pub(crate) async fn catalog_client(&self) -> CatalogServiceClient<Channel> {
        self.catalog.catalog_client().await
    }

    pub(crate) async fn coordination(&self) -> CoordinationServiceClient<Channel> {
        self.catalog.coordination_client().await
    }

    pub(crate) async fn executor_client(&self) -> ExecutorServiceClient<Channel> {
        ExecutorServiceClient::connect(format!("http://{}", self.exec().executor_addr))
            .await
            .unwrap()
            .max_decoding_message_size(16 << 20)
    }

    /// Creates a configuration.
    pub(crate) async fn configure(&self, config: BackupConfiguration) -> BackupConfiguration {
        self.catalog_client()
            .await
            .create_configuration(CreateConfigurationRequest {
                configuration: Some(config),
            })
            .await
            .expect("create configuration")
            .into_inner()
            .configuration
            .unwrap()
    }

    /// Queues a job.
    pub(crate) async fn create_job(
        &self,
        configuration: &str,
        kind: JobKind,
        params: Option<job_params::Params>,
    ) -> BackupJob {
        self.catalog_client()
            .await
            .create_job(CreateJobRequest {
                configuration: configuration.into(),
                kind: kind as i32,
                params: params.map(|p| JobParams { params: Some(p) }),
                request_id: String::new(),
            })
            .await
            .expect("create job")
            .into_inner()
            .job
            .unwrap()
    }

    pub(crate) async fn get_job(&self, id: &str) -> BackupJob {
        self.catalog_client()
            .await
            .get_job(GetJobRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner()
            .job
            .unwrap()
    }

    /// Waits until job `id` is final (or `limit` passes).
    pub(crate) async fn wait_job(&self, id: &str, limit: Duration) -> BackupJob {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let job = self.get_job(id).await;
            if matches!(
                job.state(),
                JobState::Completed | JobState::Failed | JobState::Cancelled
            ) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job {} still {:?} after {limit:?}: {job:?}",
                job.name,
                job.state()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until job `id` is RUNNING.
    pub(crate) async fn wait_running(&self, id: &str) -> BackupJob {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let job = self.get_job(id).await;
            if job.state() == JobState::Running {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "job never ran: {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs a job to its end and asserts it COMPLETED.
    pub(crate) async fn run_ok(
        &self,
        configuration: &str,
        kind: JobKind,
        params: Option<job_params::Params>,
    ) -> BackupJob {
        let job = self.create_job(configuration, kind, params).await;
        let done = self.wait_job(&job.id, Duration::from_secs(120)).await;
        assert_eq!(
            done.state(),
            JobState::Completed,
            "job {} ended {:?}: {}",
            done.name,
            done.state(),
            done.error
        );
        done
    }

    /// Runs a job to its end and asserts it FAILED; returns it.
    pub(crate) async fn run_failing(
        &self,
        configuration: &str,
        kind: JobKind,
        params: Option<job_params::Params>,
    ) -> BackupJob {
        let job = self.create_job(configuration, kind, params).await;
        let done = self.wait_job(&job.id, Duration::from_secs(120)).await;
        assert_eq!(
            done.state(),
            JobState::Failed,
            "job {} ended {:?}",
            done.name,
            done.state()
        );
        done
    }

    pub(crate) async fn artifact(&self, id: &str) -> Artifact {
        self.catalog_client()
            .await
            .get_artifact(GetArtifactRequest { id: id.into() })
            .await
            .unwrap()
            .into_inner()
            .artifact
            .unwrap()
    }

    /// Restores `artifact` into a directory and/or database; returns the job.
    pub(crate) async fn restore(
        &self,
        artifact: &str,
        target_dir: Option<&Path>,
        database_url: Option<&str>,
        overwrite: bool,
    ) -> BackupJob {
        self.create_job(
            "",
            JobKind::Restore,
            Some(job_params::Params::Restore(restore_params(
                artifact,
                target_dir,
                database_url,
                overwrite,
            ))),
        )
        .await
    }

    /// Downloads an artifact; returns (metadata, bytes).
    pub(crate) async fn download(
        &self,
        artifact: &str,
    ) -> (vigil_proto::executor::v1::DownloadMetadata, Vec<u8>) {
        use vigil_proto::executor::v1::{DownloadArchiveRequest, download_archive_response::Part};
        let mut stream = self
            .executor_client()
            .await
            .download_archive(DownloadArchiveRequest {
                artifact: artifact.into(),
            })
            .await
            .expect("download")
            .into_inner();
        let first = stream.message().await.unwrap().expect("a first message");
        let Some(Part::Metadata(meta)) = first.part else {
            panic!("first message is not metadata")
        };
        let mut bytes = Vec::new();
        while let Some(msg) = stream.message().await.expect("download stream") {
            match msg.part {
                Some(Part::Chunk(c)) => bytes.extend_from_slice(&c),
                _ => panic!("metadata after the first message"),
            }
        }
        (meta, bytes)
    }

    /// Uploads `bytes` as `file_name`.
    pub(crate) async fn upload(
        &self,
        file_name: &str,
        configuration: &str,
        bytes: Vec<u8>,
        declared: Option<u64>,
    ) -> Result<vigil_proto::executor::v1::UploadArchiveResponse, tonic::Status> {
        use vigil_proto::executor::v1::{
            UploadArchiveRequest, UploadMetadata, upload_archive_request::Part,
        };
        let size = declared.unwrap_or(bytes.len() as u64);
        let mut msgs = vec![UploadArchiveRequest {
            part: Some(Part::Metadata(UploadMetadata {
                file_name: file_name.into(),
                configuration: configuration.into(),
                size_bytes: size,
            })),
        }];
        for c in bytes.chunks(100_000) {
            msgs.push(UploadArchiveRequest {
                part: Some(Part::Chunk(c.to_vec())),
            });
        }
        self.executor_client()
            .await
            .upload_archive(tokio_stream::iter(msgs))
            .await
            .map(|r| r.into_inner())
    }

    /// Every job, newest first.
    pub(crate) async fn all_jobs(&self) -> Vec<BackupJob> {
        self.catalog_client()
            .await
            .list_jobs(ListJobsRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .jobs
    }
}

pub(crate) fn restore_params(
    artifact: &str,
    target_dir: Option<&Path>,
    database_url: Option<&str>,
    overwrite: bool,
) -> RestoreParams {
    RestoreParams {
        artifact: artifact.into(),
        target_dir: target_dir
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        database_url: database_url.unwrap_or_default().into(),
        overwrite,
        ..Default::default()
    }
}

/// A configuration of `kind` over `paths` and an optional database.
pub(crate) fn config(
    name: &str,
    kind: BackupKind,
    paths: &[&Path],
    database: Option<DatabaseSource>,
) -> BackupConfiguration {
    BackupConfiguration {
        name: name.into(),
        kind: kind as i32,
        purpose: Purpose::Production as i32,
        enabled: Some(false),
        source: Some(Source {
            database,
            paths: paths.iter().map(|p| p.display().to_string()).collect(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A database source with an optional password in an environment variable.
pub(crate) fn database(
    engine: DatabaseEngine,
    url: &str,
    password_env: Option<&str>,
) -> DatabaseSource {
    DatabaseSource {
        engine: engine as i32,
        url: url.into(),
        password: password_env.map(|v| SecretRef {
            source: Some(secret_ref::Source::Env(v.into())),
        }),
    }
}
