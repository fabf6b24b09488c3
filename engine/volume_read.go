package engine

import (
	"fmt"
	"time"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

// ReadOptions tune one read.
type ReadOptions struct {
	// AnyCookie skips the cookie comparison (internal readers that know
	// only the key).
	AnyCookie bool
	// ReadDeleted serves a deleted needle whose record is still in the .dat.
	ReadDeleted bool
}

// lookup returns the byte offset and index size of key.
func (v *Volume) lookup(key uint64) (off int64, size int32, ok bool) {
	units, size, ok := v.index.Get(key)
	return int64(units) * idx.Unit, size, ok
}

// Lookup returns where key's record lives and its index size (negative for
// a deleted needle). On a volume a committed compaction replaced, it looks
// in the volume that replaced it (as Read does), so a request that waited
// through the commit does not find a live needle missing; its offset then
// belongs to the new files, and the calls that take offsets (ReadAt,
// DatReader) on the replaced volume fail with ErrClosed rather than read
// the wrong bytes.
func (v *Volume) Lookup(key uint64) (off int64, size int32, ok bool) {
	v, aerr := v.enter()
	if aerr != nil {
		return 0, 0, false
	}
	defer v.life.RUnlock()
	return v.lookup(key)
}

// Read reads needle key into n. The record is read into buf, grown when too
// small; the record's bytes are returned (len = record size) and n's byte
// slices alias them. The cookie
// must match unless opts.AnyCookie; the checksum is verified; a needle
// whose TTL has run out reads as ErrNotFound.
//
// An empty needle (size 0) reads as n with no data and no cookie check,
// like upstream.
func (v *Volume) Read(n *needle.Needle, key uint64, cookie uint32, buf []byte, opts ReadOptions) ([]byte, error) {
	v, aerr := v.enter()
	if aerr != nil {
		return buf, aerr
	}
	defer v.life.RUnlock()
	off, size, ok := v.lookup(key)
	if !ok || off == 0 {
		return buf, ErrNotFound
	}
	if size < 0 {
		if !opts.ReadDeleted || size == needle.TombstoneSize {
			return buf, ErrDeleted
		}
		size = -size
	}
	if size == 0 {
		*n = needle.Needle{ID: key, Cookie: cookie}
		return buf, nil
	}
	total := needle.ActualSize(size, v.super.Version)
	if int64(cap(buf)) < total {
		buf = make([]byte, total)
	}
	rec := buf[:total]
	if err := v.readFull(rec, off); err != nil {
		return rec, fmt.Errorf("volume %d: read needle %x at %d: %w", v.ID, key, off, err)
	}
	if err := n.Decode(rec, size, v.super.Version); err != nil {
		return rec, fmt.Errorf("volume %d: %w", v.ID, err)
	}
	if !opts.AnyCookie && n.Cookie != cookie {
		return rec, ErrCookieMismatch
	}
	if n.HasExpired(time.Now()) {
		return rec, ErrNotFound
	}
	return rec, nil
}

// DataRange locates the data bytes of a v2/v3 needle without reading them,
// so a server can stream them from the file. n gets the metadata (checksum
// unverified). scratch holds the header and tail reads; it is grown when
// too small and returned.
func (v *Volume) DataRange(n *needle.Needle, key uint64, cookie uint32, scratch []byte, opts ReadOptions) (dataOff int64, dataSize uint32, _ []byte, err error) {
	v, aerr := v.enter()
	if aerr != nil {
		return 0, 0, scratch, aerr
	}
	defer v.life.RUnlock()
	ver := v.super.Version
	off, size, ok := v.lookup(key)
	if !ok || off == 0 {
		return 0, 0, scratch, ErrNotFound
	}
	if size < 0 {
		if !opts.ReadDeleted || size == needle.TombstoneSize {
			return 0, 0, scratch, ErrDeleted
		}
		size = -size
	}
	if ver == needle.Version1 || size < needle.DataSizeSize {
		return 0, 0, scratch, fmt.Errorf("volume %d: needle %x has no separable data", v.ID, key)
	}
	const hdrLen = needle.HeaderSize + needle.DataSizeSize
	var hdr [hdrLen]byte
	if err := v.readFull(hdr[:], off); err != nil {
		return 0, 0, scratch, err
	}
	h, _ := needle.ParseHeader(hdr[:])
	if h.Size != size {
		return 0, 0, scratch, fmt.Errorf("volume %d: %w", v.ID, needle.ErrSizeMismatch)
	}
	ds := int64(uint32(hdr[16])<<24 | uint32(hdr[17])<<16 | uint32(hdr[18])<<8 | uint32(hdr[19]))
	total := needle.ActualSize(size, ver)
	tailOff := needle.HeaderSize + needle.DataSizeSize + ds
	if tailOff > total {
		return 0, 0, scratch, fmt.Errorf("volume %d: needle %x: %w", v.ID, key, needle.ErrCorrupted)
	}
	tailLen := total - tailOff
	if int64(cap(scratch)) < tailLen {
		scratch = make([]byte, tailLen)
	}
	tail := scratch[:tailLen]
	if err := v.readFull(tail, off+tailOff); err != nil {
		return 0, 0, scratch, err
	}
	if dataSize, err = n.DecodeMeta(hdr[:], tail, ver); err != nil {
		return 0, 0, scratch, fmt.Errorf("volume %d: %w", v.ID, err)
	}
	if !opts.AnyCookie && n.Cookie != cookie {
		return 0, 0, scratch, ErrCookieMismatch
	}
	if n.HasExpired(time.Now()) {
		return 0, 0, scratch, ErrNotFound
	}
	return off + hdrLen, dataSize, scratch, nil
}

// ReadAt reads raw .dat bytes (needle blobs, streamed data).
func (v *Volume) ReadAt(p []byte, off int64) (int, error) {
	aerr := v.acquire()
	if aerr != nil {
		return 0, aerr
	}
	defer v.life.RUnlock()
	return v.dat.ReadAt(p, off)
}

// Ascend calls fn for every index entry in ascending key order, deleted
// ones included (negative size), until fn returns false.
func (v *Volume) Ascend(fn func(key uint64, off int64, size int32) bool) error {
	v, aerr := v.enter()
	if aerr != nil {
		return aerr
	}
	defer v.life.RUnlock()
	v.index.Ascend(func(key, units uint64, size int32) bool {
		return fn(key, int64(units)*idx.Unit, size)
	})
	return nil
}
