//! A short-lived cache of checked tokens, keyed by their hash, so that a
//! credential costs a hash and a map lookup on most calls, and a revoked
//! token stops working within the time to live everywhere.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vigil_auth::Caller;

/// Most entries a cache holds before it is cleared.
const MAX_ENTRIES: usize = 10_000;

/// Callers of recently checked tokens.
#[derive(Debug)]
pub struct TokenCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Caller, Instant)>>,
}

impl TokenCache {
    /// A cache whose entries live `ttl`.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The caller cached for `hash`, if still fresh.
    pub fn get(&self, hash: &str) -> Option<Caller> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (caller, at) = entries.get(hash)?;
        (at.elapsed() < self.ttl).then(|| caller.clone())
    }

    /// Remembers `caller` for `hash`.
    pub fn put(&self, hash: String, caller: Caller) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (caller, Instant::now()));
    }

    /// Forgets everything (after a revocation).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
