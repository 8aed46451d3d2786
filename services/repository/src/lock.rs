//! Repository locks: backups share, prune is exclusive.
//!
//! A lock is a small JSON object under `locks/` with a random name, created
//! with a conditional create (`If-None-Match: *` on an object store). To
//! take a lock, a process creates its object and then lists the others; if
//! a conflicting live lock exists it removes its own object and fails, so
//! two racing exclusive lockers both back off rather than both proceeding.
//! This needs only read-after-write consistency of LIST, which S3 gives.
//!
//! A lock records its time-to-live; its holder rewrites it every sixth of
//! that. A lock is stale when it was not refreshed within its time-to-live
//! (its holder was killed, on any host) or when its process is gone on this
//! host; stale locks are ignored and removed.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::backend::{Backend, FileKind};
use crate::error::{Error, Result};
use crate::id::Id;

/// A lock not refreshed for this long is stale (the default time-to-live).
pub const STALE_AFTER: Duration = Duration::from_secs(30 * 60);

fn default_ttl() -> u64 {
    STALE_AFTER.as_secs()
}

#[derive(Debug, Serialize, Deserialize)]
struct LockFile {
    exclusive: bool,
    hostname: String,
    pid: u32,
    time: u64,
    #[serde(default = "default_ttl")]
    ttl_secs: u64,
}

impl LockFile {
    fn now(exclusive: bool, ttl: Duration) -> LockFile {
        LockFile {
            exclusive,
            hostname: hostname(),
            pid: std::process::id(),
            time: now_secs(),
            ttl_secs: ttl.as_secs().max(1),
        }
    }

    fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self).map_err(|e| Error::Format(e.to_string()))
    }
}

/// How often a holder rewrites a lock with time-to-live `ttl`.
fn refresh_every(ttl: Duration) -> Duration {
    (ttl / 6).max(Duration::from_millis(500))
}

/// A held lock; released on drop.
#[derive(Debug)]
pub struct LockGuard {
    backend: Arc<dyn Backend>,
    name: String,
    exclusive: bool,
    ttl: Duration,
    refreshed: std::sync::Mutex<SystemTime>,
    refresher: Option<(crossbeam_channel::Sender<()>, std::thread::JoinHandle<()>)>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

pub use vigil_server_common::host::host_name as hostname;

fn is_stale(l: &LockFile, me: &str) -> bool {
    if now_secs().saturating_sub(l.time) > l.ttl_secs {
        return true;
    }
    l.hostname == me && !std::path::Path::new(&format!("/proc/{}", l.pid)).exists()
}

impl LockGuard {
    /// Takes a shared (`exclusive == false`) or exclusive lock that other
    /// processes consider stale when not refreshed within `ttl`.
    pub fn acquire(backend: Arc<dyn Backend>, exclusive: bool, ttl: Duration) -> Result<LockGuard> {
        let me = hostname();
        let name = Id::random().to_hex();
        let body = LockFile::now(exclusive, ttl).encode()?;
        if !backend.put_create(FileKind::Lock, &name, &body)? {
            return Err(Error::Locked(format!("lock name {name} already taken")));
        }
        let guard = LockGuard {
            backend: backend.clone(),
            name,
            exclusive,
            ttl,
            refreshed: SystemTime::now().into(),
            refresher: None,
        };
        for f in backend.list(FileKind::Lock)? {
            if f.name == guard.name {
                continue;
            }
            let other: LockFile = match backend.get(FileKind::Lock, &f.name) {
                Ok(b) => match serde_json::from_slice(&b) {
                    Ok(l) => l,
                    Err(_) => continue,
                },
                Err(_) => continue,
            };
            if is_stale(&other, &me) {
                tracing::info!(lock = %f.name, "removing stale lock");
                let _ = backend.delete(FileKind::Lock, &f.name);
                continue;
            }
            if exclusive || other.exclusive {
                let kind = if other.exclusive {
                    "an exclusive"
                } else {
                    "a shared"
                };
                return Err(Error::Locked(format!(
                    "{kind} lock is held by pid {} on {} (lock {})",
                    other.pid, other.hostname, f.name
                )));
            }
        }
        let mut guard = guard;
        guard.start_refresher();
        Ok(guard)
    }

    /// Refreshes the lock file every sixth of its time-to-live on a
    /// background thread for as long as the guard lives, so long
    /// operations never look stale to other processes.
    fn start_refresher(&mut self) {
        let (tx, rx) = crossbeam_channel::bounded::<()>(0);
        let (backend, name, exclusive) = (self.backend.clone(), self.name.clone(), self.exclusive);
        let ttl = self.ttl;
        let handle = std::thread::Builder::new()
            .name("vigil-lock-refresh".into())
            .spawn(move || {
                while let Err(crossbeam_channel::RecvTimeoutError::Timeout) =
                    rx.recv_timeout(refresh_every(ttl))
                {
                    if let Ok(b) = LockFile::now(exclusive, ttl).encode()
                        && let Err(e) = backend.put_volatile(FileKind::Lock, &name, &b)
                    {
                        tracing::warn!(lock = %name, error = %e, "lock refresh failed");
                    }
                }
            });
        if let Ok(h) = handle {
            self.refresher = Some((tx, h));
        }
    }

    /// Whether this lock is exclusive.
    pub fn is_exclusive(&self) -> bool {
        self.exclusive
    }

    /// Rewrites the lock file with a fresh time if a refresh is due.
    pub fn refresh_if_due(&self) -> Result<()> {
        let mut last = self.refreshed.lock().expect("lock poisoned");
        if last.elapsed().unwrap_or_default() < refresh_every(self.ttl) {
            return Ok(());
        }
        let body = LockFile::now(self.exclusive, self.ttl).encode()?;
        self.backend
            .put_volatile(FileKind::Lock, &self.name, &body)?;
        *last = SystemTime::now();
        Ok(())
    }
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some((tx, h)) = self.refresher.take() {
            drop(tx);
            let _ = h.join();
        }
        let _ = self.backend.delete(FileKind::Lock, &self.name);
    }
}
