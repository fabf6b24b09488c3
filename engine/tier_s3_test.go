package engine

import (
	"bytes"
	"context"
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/internal/s3test"
	"github.com/weedvol/weedvol/remote"
)

// basePortTierS3 is the weed mini of TestTierS3 (ports base..base+4).
const basePortTierS3 = 9800

// TestTierS3 moves a volume to a real S3 endpoint (the pinned weed mini)
// and back through package remote's client, with a reader loop checking
// every needle byte for byte during both moves, and a reopen while the
// volume is remote: *remote.S3 is the engine's RemoteDat as it is.
func TestTierS3(t *testing.T) {
	srv := s3test.Start(t, basePortTierS3)
	srv.MakeBucket(t, "tier")
	s3, err := remote.NewS3(remote.S3Config{Endpoint: srv.Endpoint, Region: s3test.Region,
		AccessKey: s3test.AccessKey, SecretKey: s3test.SecretKey, Bucket: "tier", ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	var tier RemoteDat = s3
	resolve := func(name string) (RemoteDat, bool) { return tier, name == testBackend }

	data := t.TempDir()
	s := openTestStore(t, data, data)
	s.Tiers().Set(resolve)
	if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
		t.Fatal(err)
	}
	v := mustVolume(t, s, crashVol)
	c := newContent()
	fill(t, v, c, 1, 60, 0)
	c.put(t, v, 1000, bytes.Repeat([]byte("large needle;"), 300_000)) // a multipart upload
	size := v.Size()

	// readers read every live needle over and over until stop, which
	// returns the count of reads
	readers := func(v *Volume) (stop func() int64) {
		var wg sync.WaitGroup
		var rounds atomic.Int64
		done := make(chan struct{})
		for i := 0; i < 2; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					for k, want := range c.live {
						select {
						case <-done:
							return
						default:
						}
						var n needle.Needle
						_, err := v.Read(&n, k, uint32(k), nil, ReadOptions{})
						if err != nil || !bytes.Equal(n.Data, want) {
							t.Errorf("needle %d during a move: %d bytes, %v", k, len(n.Data), err)
							return
						}
						rounds.Add(1)
					}
				}
			}()
		}
		return func() int64 { close(done); wg.Wait(); return rounds.Load() }
	}

	stop := readers(v)
	var progressed atomic.Int64
	rf, err := v.MoveDatToRemote(context.Background(), TierOptions{Backend: testBackend, Remote: tier,
		Progress: func(done, total int64) { progressed.Store(done) }})
	n := stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("upload: %d needle reads, progress %d of %d", n, progressed.Load(), size)
	if progressed.Load() != size {
		t.Fatalf("progress ended at %d of %d", progressed.Load(), size)
	}
	if got, err := s3.Stat(context.Background(), rf.Key); err != nil || got != size {
		t.Fatalf("remote object: %d bytes, %v; want %d", got, err, size)
	}
	if _, err := os.Stat(v.FileName(".dat")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("local .dat after the upload: %v", err)
	}
	c.check(t, v)

	s.Close()
	s = openTestStore(t, data, data)
	s.Tiers().Set(resolve)
	v = mustVolume(t, s, crashVol)
	if !v.IsRemote() {
		t.Fatal("reopened volume is not remote")
	}
	c.check(t, v)

	stop = readers(v)
	err = v.MoveDatFromRemote(context.Background(), TierOptions{Backend: testBackend, Remote: tier})
	n = stop()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("download: %d needle reads", n)
	if _, err := s3.Stat(context.Background(), rf.Key); !errors.Is(err, remote.ErrNotFound) {
		t.Fatalf("remote object after the download: %v", err)
	}
	c.check(t, v)
	takesWrite(t, v, c)
}
