//! Hosting the executor.
//!
//! TO WIRE (lead): once `vigil-executor` exposes its host API, this module
//! opens it from `LoadedSettings::section("executor")` and the repository
//! settings (`Settings::repository_location`, `Settings::repository_key`),
//! connects it to the catalog at the given endpoint (in `vigild`, the bound
//! address of this process; alone, `--catalog`), registers
//! `ExecutorService` on the server and spawns its lease loop with the
//! shutdown token. Until then the `vigil-executor` binary reports that it is
//! not available.

/// Why the executor is not hosted yet.
pub const NOT_AVAILABLE: &str = "the executor is not yet available in this build";
