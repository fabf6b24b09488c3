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

// The steps, named by operation and step, in the order they happen.
const (
	// new volume (createFiles)
	stepCreateIdx = "create: .idx created"
	stepCreateVif = "create: .vif written"
	stepCreateDat = "create: .dat written under its temporary name"
	stepCreated   = "create: .dat renamed into place"

	// volume deletion (Destroy)
	stepDestroyDat  = "destroy: .dat removed"
	stepDestroyRest = "destroy: other files removed"

	// compaction commit (CommitCompact)
	stepCommitCaughtUp = "commit: copy brought up to date"
	stepCommitBackups  = "commit: backups linked"
	stepCommitMarker   = "commit: .cpc written"
	stepCommitDat      = "commit: .cpd renamed to .dat"
	stepCommitIdx      = "commit: .cpx renamed to .idx"
	stepCommitDone     = "commit: .cpc removed"
	stepCommitOpened   = "commit: compacted volume opened"

	// volume copy swap (CopyStage)
	stepCopyParked    = "copy: replaced files linked to parked names"
	stepCopyMarker    = "copy: swap marker written"
	stepCopyCleared   = "copy: replaced files removed"
	stepCopyInstalled = "copy: staged files renamed into place"
	stepCopyCommitted = "copy: swap marker removed"
	stepCopyDropped   = "copy: parked files removed"
	stepCopyRestored  = "copy: parked files linked back"

	// replication change of an unmounted volume (ConfigureUnmounted)
	stepConfigureDat = "configure: super block rewritten"
	stepConfigureVif = "configure: .vif replaced"
)
