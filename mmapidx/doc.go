// Package mmapidx is a volume's needle map backed by a memory-mapped file,
// so that a volume with ten million needles opens in O(1) time and keeps
// almost nothing on the Go heap.
//
// # Files
//
// A volume's .idx (upstream's append-only log of key, offset, size entries)
// is the truth; this package never writes it. Next to it lives
// <base>.wvx, ours: the map obtained by replaying a prefix of the .idx,
// as sorted arrays of keys and values under a header that records the
// replay's metrics, how many .idx bytes it covers, and CRCs of the first and
// last 4 KiB of that prefix. format.go draws the layout.
//
// Open maps the .wvx when its header checks out and the .idx still starts
// with the prefix it covers (same length or longer, same two windows), then
// replays the .idx entries past the prefix into an in-memory delta. Any
// other .wvx (missing, wrong width, corrupt header, wrong length, .idx
// shorter than covered or rewritten) is rebuilt from the whole .idx: read,
// stable radix sort by key, replay per key, write, map.
//
// Open does O(1) work on a valid .wvx: it reads its header and two .idx
// windows and maps the file; pages are faulted in by lookups. The CRCs of
// the key and value regions are checked only by Verify (an O(n) scan meant
// for a background scrub), not on open: a bit flip inside the regions of a
// .wvx with a sound header goes unnoticed until Verify, in exchange for
// not reading 160 MB at every start of a 10M-needle volume.
//
// Lookups use interpolation search over the key array, with a bisection
// step whenever a probe fails to halve the range: a few probes on the
// near-uniform ids of a volume, at most about 2·log2(n) on any keys.
//
// # Crash story
//
// INVARIANT: a .wvx file is never modified in place. It is written as
// <base>.wvx.tmp, fsynced, renamed over <base>.wvx, and the directory is
// fsynced, so after a crash <base>.wvx is either the previous complete file
// or the new complete file. A leftover .tmp is garbage and is overwritten by
// the next write or deleted by Remove.
//
// INVARIANT: a .wvx covers only .idx bytes that were fsynced before it was
// written (Persist fsyncs the .idx first; a rebuild covers what Open read).
//
// So after a crash a reader may assume the .wvx is an old but exact replay
// of a prefix of the .idx, or is detectably stale or broken. It is a cache:
// deleting it at any time costs one rebuild at the next Open and loses
// nothing. If the .idx is replaced (compaction), call Remove; the window
// CRCs catch a forgotten Remove in practice, not in theory.
//
// # Concurrency
//
// One writer at a time (Put, Delete; serialized by an internal mutex),
// any number of readers (Get, Ascend, Metrics, Len), and Persist, which
// may run alongside both.
//
// INVARIANT: Get and Ascend take no lock. They load one immutable view
// (base mapping, frozen table, delta table) from an atomic pointer and
// never wait for the writer; Get does not allocate. Metrics, Len, IdxSize
// and DeltaLen read writer-owned counters under the writer mutex, held for
// one Put at most.
//
// INVARIANT: a delta table slot is written only by the writer, under a
// per-slot sequence lock; readers retry a slot whose sequence changed. A
// table is grown by copying it into a new one and publishing a new view;
// the old table is never written again, and the garbage collector frees it
// once the last reader drops it.
//
// INVARIANT: a mapping is unmapped only after it has been unpublished and
// its reader counters have drained. A reader increments a counter of the
// base it loaded and checks that the base is still published before
// touching its memory (Index.acquire). Persist unmaps a replaced mapping
// when it finds no reader on it and otherwise leaves it for a later Persist
// or for Close, which waits.
//
// INVARIANT: Persist freezes the delta (readers still see it, between the
// new delta and the base), merges base and frozen delta into a new file
// without holding the writer lock, then publishes the new base with the
// delta written meanwhile. On failure the frozen entries are folded back
// into the delta and nothing visible changes.
//
// INVARIANT: IdxSize advances by one .idx entry per Put or Delete, and a
// .wvx records the IdxSize of the moment its delta was frozen, so the
// caller must apply every .idx entry it appends, once, in order.
package mmapidx
