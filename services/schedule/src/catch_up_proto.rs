//! Conversion of the catch-up fields of the API's `vigil.catalog.v1.Schedule`
//! message into a [`CatchUpPolicy`] (feature `proto`).
//!
//! | field | unset or zero | otherwise |
//! |---|---|---|
//! | `catch_up` | `ONCE` | `SKIP`, `ONCE`, `ALL` |
//! | `catch_up_window` | one expected interval | that duration (must be > 0) |
//! | `catch_up_cap` | 10 under `ALL` | 1 to [`MAX_RUNS_LIMIT`] |
//! | `grace` | [`crate::Schedule::grace_period`] | that duration (must be > 0) |

use std::time::Duration;

use vigil_proto::catalog::v1 as pb;

use crate::catch_up::{CatchUpMode, CatchUpPolicy, CatchUpWindow, MAX_RUNS_LIMIT};
use crate::error::{ErrorKind, Result, ScheduleError};

/// Field path of the catch-up window in the API message.
const WINDOW: &str = "schedule.catch_up_window";
/// Field path of the catch-up cap in the API message.
const CAP: &str = "schedule.catch_up_cap";
/// Field path of the grace period in the API message.
const GRACE: &str = "schedule.grace";
/// Field path of the catch-up mode in the API message.
const MODE: &str = "schedule.catch_up";

/// Validates the catch-up fields of an API schedule message.
pub fn catch_up_policy_from_proto(msg: &pb::Schedule) -> Result<CatchUpPolicy> {
    let positive = |d, field: &'static str| -> Result<Duration> {
        match vigil_proto::duration_from_proto(d) {
            Some(d) if !d.is_zero() => Ok(d),
            _ => Err(ScheduleError::new(
                field,
                ErrorKind::OutOfRange,
                "must be longer than zero",
            )),
        }
    };
    let mode = match pb::CatchUpPolicy::try_from(msg.catch_up) {
        Ok(pb::CatchUpPolicy::Unspecified | pb::CatchUpPolicy::Once) => CatchUpMode::Once,
        Ok(pb::CatchUpPolicy::Skip) => CatchUpMode::Skip,
        Ok(pb::CatchUpPolicy::All) => CatchUpMode::All,
        Err(_) => {
            return Err(ScheduleError::new(
                MODE,
                ErrorKind::Malformed,
                format!(
                    "{} is not a catch-up policy; use SKIP, ONCE or ALL",
                    msg.catch_up
                ),
            ));
        }
    };
    let window = match &msg.catch_up_window {
        None => CatchUpWindow::Interval,
        Some(d) => CatchUpWindow::Fixed(positive(d, WINDOW)?),
    };
    let max_runs = match (mode, msg.catch_up_cap) {
        (CatchUpMode::All, 0) => 10,
        (CatchUpMode::All, cap) if cap > MAX_RUNS_LIMIT => {
            return Err(ScheduleError::new(
                CAP,
                ErrorKind::OutOfRange,
                format!("{cap} is out of range; use 1 to {MAX_RUNS_LIMIT}, or 0 for 10"),
            ));
        }
        (CatchUpMode::All, cap) => cap,
        _ => 1,
    };
    let grace = msg.grace.as_ref().map(|d| positive(d, GRACE)).transpose()?;
    Ok(CatchUpPolicy {
        mode,
        window,
        max_runs,
        grace,
    })
}

#[cfg(test)]
mod tests {
    use vigil_proto::duration_to_proto;

    use super::*;

    fn msg(mode: pb::CatchUpPolicy) -> pb::Schedule {
        pb::Schedule {
            catch_up: mode as i32,
            ..Default::default()
        }
    }

    #[test]
    fn unset_fields_give_the_backup_default() {
        assert_eq!(
            catch_up_policy_from_proto(&pb::Schedule::default()).unwrap(),
            CatchUpPolicy::default()
        );
    }

    #[test]
    fn all_with_zero_cap_means_ten_and_fields_carry_over() {
        let mut m = msg(pb::CatchUpPolicy::All);
        m.catch_up_window = Some(duration_to_proto(Duration::from_secs(7_200)));
        m.grace = Some(duration_to_proto(Duration::from_secs(300)));
        let p = catch_up_policy_from_proto(&m).unwrap();
        assert_eq!(p.mode, CatchUpMode::All);
        assert_eq!(p.max_runs, 10);
        assert_eq!(p.window, CatchUpWindow::Fixed(Duration::from_secs(7_200)));
        assert_eq!(p.grace, Some(Duration::from_secs(300)));
        m.catch_up_cap = 3;
        assert_eq!(catch_up_policy_from_proto(&m).unwrap().max_runs, 3);
        assert_eq!(
            catch_up_policy_from_proto(&msg(pb::CatchUpPolicy::Skip))
                .unwrap()
                .mode,
            CatchUpMode::Skip
        );
    }

    #[test]
    fn bad_values_name_the_api_field() {
        let mut m = msg(pb::CatchUpPolicy::All);
        m.catch_up_cap = MAX_RUNS_LIMIT + 1;
        assert_eq!(
            catch_up_policy_from_proto(&m).unwrap_err().field(),
            "schedule.catch_up_cap"
        );
        let mut m = msg(pb::CatchUpPolicy::Once);
        m.catch_up_window = Some(duration_to_proto(Duration::ZERO));
        assert_eq!(
            catch_up_policy_from_proto(&m).unwrap_err().field(),
            "schedule.catch_up_window"
        );
        let mut m = msg(pb::CatchUpPolicy::Once);
        m.grace = Some(duration_to_proto(Duration::ZERO));
        assert_eq!(
            catch_up_policy_from_proto(&m).unwrap_err().field(),
            "schedule.grace"
        );
        let m = pb::Schedule {
            catch_up: 42,
            ..Default::default()
        };
        assert_eq!(
            catch_up_policy_from_proto(&m).unwrap_err().field(),
            "schedule.catch_up"
        );
    }
}
