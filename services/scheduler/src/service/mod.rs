//! The `vigil.scheduler.v1.SchedulerService` implementation.

mod requests;
mod view;

use std::collections::BTreeMap;
use std::sync::Arc;
use vigil_server_common::auth::set_audit_target;

use tonic::{Request, Response, Status};
use vigil_proto::catalog::v1::{
    BackupConfiguration, EnqueueJobRequest, JobTrigger, ScheduleHealth, ScheduleState,
};
use vigil_proto::scheduler::v1::scheduler_service_server::SchedulerService;
use vigil_proto::scheduler::v1::{
    BackfillScheduleRequest, BackfillScheduleResponse, GetScheduleRequest, GetScheduleResponse,
    ListSchedulesRequest, ListSchedulesResponse, PauseScheduleRequest, PauseScheduleResponse,
    PreviewScheduleRequest, PreviewScheduleResponse, ResumeScheduleRequest, ResumeScheduleResponse,
    ScheduleView, TriggerScheduleRequest, TriggerScheduleResponse,
};

use crate::engine::Engine;
use crate::engine::def_key;
use crate::error::{Error, Result};
use crate::key::{Role, ScheduleKey};
use crate::spec::{Def, has_retention, spec_of, time_to_ts};

use self::view::ViewInput;

/// Attempts of a pause or resume against concurrent writers.
const CAS_ATTEMPTS: usize = 8;

/// The service, sharing the engine of its replica.
#[derive(Debug, Clone)]
pub struct Service {
    engine: Arc<Engine>,
}

impl Service {
    /// A service over `engine`.
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// The definition of `key` from `config`, ignoring whether it is enabled.
    fn def_for(&self, config: &BackupConfiguration, key: &ScheduleKey) -> Option<Def> {
        self.engine
            .defs_of_one(config)
            .into_iter()
            .find(|d| match d {
                Ok(d) => d.key == *key,
                Err(u) => u.key == *key,
            })
    }

    async fn view_of(
        &self,
        key: &ScheduleKey,
        next_count: usize,
        outcome_count: i32,
    ) -> Result<ScheduleView> {
        let name = key.to_string();
        let config = self
            .engine
            .catalog()
            .configuration(&key.configuration)
            .await?;
        let stored = self.engine.catalog().state(&name, outcome_count).await?;
        let def = config.as_ref().and_then(|c| self.def_for(c, key));
        if stored.is_none() && def.is_none() {
            return Err(Error::not_found(format!("schedule {name:?}")));
        }
        let enabled = config.as_ref().is_some_and(|c| c.enabled());
        let (state, outcomes) = match stored {
            Some((s, o)) => (Some(s), o),
            None => (None, Vec::new()),
        };
        Ok(view::build(ViewInput {
            key: &name,
            state,
            def: def.as_ref().filter(|_| enabled || config.is_some()),
            spec: config
                .as_ref()
                .and_then(|c| spec_of(c, key.role, self.engine.settings())),
            enabled,
            next_count,
            outcomes,
            now: self.engine.now(),
        }))
    }

