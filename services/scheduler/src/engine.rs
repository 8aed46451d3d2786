//! The engine: one replica's view of the catalog and its `tick(now)`, the
//! single entry point that arms, fires and checks every schedule.
//!
//! A tick works on a snapshot of schedule states, configurations and active
//! jobs: read in full, or kept from the previous tick with the announced
//! changes applied ([`crate::changes`]). Every tick names the configuration
//! version it planned from, and the catalog refuses it when an edit was
//! committed meanwhile, so an edit committed before `now` is never
//! overlooked by the tick that handles a due time after it (S7). All writes
//! are compare-and-set, so any number of replicas may tick at once (S3): the
//! loser of a race gets ABORTED and moves on.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, ComponentKind, JobState, ScheduleState,
};
use vigil_server_common::clock::SharedClock;

use crate::alerts::Notifier;
use crate::catalog::Catalog;
use crate::changes::{Changes, Pending};
use crate::error::Result;
use crate::health::JobFact;
use crate::key::ScheduleKey;
use crate::plan::{ActiveRun, PlannedRun};
use crate::settings::SchedulerSettings;
use crate::spec::{self, Def, ScheduleDef, ts_to_time};

/// Sweeps of every schedule are spaced at least this many times their own
/// duration apart, so a large fleet's health checks stay near half a percent
/// of a core.
const SWEEP_SHARE: u32 = 200;

/// What one tick did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Schedules that should be armed.
    pub schedules: usize,
    /// States created or re-armed.
    pub armed: usize,
    /// States removed because their schedule no longer exists.
    pub removed: usize,
    /// Due runs that received an outcome.
    pub outcomes: usize,
    /// Jobs enqueued.
    pub enqueued: usize,
    /// Commits lost to another replica.
    pub conflicts: usize,
    /// Alerts opened or resolved by this replica.
    pub alert_changes: usize,
    /// Per-schedule failures, already logged.
    pub errors: Vec<String>,
    /// The earliest instant at which a schedule becomes ready to fire.
    pub next_wake: Option<DateTime<Utc>>,
}

/// What the engine remembers between ticks. Nothing here is needed for
/// correctness after a restart; it only sharpens health reports.
#[derive(Debug, Default)]
pub(crate) struct Memory {
    /// The previous definition per schedule key of an edited configuration,
    /// until the schedule is armed for the new version: to finish the due
    /// runs of the previous version (S7). Only edited schedules are here.
    pub armed: HashMap<String, Arc<ScheduleDef>>,
    /// The newest job seen per schedule key (from commits and job events).
    pub newest_job: HashMap<String, JobFact>,
    /// Definitions per configuration name, for the configuration etag (and
    /// enabled flag) they were derived from. Deriving one computes the
    /// schedule's expected interval, which is worth doing once per version.
    pub defs: HashMap<String, CachedDefs>,
}

/// The definitions of one configuration version: its etag, whether it was
/// enabled, and what [`spec::defs_for`] derived.
pub(crate) type CachedDefs = (String, bool, Vec<Def>);

/// One replica's scheduling engine. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Engine {
    pub(crate) catalog: Catalog,
    pub(crate) clock: SharedClock,
    pub(crate) settings: SchedulerSettings,
    pub(crate) replica: String,
    pub(crate) started: DateTime<Utc>,
    pub(crate) memory: Mutex<Memory>,
    pub(crate) notifier: Option<Notifier>,
    /// The URL of this replica's gRPC port, reported in its heartbeats.
    pub(crate) endpoint: std::sync::OnceLock<String>,
    /// Catalog changes announced since the last tick.
    pub(crate) changes: Changes,
    /// Serialises ticks of this replica (other replicas race through CAS)
    /// and keeps the snapshot between incremental ticks.
    tick_lock: tokio::sync::Mutex<Option<Kept>>,
    /// When the last tick reconciled and assessed every schedule, and how
    /// long that took.
    swept: Mutex<Option<(DateTime<Utc>, std::time::Duration)>>,
}

