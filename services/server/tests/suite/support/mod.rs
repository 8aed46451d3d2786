//! Starts the real server binaries as child processes on ephemeral ports.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tonic::transport::Channel;

/// How long a binary may take to print its listening line.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn vigild() -> &'static str {
    env!("CARGO_BIN_EXE_vigild")
}

pub(crate) fn vigil_catalog() -> &'static str {
    env!("CARGO_BIN_EXE_vigil-catalog")
}

pub(crate) fn vigil_scheduler() -> &'static str {
    env!("CARGO_BIN_EXE_vigil-scheduler")
}

pub(crate) fn vigil_executor() -> &'static str {
    env!("CARGO_BIN_EXE_vigil-executor")
}

/// A command with a clean environment: no inherited `VIGIL_` or OTLP variables.
pub(crate) fn command(bin: &str, dir: &Path) -> Command {
    let mut cmd = Command::new(bin);
    for (name, _) in std::env::vars() {
        if name.starts_with("VIGIL_") || name.starts_with("OTEL_") {
            cmd.env_remove(name);
        }
    }
    cmd.current_dir(dir).env("RUST_LOG", "info");
    cmd
}

/// A running server process; killed on drop if still running.
pub(crate) struct Server {
    pub child: Child,
    pub addr: SocketAddr,
    pub stderr_path: PathBuf,
    pub stdout_lines: mpsc::Receiver<String>,
}

/// A run that ended before listening.
#[derive(Debug)]
pub(crate) struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
}

/// Starts `cmd` and waits for its `listening on ADDR` line on stdout.
pub(crate) fn start(mut cmd: Command, scratch: &Path) -> Result<Server, Exited> {
    let stderr_path = scratch.join(format!("stderr-{}.log", unique()));
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(line) => {
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let addr = addr.trim().parse().expect("listening line has an address");
                    return Ok(Server {
                        child,
                        addr,
                        stderr_path,
                        stdout_lines: rx,
                    });
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = child.wait().unwrap();
                let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
                return Err(Exited { status, stderr });
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            let stderr = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err(Exited { status, stderr });
        }
        assert!(
            Instant::now() < deadline,
            "no listening line within {START_TIMEOUT:?}"
        );
    }
}

/// Runs `cmd` to completion (it is expected to exit on its own).
pub(crate) fn run_to_exit(mut cmd: Command) -> Exited {
    let out = cmd.stdin(Stdio::null()).output().expect("binary runs");
    Exited {
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

impl Server {
    pub(crate) fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub(crate) async fn channel(&self) -> Channel {
        Channel::from_shared(self.endpoint())
            .unwrap()
            .connect()
            .await
            .expect("server accepts")
    }

    /// A channel presenting the bootstrap token `data_dir/<file>`
    /// (`admin.token` or `component.token`).
    pub(crate) async fn channel_as(&self, data_dir: &Path, file: &str) -> vigil_auth::AuthChannel {
        token_credentials(&data_dir.join(file)).wrap(self.channel().await)
    }

    /// A channel presenting the bootstrap admin token of `data_dir`.
    pub(crate) async fn admin_channel(&self, data_dir: &Path) -> vigil_auth::AuthChannel {
        self.channel_as(data_dir, "admin.token").await
    }

    /// Sends a signal by name (TERM, INT, ...) with the `kill` command.
    pub(crate) fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg("-s")
            .arg(name)
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits up to `timeout` for the process to exit.
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    /// Standard output printed so far after the listening line.
    pub(crate) fn stdout_rest(&self) -> String {
        self.stdout_lines.try_iter().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Credentials holding the token in `file`.
pub(crate) fn token_credentials(file: &Path) -> vigil_auth::ClientCredentials {
    let token = std::fs::read_to_string(file)
        .unwrap_or_else(|e| panic!("token file {}: {e}", file.display()));
    vigil_auth::ClientCredentials {
        token: Some(vigil_auth::Token::new(token)),
        ..Default::default()
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

pub(crate) mod grpc {
    //! Small gRPC helpers: health checks and reflection listings.

    use tokio_stream::StreamExt;
    use tonic::transport::Channel;
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_client::HealthClient;
    use tonic_reflection::pb::{v1, v1alpha};

    /// The serving status of `service` ("" for the whole server).
    pub(crate) async fn health(channel: &Channel, service: &str) -> Result<i32, tonic::Status> {
        HealthClient::new(channel.clone())
            .check(HealthCheckRequest {
                service: service.to_owned(),
            })
            .await
            .map(|r| r.into_inner().status)
    }

    /// Services listed by reflection v1, sorted.
    pub(crate) async fn list_v1(channel: &Channel) -> Vec<String> {
        use v1::server_reflection_client::ServerReflectionClient;
        use v1::server_reflection_request::MessageRequest;
        use v1::server_reflection_response::MessageResponse;
        let request = v1::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let mut names: Vec<String> = match stream.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        };
        names.sort();
        names
    }

    /// Services listed by reflection v1alpha, sorted.
    pub(crate) async fn list_v1alpha(channel: &Channel) -> Vec<String> {
        use v1alpha::server_reflection_client::ServerReflectionClient;
        use v1alpha::server_reflection_request::MessageRequest;
        use v1alpha::server_reflection_response::MessageResponse;
        let request = v1alpha::ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        };
        let mut stream = ServerReflectionClient::new(channel.clone())
            .server_reflection_info(tokio_stream::iter([request]))
            .await
            .unwrap()
            .into_inner();
        let mut names: Vec<String> = match stream.next().await.unwrap().unwrap().message_response {
            Some(MessageResponse::ListServicesResponse(list)) => {
                list.service.into_iter().map(|s| s.name).collect()
            }
            other => panic!("unexpected reflection answer {other:?}"),
        };
        names.sort();
        names
    }
}
