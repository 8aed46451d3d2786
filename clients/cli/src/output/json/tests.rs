use super::*;
use vigil_proto::catalog::v1::{
    BackupConfiguration, BackupJob, BackupKind, JobState, Schedule, schedule,
};
use vigil_proto::status::v1::{RiskLevel, StatusReport, Verdict};

#[test]
fn every_output_message_is_in_the_descriptor_set() {
    for name in [
        <BackupConfiguration as ProtoName>::NAME,
        <BackupJob as ProtoName>::NAME,
        <StatusReport as ProtoName>::NAME,
        <vigil_proto::scheduler::v1::ScheduleView as ProtoName>::NAME,
        <vigil_proto::executor::v1::UploadArchiveResponse as ProtoName>::NAME,
    ] {
        assert!(descriptor(name).is_some(), "{name}");
    }
}

#[test]
fn configuration_maps_enums_oneofs_maps_and_defaults() {
    let c = BackupConfiguration {
        name: "daily_full_backup".into(),
        kind: BackupKind::Full as i32,
        enabled: Some(true),
        schedule: Some(Schedule {
            spec: Some(schedule::Spec::Cron("0 2 * * *".into())),
            timezone: "Europe/Berlin".into(),
            grace: Some(prost_types::Duration {
                seconds: 900,
                nanos: 0,
            }),
            ..Default::default()
        }),
        labels: [("app".to_owned(), "edms".to_owned())].into(),
        create_time: Some(prost_types::Timestamp {
            seconds: 1_766_269_385,
            nanos: 0,
        }),
        ..Default::default()
    };
    let j = to_json(&c);
    assert_eq!(j["name"], "daily_full_backup");
    assert_eq!(j["kind"], "FULL");
    assert_eq!(j["purpose"], "UNSPECIFIED");
    assert_eq!(j["enabled"], true);
    assert_eq!(j["schedule"]["cron"], "0 2 * * *");
    assert!(
        j["schedule"].get("preset").is_none(),
        "unset oneof member is left out"
    );
    assert_eq!(j["schedule"]["catch_up"], "UNSPECIFIED");
    assert_eq!(j["schedule"]["grace"], "900s");
    assert_eq!(j["schedule"]["jitter"], Json::Null);
    assert_eq!(j["source"], Json::Null);
    assert_eq!(j["labels"]["app"], "edms");
    assert_eq!(j["create_time"], "2025-12-20T22:23:05Z");
    assert_eq!(j["etag"], "");
}

#[test]
fn status_report_verdict_and_risk_are_short_names() {
    let r = StatusReport {
        verdict: Verdict::PartiallyWorking as i32,
        risk: RiskLevel::Medium as i32,
        risk_reasons: vec!["backups depend on people".into()],
        ..Default::default()
    };
    let j = to_json(&r);
    assert_eq!(j["verdict"], "PARTIALLY_WORKING");
    assert_eq!(j["risk"], "MEDIUM");
    assert_eq!(j["risk_reasons"][0], "backups depend on people");
    assert_eq!(j["open_alerts"], json!([]));
}

#[test]
fn job_lists_are_arrays_and_64_bit_numbers_stay_numbers() {
    let job = BackupJob {
        state: JobState::Completed as i32,
        stats: Some(vigil_proto::catalog::v1::JobStats {
            bytes_read: 5_000_000_000,
            ..Default::default()
        }),
        ..Default::default()
    };
    let j = list_json(&[job]);
    assert_eq!(j[0]["state"], "COMPLETED");
    assert_eq!(j[0]["stats"]["bytes_read"], 5_000_000_000u64);
}

#[test]
fn durations_format_like_proto_json() {
    assert_eq!(format_proto_duration(3600, 0), "3600s");
    assert_eq!(format_proto_duration(1, 500_000_000), "1.5s");
    assert_eq!(format_proto_duration(0, -250_000_000), "-0.25s");
}
