//! The one table of what every RPC asks of its caller.
//!
//! Keys are gRPC paths without the leading slash:
//! `package.Service/Method`. A method missing from the table is treated as
//! [`Access::Admin`] (deny by default); a test walks the descriptor set so
//! that none is missing. `docs/SECURITY.md` prints the same table.

use crate::role::Access;

/// Services that answer without a credential: probes and `grpcurl list`.
pub const PUBLIC_SERVICES: &[&str] = &[
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// Every Vigil method and the access it needs.
pub const METHODS: &[(&str, Access)] = &[
    // CatalogService: reads for viewers, runs for operators, changes for admins.
    (
        "vigil.catalog.v1.CatalogService/CreateConfiguration",
        Access::Admin,
    ),
    (
        "vigil.catalog.v1.CatalogService/GetConfiguration",
        Access::Viewer,
    ),
    (
        "vigil.catalog.v1.CatalogService/ListConfigurations",
        Access::Viewer,
    ),
    (
        "vigil.catalog.v1.CatalogService/UpdateConfiguration",
        Access::Admin,
    ),
    (
        "vigil.catalog.v1.CatalogService/DeleteConfiguration",
        Access::Admin,
    ),
    (
        "vigil.catalog.v1.CatalogService/EnableConfiguration",
        Access::Admin,
    ),
    (
        "vigil.catalog.v1.CatalogService/DisableConfiguration",
        Access::Admin,
    ),
    (
        "vigil.catalog.v1.CatalogService/ApplyConfigurations",
        Access::Admin,
    ),
    // A RESTORE job further needs admin; the handler checks it.
    (
        "vigil.catalog.v1.CatalogService/CreateJob",
        Access::Operator,
    ),
    ("vigil.catalog.v1.CatalogService/GetJob", Access::Viewer),
    ("vigil.catalog.v1.CatalogService/ListJobs", Access::Viewer),
    (
        "vigil.catalog.v1.CatalogService/CancelJob",
        Access::Operator,
    ),
    ("vigil.catalog.v1.CatalogService/WatchJob", Access::Viewer),
    (
        "vigil.catalog.v1.CatalogService/GetArtifact",
        Access::Viewer,
    ),
    (
        "vigil.catalog.v1.CatalogService/ListArtifacts",
        Access::Viewer,
    ),
    ("vigil.catalog.v1.CatalogService/ListAlerts", Access::Viewer),
    (
        "vigil.catalog.v1.CatalogService/GetServerInfo",
        Access::Viewer,
    ),
    (
        "vigil.catalog.v1.CatalogService/ListJobEvents",
        Access::Viewer,
    ),
    // CoordinationService: schedulers and executors only.
    (
        "vigil.catalog.v1.CoordinationService/EnqueueJob",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/LeaseJob",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/HeartbeatJob",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/CompleteJob",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/FailJob",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/ReclaimExpiredLeases",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/WatchEvents",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/ListScheduleStates",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/GetScheduleState",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/PutScheduleState",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/PutScheduleStates",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/CommitScheduleTick",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/CommitScheduleTicks",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/SummarizeHistory",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/DeleteScheduleState",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/ReportHeartbeat",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/ListComponents",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/RaiseAlert",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/ResolveAlert",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/SetAlertDelivery",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/UpdateArtifacts",
        Access::Component,
    ),
    (
        "vigil.catalog.v1.CoordinationService/AppendJobEvents",
        Access::Component,
    ),
    // AccessService: tokens and the audit trail are the admin's.
    ("vigil.catalog.v1.AccessService/CreateToken", Access::Admin),
    ("vigil.catalog.v1.AccessService/ListTokens", Access::Admin),
    ("vigil.catalog.v1.AccessService/RevokeToken", Access::Admin),
    (
        "vigil.catalog.v1.AccessService/WhoAmI",
        Access::Authenticated,
    ),
    (
        "vigil.catalog.v1.AccessService/ListAuditEvents",
        Access::Admin,
    ),
    (
        "vigil.catalog.v1.AccessService/RecordAuditEvent",
        Access::Component,
    ),
    // SchedulerService.
    (
        "vigil.scheduler.v1.SchedulerService/ListSchedules",
        Access::Viewer,
    ),
    (
        "vigil.scheduler.v1.SchedulerService/GetSchedule",
        Access::Viewer,
    ),
    (
        "vigil.scheduler.v1.SchedulerService/PauseSchedule",
        Access::Operator,
    ),
    (
        "vigil.scheduler.v1.SchedulerService/ResumeSchedule",
        Access::Operator,
    ),
    (
        "vigil.scheduler.v1.SchedulerService/TriggerSchedule",
        Access::Operator,
    ),
    (
        "vigil.scheduler.v1.SchedulerService/BackfillSchedule",
        Access::Operator,
    ),
    (
        "vigil.scheduler.v1.SchedulerService/PreviewSchedule",
        Access::Viewer,
    ),
    // ExecutorService: archives leave or enter the repository.
    (
        "vigil.executor.v1.ExecutorService/GetExecutorInfo",
        Access::Viewer,
    ),
    (
        "vigil.executor.v1.ExecutorService/UploadArchive",
        Access::Admin,
    ),
    (
        "vigil.executor.v1.ExecutorService/DownloadArchive",
        Access::Admin,
    ),
    // Browsing: names and sizes are a read; a file's bytes leave like a download.
    (
        "vigil.executor.v1.ExecutorService/ListSnapshotEntries",
        Access::Viewer,
    ),
    (
        "vigil.executor.v1.ExecutorService/ReadSnapshotFile",
        Access::Admin,
    ),
    // StatusService.
    (
        "vigil.status.v1.StatusService/GetStatusReport",
        Access::Viewer,
    ),
];

/// Methods recorded in the audit trail: every change, run, upload and download.
/// Coordination traffic is not: it is the components' own bookkeeping.
pub fn is_audited(method: &str) -> bool {
    let Some((service, name)) = method.split_once('/') else {
        return false;
    };
    if service.ends_with("CoordinationService") {
        return false;
    }
    if method == "vigil.catalog.v1.AccessService/RecordAuditEvent" {
        return false;
    }
    const READS: [&str; 6] = ["Get", "List", "Watch", "Preview", "WhoAmI", "Describe"];
    !READS.iter().any(|prefix| name.starts_with(prefix)) && method_known(method)
}

fn method_known(method: &str) -> bool {
    METHODS.iter().any(|(name, _)| *name == method)
}

/// What `path` (`/package.Service/Method` or without the slash) needs.
/// Unknown Vigil methods need admin, so nothing is open by omission.
pub fn access_for(path: &str) -> Access {
    let method = path.strip_prefix('/').unwrap_or(path);
    let service = method.split_once('/').map(|(s, _)| s).unwrap_or(method);
    if PUBLIC_SERVICES.contains(&service) {
        return Access::Public;
    }
    METHODS
        .iter()
        .find(|(name, _)| *name == method)
        .map(|(_, access)| *access)
        .unwrap_or(Access::Admin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_and_reflection_are_public() {
        assert_eq!(access_for("/grpc.health.v1.Health/Check"), Access::Public);
        assert_eq!(
            access_for("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
            Access::Public
        );
    }

    #[test]
    fn unknown_methods_need_admin() {
        assert_eq!(
            access_for("/vigil.catalog.v1.CatalogService/Nope"),
            Access::Admin
        );
        assert_eq!(access_for("/x"), Access::Admin);
    }

    #[test]
    fn the_security_doc_prints_this_table() {
        let doc = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SECURITY.md");
        let doc = std::fs::read_to_string(doc).expect("docs/SECURITY.md exists");
        let rows: Vec<(String, String)> = doc
            .lines()
            .filter_map(|line| {
                let cells: Vec<&str> = line.split('|').map(str::trim).collect();
                let method = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
                Some((method.to_owned(), (*cells.get(2)?).to_owned()))
            })
            .collect();
        let expected: Vec<(String, String)> = METHODS
            .iter()
            .map(|(m, a)| ((*m).to_owned(), a.as_str().to_owned()))
            .collect();
        assert_eq!(rows, expected, "docs/SECURITY.md and METHODS disagree");
    }

    #[test]
    fn writes_and_downloads_are_audited() {
        assert!(is_audited("vigil.catalog.v1.CatalogService/CreateJob"));
        assert!(is_audited(
            "vigil.scheduler.v1.SchedulerService/PauseSchedule"
        ));
        assert!(is_audited(
            "vigil.executor.v1.ExecutorService/DownloadArchive"
        ));
        assert!(!is_audited("vigil.catalog.v1.CatalogService/ListJobs"));
        assert!(!is_audited("vigil.catalog.v1.CoordinationService/LeaseJob"));
    }
}
