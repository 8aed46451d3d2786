"""The typed convenience client: :class:`Client`."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, TypeVar

import grpc
from google.protobuf import duration_pb2, field_mask_pb2

from vigil import _channel, config_file
from vigil.catalog.v1 import alert_pb2, artifact_pb2, catalog_service_pb2 as catalog
from vigil.catalog.v1 import catalog_service_pb2_grpc, configuration_pb2, job_event_pb2, job_pb2
from vigil.enums import JobState
from vigil.errors import DeadlineExceeded, JobFailed, Unimplemented, VigilError, from_rpc_error
from vigil.executor.v1 import executor_service_pb2_grpc
from vigil.scheduler.v1 import scheduler_service_pb2 as scheduler
from vigil.scheduler.v1 import scheduler_service_pb2_grpc
from vigil.status.v1 import status_service_pb2 as status
from vigil.status.v1 import status_service_pb2_grpc

Configuration = configuration_pb2.BackupConfiguration
Job = job_pb2.BackupJob
Alert = alert_pb2.Alert
AlertDelivery = alert_pb2.AlertDelivery
Artifact = artifact_pb2.Artifact
ScheduleView = scheduler.ScheduleView
StatusReport = status.StatusReport
ConfigurationLike = Configuration | Mapping[str, Any]

#: The final job states, as :class:`vigil.JobState` members (equal to the wire numbers).
FINAL_STATES: frozenset[int] = frozenset(JobState(state) for state in (job_pb2.JOB_STATE_COMPLETED, job_pb2.JOB_STATE_FAILED, job_pb2.JOB_STATE_CANCELLED))

_T = TypeVar("_T")


def _as_configuration(value: ConfigurationLike) -> Configuration:
    if isinstance(value, Configuration):
        return value
    return config_file.configuration_from_dict(value)


class Client:
    """A client for ``vigild`` (every service on one endpoint).

    >>> with Client("http://127.0.0.1:50051") as vigil:          # doctest: +SKIP
    ...     vigil.apply_file("deploy/examples/seed-configurations.yaml")
    ...     job = vigil.run_backup("daily_full_backup", wait=True)

    Every method raises a :class:`vigil.VigilError` subclass on failure. The raw
    generated stubs are available as :attr:`catalog`, :attr:`scheduler`,
    :attr:`executor` and :attr:`status` for anything not covered here.

    Args:
        endpoint: ``http://host:port``, ``https://host:port`` or ``host:port``.
            Defaults to ``VIGIL_ENDPOINT`` or ``http://127.0.0.1:50051``.
        timeout: deadline in seconds of each unary call. Streams have none
            unless a wait is given one.
        credentials: TLS credentials; by default built from ``ca_cert``,
            ``client_cert`` and ``client_key`` (or ``VIGIL_CA_CERT``,
            ``VIGIL_CLIENT_CERT``, ``VIGIL_CLIENT_KEY``); ``https://`` endpoints
            without any use the system roots.
        token: bearer token sent on every call. Defaults to the file named by
            ``VIGIL_TOKEN_FILE``, else ``VIGIL_TOKEN``.
        ca_cert: CA certificate (PEM file) of the server's certificate.
        client_cert: client certificate (PEM file), for servers that require mTLS.
        client_key: key (PEM file) of ``client_cert``.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        timeout: float = 30.0,
        credentials: grpc.ChannelCredentials | None = None,
        token: str | None = None,
        ca_cert: str | os.PathLike[str] | None = None,
        client_cert: str | os.PathLike[str] | None = None,
        client_key: str | os.PathLike[str] | None = None,
    ) -> None:
        self.endpoint = endpoint or _channel.default_endpoint()
        self.timeout = timeout
        if credentials is None:
            credentials = _channel.tls_credentials(ca_cert, client_cert, client_key)
        if token is None:
            token = _channel.token_from_env()
        self._channel = _channel.open_channel(self.endpoint, credentials, token)
        self.catalog = catalog_service_pb2_grpc.CatalogServiceStub(self._channel)
        self.scheduler = scheduler_service_pb2_grpc.SchedulerServiceStub(self._channel)
        self.executor = executor_service_pb2_grpc.ExecutorServiceStub(self._channel)
        self.status = status_service_pb2_grpc.StatusServiceStub(self._channel)

    def close(self) -> None:
        """Closes the channel."""
        self._channel.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _call(self, method: Callable[..., _T], request: Any) -> _T:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    # Configurations

    def apply_configurations(self, configurations: Iterable[ConfigurationLike], *, dry_run: bool = False) -> list[catalog.ApplyResult]:
        """Creates or updates every configuration at once; unchanged ones keep their etag.

        Accepts ``BackupConfiguration`` messages or dicts in the YAML shape.
        """
        request = catalog.ApplyConfigurationsRequest(
            configurations=[_as_configuration(c) for c in configurations], dry_run=dry_run
        )
        return list(self._call(self.catalog.ApplyConfigurations, request).results)

    def apply_file(self, path: str | os.PathLike[str], *, dry_run: bool = False) -> list[catalog.ApplyResult]:
        """Applies a YAML file in the shape ``vigil config apply -f`` reads."""
        return self.apply_configurations(config_file.load_configurations(path), dry_run=dry_run)

    def create_configuration(self, configuration: ConfigurationLike) -> Configuration:
        """Registers a new configuration; :class:`vigil.AlreadyExists` if the name is taken."""
        request = catalog.CreateConfigurationRequest(configuration=_as_configuration(configuration))
        return self._call(self.catalog.CreateConfiguration, request).configuration

    def get_configuration(self, name: str) -> Configuration:
        """One configuration; :class:`vigil.NotFound` if there is none of that name."""
        return self._call(self.catalog.GetConfiguration, catalog.GetConfigurationRequest(name=name)).configuration

    def list_configurations(
        self,
        *,
        purpose: configuration_pb2.Purpose.ValueType = configuration_pb2.PURPOSE_UNSPECIFIED,
        labels: Mapping[str, str] | None = None,
        page_size: int = 0,
    ) -> Iterator[Configuration]:
        """Every configuration in name order, fetching pages as the iteration goes."""

        def page(token: str) -> tuple[Sequence[Configuration], str]:
            request = catalog.ListConfigurationsRequest(page_size=page_size, page_token=token, purpose=purpose, labels=labels or {})
            response = self._call(self.catalog.ListConfigurations, request)
            return response.configurations, response.next_page_token

        return _paginate(page)

    def update_configuration(self, configuration: ConfigurationLike, *, update_mask: Sequence[str] = ()) -> Configuration:
        """Changes the fields named in ``update_mask`` (AIP-134).

        An empty mask means the fields set in ``configuration`` (present messages,
        non-default scalars, ``enabled`` whenever it is set); ``["*"]`` replaces every
        mutable field. To clear a field, name it in the mask and leave it unset.
        Set ``configuration.etag`` to refuse a stale write: it raises :class:`vigil.Aborted`;
        read the configuration again and retry.
        """
        request = catalog.UpdateConfigurationRequest(
            configuration=_as_configuration(configuration), update_mask=field_mask_pb2.FieldMask(paths=list(update_mask))
        )
        return self._call(self.catalog.UpdateConfiguration, request).configuration

    def delete_configuration(self, name: str, *, etag: str = "") -> None:
        """Removes a configuration; its jobs and artifacts stay in the history."""
        self._call(self.catalog.DeleteConfiguration, catalog.DeleteConfigurationRequest(name=name, etag=etag))

    def enable_configuration(self, name: str) -> Configuration:
        """Enables a configuration, arming its schedule."""
        return self._call(self.catalog.EnableConfiguration, catalog.EnableConfigurationRequest(name=name)).configuration

    def disable_configuration(self, name: str) -> Configuration:
        """Disables a configuration, disarming its schedule."""
        return self._call(self.catalog.DisableConfiguration, catalog.DisableConfigurationRequest(name=name)).configuration

    # Jobs

    def create_job(
        self,
        configuration: str,
        kind: job_pb2.JobKind.ValueType,
        *,
        params: job_pb2.JobParams | None = None,
        request_id: str | None = None,
    ) -> Job:
        """Queues a manual job. ``request_id`` (a fresh UUID by default) makes a repeat return the same job."""
        request = catalog.CreateJobRequest(
            configuration=configuration, kind=kind, params=params, request_id=request_id or str(uuid.uuid4())
        )
        return self._call(self.catalog.CreateJob, request).job

    def run_backup(
        self,
        configuration: str,
        *,
        wait: bool = False,
        timeout: float | None = None,
        on_update: Callable[[Job], None] | None = None,
    ) -> Job:
        """Queues a backup of a configuration; with ``wait``, returns once it is COMPLETED.

        Raises:
            JobFailed: when waiting and the job ends FAILED or CANCELLED.
            DeadlineExceeded: when waiting longer than ``timeout`` seconds.
        """
        job = self.create_job(configuration, job_pb2.JOB_KIND_BACKUP)
        if not wait:
            return job
        return self.wait_for_job(job.id, timeout=timeout, on_update=on_update)

    def get_job(self, job: str) -> Job:
        """One job by id or readable name."""
        return self._call(self.catalog.GetJob, catalog.GetJobRequest(id=job)).job

    def list_jobs(
        self,
        *,
        configuration: str = "",
        states: Iterable[job_pb2.JobState.ValueType] = (),
        kind: job_pb2.JobKind.ValueType = job_pb2.JOB_KIND_UNSPECIFIED,
        page_size: int = 0,
    ) -> Iterator[Job]:
        """Jobs newest first, fetching pages as the iteration goes."""
        wanted = list(states)

        def page(token: str) -> tuple[Sequence[Job], str]:
            request = catalog.ListJobsRequest(
                page_size=page_size, page_token=token, configuration=configuration, states=wanted, kind=kind
            )
            response = self._call(self.catalog.ListJobs, request)
            return response.jobs, response.next_page_token

        return _paginate(page)

    def cancel_job(self, job: str) -> Job:
        """Cancels a queued job at once, or asks a running one to stop."""
        return self._call(self.catalog.CancelJob, catalog.CancelJobRequest(id=job)).job

    def watch_job(self, job: str, *, timeout: float | None = None) -> Iterator[Job]:
        """Yields the job each time it changes, until it reaches a final state."""
        try:
            for response in self.catalog.WatchJob(catalog.WatchJobRequest(id=job), timeout=timeout):
                yield response.job
        except grpc.RpcError as error:
            raise from_rpc_error(error) from None

    def wait_for_job(
        self,
        job: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = True,
        on_update: Callable[[Job], None] | None = None,
        poll_interval: float = 0.5,
    ) -> Job:
        """Waits until a job is COMPLETED, FAILED or CANCELLED, and returns it.

        Follows the WatchJob stream; polls GetJob if the server does not offer it
        or the stream ends early.
        """
        deadline = None if timeout is None else time.monotonic() + timeout

        def too_late() -> DeadlineExceeded:
            return DeadlineExceeded(f"job {job}: not finished after {timeout:g}s", code=grpc.StatusCode.DEADLINE_EXCEEDED)

        def remaining() -> float | None:
            if deadline is None:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise too_late()
            return left

        latest: Job | None = None
        try:
            for latest in self.watch_job(job, timeout=remaining()):
                if on_update is not None:
                    on_update(latest)
                if latest.state in FINAL_STATES:
                    break
        except Unimplemented:
            pass  # an older server: poll instead
        except DeadlineExceeded as error:
            raise (too_late() if deadline is not None else error) from None
        while latest is None or latest.state not in FINAL_STATES:
            if latest is not None:
                left = remaining()
                time.sleep(poll_interval if left is None else min(poll_interval, left))
            previous = latest
            latest = self.get_job(job)
            if on_update is not None and previous != latest:
                on_update(latest)
        if raise_on_failure and latest.state != job_pb2.JOB_STATE_COMPLETED:
            raise JobFailed(latest)
        return latest

    def job_events(self, job: str, *, page_size: int = 0) -> Iterator[job_event_pb2.JobEvent]:
        """A job's log, oldest first: phases with their durations, warnings and files that could not be read.

        Read entries' kinds with ``vigil.enum_value(event, "kind")`` to print them as names.
        """

        def page(token: str) -> tuple[Sequence[job_event_pb2.JobEvent], str]:
            request = catalog.ListJobEventsRequest(job=job, page_size=page_size, page_token=token)
            response = self._call(self.catalog.ListJobEvents, request)
            return response.events, response.next_page_token

        return _paginate(page)

    # Artifacts and alerts

    def list_artifacts(self, *, configuration: str = "", include_pruned: bool = False, page_size: int = 0) -> Iterator[Artifact]:
        """Artifacts newest first, fetching pages as the iteration goes."""

        def page(token: str) -> tuple[Sequence[Artifact], str]:
            request = catalog.ListArtifactsRequest(
                page_size=page_size, page_token=token, configuration=configuration, include_pruned=include_pruned
            )
            response = self._call(self.catalog.ListArtifacts, request)
            return response.artifacts, response.next_page_token

        return _paginate(page)

    def list_alerts(self, *, configuration: str = "", include_resolved: bool = False, page_size: int = 0) -> Iterator[Alert]:
        """Alerts newest first (open ones only unless ``include_resolved``)."""

        def page(token: str) -> tuple[Sequence[Alert], str]:
            request = catalog.ListAlertsRequest(
                page_size=page_size, page_token=token, configuration=configuration, include_resolved=include_resolved
            )
            response = self._call(self.catalog.ListAlerts, request)
            return response.alerts, response.next_page_token

        return _paginate(page)

    # Schedules

    def list_schedules(self, *, next_count: int = 0, page_size: int = 0) -> Iterator[ScheduleView]:
        """Every schedule with its health and next due times."""

        def page(token: str) -> tuple[Sequence[ScheduleView], str]:
            request = scheduler.ListSchedulesRequest(page_size=page_size, page_token=token, next_count=next_count)
            response = self._call(self.scheduler.ListSchedules, request)
            return response.schedules, response.next_page_token

        return _paginate(page)

    def get_schedule(self, schedule: str, *, next_count: int = 0, outcome_count: int = 0) -> ScheduleView:
        """One schedule (a configuration name, or ``name#prune``, ``name#verify``)."""
        request = scheduler.GetScheduleRequest(schedule=schedule, next_count=next_count, outcome_count=outcome_count)
        return self._call(self.scheduler.GetSchedule, request).schedule

    def pause_schedule(self, schedule: str) -> ScheduleView:
        """Pauses a schedule: due runs are recorded as PAUSED."""
        return self._call(self.scheduler.PauseSchedule, scheduler.PauseScheduleRequest(schedule=schedule)).schedule

    def resume_schedule(self, schedule: str) -> ScheduleView:
        """Resumes a paused schedule from its next due time."""
        return self._call(self.scheduler.ResumeSchedule, scheduler.ResumeScheduleRequest(schedule=schedule)).schedule

    def trigger_schedule(self, schedule: str) -> Job:
        """Queues a run of a schedule now."""
        return self._call(self.scheduler.TriggerSchedule, scheduler.TriggerScheduleRequest(schedule=schedule)).job

    def preview_schedule(
        self, cron: str, *, timezone: str = "", count: int = 0
    ) -> scheduler.PreviewScheduleResponse:
        """The next fire times of a cron expression in a time zone, without storing anything."""
        request = scheduler.PreviewScheduleRequest(
            schedule=configuration_pb2.Schedule(cron=cron, timezone=timezone), count=count
        )
        return self._call(self.scheduler.PreviewSchedule, request)

    # Status

    def status_report(self, *, window: timedelta | None = None) -> StatusReport:
        """The whole status report, computed now. ``window`` bounds the job history (30 days if unset)."""
        request = status.GetStatusReportRequest()
        if window is not None:
            request.window.CopyFrom(duration_pb2.Duration(seconds=int(window.total_seconds())))
        return self._call(self.status.GetStatusReport, request).report


def _paginate(page: Callable[[str], tuple[Sequence[_T], str]]) -> Iterator[_T]:
    token = ""
    seen: set[str] = set()
    while True:
        items, token = page(token)
        yield from items
        if not token:
            return
        if token in seen:
            raise VigilError(f"page_token: the server returned {token!r} twice; stopping to avoid a loop")
        seen.add(token)
