//! How the process's memory goes back to the system: glibc's allocator is set up once at start
//! (ADR 0029), so that most of what the start-up rebuild and the network projection free is
//! returned as it is freed, and `malloc_trim` returns the rest after each (ADR 0009).
//!
//! With its defaults glibc keeps up to eight arenas per CPU, each holding the memory its threads
//! freed, and raises its mmap threshold as large blocks are freed, so that big temporary buffers
//! end up inside the heaps, where freed pages stay resident. Two settings change that:
//! [`ARENAS`] arenas in all, and a fixed mmap threshold of [`MMAP_THRESHOLD`] bytes (blocks at or
//! above it are mapped on their own and unmapped when freed). An operator's `GLIBC_TUNABLES`
//! wins: when it is set, nothing is changed. Other allocators (`--features mimalloc`, musl's)
//! manage their memory themselves: there it does nothing.

/// Arenas glibc may create in all (its default on 2 cores is 16).
pub const ARENAS: i32 = 2;
/// Blocks of this size or more are mapped on their own (glibc's default starts at 128 KiB but
/// grows up to 32 MiB as large blocks are freed; set, it stays).
pub const MMAP_THRESHOLD: i32 = 128 * 1024;

/// What [`configure_allocator`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorSetup {
    /// Arenas and the mmap threshold were set.
    Configured,
    /// `GLIBC_TUNABLES` is set: the operator's settings stay.
    LeftToTunables,
    /// Not glibc, or another allocator serves the program.
    NotGlibc,
}

static SETUP: std::sync::OnceLock<AllocatorSetup> = std::sync::OnceLock::new();

/// Sets glibc's arena count and mmap threshold, unless `GLIBC_TUNABLES` is set. Call first thing
/// in `main`, before any thread is started, so that no thread has an arena of its own yet.
pub fn configure_allocator() -> AllocatorSetup {
    *SETUP.get_or_init(setup_allocator)
}

/// What [`configure_allocator`] did, if it was called.
pub fn allocator_setup() -> Option<AllocatorSetup> {
    SETUP.get().copied()
}

#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
#[allow(unsafe_code)]
fn setup_allocator() -> AllocatorSetup {
    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return AllocatorSetup::LeftToTunables;
    }
    // SAFETY: `mallopt` takes two integers and no pointers; it only changes parameters of later
    // allocations. Both calls are made before any other thread exists.
    let set = unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS) == 1
            && libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    };
    if set {
        AllocatorSetup::Configured
    } else {
        AllocatorSetup::NotGlibc
    }
}

/// Nothing to do off glibc, or when another allocator serves the program.
#[cfg(not(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc"))))]
fn setup_allocator() -> AllocatorSetup {
    AllocatorSetup::NotGlibc
}

/// Releases the free pages of every glibc arena; returns whether anything was released. Call at a
/// quiet moment: glibc locks each arena in turn while it walks it.
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
#[allow(unsafe_code)]
pub fn release_free_memory() -> bool {
    // SAFETY: `malloc_trim` takes no pointers and is MT-safe (it locks each arena while it walks
    // it); it only changes which free pages stay resident.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Nothing to do off glibc, or when another allocator serves the program.
#[cfg(not(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc"))))]
pub fn release_free_memory() -> bool {
    false
}

/// Resident memory of this process in bytes (`VmRSS`), where `/proc` tells it.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two tests read the process's resident size: one at a time, so neither sees the
    /// other's blocks come and go.
    static RESIDENT: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn freed_memory_is_released_and_resident_memory_is_read() {
        let _one_at_a_time = RESIDENT.lock().unwrap_or_else(|e| e.into_inner());
        assert!(resident_bytes().is_some_and(|b| b > 0));
        // Blocks of 64 KiB come from an arena (below the mmap threshold). Freeing every other one
        // leaves free chunks of whole pages between live ones: they cannot merge into the heap's
        // top, so only a trim gives them back.
        let mut blocks: Vec<Option<Vec<u8>>> =
            (0..400).map(|i| Some(vec![i as u8; 64 * 1024])).collect();
        for block in blocks.iter_mut().step_by(2) {
            *block = None;
        }
        let released = release_free_memory();
        assert_eq!(blocks.iter().flatten().count(), 200);
        if cfg!(all(
            target_os = "linux",
            target_env = "gnu",
            not(feature = "mimalloc")
        )) {
            assert!(released, "12.5 MiB of free pages lie between live blocks");
        }
    }

    #[test]
    fn large_blocks_freed_leave_the_process_at_once() {
        let _one_at_a_time = RESIDENT.lock().unwrap_or_else(|e| e.into_inner());
        let setup = configure_allocator();
        assert!(resident_bytes().is_some_and(|b| b > 0));
        if setup != AllocatorSetup::Configured {
            return;
        }
        // 96 MiB in blocks of 256 KiB, above the threshold: each is mapped on its own. Without the
        // fixed threshold, the first frees raise it and the rest come from the heap, where every
        // other freed block would stay resident between live ones.
        let mib = |b: u64| b / (1 << 20);
        let before = resident_bytes().unwrap_or_default();
        let mut blocks: Vec<Option<Vec<u8>>> = (0..384)
            .map(|i| Some(vec![1 + (i % 255) as u8; 256 * 1024]))
            .collect();
        let full = resident_bytes().unwrap_or_default();
        assert!(
            mib(full) >= mib(before) + 80,
            "{} -> {} MiB",
            mib(before),
            mib(full)
        );
        for block in blocks.iter_mut().step_by(2) {
            *block = None;
        }
        let half = resident_bytes().unwrap_or_default();
        assert_eq!(blocks.iter().flatten().count(), 192);
        // Other tests allocate meanwhile: a margin of 16 MiB.
        assert!(
            mib(full) >= mib(half) + 32,
            "48 MiB freed between live blocks went back: {} -> {} MiB",
            mib(full),
            mib(half)
        );
    }
}
