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
// INVARIANT: no writer is answered before its batch's .dat records and .idx
// rows are both written (and, if any writer asked, both fsynced). So every
// acknowledged write or delete has its row in the .idx (in the page cache at
// least), and a record past the last row was never acknowledged.
//
// # Crash story: a write batch (writes and deletes alike)
//
// A delete is a write of an empty record (the tombstone) whose row carries
// the tombstone size. One batch does, in order:
//
//  1. pwritev the batch's records at the end of the .dat;
//  2. pwrite the batch's rows at the end of the .idx;
//  3. if a writer asked for fsync: fsync the .dat, then the .idx;
//  4. publish the rows to the in-memory index and answer the writers.
//
// A process crash (SIGKILL) keeps what reached the page cache:
//
//   - during 1: a torn record past the last row. Open cuts it off.
//   - between 1 and 2 (one pwrite long): complete records without rows,
//     never acknowledged, so either outcome is allowed. Open indexes them in
//     .dat order (indexTail): a non-empty record as the write it is; an
//     empty one, which on disk is the same bytes whether it is a delete's
//     tombstone or an empty upload, as a delete when its needle is live at
//     that point (deletes are only appended for live needles) and as an
//     empty upload otherwise. A tombstone is never read back as a live
//     empty needle, which would bring a deleted file back as 0 bytes. The
//     same reading recovers acknowledged writes and deletes whose rows a
//     machine crash lost while their records survived.
//   - during 2: a partial last row (dropped) or some of the batch's rows.
//     Rows are in record order, so the missing ones are a suffix, handled as
//     above.
//   - during 3 or 4: both files complete; the batch is on disk, whether or
//     not its writers were answered.
//
// A machine crash loses what was not fsynced, in any order between the two
// files: rows naming bytes past the end of the .dat are dropped; a last row
// whose record does not check out leaves the volume read-only (damaged)
// rather than serving it. An fsync that fails leaves the page cache in an
// unknown state (the kernel may have dropped the pages it could not write):
// the batch fails, both files are cut back, and the volume turns read-only
// until an operator looks at it.
//
// # Locks
//
// Lock order: Volume.life before Volume.mu before committer.qmu. Readers
// take only life (shared) and never wait for writers.
package engine
