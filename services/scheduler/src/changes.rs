//! Incremental ticks: what the catalog announced since the previous tick.
//!
//! While the catalog's event stream is connected, a tick does not read the
//! whole catalog again. It keeps the previous tick's snapshot and applies
//! the changes announced since: configurations to read again, schedule
//! states written by someone else (a state event carries the new etag, so
//! this replica's own commits are recognised and not read back) and jobs
//! that changed. The whole catalog is read again at start, after every
//! (re)connect of the stream (events may have been lost while it was down),
//! when more changes pile up than reading them one by one is worth, and
//! every `resync_interval` as a safety net.
//!
//! Without a connected stream every tick reads everything: that is how tests
//! that drive [`crate::Engine::tick`] by hand see every change at once.
//!
//! A stale snapshot cannot fire twice or fire a run its configuration no
//! longer asks for: every commit is a compare-and-set on the state's next due
//! time (S3), and the catalog refuses a tick planned from a configuration
//! version that is no longer current (S7).

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use vigil_proto::catalog::v1::{BackupConfiguration, BackupJob, JobState, ScheduleState};

use crate::engine::{ActiveJob, Engine, Snapshot, def_key};
use crate::error::Result;
use crate::key::{Role, ScheduleKey};

/// More announced configurations than this are read with one full read.
const MAX_CONFIGURATIONS: usize = 2_000;
/// More announced schedule states than this are read with one full read.
const MAX_STATES: usize = 200_000;

/// Changes announced since the last tick took them.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Read the whole catalog again.
    pub resync: bool,
    /// Names of configurations created, edited or deleted.
    pub configurations: HashSet<String>,
    /// Schedule keys whose state was written, with the etag written (empty
    /// when the state was removed).
    pub states: HashMap<String, String>,
    /// Jobs read after they changed.
    pub jobs: Vec<BackupJob>,
}

/// The engine's inbox of catalog changes, filled by the event watcher.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    following: AtomicBool,
    pending: Mutex<Pending>,
}

impl Changes {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The event stream is connected: changes from now on are announced,
    /// and the next tick reads everything once to cover the gap before.
    pub(crate) fn follow(&self) {
        self.pending().resync = true;
        self.following.store(true, Ordering::SeqCst);
    }

    /// The event stream is gone: every tick reads everything until it is back.
    pub(crate) fn unfollow(&self) {
        self.following.store(false, Ordering::SeqCst);
    }

    /// A full read is needed (a tick's incremental read failed part-way).
    pub(crate) fn resync(&self) {
        self.pending().resync = true;
    }

    /// Configuration `name` was created, edited or deleted.
    pub(crate) fn configuration(&self, name: String) {
        let mut p = self.pending();
        p.configurations.insert(name);
        if p.configurations.len() > MAX_CONFIGURATIONS {
            p.resync = true;
            p.configurations.clear();
        }
    }

    /// The state of schedule `key` was written with `etag`.
    pub(crate) fn state(&self, key: String, etag: String) {
        let mut p = self.pending();
        p.states.insert(key, etag);
        if p.states.len() > MAX_STATES {
            p.resync = true;
            p.states.clear();
        }
    }

    /// Jobs that changed, as read after their events.
    pub(crate) fn jobs(&self, jobs: &[BackupJob]) {
        if self.following.load(Ordering::SeqCst) {
            self.pending().jobs.extend_from_slice(jobs);
        }
    }

    /// Following, with no full read still to take.
    pub(crate) fn is_caught_up(&self) -> bool {
        self.following.load(Ordering::SeqCst) && !self.pending().resync
    }

    /// Takes what was announced; `None` when not following, so that the
    /// tick reads everything.
    pub(crate) fn take(&self) -> Option<Pending> {
        if !self.following.load(Ordering::SeqCst) {
            return None;
        }
        Some(std::mem::take(&mut *self.pending()))
    }
}

impl Engine {
    /// Applies announced changes to a kept snapshot and returns the keys of
    /// the schedules they touched.
    pub(crate) async fn apply(
        &self,
        snap: &mut Snapshot,
        pending: Pending,
    ) -> Result<HashSet<String>> {
        let mut touched = HashSet::new();
        self.apply_states(snap, pending.states, &mut touched)
            .await?;
        self.apply_configurations(snap, pending.configurations, &mut touched)
            .await?;
        apply_jobs(snap, pending.jobs);
        Ok(touched)
    }

    /// Reads again the states someone else wrote: those whose announced etag
    /// is not the one this snapshot holds.
    async fn apply_states(
        &self,
        snap: &mut Snapshot,
        announced: HashMap<String, String>,
        touched: &mut HashSet<String>,
    ) -> Result<()> {
        let stale: Vec<String> = announced
            .into_iter()
            .filter(|(key, etag)| snap.states.get(key).map(|s| &s.etag) != Some(etag))
            .filter(|(key, etag)| !etag.is_empty() || snap.states.contains_key(key))
            .map(|(key, _)| key)
            .collect();
        let read: Vec<(String, Result<Option<ScheduleState>>)> = futures::stream::iter(stale)
            .map(|key| async move {
                let state = self.catalog.state(&key, 0).await.map(|s| s.map(|(s, _)| s));
                (key, state)
            })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        for (key, state) in read {
            match state? {
                Some(state) => snap.states.insert(key.clone(), state),
                None => snap.states.remove(&key),
            };
            touched.insert(key);
        }
        Ok(())
    }

    /// Reads announced configurations again and replaces their schedules'
    /// definitions.
    async fn apply_configurations(
        &self,
        snap: &mut Snapshot,
        names: HashSet<String>,
        touched: &mut HashSet<String>,
    ) -> Result<()> {
        let read: Vec<(String, Result<Option<BackupConfiguration>>)> = futures::stream::iter(names)
            .map(|name| async move {
                let config = self.catalog.configuration(&name).await;
                (name, config)
            })
            .buffer_unordered(self.settings.fire_concurrency)
            .collect()
            .await;
        for (name, config) in read {
            let config = config?;
            for role in Role::ALL {
                let key = ScheduleKey {
                    configuration: name.clone(),
                    role,
                }
                .to_string();
                if snap.desired.remove(&key).is_some() || snap.states.contains_key(&key) {
                    touched.insert(key);
                }
            }
            for def in self.defs_of_configuration(&name, config.as_ref()) {
                let key = def_key(&def);
                touched.insert(key.clone());
                snap.desired.insert(key, def);
            }
        }
        Ok(())
    }
}

/// Keeps the snapshot's active jobs in line with jobs read after they changed.
fn apply_jobs(snap: &mut Snapshot, jobs: Vec<BackupJob>) {
    for job in jobs {
        let Some(key) = ScheduleKey::of_job(&job) else {
            continue;
        };
        let active = snap.active.entry(key.to_string()).or_default();
        active.retain(|j| j.name != job.name);
        if matches!(job.state(), JobState::Queued | JobState::Running) {
            active.push(ActiveJob::of(&job));
        }
        if active.is_empty() {
            snap.active.remove(&key.to_string());
        }
    }
}
