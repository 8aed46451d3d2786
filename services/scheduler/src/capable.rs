//! S8: whether some live executor can run a schedule's jobs.

use vigil_proto::capabilities;
use vigil_proto::catalog::v1::Component;

/// Why no live executor can run a job needing `required`, or `None` if one can.
///
/// `executors` are the known executor components; only those marked alive count.
pub fn executor_problem(required: &[String], executors: &[Component]) -> Option<String> {
    let alive: Vec<&Component> = executors.iter().filter(|c| c.alive).collect();
    if alive.is_empty() {
        let dead = executors.len();
        return Some(if dead == 0 {
            "no live executor: no executor has ever reported a heartbeat".to_owned()
        } else {
            format!(
                "no live executor: none of the {dead} known executors has reported a heartbeat recently"
            )
        });
    }
    if alive
        .iter()
        .any(|c| capabilities::satisfies(&c.capabilities, required))
    {
        return None;
    }
    let offered_by_none: Vec<&str> = required
        .iter()
        .filter(|r| !alive.iter().any(|c| c.capabilities.contains(r)))
        .map(String::as_str)
        .collect();
    let live: Vec<String> = alive
        .iter()
        .take(3)
        .map(|c| format!("{} offers [{}]", c.id, c.capabilities.join(", ")))
        .collect();
    let more = alive.len().saturating_sub(3);
    let more = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let missing = if offered_by_none.is_empty() {
        format!(
            "no live executor offers all of [{}] together",
            required.join(", ")
        )
    } else {
        format!("no live executor offers [{}]", offered_by_none.join(", "))
    };
    Some(format!(
        "{missing}; live executors: {}{more}",
        live.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exec(id: &str, alive: bool, caps: &[&str]) -> Component {
        Component {
            id: id.into(),
            alive,
            capabilities: caps.iter().map(|c| (*c).to_owned()).collect(),
            ..Default::default()
        }
    }

    fn req(caps: &[&str]) -> Vec<String> {
        caps.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn no_executor_at_all_says_so() {
        let p = executor_problem(&req(&["backup:full"]), &[]).unwrap();
        assert!(
            p.starts_with("no live executor: no executor has ever"),
            "{p}"
        );
        let p = executor_problem(
            &req(&["backup:full"]),
            &[exec("e1", false, &["backup:full"])],
        )
        .unwrap();
        assert!(p.contains("none of the 1 known executors"), "{p}");
    }

    #[test]
    fn missing_capability_is_named() {
        let execs = [exec("e1", true, &["backup:full", "verify"])];
        let p = executor_problem(&req(&["backup:database", "engine:postgres"]), &execs).unwrap();
        assert!(
            p.starts_with("no live executor offers [backup:database, engine:postgres]"),
            "{p}"
        );
        assert!(p.contains("e1 offers [backup:full, verify]"), "{p}");
        assert_eq!(executor_problem(&req(&["backup:full"]), &execs), None);
    }

    #[test]
    fn capabilities_split_over_executors_do_not_count() {
        let execs = [
            exec("e1", true, &["backup:database"]),
            exec("e2", true, &["engine:postgres"]),
        ];
        let p = executor_problem(&req(&["backup:database", "engine:postgres"]), &execs).unwrap();
        assert!(
            p.contains("all of [backup:database, engine:postgres] together"),
            "{p}"
        );
    }
}
