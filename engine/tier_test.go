package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/vif"
)

// dirTier is a remote tier kept as files of a directory: the engine's
// tests run the move protocol against it (package engine cannot import
// the S3 client); the S3 tier itself is tested in package remote and,
// end to end, in cmd/weedvol. Objects are written under a temporary name
// and renamed, so a key is either absent or whole, as in S3.
type dirTier struct{ dir string }

func (d dirTier) path(key string) string { return filepath.Join(d.dir, key) }

func (d dirTier) ReadAt(_ context.Context, key string, p []byte, off int64) (int, error) {
	f, err := os.Open(d.path(key))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	return f.ReadAt(p, off)
}

func (d dirTier) Upload(_ context.Context, key string, r io.Reader, size int64, progress func(int64)) error {
	f, err := os.Create(d.path(key) + ".part")
	if err != nil {
		return err
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n != size {
		err = fmt.Errorf("%d bytes of %d", n, size)
	}
	if err != nil {
		return err
	}
	progress(n)
	return os.Rename(d.path(key)+".part", d.path(key))
}

func (d dirTier) Download(_ context.Context, key string, w io.Writer, progress func(int64)) (int64, error) {
	f, err := os.Open(d.path(key))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	progress(n)
	return n, err
}

func (d dirTier) Stat(_ context.Context, key string) (int64, error) {
	st, err := os.Stat(d.path(key))
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

func (d dirTier) Delete(_ context.Context, key string) error {
	err := os.Remove(d.path(key))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// objects lists the keys the tier holds.
func (d dirTier) objects(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

const testBackend = "s3.default"

// tieredStore opens a store on data/index whose resolver knows tier as
// testBackend.
func tieredStore(t *testing.T, data, index string, tier dirTier) *Store {
	t.Helper()
	s := openTestStore(t, data, index)
	s.Tiers().Set(func(name string) (RemoteDat, bool) { return tier, name == testBackend })
	return s
}

func toRemote(t *testing.T, v *Volume, tier dirTier, keep bool) (*RemoteFile, error) {
	var last int64
	rf, err := v.MoveDatToRemote(context.Background(), TierOptions{Backend: testBackend, Remote: tier, Keep: keep,
		Progress: func(done, total int64) {
			if done < last || done > total {
				t.Errorf("progress %d of %d after %d", done, total, last)
			}
			last = done
		}})
	return rf, err
}

func fromRemote(v *Volume, tier dirTier, keep bool) error {
	return v.MoveDatFromRemote(context.Background(), TierOptions{Backend: testBackend, Remote: tier, Keep: keep})
}

// TestTierRoundTrip moves a volume to the tier and back, with and without
// keeping the source, and checks the files, the .vif's remote file, the
// reads in between and after a reopen (before the resolver is set, reads
// fail with ErrBackendUnknown rather than serve or hang).
func TestTierRoundTrip(t *testing.T) {
	for _, lay := range layouts {
		for _, keep := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/keep=%v", lay.name, keep), func(t *testing.T) {
				data, index, _ := newDirs(t, lay.idxDir)
				tier := dirTier{t.TempDir()}
				s := tieredStore(t, data, index, tier)
				if err := s.AllocateVolume(crashVol, AllocateOptions{ReplicaPlacement: rp(t, "001")}); err != nil {
					t.Fatal(err)
				}
				v := mustVolume(t, s, crashVol)
				c := newContent()
				fill(t, v, c, 1, 40, 0)
				size := v.Size()
				datPath := v.FileName(".dat")
				local, err := os.ReadFile(datPath)
				if err != nil {
					t.Fatal(err)
				}
				rf, err := toRemote(t, v, tier, keep)
				if err != nil {
					t.Fatal(err)
				}
				if rf.BackendType != "s3" || rf.BackendId != "default" || rf.Extension != ".dat" || rf.Offset != 0 || int64(rf.FileSize) != size || rf.ModifiedTime == 0 || rf.Key == "" {
					t.Fatalf("remote file %v", rf)
				}
				remote, err := os.ReadFile(tier.path(rf.Key))
				if err != nil || string(remote) != string(local[:size]) {
					t.Fatalf("remote object differs from the .dat (%v)", err)
				}
				if _, err := os.Stat(datPath); keep != (err == nil) {
					t.Fatalf("local .dat after the upload (keep %v): %v", keep, err)
				}
				info, _, err := vif.Load(v.FileName(".vif"))
				if err != nil || len(info.Files) != 1 || info.Files[0].Key != rf.Key {
					t.Fatalf(".vif %v: %v", info, err)
				}
				if !v.IsRemote() || !v.IsReadOnly() {
					t.Fatalf("remote %v read-only %v", v.IsRemote(), v.IsReadOnly())
				}
				if name, key := v.RemoteStorage(); name != testBackend || key != rf.Key {
					t.Fatalf("remote storage %s %s", name, key)
				}
				c.check(t, v)
				if _, err := toRemote(t, v, tier, keep); !errors.Is(err, ErrRemoteVolume) {
					t.Fatalf("second upload: %v", err)
				}
				if err := v.Compact(nil); !errors.Is(err, ErrRemoteVolume) {
					t.Fatalf("compact of a remote volume: %v", err)
				}
				if err := v.SetReadOnly(false, false); err != nil || !v.IsReadOnly() {
					t.Fatalf("mark writable: %v, read-only %v", err, v.IsReadOnly())
				}

				// reopen: not readable until the resolver is set
				s.Close()
				s = openTestStore(t, data, index)
				v = mustVolume(t, s, crashVol)
				if !v.IsRemote() || !v.IsReadOnly() || v.Size() != size || v.SuperBlock().ReplicaPlacement != rp(t, "001") {
					t.Fatalf("reopened: remote %v read-only %v size %d", v.IsRemote(), v.IsReadOnly(), v.Size())
				}
				for k := range c.live {
					var n needle.Needle
					if _, err := v.Read(&n, k, uint32(k), nil, ReadOptions{}); !errors.Is(err, ErrBackendUnknown) {
						t.Fatalf("read before the backends are known: %v", err)
					}
					break
				}
				s.Tiers().Set(func(name string) (RemoteDat, bool) { return tier, name == testBackend })
				c.check(t, v)

				if err := fromRemote(v, tier, keep); err != nil {
					t.Fatal(err)
				}
				if v.IsRemote() || v.IsReadOnly() {
					t.Fatalf("after download: remote %v read-only %v", v.IsRemote(), v.IsReadOnly())
				}
				if objs := tier.objects(t); keep != (len(objs) == 1) {
					t.Fatalf("tier holds %v after the download (keep %v)", objs, keep)
				}
				info, _, _ = vif.Load(v.FileName(".vif"))
				if len(info.Files) != 0 {
					t.Fatalf(".vif still names %v", info.Files)
				}
				if err := fromRemote(v, tier, keep); err == nil {
					t.Fatal("download of a local volume accepted")
				}
				c.check(t, v)
				takesWrite(t, v, c)
				s.Close()
				s = openTestStore(t, data, index)
				c.check(t, mustVolume(t, s, crashVol))
				noLeftovers(t, data, index)
			})
		}
	}
}
