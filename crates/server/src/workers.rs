//! How many async worker threads to run: what the configuration says, else the CPUs this process
//! may use, which honours a cgroup CPU quota (v2 `cpu.max`, v1 `cpu.cfs_quota_us`): a container
//! limited to 1.5 CPUs on a 64-core host gets 2 workers, not 64.

use std::path::Path;

/// CPUs allowed by a cgroup v2 `cpu.max` text (`"max 100000"` or `"150000 100000"`), rounded up.
pub fn quota_from_cpu_max(text: &str) -> Option<usize> {
    let mut parts = text.split_whitespace();
    let quota = parts.next()?;
    let period: f64 = parts.next()?.parse().ok()?;
    if quota == "max" || period <= 0.0 {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0).then(|| (quota / period).ceil().max(1.0) as usize)
}

/// CPUs allowed by cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us` (quota -1 = unlimited).
pub fn quota_from_cfs(quota: &str, period: &str) -> Option<usize> {
    let quota: f64 = quota.trim().parse().ok()?;
    let period: f64 = period.trim().parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| (quota / period).ceil().max(1.0) as usize)
}

/// The CPU quota of this process's cgroup, if one is set.
pub fn cgroup_cpu_quota(root: &Path) -> Option<usize> {
    if let Ok(text) = std::fs::read_to_string(root.join("cpu.max")) {
        return quota_from_cpu_max(&text);
    }
    let quota = std::fs::read_to_string(root.join("cpu/cpu.cfs_quota_us")).ok()?;
    let period = std::fs::read_to_string(root.join("cpu/cpu.cfs_period_us")).ok()?;
    quota_from_cfs(&quota, &period)
}

/// Workers to start: `configured` when it is not 0, else the CPUs available (affinity mask and
/// cgroup quota, whichever is smaller), at least 1. Returns the count and where it came from.
pub fn worker_threads(configured: usize) -> (usize, &'static str) {
    if configured > 0 {
        return (configured, "configured");
    }
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    match cgroup_cpu_quota(Path::new("/sys/fs/cgroup")) {
        Some(quota) if quota < cpus => (quota, "cgroup CPU quota"),
        _ => (cpus, "available CPUs"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_are_read_and_rounded_up() {
        assert_eq!(quota_from_cpu_max("max 100000\n"), None);
        assert_eq!(quota_from_cpu_max("150000 100000\n"), Some(2));
        assert_eq!(quota_from_cpu_max("50000 100000"), Some(1));
        assert_eq!(quota_from_cfs("-1", "100000"), None);
        assert_eq!(quota_from_cfs("400000\n", "100000\n"), Some(4));
    }

    #[test]
    fn a_configured_count_wins() {
        assert_eq!(worker_threads(3), (3, "configured"));
        assert!(worker_threads(0).0 >= 1);
    }
}
