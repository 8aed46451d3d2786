//! `ApplyConfigurations`: the declarative setup. Every item is validated
//! first; then all are created, updated or left alone in one transaction.
//! An unchanged item keeps its etag and update time, so applying the same
//! file twice changes nothing.

use vigil_proto::catalog::v1::{ApplyAction, ApplyResult, BackupConfiguration, EventKind};

use super::Store;
use super::configurations::{content_etag, find_for_update, insert_row, stored_view, update_row};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::validate::{Checker, check_configuration, normalize_configuration};

/// Most configurations in one apply.
const MAX_APPLY: usize = 1000;

impl Store {
    /// Creates or updates every configuration in one transaction.
    pub async fn apply_configurations(
        &self,
        items: &[BackupConfiguration],
        dry_run: bool,
    ) -> Result<Vec<ApplyResult>> {
        if items.len() > MAX_APPLY {
            return Err(Error::invalid(
                "configurations",
                format!("must hold at most {MAX_APPLY} items"),
            ));
        }
        let mut v = Checker::new();
        let mut seen = std::collections::HashMap::new();
        for (i, c) in items.iter().enumerate() {
            check_configuration(&mut v, &format!("configurations[{i}]"), c);
            if let Some(first) = seen.insert(c.name.as_str(), i)
                && !c.name.is_empty()
            {
                v.add(
                    format!("configurations[{i}].name"),
                    format!("duplicates configurations[{first}]"),
                );
            }
        }
        v.finish()?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut results = Vec::with_capacity(items.len());
        let mut changed = Vec::new();
        let result: Result<()> = async {
            for (i, item) in items.iter().enumerate() {
                let mut c = item.clone();
                normalize_configuration(&mut c);
                let etag = content_etag(&c);
                let (action, stored) = match find_for_update(self, &mut tx, &c.name).await? {
                    None => {
                        if !insert_row(&mut tx, &c, &etag, now).await? {
                            return Err(Error::Aborted(format!(
                                "configurations[{i}]: created concurrently, apply again"
                            )));
                        }
                        (ApplyAction::Created, stored_view(&c, etag, now, now))
                    }
                    Some(stored) if stored.etag == etag => (ApplyAction::Unchanged, stored),
                    Some(stored) => {
                        update_row(&mut tx, &c, &etag, now).await?;
                        let create = stored
                            .create_time
                            .as_ref()
                            .map(vigil_proto::timestamp_to_micros)
                            .unwrap_or(now);
                        (ApplyAction::Updated, stored_view(&c, etag, create, now))
                    }
                };
                if action != ApplyAction::Unchanged {
                    changed.push(c.name.clone());
                }
                results.push(ApplyResult {
                    name: c.name,
                    action: action as i32,
                    configuration: Some(stored),
                });
            }
            Ok(())
        }
        .await;
        if dry_run {
            tx.rollback().await?;
            return result.map(|()| results);
        }
        Db::finish(tx, result).await?;
        self.events.publish(
            changed
                .iter()
                .map(|name| self.event(EventKind::ConfigurationChanged, name, "")),
        );
        Ok(results)
    }
}