/// The snapshot kept between incremental ticks, and when it was last read
/// in full.
pub(crate) struct Kept {
    snapshot: Snapshot,
    read_at: DateTime<Utc>,
}

impl std::fmt::Debug for Kept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kept")
            .field("schedules", &self.snapshot.desired.len())
            .field("states", &self.snapshot.states.len())
            .field("read_at", &self.read_at)
            .finish()
    }
}

/// Which schedules a tick reconciles and assesses: all of them (after a full
/// read, and every `reconcile_interval`), or only those an announced change
/// touched. Ready schedules are fired either way.
pub(crate) enum Scope {
    All,
    Keys(HashSet<String>),
}

impl Scope {
    /// Whether `key` is in scope.
    pub(crate) fn has(&self, key: &str) -> bool {
        match self {
            Scope::All => true,
            Scope::Keys(keys) => keys.contains(key),
        }
    }
}

/// The catalog snapshot a tick works on.
pub(crate) struct Snapshot {
    pub states: BTreeMap<String, ScheduleState>,
    pub desired: BTreeMap<String, Def>,
    pub active: HashMap<String, Vec<ActiveJob>>,
    /// Which schedules this replica fires first.
    pub share: Share,
}

/// This replica's share of the firing work: live replicas split the
/// schedules by a stable hash of their key, so they do not race for the
/// same rows. A schedule outside the share is still fired by this replica
/// once it is `takeover` overdue (its owner may have died), and the catalog's
/// compare-and-set keeps that exactly-once.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Share {
    /// This replica's position among the live replicas sorted by id, and
    /// how many there are; `None` when this replica fires everything.
    pub slot: Option<(u64, u64)>,
    /// How long an unowned schedule waits for its owner.
    pub takeover: chrono::Duration,
}

