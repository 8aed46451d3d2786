//! Schedule edits (guarantee S7): the next due time after an edit.
//!
//! Rule, for an edit committed at instant `C` while the old schedule's
//! persisted next due time is `D`:
//!
//! 1. The new schedule takes effect from its first fire **strictly after
//!    `C`**. Fires of the new schedule at or before `C` never happen: no
//!    retroactive runs.
//! 2. If `D <= C`, the old schedule's run at `D` was due (about to fire, or
//!    firing) when the edit landed. It is **not swallowed**: it is carried
//!    over and handled like any due run (catch-up and overlap policies
//!    apply, and the unique (configuration, due time) key keeps it single).
//!    If `D > C`, the old run had not come due and is dropped.
//! 3. From then on, catch-up for the new schedule starts at
//!    [`Since::ArmedAt`]`(C)`.
//!
//! So the next due time to persist at commit is `D` if `D <= C`, else the
//! new schedule's first fire after `C`; see
//! [`EditTransition::persisted_next_due`].
//!
//! If the scheduler was down before the edit and the old schedule has
//! several unprocessed due times up to `C`, only `D` is carried over here;
//! settle the others first with [`crate::plan_catch_up`] on the old schedule
//! over `(last processed, C]` to give each an outcome.

use chrono::{DateTime, Utc};

use crate::catch_up::Since;
use crate::schedule::Schedule;

/// What an edit does to a schedule's due times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EditTransition {
    /// The old schedule's due time that was already due at commit (`D <= C`)
    /// and must still be handled; `None` if it was not yet due.
    pub carried_over: Option<DateTime<Utc>>,
    /// The new schedule's first fire strictly after the commit.
    pub next_due: Option<DateTime<Utc>>,
    /// Where catch-up for the new schedule starts: armed at the commit.
    pub since: Since,
}

impl EditTransition {
    /// The next due time to persist at commit: the carried-over run if any,
    /// else the new schedule's first fire.
    pub fn persisted_next_due(&self) -> Option<DateTime<Utc>> {
        self.carried_over.or(self.next_due)
    }
}

/// Applies the edit rule of the [module docs](self): `old_next_due` is the
/// persisted next due time of the old schedule (`None` if it had none),
/// `new` the edited schedule and `committed_at` the commit instant.
pub fn apply_edit(
    old_next_due: Option<DateTime<Utc>>,
    new: &Schedule,
    committed_at: DateTime<Utc>,
) -> EditTransition {
    EditTransition {
        carried_over: old_next_due.filter(|due| *due <= committed_at),
        next_due: new.next_after(committed_at),
        since: Since::ArmedAt(committed_at),
    }
}
