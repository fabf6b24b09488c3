package ec

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// ErrCorruptIndex wraps every rejection of an .ecx (partial row, unsorted
// or duplicate keys) and of an .ecj with a torn tail.
var ErrCorruptIndex = errors.New("corrupt ec index")

// tombstone is the size an .ecx row is given when its needle is deleted, and
// the size of the rows .ecj ids become in a decoded .idx (0xFFFFFFFF).
const tombstone int32 = needle.TombstoneSize

func formatFor(offsetWidth int) (idx.Format, error) {
	f, err := idx.FormatFor(offsetWidth)
	if err != nil {
		return idx.Format{}, fmt.Errorf("ec: offset width %d: %w", offsetWidth, err)
	}
	return f, nil
}

// isLive is upstream's test for an .idx row that names a needle: a nonzero
// offset and a size that is not a delete (negative or tombstone).
func isLive(e idx.Entry) bool { return e.Offset != 0 && e.Size >= 0 }

// sortedEcxRows reads the .idx at idxPath and returns the .ecx it maps to,
// encoded: one row per key whose last .idx row is live, ascending by key,
// the bytes upstream's WriteSortedFileFromIdx writes. The returned buffer
// is the caller's. Memory: 24 bytes per .idx row plus the result.
func sortedEcxRows(idxPath string, f idx.Format) ([]byte, error) {
	file, err := os.Open(idxPath)
	if err != nil {
		return nil, fmt.Errorf("ec: read index %s: %w", idxPath, err)
	}
	defer file.Close()
	var rows []idx.Entry
	if fi, err := file.Stat(); err == nil {
		rows = make([]idx.Entry, 0, fi.Size()/int64(f.EntrySize()))
	}
	if err := f.Walk(file, func(e idx.Entry) error {
		rows = append(rows, e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("ec: read index %s: %w", idxPath, err)
	}
	// Stable: among rows of one key, the last in the file stays last.
	slices.SortStableFunc(rows, func(a, b idx.Entry) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	out := make([]byte, 0, len(rows)*f.EntrySize())
	for i := 0; i < len(rows); i++ {
		if i+1 < len(rows) && rows[i+1].Key == rows[i].Key {
			continue
		}
		if isLive(rows[i]) {
			out = f.AppendEntry(out, rows[i])
		}
	}
	return out, nil
}

// WriteEcx writes ecxPath from the .idx at idxPath (offsetWidth 4 or 5):
// the live rows sorted by key, as upstream's WriteSortedFileFromIdx. The
// file is replaced atomically and durably (temp name, fsync, rename, fsync
// of the directory).
func WriteEcx(idxPath, ecxPath string, offsetWidth int) error {
	f, err := formatFor(offsetWidth)
	if err != nil {
		return err
	}
	rows, err := sortedEcxRows(idxPath, f)
	if err != nil {
		return err
	}
	return atomicfile.Write(ecxPath, rows, 0o644)
}

// walkEcxFile calls fn for each row of the .ecx at path. A partial trailing
// row is an ErrCorruptIndex error, reported before any row is visited (the
// .ecx is sealed: it never grows).
func walkEcxFile(path string, f idx.Format, fn func(idx.Entry) error) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("ec: open index %s: %w", path, err)
	}
	defer file.Close()
	if fi, err := file.Stat(); err == nil && fi.Size()%int64(f.EntrySize()) != 0 {
		return fmt.Errorf("%w: %s is %d bytes, not a whole number of %d-byte rows", ErrCorruptIndex, path, fi.Size(), f.EntrySize())
	}
	if err := f.Walk(file, fn); err != nil {
		if errors.Is(err, idx.ErrCorrupted) {
			return fmt.Errorf("%w: %s: %v", ErrCorruptIndex, path, err)
		}
		return err
	}
	return nil
}

// WriteIdxFromEcx writes idxPath as upstream's WriteIdxFileFromEcIndex: the
// .ecx rows verbatim, then one tombstone row (offset 0, size tombstone) per
// .ecj id, in journal order. A missing .ecj means no deletes. The .idx is
// replaced atomically and durably. A torn .ecj tail is ignored, as upstream
// ignores it.
func WriteIdxFromEcx(ecxPath, ecjPath, idxPath string, offsetWidth int) error {
	f, err := formatFor(offsetWidth)
	if err != nil {
		return err
	}
	ids, err := ReadJournal(ecjPath)
	if err != nil && !errors.Is(err, ErrCorruptIndex) {
		return err
	}
	ecx, err := os.Open(ecxPath)
	if err != nil {
		return fmt.Errorf("ec: open index %s: %w", ecxPath, err)
	}
	defer ecx.Close()
	return atomicfile.WriteWith(idxPath, 0o644, func(out *os.File) error {
		w := bufio.NewWriterSize(out, 1<<20)
		if _, err := io.Copy(w, ecx); err != nil {
			return err
		}
		row := make([]byte, f.EntrySize())
		for _, id := range ids {
			f.PutEntry(row, idx.Entry{Key: id, Size: tombstone})
			if _, err := w.Write(row); err != nil {
				return err
			}
		}
		return w.Flush()
	})
}

// HasLiveEntries reports whether the volume has a needle that is neither
// tombstoned in the .ecx nor listed in the .ecj (missing .ecj: no deletes).
func HasLiveEntries(ecxPath, ecjPath string, offsetWidth int) (bool, error) {
	f, err := formatFor(offsetWidth)
	if err != nil {
		return false, err
	}
	ids, err := ReadJournal(ecjPath)
	if err != nil && !errors.Is(err, ErrCorruptIndex) {
		return false, err
	}
	deleted := make(map[uint64]struct{}, len(ids))
	for _, id := range ids {
		deleted[id] = struct{}{}
	}
	errStop := errors.New("stop")
	live := false
	err = walkEcxFile(ecxPath, f, func(e idx.Entry) error {
		if e.Size < 0 {
			return nil
		}
		if _, gone := deleted[e.Key]; gone {
			return nil
		}
		live = true
		return errStop
	})
	if err == errStop {
		err = nil
	}
	return live, err
}

// FindDatFileSize is upstream's extent of a legacy volume's .dat: the end of
// the furthest live needle the .ecx names (offset + actual size for the
// needle version), at least the 8-byte super block. Deletes recorded only in
// the .ecj are not consulted (upstream folds the .ecj into the .ecx first;
// see FoldJournal).
func FindDatFileSize(ecxPath string, offsetWidth int, version needle.Version) (int64, error) {
	f, err := formatFor(offsetWidth)
	if err != nil {
		return 0, err
	}
	if !version.Supported() {
		return 0, fmt.Errorf("ec: unsupported needle version %d", version)
	}
	size := int64(8)
	err = walkEcxFile(ecxPath, f, func(e idx.Entry) error {
		if e.Size < 0 {
			return nil
		}
		size = max(size, e.Offset+needle.ActualSize(e.Size, version))
		return nil
	})
	return size, err
}
