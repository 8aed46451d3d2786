//! Process-wide allocator settings, applied once at start by every server
//! binary (in `vigil_server::run::block_on`) and by the repository's
//! benchmarks.
//!
//! glibc gives threads their own malloc arenas, up to eight per core, and
//! keeps the memory freed in each for reuse; it also raises its mmap
//! threshold after each large free, up to 32 MiB, so chunk and pack
//! buffers (1-16 MiB) end up inside those arenas. Backup and restore
//! threads come and go, each burst leaving large free holes resident: in
//! the cycles benchmark (64 MiB, local) a process's RSS went from 55 to 93
//! MiB over 20 backup-and-restore cycles. With at most [`ARENA_MAX`] arenas
//! and a fixed [`MMAP_THRESHOLD`] (buffers from 1 MiB up are mapped and
//! returned to the system when freed) it stayed at 10 MiB from the first
//! cycle to the last. Large allocations are few (one per chunk or pack), so
//! neither the shared arenas nor the extra mappings show in the timings.

/// Arenas a process may use.
pub const ARENA_MAX: i32 = 2;
/// Allocations of at least this many bytes are mapped on their own.
pub const MMAP_THRESHOLD: i32 = 1 << 20;

/// Caps glibc's malloc arenas at [`ARENA_MAX`] and fixes its mmap threshold
/// at [`MMAP_THRESHOLD`]. Call before spawning threads; does nothing on
/// other C libraries.
#[allow(unsafe_code)]
pub fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; it is called before
    // any thread is spawned and touches no Rust-visible memory.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENA_MAX);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
