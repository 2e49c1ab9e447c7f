//! Asking the CPU to start loading memory that is about to be read.
//!
//! Ingest touches a few cache lines per message (a route, a device, its aliases, a twin, a
//! property, a history), each in a different place when thousands of devices report in
//! turn. One at a time, each is a wait on memory; started a few messages ahead, they load
//! side by side while the messages before them are worked on.

/// Starts loading the cache line at `address`. A hint only: it never faults, whatever the
/// address, so a pointer that may have gone stale is still safe to pass.
#[inline(always)]
pub(crate) fn line(address: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is a hint; it never faults, whatever the address.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}

/// Starts loading the cache lines of the first `bytes` bytes of the value at `value`, for a
/// value whose hot part comes first.
#[inline(always)]
pub(crate) fn first_bytes<T>(value: *const T, bytes: usize) {
    let base = value as *const u8;
    for offset in (0..bytes.max(1)).step_by(64) {
        line(base.wrapping_add(offset));
    }
}
