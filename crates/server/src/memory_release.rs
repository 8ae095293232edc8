//! Gives the operating system back the memory the start-up rebuild freed.
//!
//! The engine rebuild allocates on every thread (rayon's, the blocking pool's, the database's) and
//! frees much of it again. glibc keeps freed memory in each thread's arena and returns it only from
//! the top of a heap, so without help the process stays resident at about the rebuild's peak for as
//! long as it runs. `malloc_trim(0)` walks every arena and releases the free pages inside them
//! (ADR 0009). Other allocators (mimalloc, musl's) return memory themselves: there it does nothing.

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

    #[test]
    fn freed_memory_is_released_and_resident_memory_is_read() {
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
}
