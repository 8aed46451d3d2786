//! Request validation of the scheduler API, and the pure PreviewSchedule.

use chrono::{DateTime, Utc};
use vigil_proto::scheduler::v1::{
    BackfillScheduleRequest, PreviewScheduleRequest, PreviewScheduleResponse,
};

use crate::error::{Error, Result};
use crate::spec::{time_to_ts, ts_to_time};

/// Largest page of schedules.
const MAX_PAGE: usize = 1000;
/// Default page of schedules.
const DEFAULT_PAGE: usize = 100;
/// Prefix of page tokens, so a foreign token is recognised.
const TOKEN_PREFIX: &str = "s1.";

/// The page size: 0 means 100, larger than 1000 means 1000.
pub(super) fn page_size(raw: i32) -> Result<usize> {
    match raw {
        n if n < 0 => Err(Error::invalid("page_size", "must not be negative")),
        0 => Ok(DEFAULT_PAGE),
        n => Ok((n as usize).min(MAX_PAGE)),
    }
}

/// A count field: 0 means `default`, more than `max` is refused.
pub(super) fn count(raw: i32, field: &str, default: usize, max: usize) -> Result<usize> {
    match raw {
        n if n < 0 => Err(Error::invalid(field, "must not be negative")),
        0 => Ok(default),
        n if n as usize > max => Err(Error::invalid(field, format!("must be at most {max}"))),
        n => Ok(n as usize),
    }
}

/// The token that resumes a listing after `key`.
pub(super) fn encode_token(key: &str) -> String {
    format!("{TOKEN_PREFIX}{}", hex::encode(key.as_bytes()))
}

/// The key a token resumes after; `None` for the first page.
pub(super) fn decode_token(token: &str) -> Result<Option<String>> {
    if token.is_empty() {
        return Ok(None);
    }
    let bad = || {
        Error::invalid(
            "page_token",
            "is not a token from a previous ListSchedules response",
        )
    };
    let hexed = token.strip_prefix(TOKEN_PREFIX).ok_or_else(bad)?;
    let bytes = hex::decode(hexed).map_err(|_| bad())?;
    String::from_utf8(bytes).map(Some).map_err(|_| bad())
}

