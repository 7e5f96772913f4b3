//! Direct I/O for append-only files: what [`super::io::AppendFile`] needs to write with
//! `O_DIRECT`.
//!
//! A file written through the page cache costs the writer a copy into freshly allocated cache
//! pages, the file system's delayed allocation, and writeback; for a log that is written once,
//! synced at once and read back rarely (a file channel's sinks take batches from memory while
//! they keep up), none of that buys anything. With `O_DIRECT` the device reads the bytes from
//! the writer's own buffer. The price is alignment: buffer address, file offset and length must
//! be multiples of the device's logical block size ([`ALIGN`] covers 512 and 4096).
//!
//! Appends are staged in one reused aligned buffer: the partial block at the end of the file
//! (kept in memory) is rewritten, followed by the new bytes, padded with zeros to a whole
//! block. The zeros past the file's logical length are overwritten by the next append; a reader
//! finds them after the last record, where nothing was ever acknowledged.

use std::alloc::{self, Layout};
use std::ptr::NonNull;

/// Alignment of direct I/O buffers, offsets and lengths.
pub const ALIGN: usize = 4096;

/// Bytes staged per direct write: large enough that a write costs the device, not the call.
pub const STAGE: usize = 4 << 20;

/// Rounds `n` up to a multiple of [`ALIGN`].
pub fn align_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// Rounds `n` down to a multiple of [`ALIGN`].
pub fn align_down(n: u64) -> u64 {
    n - n % ALIGN as u64
}

/// A heap buffer aligned to [`ALIGN`], of a fixed capacity (a multiple of it), filled from its
/// start. It can be handed to io_uring for writes (it implements `IoBuf`): its address never
/// moves.
pub struct AlignedBuf {
    ptr: NonNull<u8>,
    len: usize,
    cap: usize,
}

// SAFETY: the buffer owns its allocation exclusively, like a `Vec<u8>`.
unsafe impl Send for AlignedBuf {}
// SAFETY: shared references only read it.
unsafe impl Sync for AlignedBuf {}

impl AlignedBuf {
    /// An empty buffer of `cap` bytes (rounded up to a multiple of [`ALIGN`], at least one).
    pub fn new(cap: usize) -> Self {
        let cap = align_up(cap.max(1));
        let layout = Layout::from_size_align(cap, ALIGN).expect("a valid layout");
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc::alloc_zeroed(layout) };
        let ptr = NonNull::new(raw).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        AlignedBuf { ptr, len: 0, cap }
    }

    /// Bytes held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Its capacity.
    pub fn capacity(&self) -> usize {
        self.cap
    }

    /// Whether it is full.
    pub fn is_full(&self) -> bool {
        self.len == self.cap
    }

    /// The bytes held.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: the first `len` bytes are initialised (the allocation is zeroed, and only
        // ever written within `cap`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    /// Appends as much of `data` as fits; returns how much did.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let n = data.len().min(self.cap - self.len);
        // SAFETY: `len + n <= cap`, within the allocation; `data` cannot overlap it (it is
        // borrowed while `self` is borrowed mutably).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(self.len), n);
        }
        self.len += n;
        n
    }

    /// Pads with zeros up to the next multiple of [`ALIGN`] (which fits: the capacity is one).
    pub fn pad(&mut self) {
        let to = align_up(self.len);
        // SAFETY: `to <= cap` because `cap` is a multiple of ALIGN and `len <= cap`.
        unsafe { std::ptr::write_bytes(self.ptr.as_ptr().add(self.len), 0, to - self.len) };
        self.len = to;
    }

    /// Empties it.
    pub fn clear(&mut self) {
        self.len = 0;
    }
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.cap, ALIGN).expect("the layout it was made with");
        // SAFETY: allocated in `new` with this layout, freed once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), layout) };
    }
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("cap", &self.cap)
            .finish()
    }
}

// SAFETY: the pointer is stable for the buffer's life (it never reallocates); `len` bytes are
// initialised and `cap` bytes allocated.
unsafe impl tokio_uring::buf::IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.cap
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_is_aligned_fills_and_pads() {
        let mut b = AlignedBuf::new(5000);
        assert_eq!(b.capacity(), 2 * ALIGN);
        assert_eq!(b.as_slice().as_ptr() as usize % ALIGN, 0);
        assert_eq!(b.push(b"abc"), 3);
        b.pad();
        assert_eq!(b.len(), ALIGN);
        assert_eq!(&b.as_slice()[..4], b"abc\0");
        assert_eq!(b.push(&vec![7u8; 3 * ALIGN]), ALIGN);
        assert!(b.is_full());
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn rounding() {
        assert_eq!(align_up(0), 0);
        assert_eq!(align_up(1), ALIGN);
        assert_eq!(align_up(ALIGN), ALIGN);
        assert_eq!(align_down(ALIGN as u64 + 5), ALIGN as u64);
    }
}
