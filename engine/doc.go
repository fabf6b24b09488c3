// Package engine is weedvol's storage engine: volumes of needles in
// upstream-compatible .dat/.idx/.vif files, and the store that holds the
// volumes of several data directories.
//
// A Volume is three files:
//
//	<base>.dat  super block, then needle records appended back to back
//	<base>.idx  append-only log of (key, offset, size) rows, the truth
//	<base>.vif  JSON VolumeInfo: needle version, offset width, read-only
//
// plus weedvol's own <base>.wvx, a memory-mapped snapshot of the index
// (package mmapidx) that is only a cache of the .idx.
//
// # Write path
//
// Writers encode their record outside any lock, then hand it to the
// volume's committer. The first writer to find the committer idle becomes
// its leader: it takes every record queued so far, assigns offsets and
// append timestamps in order, writes them to the .dat in one vectored
// submission, fsyncs once if any writer asked for it, appends their .idx
// rows in one write, publishes them to the index, and wakes the others
// (group commit).
//
// INVARIANT: a needle is visible to readers (present in the index) only
// after its record is fully written to the .dat.
//
// INVARIANT: .dat records are appended in .idx row order, so after a crash
// the .idx never names bytes the .dat does not hold except in its last rows,
// and the .dat may hold records past the last row; Open repairs both.
//
// # Locks
//
// Lock order: Volume.life before Volume.mu before committer.qmu. Readers
// take only life (shared) and never wait for writers.
package engine