/// The instant of an optional request timestamp at `field`, refused outside
/// the protobuf range (0001-01-01 to 9999-12-31).
fn request_time(
    field: &'static str,
    ts: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>> {
    match ts {
        None => Ok(None),
        Some(ts) => match vigil_proto::timestamp_out_of_range(ts) {
            Some(reason) => Err(Error::invalid(field, reason)),
            None => Ok(Some(ts_to_time(ts))),
        },
    }
}

/// Whether `t` fits a protobuf `Timestamp`.
fn fits_timestamp(t: &DateTime<Utc>) -> bool {
    t.timestamp() <= vigil_proto::MAX_TIMESTAMP_SECONDS
}

/// A checked backfill range.
#[derive(Debug, Clone, Copy)]
pub(super) struct BackfillRange {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub max_runs: usize,
}

/// Most runs one backfill may queue.
const MAX_BACKFILL: u32 = 1000;

/// Validates a backfill request against `now`.
pub(super) fn backfill_range(
    req: &BackfillScheduleRequest,
    now: DateTime<Utc>,
) -> Result<BackfillRange> {
    let start = request_time("start_time", req.start_time.as_ref())?
        .ok_or_else(|| Error::invalid("start_time", "must be set"))?;
    let end = request_time("end_time", req.end_time.as_ref())?
        .ok_or_else(|| Error::invalid("end_time", "must be set"))?;
    if end < start {
        return Err(Error::invalid("end_time", "must not be before start_time"));
    }
    if end > now {
        return Err(Error::invalid(
            "end_time",
            "must not be in the future; a backfill only queues past due times",
        ));
    }
    let max_runs = match req.max_runs {
        0 => 100,
        n if n > MAX_BACKFILL => {
            return Err(Error::invalid(
                "max_runs",
                format!("must be at most {MAX_BACKFILL}"),
            ));
        }
        n => n,
    };
    Ok(BackfillRange {
        start,
        end,
        max_runs: max_runs as usize,
    })
}

/// Computes the next fire times of a schedule without storing anything.
pub(super) fn preview(
    req: PreviewScheduleRequest,
    now: DateTime<Utc>,
) -> Result<PreviewScheduleResponse> {
    let spec = req
        .schedule
        .ok_or_else(|| Error::invalid("schedule", "must be set"))?;
    let count = count(req.count, "count", 5, 1000)?;
    let schedule = vigil_schedule::schedule_from_proto(&spec)
        .map_err(|e| Error::invalid(e.field(), e.reason().to_owned()))?;
    let after = request_time("after", req.after.as_ref())?.unwrap_or(now);
    Ok(PreviewScheduleResponse {
        // Fire times past 9999-12-31 have no protobuf timestamp: the list ends there.
        fire_times: schedule
            .next_n(after, count)
            .into_iter()
            .take_while(fits_timestamp)
            .map(time_to_ts)
            .collect(),
        description: schedule.describe(),
        expected_interval: Some(vigil_proto::duration_to_proto(schedule.expected_interval())),
    })
}

#[cfg(test)]
mod tests {
    use vigil_proto::catalog::v1 as pb;

    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_tokens_are_refused() {
        assert_eq!(
            decode_token(&encode_token("nightly#prune"))
                .unwrap()
                .as_deref(),
            Some("nightly#prune")
        );
        assert_eq!(decode_token("").unwrap(), None);
        for bad in ["xyz", "s1.zz", "s1.ff"] {
            match decode_token(bad) {
                Err(Error::InvalidArgument { field, .. }) => assert_eq!(field, "page_token"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn preview_names_the_bad_field() {
        let now = Utc::now();
        let req = |cron: &str, tz: &str| PreviewScheduleRequest {
            schedule: Some(pb::Schedule {
                spec: Some(pb::schedule::Spec::Cron(cron.into())),
                timezone: tz.into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        match preview(req("0 2 * *", "UTC"), now) {
            Err(Error::InvalidArgument { field, .. }) => assert_eq!(field, "schedule.cron"),
            other => panic!("{other:?}"),
        }
        match preview(req("0 2 * * *", "+02:00"), now) {
            Err(Error::InvalidArgument { field, reason }) => {
                assert_eq!(field, "schedule.timezone");
                assert!(reason.contains("fixed UTC offset"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let mut r = req("0 2 * * *", "UTC");
        r.count = 1001;
        assert!(
            matches!(preview(r, now), Err(Error::InvalidArgument { field, .. }) if field == "count")
        );
    }

    #[test]
    fn preview_refuses_and_never_returns_timestamps_out_of_range() {
        let req = |after: prost_types::Timestamp| PreviewScheduleRequest {
            schedule: Some(pb::Schedule {
                spec: Some(pb::schedule::Spec::Cron("0 2 * * *".into())),
                ..Default::default()
            }),
            count: 10,
            after: Some(after),
        };
        let past_the_end = prost_types::Timestamp {
            seconds: vigil_proto::MAX_TIMESTAMP_SECONDS + 1,
            nanos: 0,
        };
        assert!(matches!(
            preview(req(past_the_end), Utc::now()),
            Err(Error::InvalidArgument { field, .. }) if field == "after"
        ));
        let last_days = prost_types::Timestamp {
            seconds: vigil_proto::MAX_TIMESTAMP_SECONDS - 3 * 86_400,
            nanos: 0,
        };
        let resp = preview(req(last_days), Utc::now()).unwrap();
        assert_eq!(resp.fire_times.len(), 3, "{:?}", resp.fire_times);
        assert!(
            resp.fire_times
                .iter()
                .all(|t| vigil_proto::timestamp_out_of_range(t).is_none())
        );
    }

    #[test]
    fn preview_lists_fire_times_in_the_zone() {
        let after = DateTime::parse_from_rfc3339("2025-03-29T12:00:00Z")
            .unwrap()
            .to_utc();
        let resp = preview(
            PreviewScheduleRequest {
                schedule: Some(pb::Schedule {
                    spec: Some(pb::schedule::Spec::Cron("30 1 * * *".into())),
                    timezone: "Europe/London".into(),
                    ..Default::default()
                }),
                count: 2,
                after: Some(time_to_ts(after)),
            },
            Utc::now(),
        )
        .unwrap();
        let times: Vec<_> = resp
            .fire_times
            .iter()
            .map(|t| crate::plan::stamp(ts_to_time(t)))
            .collect();
        // 01:30 on 30 March 2025 falls in London's DST gap: it fires at the end of the gap.
        assert_eq!(times, ["2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z"]);
    }

    #[test]
    fn backfill_never_reaches_the_future() {
        let now = DateTime::parse_from_rfc3339("2025-12-20T12:00:00Z")
            .unwrap()
            .to_utc();
        let req = BackfillScheduleRequest {
            schedule: "n".into(),
            start_time: Some(time_to_ts(now - chrono::Duration::days(1))),
            end_time: Some(time_to_ts(now + chrono::Duration::seconds(1))),
            max_runs: 0,
        };
        assert!(
            matches!(backfill_range(&req, now), Err(Error::InvalidArgument { field, .. }) if field == "end_time")
        );
    }
}