    /// Applies `change` to the stored state with compare-and-set, retrying
    /// on concurrent writes.
    async fn update_state(
        &self,
        key: &ScheduleKey,
        change: impl Fn(&mut ScheduleState),
    ) -> Result<()> {
        let name = key.to_string();
        for _ in 0..CAS_ATTEMPTS {
            let Some((mut state, _)) = self.engine.catalog().state(&name, 1).await? else {
                return Err(Error::not_found(format!("schedule {name:?}")));
            };
            change(&mut state);
            state.owner = self.engine.replica().to_owned();
            match self.engine.catalog().put_state(state).await {
                Ok(_) => return Ok(()),
                Err(Error::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(Error::Conflict(format!(
            "schedule {name} kept changing; try again"
        )))
    }

    async fn list(&self, req: ListSchedulesRequest) -> Result<ListSchedulesResponse> {
        let page_size = requests::page_size(req.page_size)?;
        let next_count = requests::count(req.next_count, "next_count", 1, 100)?;
        let after = requests::decode_token(&req.page_token)?;
        let catalog = self.engine.catalog();
        let states: BTreeMap<String, ScheduleState> = catalog
            .all_states()
            .await?
            .into_iter()
            .map(|s| (s.schedule.clone(), s))
            .collect();
        let configs = catalog.all_configurations().await?;
        let mut defs: BTreeMap<String, (Def, bool, &BackupConfiguration)> = BTreeMap::new();
        for config in configs.iter().filter(|c| c.enabled()) {
            for def in self.engine.defs_of_one(config) {
                defs.insert(def_key(&def), (def, config.enabled(), config));
            }
        }
        let mut keys: Vec<&String> = states.keys().chain(defs.keys()).collect();
        keys.sort();
        keys.dedup();
        let remaining: Vec<&String> = keys
            .into_iter()
            .filter(|k| after.as_ref().is_none_or(|a| *k > a))
            .collect();
        let now = self.engine.now();
        let page: Vec<ScheduleView> = remaining
            .iter()
            .take(page_size)
            .map(|k| {
                let def = defs.get(*k);
                view::build(ViewInput {
                    key: k,
                    state: states.get(*k).cloned(),
                    def: def.map(|(d, _, _)| d),
                    spec: def.and_then(|(d, _, config)| {
                        let role = d.as_ref().ok()?.key.role;
                        spec_of(config, role, self.engine.settings())
                    }),
                    enabled: def.is_some_and(|(_, e, _)| *e),
                    next_count,
                    outcomes: Vec::new(),
                    now,
                })
            })
            .collect();
        let next_page_token = if remaining.len() > page_size {
            remaining
                .get(page_size - 1)
                .map(|k| requests::encode_token(k))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(ListSchedulesResponse {
            schedules: page,
            next_page_token,
        })
    }

    async fn trigger(&self, req: TriggerScheduleRequest) -> Result<TriggerScheduleResponse> {
        let key = ScheduleKey::parse(&req.schedule, "schedule")?;
        let config = self
            .engine
            .catalog()
            .configuration(&key.configuration)
            .await?
            .ok_or_else(|| Error::not_found(format!("configuration {:?}", key.configuration)))?;
        if key.role == Role::Prune && !has_retention(&config) {
            return Err(Error::FailedPrecondition(format!(
                "configuration {} has no retention policy to prune by",
                config.name
            )));
        }
        let params = match self.def_for(&config, &key) {
            Some(Ok(def)) => def.params.as_deref().cloned(),
            _ => None,
        };
        let kind = key.role.job_kind();
        let request = EnqueueJobRequest {
            configuration: config.name.clone(),
            kind: kind as i32,
            trigger: JobTrigger::Manual as i32,
            due_time: None,
            schedule: String::new(),
            params,
            required_capabilities: vigil_proto::capabilities::required_for(kind, Some(&config)),
            request_id: format!("trigger-{}", uuid::Uuid::new_v4()),
        };
        let job = self.engine.catalog().enqueue(request).await?.job;
        if let Some(j) = &job {
            tracing::info!(schedule = %key, job = %j.name, "manual run queued");
        }
        Ok(TriggerScheduleResponse { job })
    }

    async fn backfill(&self, req: BackfillScheduleRequest) -> Result<BackfillScheduleResponse> {
        let key = ScheduleKey::parse(&req.schedule, "schedule")?;
        let range = requests::backfill_range(&req, self.engine.now())?;
        let config = self
            .engine
            .catalog()
            .configuration(&key.configuration)
            .await?
            .ok_or_else(|| Error::not_found(format!("configuration {:?}", key.configuration)))?;
        let def = match self.def_for(&config, &key) {
            Some(Ok(def)) => def,
            Some(Err(u)) => return Err(Error::FailedPrecondition(u.reason)),
            None => return Err(Error::not_found(format!("schedule {:?}", key.to_string()))),
        };
        let from = range.start - chrono::Duration::microseconds(1);
        let dues: Vec<_> = def
            .schedule
            .fires_between(from, range.end, range.max_runs + 1)
            .collect();
        if dues.len() > range.max_runs {
            return Err(Error::invalid(
                "max_runs",
                format!(
                    "the range holds more than {} due times; narrow the range or raise max_runs",
                    range.max_runs
                ),
            ));
        }
        let mut jobs = Vec::new();
        let mut already_present = 0;
        for due in dues {
            let request = EnqueueJobRequest {
                configuration: config.name.clone(),
                kind: key.role.job_kind() as i32,
                trigger: key.role.trigger() as i32,
                due_time: Some(time_to_ts(due)),
                schedule: def.name.clone(),
                params: def.params.as_deref().cloned(),
                required_capabilities: def.required_capabilities.clone(),
                request_id: String::new(),
            };
            let response = self.engine.catalog().enqueue(request).await?;
            match response.job {
                Some(job) if response.created => jobs.push(job),
                _ => already_present += 1,
            }
        }
        tracing::info!(schedule = %key, queued = jobs.len(), already_present, "backfill done");
        Ok(BackfillScheduleResponse {
            jobs,
            already_present,
        })
    }
}

#[tonic::async_trait]
impl SchedulerService for Service {
    async fn list_schedules(
        &self,
        request: Request<ListSchedulesRequest>,
    ) -> Result<Response<ListSchedulesResponse>, Status> {
        Ok(Response::new(self.list(request.into_inner()).await?))
    }

    async fn get_schedule(
        &self,
        request: Request<GetScheduleRequest>,
    ) -> Result<Response<GetScheduleResponse>, Status> {
        let req = request.into_inner();
        let key = ScheduleKey::parse(&req.schedule, "schedule")?;
        let next_count = requests::count(req.next_count, "next_count", 5, 1000)?;
        let outcome_count = requests::count(req.outcome_count, "outcome_count", 10, 1000)? as i32;
        let schedule = self.view_of(&key, next_count, outcome_count).await?;
        Ok(Response::new(GetScheduleResponse {
            schedule: Some(schedule),
        }))
    }

    async fn pause_schedule(
        &self,
        request: Request<PauseScheduleRequest>,
    ) -> Result<Response<PauseScheduleResponse>, Status> {
        set_audit_target(&request, format!("schedule {}", request.get_ref().schedule));
        let key = ScheduleKey::parse(&request.into_inner().schedule, "schedule")?;
        self.update_state(&key, |s| {
            s.paused = true;
            s.set_health(ScheduleHealth::Paused);
            s.health_reason = "paused; due runs are recorded as paused".into();
        })
        .await?;
        tracing::info!(schedule = %key, "schedule paused");
        let schedule = self.view_of(&key, 5, 10).await?;
        Ok(Response::new(PauseScheduleResponse {
            schedule: Some(schedule),
        }))
    }

    async fn resume_schedule(
        &self,
        request: Request<ResumeScheduleRequest>,
    ) -> Result<Response<ResumeScheduleResponse>, Status> {
        set_audit_target(&request, format!("schedule {}", request.get_ref().schedule));
        let key = ScheduleKey::parse(&request.into_inner().schedule, "schedule")?;
        let now = self.engine.now();
        self.update_state(&key, |s| {
            if !s.paused {
                return;
            }
            s.paused = false;
            // Due runs while paused were recorded as PAUSED, not missed:
            // "never fired" counts from here.
            s.armed_time = Some(time_to_ts(now));
            if s.next_due_time.is_some() {
                s.set_health(ScheduleHealth::Armed);
                s.health_reason = "resumed".into();
            } else {
                s.set_health(ScheduleHealth::Unarmed);
                s.health_reason = "resumed without a next due time".into();
            }
        })
        .await?;
        tracing::info!(schedule = %key, "schedule resumed");
        let schedule = self.view_of(&key, 5, 10).await?;
        Ok(Response::new(ResumeScheduleResponse {
            schedule: Some(schedule),
        }))
    }

    async fn trigger_schedule(
        &self,
        request: Request<TriggerScheduleRequest>,
    ) -> Result<Response<TriggerScheduleResponse>, Status> {
        set_audit_target(&request, format!("schedule {}", request.get_ref().schedule));
        Ok(Response::new(self.trigger(request.into_inner()).await?))
    }

    async fn backfill_schedule(
        &self,
        request: Request<BackfillScheduleRequest>,
    ) -> Result<Response<BackfillScheduleResponse>, Status> {
        set_audit_target(&request, format!("schedule {}", request.get_ref().schedule));
        Ok(Response::new(self.backfill(request.into_inner()).await?))
    }

    async fn preview_schedule(
        &self,
        request: Request<PreviewScheduleRequest>,
    ) -> Result<Response<PreviewScheduleResponse>, Status> {
        Ok(Response::new(requests::preview(
            request.into_inner(),
            self.engine.now(),
        )?))
    }
}