impl Share {
    /// The share of `me` among the live `replicas`.
    pub(crate) fn of(me: &str, replicas: &[String], takeover: std::time::Duration) -> Self {
        let mut ids: Vec<&str> = replicas.iter().map(String::as_str).collect();
        ids.sort_unstable();
        ids.dedup();
        let slot = match ids.iter().position(|id| *id == me) {
            Some(i) if ids.len() > 1 => Some((i as u64, ids.len() as u64)),
            _ => None,
        };
        Self {
            slot,
            takeover: chrono::Duration::from_std(takeover).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// When this replica may fire the run of `schedule` that may fire at `fire_time`.
    pub(crate) fn ready_time(&self, schedule: &str, fire_time: DateTime<Utc>) -> DateTime<Utc> {
        match self.slot {
            Some((me, count)) if stable_hash(schedule) % count != me => fire_time + self.takeover,
            _ => fire_time,
        }
    }
}

/// FNV-1a: the same value in every replica and every build.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Engine {
    /// An engine talking to `catalog`, reading time from `clock`.
    pub fn new(
        catalog: Catalog,
        clock: SharedClock,
        settings: SchedulerSettings,
        replica: impl Into<String>,
        notifier: Option<Notifier>,
    ) -> Arc<Self> {
        let started = clock.now();
        Arc::new(Self {
            catalog,
            clock,
            settings,
            replica: replica.into(),
            started,
            memory: Mutex::new(Memory::default()),
            notifier,
            endpoint: std::sync::OnceLock::new(),
            changes: Changes::default(),
            tick_lock: tokio::sync::Mutex::new(None),
            swept: Mutex::new(None),
        })
    }

    /// Reports `endpoint` as the address of this replica's `SchedulerService`
    /// in its heartbeats (the first call wins).
    pub fn advertise(&self, endpoint: impl Into<String>) {
        let _ = self.endpoint.set(endpoint.into());
    }

    /// The replica id.
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// The catalog client.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The settings.
    pub fn settings(&self) -> &SchedulerSettings {
        &self.settings
    }

    /// Whether ticks are incremental: the catalog's event stream is
    /// connected and a tick has taken the full read that follows its
    /// connection (see `changes.rs`).
    pub fn follows_events(&self) -> bool {
        self.changes.is_caught_up()
    }

    /// The current time of the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub(crate) fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Arms, fires and checks every schedule as of `now`.
    ///
    /// Fails only when the catalog snapshot cannot be read; failures of
    /// single schedules are logged and listed in the report.
    pub async fn tick(&self, now: DateTime<Utc>) -> Result<TickReport> {
        let started = std::time::Instant::now();
        let report = self.tick_at(now).await;
        vigil_server_common::metrics::record_tick(started.elapsed().as_secs_f64());
        report
    }

    async fn tick_at(&self, now: DateTime<Utc>) -> Result<TickReport> {
        let mut kept = self.tick_lock.lock().await;
        let following = self.changes.take();
        let keep = following.is_some();
        let mut report = TickReport::default();
        let phase = std::time::Instant::now();
        let (mut current, scope) = self.refresh(kept.take(), following, now).await?;
        let snapshot = &mut current.snapshot;
        let read = phase.elapsed();
        report.schedules = snapshot.desired.len();
        self.reconcile(snapshot, now, &scope, &mut report).await;
        let armed = phase.elapsed();
        let fired = self.fire_due(snapshot, now, &mut report).await;
        let fire = phase.elapsed();
        let swept = matches!(scope, Scope::All);
        if swept {
            self.detect(snapshot, now, &fired, &mut report).await;
            let cost = (armed - read) + (phase.elapsed() - fire);
            *self.swept.lock().unwrap_or_else(|e| e.into_inner()) = Some((now, cost));
        }
        report.next_wake = next_wake(snapshot).map(|t| t.min(self.next_sweep(now)));
        tracing::debug!(
            read_ms = read.as_millis(),
            armed_ms = (armed - read).as_millis(),
            fired_ms = (fire - armed).as_millis(),
            detected_ms = (phase.elapsed() - fire).as_millis(),
            swept,
            enqueued = report.enqueued,
            "tick phases"
        );
        if keep {
            *kept = Some(current);
        }
        Ok(report)
    }

    /// The snapshot this tick works on, and its scope. Without announced
    /// changes (`pending` is `None`: the event stream is not followed), after
    /// a reconnect, without a kept snapshot or once `resync_interval` has
    /// passed, the whole catalog is read; otherwise the kept snapshot gets
    /// the announced changes.
    async fn refresh(
        &self,
        kept: Option<Kept>,
        pending: Option<Pending>,
        now: DateTime<Utc>,
    ) -> Result<(Kept, Scope)> {
        let resync = chrono::Duration::from_std(self.settings.resync_interval)
            .unwrap_or(chrono::Duration::MAX);
        match (kept, pending) {
            (Some(mut kept), Some(pending)) if !pending.resync && now - kept.read_at < resync => {
                let touched = match self.apply(&mut kept.snapshot, pending).await {
                    Ok(touched) => touched,
                    Err(e) => {
                        self.changes.resync();
                        return Err(e);
                    }
                };
                kept.snapshot.share = self.share().await;
                let scope = if self.next_sweep(now) <= now {
                    Scope::All
                } else {
                    Scope::Keys(touched)
                };
                Ok((kept, scope))
            }
            (kept, pending) => {
                // The old snapshot goes before the new one is read.
                drop(kept);
                match self.snapshot().await {
                    Ok(snapshot) => Ok((
                        Kept {
                            snapshot,
                            read_at: now,
                        },
                        Scope::All,
                    )),
                    Err(e) => {
                        if pending.is_some() {
                            self.changes.resync();
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// When every schedule is next reconciled and assessed: every
    /// `reconcile_interval`, but never so often that the sweeps take more
    /// than 1/[`SWEEP_SHARE`] of the time, however large the fleet.
    fn next_sweep(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let Some((at, cost)) = *self.swept.lock().unwrap_or_else(|e| e.into_inner()) else {
            return now;
        };
        let spacing = self.settings.reconcile_interval.max(cost * SWEEP_SHARE);
        chrono::Duration::from_std(spacing)
            .ok()
            .and_then(|d| at.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// Reads states, configurations and active jobs, concurrently. A state
    /// without a matching configuration in this snapshot is only removed
    /// after its configuration is read again (see `arm`).
    pub(crate) async fn snapshot(&self) -> Result<Snapshot> {
        let mut states = BTreeMap::new();
        let mut active: HashMap<String, Vec<ActiveJob>> = HashMap::new();
        let (_, desired, _, share) = tokio::try_join!(
            self.catalog.each_state_page(|page| {
                states.extend(page.into_iter().map(|s| (s.schedule.clone(), s)));
            }),
            self.read_desired(),
            self.catalog.each_active_job_page(|page| {
                for job in page {
                    if let Some(key) = ScheduleKey::of_job(&job) {
                        active
                            .entry(key.to_string())
                            .or_default()
                            .push(ActiveJob::of(&job));
                    }
                }
            }),
            async { Ok(self.share().await) },
        )?;
        Ok(Snapshot {
            states,
            desired,
            active,
            share,
        })
    }

    /// This replica's share of the firing work among the live replicas.
    async fn share(&self) -> Share {
        let replicas = self.live_replicas().await;
        Share::of(&self.replica, &replicas, self.settings.takeover_delay)
    }

    /// Ids of the live scheduler replicas. Unknown (the catalog does not
    /// answer) means this replica fires everything, relying on the
    /// compare-and-set.
    async fn live_replicas(&self) -> Vec<String> {
        match self.catalog.components(ComponentKind::Scheduler).await {
            Ok(all) => all.into_iter().filter(|c| c.alive).map(|c| c.id).collect(),
            Err(e) => {
                tracing::debug!(error = %e, "cannot list scheduler replicas");
                Vec::new()
            }
        }
    }

    /// The schedule definitions of every configuration (none for disabled
    /// ones), read page by page and derived once per configuration version
    /// through the cache. Configurations no longer listed are forgotten.
    async fn read_desired(&self) -> Result<BTreeMap<String, Def>> {
        let mut desired = BTreeMap::new();
        let mut fresh = HashMap::new();
        self.catalog
            .each_configuration_page(|page| {
                let mut memory = self.memory();
                for config in &page {
                    let entry = self.derive(&mut memory, config);
                    for def in &entry.2 {
                        desired.insert(def_key(def), def.clone());
                    }
                    fresh.insert(config.name.clone(), entry);
                }
            })
            .await?;
        self.memory().defs = fresh;
        Ok(desired)
    }

    /// The definitions of `config`, taken out of `memory`'s cache when they
    /// were derived from the same version, derived afresh otherwise. The
    /// definitions of an older version are kept in `memory.armed` (unless an
    /// even older one is already there) until their schedules are re-armed.
    fn derive(&self, memory: &mut Memory, config: &BackupConfiguration) -> CachedDefs {
        match memory.defs.remove(&config.name) {
            Some(c) if c.0 == config.etag && c.1 == config.enabled() => c,
            previous => {
                for def in previous.into_iter().flat_map(|c| c.2).flatten() {
                    memory.armed.entry(def.name.clone()).or_insert(def);
                }
                (
                    config.etag.clone(),
                    config.enabled(),
                    spec::defs_for(config, &self.settings),
                )
            }
        }
    }

    /// The definitions of configuration `name` as read now (`None`: it was
    /// deleted), through the same cache as a full read.
    pub(crate) fn defs_of_configuration(
        &self,
        name: &str,
        config: Option<&BackupConfiguration>,
    ) -> Vec<Def> {
        let mut memory = self.memory();
        let Some(config) = config else {
            memory.defs.remove(name);
            return Vec::new();
        };
        let entry = self.derive(&mut memory, config);
        let defs = entry.2.clone();
        memory.defs.insert(name.to_owned(), entry);
        defs
    }

    /// The definitions of one configuration as if it were enabled, from the
    /// cache when its version is known.
    pub fn defs_of_one(&self, config: &BackupConfiguration) -> Vec<Def> {
        let mut enabled = config.clone();
        enabled.enabled = Some(true);
        if let Some((etag, true, defs)) = self.memory().defs.get(&config.name)
            && *etag == config.etag
        {
            return defs.clone();
        }
        spec::defs_for(&enabled, &self.settings)
    }

    /// Remembers the newest known job of each schedule, from job events or
    /// commit responses.
    pub fn note_jobs(&self, jobs: &[BackupJob]) {
        let mut memory = self.memory();
        for job in jobs {
            let (Some(key), Some(fact)) = (ScheduleKey::of_job(job), job_fact(job)) else {
                continue;
            };
            let entry = memory.newest_job.entry(key.to_string());
            match entry {
                std::collections::hash_map::Entry::Occupied(mut e) => {
                    if e.get().due <= fact.due {
                        e.insert(fact);
                    }
                }
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(fact);
                }
            }
        }
    }

    /// Fetches jobs by id (from job events) and remembers them.
    pub async fn note_job_ids(&self, ids: &[String]) {
        let mut jobs = Vec::new();
        for id in ids {
            match self.catalog.job(id).await {
                Ok(Some(job)) => jobs.push(job),
                Ok(None) => {}
                Err(e) => tracing::debug!(job = %id, error = %e, "cannot read changed job"),
            }
        }
        self.note_jobs(&jobs);
        self.changes.jobs(&jobs);
    }
}

/// The schedule key of a definition.
pub(crate) fn def_key(def: &Def) -> String {
    match def {
        Ok(d) => d.name.clone(),
        Err(u) => u.key.to_string(),
    }
}

/// What the engine keeps of a queued or running job: what the overlap
/// policy and the health checks read, not the whole message.
#[derive(Debug, Clone)]
pub(crate) struct ActiveJob {
    pub name: String,
    state: JobState,
    due: Option<DateTime<Utc>>,
    queued: Option<DateTime<Utc>>,
    started: Option<DateTime<Utc>>,
}

impl ActiveJob {
    pub(crate) fn of(job: &BackupJob) -> Self {
        Self {
            name: job.name.clone(),
            state: job.state(),
            due: job.due_time.as_ref().map(ts_to_time),
            queued: job.create_time.as_ref().map(ts_to_time),
            started: job.start_time.as_ref().map(ts_to_time),
        }
    }

    /// The job as a health fact; `None` without a due time.
    pub(crate) fn fact(&self) -> Option<JobFact> {
        let due = self.due?;
        Some(JobFact {
            name: self.name.clone(),
            due,
            queued: self.queued.unwrap_or(due),
            state: self.state,
            started: self.started,
        })
    }
}

/// The overlap view of a schedule's active jobs.
pub(crate) fn active_runs(jobs: &[ActiveJob]) -> Vec<ActiveRun> {
    jobs.iter()
        .map(|j| ActiveRun {
            job: j.name.clone(),
            state: j.state,
        })
        .collect()
}

/// A job as a health fact; `None` without a due time.
pub(crate) fn job_fact(job: &BackupJob) -> Option<JobFact> {
    ActiveJob::of(job).fact()
}

/// What a fire did to one schedule, for the detection that follows.
#[derive(Debug, Default)]
pub(crate) struct Fired {
    /// Planned runs per schedule key that was fired this tick.
    pub runs: HashMap<String, Vec<PlannedRun>>,
}

/// The earliest ready instant over every armed schedule.
fn next_wake(snapshot: &Snapshot) -> Option<DateTime<Utc>> {
    snapshot
        .desired
        .iter()
        .filter_map(|(name, def)| {
            let def = def.as_ref().ok()?;
            let state = snapshot.states.get(name)?;
            let due = ts_to_time(state.next_due_time.as_ref()?);
            let fire = crate::jitter::fire_time(name, due, def.jitter);
            Some(snapshot.share.ready_time(name, fire))
        })
        .min()
}
