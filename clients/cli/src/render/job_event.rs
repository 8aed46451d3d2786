//! A job's event log as plain lines: one entry per line, so it can be
//! followed, piped and grepped.

use std::time::Duration;

use vigil_proto::catalog::v1::{JobEvent, JobEventKind};

use crate::output::format;

/// How long a phase took: tenths of a second below a minute, else the two largest units.
fn took(d: Option<&prost_types::Duration>) -> String {
    match d.and_then(vigil_proto::duration_from_proto) {
        Some(d) if d < Duration::from_secs(60) => format!("{:.1}s", d.as_secs_f64()),
        Some(d) => format::short_duration(d),
        None => format::NONE.to_owned(),
    }
}

/// One entry: `TIME  [PHASE]  WHAT`.
pub(crate) fn line(e: &JobEvent) -> String {
    let what = match e.kind() {
        JobEventKind::PhaseStarted => "started".to_owned(),
        JobEventKind::PhaseFinished => format!("finished in {}", took(e.duration.as_ref())),
        JobEventKind::Warning => format!("warning: {}", e.message),
        JobEventKind::FileSkipped => format!("skipped {}: {}", e.path, e.message),
        JobEventKind::Info => e.message.clone(),
        JobEventKind::Unspecified => e.message.clone(),
    };
    let phase = if e.phase.is_empty() {
        String::new()
    } else {
        format!("[{}]  ", e.phase)
    };
    format!("{}  {phase}{what}", format::time(e.event_time.as_ref()))
}

/// The closing line when entries were not kept.
pub(crate) fn omitted(count: u64) -> Option<String> {
    (count > 0).then(|| {
        format!("{count} more entries were not kept: the catalog keeps at most 1000 per job")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_skipped_file_shows_its_path_and_reason_and_a_phase_its_duration() {
        let skipped = JobEvent {
            kind: JobEventKind::FileSkipped as i32,
            phase: "backing up".into(),
            path: "/srv/data/locked.db".into(),
            message: "Permission denied (os error 13)".into(),
            ..Default::default()
        };
        let shown = line(&skipped);
        assert!(
            shown.contains("[backing up]  skipped /srv/data/locked.db: Permission denied"),
            "{shown}"
        );
        let finished = JobEvent {
            kind: JobEventKind::PhaseFinished as i32,
            phase: "reading back".into(),
            duration: Some(vigil_proto::duration_to_proto(Duration::from_millis(2_340))),
            ..Default::default()
        };
        assert!(line(&finished).ends_with("[reading back]  finished in 2.3s"));
        assert_eq!(omitted(0), None);
        assert!(omitted(9_100).is_some_and(|l| l.starts_with("9100 more entries")));
    }
}
