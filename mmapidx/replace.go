package mmapidx

import (
	"os"

	"github.com/weedvol/weedvol/atomicfile"
)

// syncFiles is false only in tests and fuzzing, where fsync would dominate
// run time and crash durability is not under test.
var syncFiles = true

// replaceFile atomically replaces path with what fill writes (package
// atomicfile: <path>.tmp, fsync, rename, fsync the directory). After a
// crash path holds either its old content or the new, never a mix. Calls
// for one .wvx are serialized by Index.persistMu or happen in Open.
func replaceFile(path string, fill func(f *os.File) error) error {
	if !syncFiles {
		return atomicfile.WriteUnsynced(path, 0o644, fill)
	}
	return atomicfile.WriteWith(path, 0o644, fill)
}
