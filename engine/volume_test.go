package engine

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/ringtest"
	"github.com/weedvol/weedvol/iouring"
)

// engines returns every I/O engine available here, so volume tests run on
// each.
func engines(t *testing.T) map[string]iouring.Engine {
	out := map[string]iouring.Engine{"sync": iouring.NewSync()}
	if e, err := iouring.New("uring"); err == nil {
		out["uring"] = e
		t.Cleanup(func() { e.Close() })
	} else {
		ringtest.Unavailable(t, err)
	}
	return out
}

func newVolume(t *testing.T, dir string, io iouring.Engine, ver needle.Version, width int) *Volume {
	t.Helper()
	v, err := OpenVolume(VolumeConfig{ID: 7, Collection: "c", Dir: dir, Create: true, Version: ver, OffsetSize: width, IO: io,
		Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func reopen(t *testing.T, dir string, io iouring.Engine) *Volume {
	t.Helper()
	v, err := OpenVolume(VolumeConfig{ID: 7, Collection: "c", Dir: dir, IO: io, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func mustWrite(t *testing.T, v *Volume, key uint64, cookie uint32, data []byte) WriteResult {
	t.Helper()
	n := needle.Needle{ID: key, Cookie: cookie, Data: data}
	res, err := v.Write(&n, WriteOptions{})
	if err != nil {
		t.Fatalf("write %x: %v", key, err)
	}
	return res
}

func mustRead(t *testing.T, v *Volume, key uint64, cookie uint32) []byte {
	t.Helper()
	var n needle.Needle
	buf, err := v.Read(&n, key, cookie, nil, ReadOptions{})
	if err != nil {
		t.Fatalf("read %x: %v", key, err)
	}
	_ = buf
	return append([]byte(nil), n.Data...)
}

func TestVolumeLifecycle(t *testing.T) {
	for name, io := range engines(t) {
		for _, ver := range []needle.Version{needle.Version1, needle.Version2, needle.Version3} {
			for _, width := range []int{4, 5} {
				t.Run(fmt.Sprintf("%s/v%d/offset%d", name, ver, width), func(t *testing.T) {
					dir := t.TempDir()
					v := newVolume(t, dir, io, ver, width)
					for k := uint64(1); k <= 100; k++ {
						mustWrite(t, v, k, uint32(k), bytes.Repeat([]byte{byte(k)}, int(k*13)))
					}
					if _, err := v.Write(&needle.Needle{ID: 5, Cookie: 999, Data: []byte("x")}, WriteOptions{CheckCookie: true}); !errors.Is(err, ErrCookieMismatch) {
						t.Fatalf("overwrite with wrong cookie: %v", err)
					}
					mustWrite(t, v, 6, 6, []byte("replaced"))
					if res := mustWrite(t, v, 6, 6, []byte("replaced")); !res.Unchanged {
						t.Fatal("identical rewrite not detected")
					}
					if size, err := v.Delete(9, 9, WriteOptions{}); err != nil || size <= 0 {
						t.Fatalf("delete: %d %v", size, err)
					}
					if size, err := v.Delete(9, 9, WriteOptions{}); err != nil || size != 0 {
						t.Fatalf("second delete: %d %v", size, err)
					}
					var n needle.Needle
					if _, err := v.Read(&n, 9, 9, nil, ReadOptions{}); !errors.Is(err, ErrDeleted) {
						t.Fatalf("read deleted: %v", err)
					}
					if _, err := v.Read(&n, 10, 11, nil, ReadOptions{}); !errors.Is(err, ErrCookieMismatch) {
						t.Fatalf("read wrong cookie: %v", err)
					}
					if _, err := v.Read(&n, 1000, 1, nil, ReadOptions{}); !errors.Is(err, ErrNotFound) {
						t.Fatalf("read missing: %v", err)
					}
					if ver != needle.Version1 {
						if _, err := v.Read(&n, 9, 9, nil, ReadOptions{ReadDeleted: true}); err != nil || len(n.Data) != 9*13 {
							t.Fatalf("readDeleted: %v", err)
						}
					}
					st := v.Stats()
					if st.FileCount != 101 || st.DeleteCount != 2 || st.MaxFileKey != 100 {
						t.Fatalf("stats %+v", st)
					}
					size := v.Size()
					if err := v.Close(); err != nil {
						t.Fatal(err)
					}
					v = reopen(t, dir, io)
					defer v.Close()
					if v.Size() != size || v.IsReadOnly() || v.OffsetSize() != width || v.Version() != ver {
						t.Fatalf("reopened: size %d want %d, ro %v, width %d", v.Size(), size, v.IsReadOnly(), v.OffsetSize())
					}
					if got := mustRead(t, v, 6, 6); string(got) != "replaced" {
						t.Fatalf("after reopen: %q", got)
					}
					if got := mustRead(t, v, 100, 100); len(got) != 1300 {
						t.Fatalf("after reopen: %d bytes", len(got))
					}
					if st2 := v.Stats(); st2 != st {
						t.Fatalf("stats after reopen %+v, before %+v", st2, st)
					}
				})
			}
		}
	}
}

func TestReadOnly(t *testing.T) {
	dir := t.TempDir()
	v := newVolume(t, dir, nil, needle.Version3, 4)
	mustWrite(t, v, 1, 1, []byte("a"))
	if err := v.SetReadOnly(true, true); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Write(&needle.Needle{ID: 2, Cookie: 2, Data: []byte("b")}, WriteOptions{}); !errors.Is(err, ErrReadOnly) {
		t.Fatalf("write to read-only: %v", err)
	}
	v.Close()
	v = reopen(t, dir, nil)
	defer v.Close()
	if !v.IsReadOnly() {
		t.Fatal("read-only mark not persisted in .vif")
	}
	if got := mustRead(t, v, 1, 1); string(got) != "a" {
		t.Fatal(got)
	}
}

// TestGroupCommitConcurrentWriters runs many writers and readers at once
// (run with -race) and checks every acknowledged write reads back, also
// after a reopen.
// writeConcurrently runs writers goroutines, each calling write for its
// per keys in turn (key = w*per + i + 1), stops a writer at its first error
// and fails the test with it once all are done.
func writeConcurrently(t *testing.T, writers, per int, write func(i int, key uint64) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if err := write(i, uint64(w*per+i+1)); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestGroupCommitConcurrentWriters(t *testing.T) {
	for name, io := range engines(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			v := newVolume(t, dir, io, needle.Version3, 4)
			const writers, per = 16, 200
			writeConcurrently(t, writers, per, func(i int, key uint64) error {
				n := needle.Needle{ID: key, Cookie: uint32(key), Data: bytes.Repeat([]byte{byte(key)}, int(key%977))}
				if _, err := v.Write(&n, WriteOptions{Fsync: i%50 == 0}); err != nil {
					return err
				}
				var r needle.Needle
				if _, err := v.Read(&r, key, uint32(key), nil, ReadOptions{}); err != nil {
					return fmt.Errorf("read own write %d: %w", key, err)
				}
				return nil
			})
			v.Close()
			v = reopen(t, dir, io)
			defer v.Close()
			for key := uint64(1); key <= writers*per; key++ {
				if got := mustRead(t, v, key, uint32(key)); len(got) != int(key%977) {
					t.Fatalf("key %d: %d bytes", key, len(got))
				}
			}
		})
	}
}

// TestSplitAndWholeRecordsInOneBatch mixes writes below and above
// splitWriteMin (records encoded whole and around their data) from
// concurrent writers, so batches interleave both shapes, and checks every
// record reads back with its data and its v3 append timestamp.
func TestSplitAndWholeRecordsInOneBatch(t *testing.T) {
	sizes := []int{1, 1 << 10, splitWriteMin - 1, splitWriteMin, splitWriteMin + 7, 200 << 10}
	for name, io := range engines(t) {
		for _, ver := range []needle.Version{needle.Version2, needle.Version3} {
			t.Run(fmt.Sprintf("%s/v%d", name, ver), func(t *testing.T) {
				dir := t.TempDir()
				v := newVolume(t, dir, io, ver, 4)
				const writers, per = 8, 12
				appendAt := make([]uint64, writers*per+1)
				writeConcurrently(t, writers, per, func(_ int, key uint64) error {
					n := needle.Needle{ID: key, Cookie: uint32(key), Data: bytes.Repeat([]byte{byte(key)}, sizes[int(key)%len(sizes)])}
					n.SetName([]byte(fmt.Sprintf("f%d.bin", key)))
					if _, err := v.Write(&n, WriteOptions{}); err != nil {
						return err
					}
					appendAt[key] = n.AppendAtNs
					return nil
				})
				v.Close()
				v = reopen(t, dir, io)
				defer v.Close()
				for key := uint64(1); key <= writers*per; key++ {
					var n needle.Needle
					if _, err := v.Read(&n, key, uint32(key), nil, ReadOptions{}); err != nil {
						t.Fatalf("key %d: %v", key, err)
					}
					want := bytes.Repeat([]byte{byte(key)}, sizes[int(key)%len(sizes)])
					if !bytes.Equal(n.Data, want) || string(n.Name) != fmt.Sprintf("f%d.bin", key) {
						t.Fatalf("key %d: %d bytes, name %q", key, len(n.Data), n.Name)
					}
					if ver == needle.Version3 && (n.AppendAtNs == 0 || n.AppendAtNs != appendAt[key]) {
						t.Fatalf("key %d: append ns on disk %d, reported %d", key, n.AppendAtNs, appendAt[key])
					}
				}
			})
		}
	}
}

// TestTornTailRepair simulates crashes at each step of a write.
func TestTornTailRepair(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, dir string, v *Volume)
		want    []uint64 // keys readable after reopen
		missing []uint64
		damaged bool
	}{
		{
			name: "partial dat record",
			damage: func(t *testing.T, dir string, v *Volume) {
				// a record whose write was cut: header and half a body
				n := needle.Needle{ID: 50, Cookie: 50, Data: bytes.Repeat([]byte("z"), 1000)}
				n.Checksum = needle.NewCRC(n.Data)
				rec := n.Encode(nil, needle.Version3)
				appendFile(t, v.FileName(".dat"), rec[:500])
			},
			want: []uint64{1, 2, 3}, missing: []uint64{50},
		},
		{
			name: "dat record without idx row",
			damage: func(t *testing.T, dir string, v *Volume) {
				n := needle.Needle{ID: 60, Cookie: 60, Data: []byte("unindexed but complete"), AppendAtNs: 1 << 62}
				n.Checksum = needle.NewCRC(n.Data)
				appendFile(t, v.FileName(".dat"), n.Encode(nil, needle.Version3))
			},
			want: []uint64{1, 2, 3, 60},
		},
		{
			// a delete killed between its .dat write and its .idx row: the
			// tombstone must not come back as a live empty needle
			name: "tombstone without idx row",
			damage: func(t *testing.T, dir string, v *Volume) {
				n := needle.Needle{ID: 2, Cookie: 2, AppendAtNs: 1 << 62}
				n.Checksum = needle.NewCRC(nil)
				appendFile(t, v.FileName(".dat"), n.Encode(nil, needle.Version3))
			},
			want: []uint64{1, 3}, missing: []uint64{2},
		},
		{
			// no delete is appended for an absent needle: an empty record
			// of one is an empty upload
			name: "empty record of a needle never written, without idx row",
			damage: func(t *testing.T, dir string, v *Volume) {
				n := needle.Needle{ID: 65, Cookie: 65, AppendAtNs: 1 << 62}
				n.Checksum = needle.NewCRC(nil)
				appendFile(t, v.FileName(".dat"), n.Encode(nil, needle.Version3))
			},
			want: []uint64{1, 2, 3, 65},
		},
		{
			name: "write, delete and a write after it, none indexed",
			damage: func(t *testing.T, dir string, v *Volume) {
				w := needle.Needle{ID: 66, Cookie: 66, Data: []byte("written then deleted"), AppendAtNs: 1 << 62}
				w.Checksum = needle.NewCRC(w.Data)
				appendFile(t, v.FileName(".dat"), w.Encode(nil, needle.Version3))
				n := needle.Needle{ID: 66, Cookie: 66, AppendAtNs: 1<<62 + 1}
				n.Checksum = needle.NewCRC(nil)
				appendFile(t, v.FileName(".dat"), n.Encode(nil, needle.Version3))
				m := needle.Needle{ID: 67, Cookie: 67, Data: []byte("after the tombstone"), AppendAtNs: 1<<62 + 2}
				m.Checksum = needle.NewCRC(m.Data)
				appendFile(t, v.FileName(".dat"), m.Encode(nil, needle.Version3))
			},
			want: []uint64{1, 2, 3, 67}, missing: []uint64{66},
		},
		{
			name: "partial idx row",
			damage: func(t *testing.T, dir string, v *Volume) {
				appendFile(t, v.FileName(".idx"), []byte{1, 2, 3, 4, 5})
			},
			want: []uint64{1, 2, 3},
		},
		{
			name: "idx row past dat end",
			damage: func(t *testing.T, dir string, v *Volume) {
				f, _ := idx.FormatFor(4)
				appendFile(t, v.FileName(".idx"), f.AppendEntry(nil, idx.Entry{Key: 70, Offset: v.Size(), Size: 100}))
			},
			want: []uint64{1, 2, 3}, missing: []uint64{70},
		},
		{
			name: "garbage in the middle of the tail",
			damage: func(t *testing.T, dir string, v *Volume) {
				n := needle.Needle{ID: 80, Cookie: 80, Data: []byte("will be damaged"), AppendAtNs: 1 << 62}
				n.Checksum = needle.NewCRC(n.Data) + 1
				appendFile(t, v.FileName(".dat"), n.Encode(nil, needle.Version3))
				m := needle.Needle{ID: 81, Cookie: 81, Data: []byte("after"), AppendAtNs: 1<<62 + 1}
				m.Checksum = needle.NewCRC(m.Data)
				appendFile(t, v.FileName(".dat"), m.Encode(nil, needle.Version3))
			},
			want: []uint64{1, 2, 3}, missing: []uint64{80, 81}, damaged: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			v := newVolume(t, dir, nil, needle.Version3, 4)
			for k := uint64(1); k <= 3; k++ {
				mustWrite(t, v, k, uint32(k), []byte(fmt.Sprintf("needle %d", k)))
			}
			v.Close()
			tc.damage(t, dir, v)
			v = reopen(t, dir, nil)
			defer v.Close()
			if v.IsDamaged() != tc.damaged {
				t.Fatalf("damaged = %v", v.IsDamaged())
			}
			for _, k := range tc.want {
				got := mustRead(t, v, k, uint32(k))
				if want := fmt.Sprintf("needle %d", k); k <= 3 && string(got) != want {
					t.Fatalf("key %d reads %q, want %q", k, got, want)
				}
			}
			for _, k := range tc.missing {
				var n needle.Needle
				if _, err := v.Read(&n, k, uint32(k), nil, ReadOptions{}); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrDeleted) {
					t.Fatalf("key %d: %v", k, err)
				}
			}
			if !tc.damaged {
				// the volume takes writes again and they survive a reopen
				mustWrite(t, v, 90, 90, []byte("after repair"))
				v.Close()
				v = reopen(t, dir, nil)
				if got := mustRead(t, v, 90, 90); string(got) != "after repair" {
					t.Fatal(string(got))
				}
				st, _ := os.Stat(v.FileName(".dat"))
				if st.Size() != v.Size() {
					t.Fatalf(".dat is %d bytes, volume says %d", st.Size(), v.Size())
				}
			}
		})
	}
}

func appendFile(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func TestStoreAllocateMountDelete(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	s, err := OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: d1, MaxVolumes: 1}, {Dir: d2, MaxVolumes: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	for id := uint32(1); id <= 3; id++ {
		if err := s.AllocateVolume(id, AllocateOptions{Collection: "pics"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AllocateVolume(4, AllocateOptions{}); !errors.Is(err, ErrNoFreeSlot) {
		t.Fatalf("fourth volume: %v", err)
	}
	if err := s.AllocateVolume(1, AllocateOptions{}); !errors.Is(err, ErrVolumeExists) {
		t.Fatalf("duplicate: %v", err)
	}
	v, _ := s.Volume(2)
	mustWrite(t, v, 1, 1, []byte("kept"))
	if err := s.UnmountVolume(2); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Volume(2); ok {
		t.Fatal("unmounted volume still served")
	}
	if err := s.MountVolume(2); err != nil {
		t.Fatal(err)
	}
	v, _ = s.Volume(2)
	if got := mustRead(t, v, 1, 1); string(got) != "kept" {
		t.Fatal(got)
	}
	if err := s.DeleteVolume(3); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenStore(StoreConfig{Locations: []LocationConfig{{Dir: d1, MaxVolumes: 1}, {Dir: d2, MaxVolumes: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := len(s.Volumes()); got != 2 {
		t.Fatalf("%d volumes after reopen", got)
	}
	if v, ok := s.Volume(1); !ok || v.Collection != "pics" {
		t.Fatal("volume 1 lost its collection")
	}
}
