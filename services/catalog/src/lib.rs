//! The Vigil catalog: configurations, jobs, artifacts and alerts on SQLite or PostgreSQL
#![forbid(unsafe_code)]
