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
// # Crash stories
//
// Each multi-file operation below lists its steps in order, with the
// fsyncs, and what Open finds and repairs after a crash at each point. A
// process crash (SIGKILL) keeps what reached the page cache; a machine
// crash keeps what was fsynced, and of the rest any subset, in any order.
// Renames, links and removals become durable only with an fsync of their
// directory (atomicfile.SyncDir), so every such change a later step relies
// on is followed by one. Each step that ends in a crash point is named in
// crashpoint.go; crashpoints_test.go crashes and fails every one.
//
// # Crash story: a write batch (writes and deletes alike)
//
// A delete is a write of an empty record (the tombstone) whose row carries
// the tombstone size; a delete of a needle that is absent or already
// deleted writes nothing. One batch does, in order:
//
//  1. pwritev the batch's records at the end of the .dat;
//  2. pwrite the batch's rows at the end of the .idx;
//  3. if a writer asked for fsync: fsync the .dat, then the .idx;
//  4. publish the rows to the in-memory index and answer the writers.
//
// Both files exist already, so a batch changes no directory entry and
// needs no directory fsync. A process crash leaves:
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
// rather than serving it. Open syncs the .dat before it writes the rows
// that name records it found, then those rows. A write that fails cuts both files back
// to where the batch started and fails the batch. An fsync that fails
// leaves the page cache in an unknown state (the kernel may have dropped
// the pages it could not write): the batch fails, both files are cut back,
// and the volume turns read-only until an operator looks at it.
//
// # Crash story: volume creation (createFiles)
//
// A volume is found by its .dat, so the .dat comes last:
//
//  1. remove a stale .wvx; create the .idx anew, empty (stepCreateIdx);
//  2. write the .vif (version, offset width, replication) through
//     atomicfile: .vif.tmp written and fsynced, renamed, data directory
//     fsynced, which also makes the .idx's entry durable when it is there
//     (stepCreateVif);
//  3. create <base>.dat.tmp anew, preallocate, write the super block,
//     fsync (stepCreateDat);
//  4. fsync the index directory when it is another one; rename .dat.tmp
//     to .dat; fsync the data directory (stepCreated). The rename is the
//     commit.
//
// A crash before 4 leaves no .dat: there is no volume, and the .idx, .vif
// and .dat.tmp left behind are never mounted; the next creation of the id
// replaces each of them (a creation never inherits an earlier volume's
// .idx, .vif read-only mark or offset width). After 4 the volume is there,
// empty. A failed step removes what was written and fails the allocation.
// An empty .dat (an older creation cut short) counts as missing.
//
// # Crash story: volume deletion (Destroy)
//
//  1. close the volume (its .dat and .idx are fsynced);
//  2. remove the .dat, fsync the data directory (stepDestroyDat): the
//     commit, the volume is gone;
//  3. remove the .idx, .vif, .wvx, .note and any compaction or creation
//     leftovers, fsync both directories (stepDestroyRest).
//
// A crash after 2 leaves at most files without a .dat, never mounted and
// replaced by the next creation of the id. When 2 fails, Destroy stops
// there: the files left are a whole volume, mounted again at the next
// start if the removal did not reach the disk.
//
// # Crash story: compaction commit (CommitCompact, volume_commit.go)
//
// With the volume's operations drained and held off (life held
// exclusively):
//
//  1. catch up: append to the .cpd and .cpx what the .idx gained since
//     Compact, fsync both (stepCommitCaughtUp);
//  2. fsync and close the .dat and .idx;
//  3. link them to <base>.dat.precompact and .idx.precompact, the backups
//     (stepCommitBackups);
//  4. fsync both directories (the .cpd and .cpx entries), create the empty
//     marker <base>.cpc, fsync the data directory (stepCommitMarker): the
//     commit;
//  5. rename .cpd over .dat (stepCommitDat); remove the .wvx; rename .cpx
//     over .idx (both in the index directory); fsync both directories
//     (stepCommitIdx);
//  6. remove the .cpc, fsync the data directory (stepCommitDone);
//  7. open the compacted files as the new Volume (stepCommitOpened);
//  8. remove the backups (stepCommitCleaned).
//
// Open (finishInterruptedCompaction) reads the marker: with a .cpc it
// redoes 5 and 6 for whichever of .cpd and .cpx is still there (the
// compacted state, after a crash anywhere from 4 to 6); without one a
// .cpd or .cpx is an uncommitted copy and is dropped (the original state,
// after a crash before 4; the copy's catch-up point lived in memory).
// Backups are removed either way. They exist in the data directory while
// a .cpc does, and they are what the store's directory listing looks
// for, so a crash there always sends Open to finish the swap. A .cpx
// alone that fits the .dat in place is an older weedvol's commit stopped
// between its renames, moved in as well.
//
// Failures: before 4 the copy is dropped (the .cpc first, synced) and the
// untouched originals reopen. After 4 the compacted files are the
// volume's: a failed rename is retried once (as Open would) and the
// commit returns the error with the new Volume, or, failing again, leaves
// the volume closed for the next Open to finish. When the compacted files
// do not open (7), the originals are swapped back the same way: the
// backups linked to the .cpd/.cpx names (stepRollbackStaged), then 4 to 6
// again (stepRollbackMarker ... stepRollbackDone); a crash before that .cpc
// leaves the compacted state, after it the original one.
//
// # Crash story: volume copy swap (CopyStage, copyswap.go)
//
// The gRPC service stages the source's .dat, .idx and .vif under copying/
// (each fsynced) and unmounts the replica it replaces. Then:
//
//  1. Park: link the replica's final files to copying/<base>.replaced.*
//     (the final names keep them), fsync the copying/ directories
//     (stepCopyParked);
//  2. Install: create the empty marker copying/<base>.swap, fsync
//     (stepCopyMarker); remove the final .wvx and .note and any final
//     file the copy lacks (a .vif, say) (stepCopyCleared); rename each
//     staged file over its final name, fsync both directories
//     (stepCopyInstalled); remove the marker, fsync (stepCopyCommitted):
//     the commit;
//  3. the service mounts and checks the copy, then DropParked removes
//     the parked links, fsync (stepCopyDropped).
//
// While the marker exists the parked set is the volume; without it the
// final set is. Open (settleCopy, before anything else) and BeginCopy put
// back a marked swap: each parked file is linked to copying/<base>.relink.*
// and renamed over its final name (so a replica's .dat never leaves its
// name and the store's scan always finds the volume), final files without
// a parked counterpart are removed (no replica: no volume), both
// directories are fsynced and the marker is removed. Staged, parked and
// relinked files without a marker are garbage and removed. So a crash in
// 1 or 2 before the marker is removed leaves the replica (or no volume),
// and after it the copy. A failed Install puts the replica back the same
// way before it returns. A copy that fails its checks once mounted is
// undone by Restore: marker written (stepRestoreMarker), parked files
// linked back (stepRestoreLinked), marker removed (stepRestoreCommitted),
// parked links removed (stepRestoreDropped); once its marker is written
// the replica comes back, retried once on failure and otherwise by the
// next Open. A volume whose swap is marked while its copy is in flight
// in this process does not mount.
//
// # Crash story: replication change of an unmounted volume (ConfigureUnmounted)
//
// The super block is the truth (every reader takes the replication from
// it); the .vif follows:
//
//  1. write byte 1 of the .dat (the placement) and fsync it
//     (stepConfigureDat): the commit;
//  2. replace the .vif through atomicfile (stepConfigureVif).
//
// A crash between the two leaves a .vif naming the old replication; Open
// (reconcileReplication) rewrites a .vif whose replication disagrees with
// the super block's. A failed step writes the old byte back (synced),
// and a .vif replaced all the same is brought in line by the next Open.
//
// # Crash story: moving a .dat to a remote tier (MoveDatToRemote)
//
// A volume whose .vif names a remote file (files[0]: backend_type,
// backend_id, key, offset, file_size, modified_time, extension, as
// upstream writes them) is served from that object, read-only, whether or
// not a local .dat is still there (keep_local_dat_file); its .idx stays
// local. With compactMu held throughout:
//
//  1. mark the volume read-only (in memory), take life exclusively once so
//     every write that passed the check is written, fsync the .dat;
//  2. stream the .dat's first Size() bytes to a fresh key (a UUID)
//     (stepTierUploaded); Stat the key and require its size to be the
//     local size, else delete it and fail;
//  3. write the .vif naming the remote file through atomicfile (.vif.tmp
//     fsynced, renamed, directory fsynced) (stepTierVif): the commit;
//  4. switch reads to the remote object (under life, exclusively), then,
//     unless keep_local_dat_file, remove the .dat and fsync the data
//     directory (stepTierLocalRemoved).
//
// A crash before 3 leaves the local volume as it was (writable again at
// the next Open: the mark of 1 is not persisted) and at most an unnamed
// remote object, leaked on the tier. After 3 the volume opens remote,
// every needle read from the verified copy; a crash before 4 removed it
// leaves the local .dat beside it, unused, as with keep_local_dat_file. A
// failed upload or check deletes the remote copy; a failed .vif write
// deletes it only when the .vif on disk does not name it.
//
// # Crash story: moving a .dat back from a remote tier (MoveDatFromRemote)
//
//  1. download the remote object into <base>.dat.tmp, created anew, and
//     fsync it; its length must be the recorded file_size
//     (stepTierDownloaded); set its mtime to modified_time;
//  2. with life held exclusively, rename it to .dat, fsync the data
//     directory (stepTierDatRenamed);
//  3. write the .vif without the remote file through atomicfile
//     (stepTierVifLocal): the commit;
//  4. switch reads to the local .dat (the read-only mark is the .vif's
//     again); unless keep_remote_dat_file, delete the remote object
//     (stepTierRemoteDeleted).
//
// A crash before 3 leaves the .vif naming the remote object, which is
// still there (deleted only after 3), so the volume opens remote; a
// .dat.tmp left by 1 is replaced by the next download, and a .dat left by
// 2 is a whole copy, replaced the same way. After 3 the volume is local;
// a crash before 4's delete leaks the remote object. The remote object is
// never deleted while a .vif names it.
//
// # Crash stories: erasure coding
//
// EcGenerate (encode) and EcToVolume (decode) are told in
// ecstore_files.go, with their steps in crashpoint.go and their tests in
// ec_crashpoints_test.go; Encode, Rebuild and a delete's .ecj/.ecx writes
// in engine/ec's package doc. Destroy keeps the .vif when an .ecx of the
// same volume shares it (the EC volume's layout lives there).
//
// # Locks
//
// Lock order, outermost first:
//
//	Store.mu  >  Volume.compactMu  >  Volume.life  >  Volume.mu  >  mmapidx's own
//
// Store.mu serializes changes to the store's volume map (allocate, mount,
// unmount, delete, commit of a compaction, configure); lookups take no
// lock. compactMu serializes Compact, CommitCompact and CleanupCompact of
// a volume (lockCompaction takes it on the newest successor, dropping it
// before moving on). life is held shared by every operation that touches
// the files (readers take only life, shared, and never wait for writers)
// and exclusively by Close, Destroy, CommitCompact's swap, unparking and
// a tier move's switch of the .dat.
// mu serializes appends: the committer's leader holds it for a whole
// batch. committer.qmu guards the queue only and is never held with mu;
// the reader pool's lock and the package's copies.mu (copy stages in
// flight) are leaves. Parking takes life and then compactMu with TryLock
// only, the reverse of CommitCompact's order, which is safe because
// neither attempt waits.
package engine
