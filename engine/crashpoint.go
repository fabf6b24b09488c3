package engine

// crashPoint, when set (by tests only), is called by the engine's
// multi-file operations after each step of their crash stories (doc.go),
// with the step's name. It lets a test see the files exactly as a crash
// right after that step would leave them (it may copy the directories
// and return nil), or make the step fail (by returning an error), which
// the operation handles as it would a real failure of that step.
//
// INVARIANT: it is called with the operation's locks held and must not
// call back into the engine on the same volume or store.
var crashPoint func(step string) error

// reached reports the step just done to crashPoint, if set.
func reached(step string) error {
	if crashPoint == nil {
		return nil
	}
	return crashPoint(step)
}

// The steps, named by operation and step, in the order they happen. A
// name ending in "synced" means the step's directory fsyncs are done.
const (
	// new volume (createFiles); the .dat, which makes the volume, comes last
	stepCreateIdx = "create: empty .idx created"
	stepCreateVif = "create: .vif written, directory synced"
	stepCreateDat = "create: .dat written and synced under its temporary name"
	stepCreated   = "create: .dat renamed into place, directories synced"

	// volume deletion (Destroy); removing the .dat is the commit point
	stepDestroyDat  = "destroy: .dat removed, directory synced"
	stepDestroyRest = "destroy: other files removed, directories synced"

	// compaction commit (CommitCompact); writing the .cpc is the commit point
	stepCommitCaughtUp = "commit: copy brought up to date and synced"
	stepCommitBackups  = "commit: originals linked to .precompact names"
	stepCommitMarker   = "commit: .cpc written, directories synced"
	stepCommitDat      = "commit: .cpd renamed to .dat"
	stepCommitIdx      = "commit: .cpx renamed to .idx, directories synced"
	stepCommitDone     = "commit: .cpc removed, directory synced"
	stepCommitOpened   = "commit: compacted volume opened"
	stepCommitCleaned  = "commit: .precompact backups removed"

	// putting the originals back when the compacted files do not open
	// (CommitCompact's rollback: the same swap, from the backups)
	stepRollbackStaged = "rollback: backups linked to .cpd/.cpx, directories synced"
	stepRollbackMarker = "rollback: .cpc written, directories synced"
	stepRollbackDat    = "rollback: .cpd renamed to .dat"
	stepRollbackIdx    = "rollback: .cpx renamed to .idx, directories synced"
	stepRollbackDone   = "rollback: .cpc removed, directory synced"

	// volume copy swap (CopyStage.Park, Install, DropParked); removing the
	// swap marker is the commit point
	stepCopyParked    = "copy: replaced files linked to parked names, directories synced"
	stepCopyMarker    = "copy: swap marker written, directory synced"
	stepCopyCleared   = "copy: replaced files the copy lacks removed"
	stepCopyInstalled = "copy: staged files renamed into place, directories synced"
	stepCopyCommitted = "copy: swap marker removed, directory synced"
	stepCopyDropped   = "copy: parked files removed, directories synced"

	// putting the replaced replica back (CopyStage.Restore); writing the
	// swap marker is the commit point
	stepRestoreMarker    = "restore: swap marker written, directory synced"
	stepRestoreLinked    = "restore: parked files linked back into place, directories synced"
	stepRestoreCommitted = "restore: swap marker removed, directory synced"
	stepRestoreDropped   = "restore: parked files removed, directories synced"

	// replication change of an unmounted volume (ConfigureUnmounted); the
	// super block is the truth, the .vif follows it
	stepConfigureDat = "configure: super block rewritten and synced"
	stepConfigureVif = "configure: .vif replaced, directory synced"

	// EC encode (EcGenerate); renaming the .ecx into place is the commit
	// point
	stepEcWiped     = "ec generate: stale EC files removed, directories synced"
	stepEcEncoded   = "ec generate: shards, .ecsum and temporary .ecx written and synced"
	stepEcVif       = "ec generate: .vif replaced with the layout"
	stepEcGenerated = "ec generate: .ecx renamed into place, directory synced"

	// EC decode (EcToVolume); renaming the .dat into place is the commit
	// point
	stepDecodeWritten = "ec decode: .dat and .idx written and synced under temporary names"
	stepDecodeIdx     = "ec decode: .idx renamed into place, directory synced"
	stepDecodeDat     = "ec decode: .dat renamed into place, directory synced"

	// moving a .dat to a remote tier (MoveDatToRemote); writing the .vif
	// that names the remote copy is the commit point
	stepTierUploaded     = "tier upload: .dat copied to the remote tier"
	stepTierVif          = "tier upload: .vif naming the remote copy written, directory synced"
	stepTierLocalRemoved = "tier upload: local .dat removed, directory synced"

	// moving a .dat back from a remote tier (MoveDatFromRemote); writing
	// the .vif without the remote file is the commit point
	stepTierDownloaded    = "tier download: .dat.tmp written and synced"
	stepTierDatRenamed    = "tier download: .dat.tmp renamed to .dat, directory synced"
	stepTierVifLocal      = "tier download: .vif without the remote file written, directory synced"
	stepTierRemoteDeleted = "tier download: remote object deleted"
)
