package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// WriteBlob appends blob, a whole record read from another replica
// (ReadNeedleBlob), as needle key with index size size. The blob must be
// exactly the record size takes in this volume's version; its v3 append
// timestamp is replaced by a fresh one, its cookie is not checked against
// an existing needle, and a blob identical to the live needle is not
// written again, as upstream's WriteNeedleBlob does. blob is not modified.
//
// It appends under mu, like a group-commit batch, so it is ordered with
// concurrent writes and deletes.
func (v *Volume) WriteBlob(key uint64, blob []byte, size int32) error {
	v, aerr := v.enter()
	if aerr != nil {
		return aerr
	}
	defer v.life.RUnlock()
	if v.IsReadOnly() {
		return fmt.Errorf("volume %d is %w", v.ID, ErrReadOnly)
	}
	if size < 0 {
		return fmt.Errorf("needle %d has invalid size %d", key, size)
	}
	if len(blob) < needle.HeaderSize {
		return fmt.Errorf("needle %d blob of %d bytes is shorter than a needle header", key, len(blob))
	}
	h, _ := needle.ParseHeader(blob)
	if h.Size != size {
		return fmt.Errorf("needle %d size %d does not match its blob header size %d", key, size, h.Size)
	}
	ver := v.super.Version
	if want := needle.ActualSize(size, ver); int64(len(blob)) != want {
		return fmt.Errorf("needle %d blob of %d bytes does not match the %d bytes size %d takes in a version %d volume", key, len(blob), want, size, ver)
	}
	rec := append([]byte(nil), blob...)

	v.mu.Lock()
	defer v.mu.Unlock()
	if v.sameBlob(key, rec, size) {
		return nil
	}
	end := v.datSize.Load()
	if limit := v.format.MaxVolumeSize(); end+int64(len(rec)) > limit {
		return fmt.Errorf("volume %d: %w: %d of %d bytes", v.ID, ErrVolumeFull, end, limit)
	}
	if ver == needle.Version3 {
		ts := max(nowNs(), v.lastAppendAtNs+1)
		binary.BigEndian.PutUint64(rec[needle.AppendAtNsOffset(size):], ts)
		v.lastAppendAtNs = ts
	}
	if _, err := v.dat.WriteVAt([][]byte{rec}, end); err != nil {
		_ = v.datOS.Truncate(end)
		return fmt.Errorf("volume %d: append: %w", v.ID, err)
	}
	row := v.format.AppendEntry(nil, idx.Entry{Key: key, Offset: end, Size: size})
	if _, err := v.idxOS.WriteAt(row, v.idxSize); err != nil {
		_ = v.idxOS.Truncate(v.idxSize)
		_ = v.datOS.Truncate(end)
		return fmt.Errorf("volume %d: append index: %w", v.ID, err)
	}
	v.idxSize += int64(len(row))
	v.index.Put(key, uint64(end)/idx.Unit, size)
	v.datSize.Store(end + int64(len(rec)))
	v.lastModified.Store(time.Now().Unix())
	return nil
}

// sameBlob reports whether the live needle key has size and the cookie,
// checksum and data of rec. Called with mu held.
func (v *Volume) sameBlob(key uint64, rec []byte, size int32) bool {
	off, cur, ok := v.lookup(key)
	if !ok || off == 0 || cur != size {
		return false
	}
	ver := v.super.Version
	old := make([]byte, needle.ActualSize(size, ver))
	if v.readFull(old, off) != nil {
		return false
	}
	var a, b needle.Needle
	if a.Decode(old, size, ver) != nil || b.Decode(rec, size, ver) != nil {
		return false
	}
	return a.Cookie == b.Cookie && a.Checksum == b.Checksum && bytes.Equal(a.Data, b.Data)
}
