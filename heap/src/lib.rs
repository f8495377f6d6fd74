//! The allocator of every bankgate binary, bench and example: mimalloc (C, through `libmimalloc-sys`), asked for a
//! plain allocation whenever the layout's alignment allows it.
//!
//! Why not the `mimalloc` crate's `MiMalloc`: it passes every allocation to `mi_malloc_aligned`, whose fast path
//! covers only blocks up to 1 KiB; a larger buffer (a response body, a TLS record, an HTTP read buffer) took
//! mimalloc's generic aligned path with over-allocation, about 230 instructions instead of about 30. Counted with
//! callgrind on the gateway's resource API: 32 such allocations per request, 7,000 of its instructions. mimalloc
//! aligns every block to at least a machine word (and `mi_realloc_aligned` itself takes the plain path for
//! alignments up to a word), so layouts aligned to 8 bytes or less go to `mi_malloc` / `mi_zalloc` /
//! `mi_realloc`; larger alignments keep the aligned calls.
//!
//! Why mimalloc and not glibc's malloc: serving pages of transactions allocates and frees many short-lived buffers,
//! and glibc's consolidation showed up as ~15% of a load run's profile.

#![no_std]

use core::alloc::{GlobalAlloc, Layout};
use core::ffi::c_void;

use libmimalloc_sys as mi;

/// The largest alignment every mimalloc block has (a machine word).
const WORD: usize = core::mem::size_of::<usize>();

/// mimalloc as the global allocator: `#[global_allocator] static ALLOCATOR: heap::Heap = heap::Heap;`.
pub struct Heap;

// SAFETY: every method forwards to mimalloc, which meets `GlobalAlloc`'s contract for the layouts it is given: the
// plain calls return word-aligned blocks (so they serve only layouts aligned to a word or less), the aligned calls
// honour any power-of-two alignment, and `mi_free` takes a block from either.
unsafe impl GlobalAlloc for Heap {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain FFI calls; a null result is passed on as the contract asks.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the caller's contract).
        unsafe { mi::mi_free(ptr.cast::<c_void>()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new block keeps its alignment.
        unsafe {
            if layout.align() <= WORD {
                mi::mi_realloc(ptr.cast::<c_void>(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast::<c_void>(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;

    #[test]
    fn every_layout_gets_a_block_of_its_alignment_and_keeps_its_bytes_across_realloc() {
        for align in [1, 2, 4, 8, 16, 32, 64, 128, 4096] {
            for size in [1, 7, 8, 24, 100, 1024, 1025, 5000, 70_000, 3 << 20] {
                let layout = Layout::from_size_align(size, align).unwrap();
                // SAFETY: non-zero sizes; every block is freed with this allocator.
                unsafe {
                    let p = Heap.alloc(layout);
                    assert!(!p.is_null() && (p as usize).is_multiple_of(align), "alloc {size} / {align}");
                    p.write_bytes(0xA5, size);
                    let grown = Heap.realloc(p, layout, size * 2);
                    assert!(!grown.is_null() && (grown as usize).is_multiple_of(align), "realloc {size} / {align}");
                    assert!((0..size).all(|i| *grown.add(i) == 0xA5), "bytes kept {size} / {align}");
                    Heap.dealloc(grown, Layout::from_size_align(size * 2, align).unwrap());
                    let z = Heap.alloc_zeroed(layout);
                    assert!(!z.is_null() && (z as usize).is_multiple_of(align), "zalloc {size} / {align}");
                    assert!((0..size).all(|i| *z.add(i) == 0), "zeroed {size} / {align}");
                    Heap.dealloc(z, layout);
                }
            }
        }
    }
}
