package ec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
)

// journalRecord is the size of one .ecj record: a big-endian needle id.
const journalRecord = 8

// ReadJournal returns the needle ids of the .ecj at path in file order
// (duplicates kept). A missing file is no deletes: nil, nil. A file whose
// length is not a multiple of 8 (a torn append) returns every whole record
// together with an ErrCorruptIndex error; callers that tolerate the torn
// tail, as upstream does, use the ids and ignore that error.
func ReadJournal(path string) ([]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("ec: read journal %s: %w", path, err)
	}
	return decodeJournal(b, path)
}

func decodeJournal(b []byte, path string) ([]uint64, error) {
	whole := len(b) - len(b)%journalRecord
	ids := make([]uint64, 0, whole/journalRecord)
	for p := 0; p < whole; p += journalRecord {
		ids = append(ids, binary.BigEndian.Uint64(b[p:]))
	}
	if whole != len(b) {
		return ids, fmt.Errorf("%w: journal %s has a torn tail of %d bytes", ErrCorruptIndex, path, len(b)-whole)
	}
	return ids, nil
}

// Journal is an open .ecj, the append-only list of deleted needle ids.
// Appends are serialized; each is durable (fsynced) when Append returns.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	size int64
	path string
}

// OpenJournal opens (creating if absent) the .ecj at path for appending. A
// torn tail left by a crash mid-append is cut back to the last whole record
// and synced, as upstream's mount does, so later appends stay aligned.
func OpenJournal(path string) (*Journal, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("ec: open journal %s: %w", path, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("ec: stat journal %s: %w", path, err)
	}
	size := fi.Size()
	if torn := size % journalRecord; torn != 0 {
		size -= torn
		if err := f.Truncate(size); err != nil {
			f.Close()
			return nil, fmt.Errorf("ec: cut torn tail of journal %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("ec: sync journal %s: %w", path, err)
		}
	}
	return &Journal{f: f, size: size, path: path}, nil
}

// Append adds key to the journal and fsyncs it. On a failed write or sync
// the file is cut back to its previous length, so the journal never keeps a
// record that was reported as failed (unless the truncate fails too).
func (j *Journal) Append(key uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("ec: journal %s is closed", j.path)
	}
	var rec [journalRecord]byte
	binary.BigEndian.PutUint64(rec[:], key)
	_, err := j.f.WriteAt(rec[:], j.size)
	if err == nil {
		err = j.f.Sync()
	}
	if err != nil {
		_ = j.f.Truncate(j.size)
		return fmt.Errorf("ec: append to journal %s: %w", j.path, err)
	}
	j.size += journalRecord
	return nil
}

// Len is the number of records in the journal.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return int(j.size / journalRecord)
}

// Close closes the journal. Further appends fail.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return nil
	}
	err := j.f.Close()
	j.f = nil
	return err
}

// Reset empties the journal and fsyncs it (after its ids were folded into
// the .ecx). The file stays in place, so this handle stays valid.
func (j *Journal) Reset() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f == nil {
		return fmt.Errorf("ec: journal %s is closed", j.path)
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("ec: reset journal %s: %w", j.path, err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("ec: sync journal %s: %w", j.path, err)
	}
	j.size = 0
	return nil
}
