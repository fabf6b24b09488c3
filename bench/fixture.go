package main

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/mmapidx"
)

// fixtureVolume is the id of the one volume a start-up fixture holds.
const fixtureVolume = 1

// fixtureDataSize is the payload of each fixture needle: small, so that the
// index, not the data, dominates what a server must load.
const fixtureDataSize = 16

// payload returns n deterministic pseudo-random (incompressible) bytes.
func payload(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := 0; i+8 <= n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	for i := n &^ 7; i < n; i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// fixture returns a directory holding volume 1 with n needles (keys 1..n,
// cookies from cookieOf), in the on-disk format both servers read: a
// version 3 .dat, a 4-byte-offset .idx and a .vif. It is built once under
// cache and reused; a directory without its "complete" marker is rebuilt.
func fixture(cache string, n int) (string, error) {
	dir := filepath.Join(cache, fmt.Sprintf("fixture-%d", n))
	done := filepath.Join(dir, "complete")
	if _, err := os.Stat(done); err == nil {
		return dir, nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	v, err := engine.OpenVolume(engine.VolumeConfig{ID: fixtureVolume, Dir: dir, Create: true})
	if err != nil {
		return "", err
	}
	base := v.FileName("")
	start := v.Size()
	if err := v.Close(); err != nil {
		return "", err
	}
	// The engine's own snapshot index is not part of the fixture: each
	// start-up run begins from the files upstream writes.
	mmapidx.Remove(base + ".idx")

	dat, err := os.OpenFile(base+".dat", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return "", err
	}
	defer dat.Close()
	ix, err := os.OpenFile(base+".idx", os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return "", err
	}
	defer ix.Close()
	dw, iw := bufio.NewWriterSize(dat, 4<<20), bufio.NewWriterSize(ix, 1<<20)
	format, _ := idx.FormatFor(idx.Offset4)
	data := payload(fixtureDataSize, 1)
	var rec, row []byte
	off := start
	now := uint64(time.Now().UnixNano())
	for key := uint64(1); key <= uint64(n); key++ {
		nd := needle.Needle{ID: key, Cookie: cookieOf(key), Data: data, AppendAtNs: now + key}
		nd.Checksum = needle.NewCRC(data)
		rec = nd.Encode(rec[:0], needle.Version3)
		if _, err := dw.Write(rec); err != nil {
			return "", err
		}
		row = format.AppendEntry(row[:0], idx.Entry{Key: key, Offset: off, Size: nd.Size})
		if _, err := iw.Write(row); err != nil {
			return "", err
		}
		off += int64(len(rec))
	}
	if err := dw.Flush(); err != nil {
		return "", err
	}
	if err := iw.Flush(); err != nil {
		return "", err
	}
	if err := dat.Sync(); err != nil {
		return "", err
	}
	if err := ix.Sync(); err != nil {
		return "", err
	}
	return dir, os.WriteFile(done, nil, 0o644)
}

// linkFixture fills the empty directory dst with hard links to the fixture's
// volume files, so each run starts from identical files without copying
// them. Neither server writes to a clean volume it only reads.
func linkFixture(src, dst string) error {
	var names []string
	for _, ext := range []string{".dat", ".idx", ".vif"} {
		names = append(names, fmt.Sprintf("%d%s", fixtureVolume, ext))
	}
	return linkFiles(src, dst, names)
}

// linkFiles hard-links the named files of src into dst (created if
// missing), copying those it cannot link.
func linkFiles(src, dst string, names []string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, name := range names {
		from, to := filepath.Join(src, name), filepath.Join(dst, name)
		if err := os.Link(from, to); err != nil {
			// another file system: copy
			if err := copyFile(from, to); err != nil {
				return err
			}
		}
	}
	return nil
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
