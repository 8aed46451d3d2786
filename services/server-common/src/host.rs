//! The name of the host this process runs on, for heartbeats, process ids,
//! snapshot records and repository locks.

/// This host's name: the kernel's (`/proc/sys/kernel/hostname`), else
/// `$HOSTNAME`, else `localhost`. Never empty.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_name_is_never_empty() {
        let name = super::host_name();
        assert!(!name.is_empty());
        assert_eq!(name, name.trim());
    }
}
