package engine

import (
	"errors"
	"os"
	"testing"
)

// TestCrashPointsTier stops each tier move at every step of its crash
// story (doc.go), as the other crash-point tests do: a crash (the data,
// index and tier directories copied as the step left them) must open with
// every needle readable, from the local .dat before the commit point and
// from the tier after it (or the other way round for a download); a
// failure of the step must leave every needle readable in the same process
// and after a reopen.
func TestCrashPointsTier(t *testing.T) {
	type move struct {
		step   string
		upload bool
		// remoteAfter: where the .dat is served from after a crash there
		remoteAfter bool
	}
	moves := []move{
		{stepTierUploaded, true, false},
		{stepTierVif, true, true},
		{stepTierLocalRemoved, true, true},
		{stepTierDownloaded, false, true},
		{stepTierDatRenamed, false, true},
		{stepTierVifLocal, false, false},
		{stepTierRemoteDeleted, false, false},
	}
	for _, lay := range layouts {
		for _, m := range moves {
			// prepare makes a volume with content, uploaded already when
			// the move is a download.
			prepare := func(t *testing.T) (*Store, *content, dirTier, []string) {
				data, index, dirs := newDirs(t, lay.idxDir)
				tier := dirTier{t.TempDir()}
				s := tieredStore(t, data, index, tier)
				if err := s.AllocateVolume(crashVol, AllocateOptions{}); err != nil {
					t.Fatal(err)
				}
				c := newContent()
				fill(t, mustVolume(t, s, crashVol), c, 1, 30, 0)
				if !m.upload {
					if _, err := toRemote(t, mustVolume(t, s, crashVol), tier, false); err != nil {
						t.Fatal(err)
					}
				}
				return s, c, tier, dirs
			}
			run := func(t *testing.T, s *Store, tier dirTier) error {
				v := mustVolume(t, s, crashVol)
				if m.upload {
					_, err := toRemote(t, v, tier, false)
					return err
				}
				return fromRemote(v, tier, false)
			}
			t.Run(lay.name+"/crash/"+m.step, func(t *testing.T) {
				s, c, tier, dirs := prepare(t)
				h := crashAt(t, m.step, append(append([]string{}, dirs...), tier.dir)...)
				if err := run(t, s, tier); err != nil {
					t.Fatal(err)
				}
				h.done(t)
				s.Close()
				snap := h.snap
				data, index := dirsOf(snap[:len(snap)-1])
				s2 := tieredStore(t, data, index, dirTier{snap[len(snap)-1]})
				v := mustVolume(t, s2, crashVol)
				if v.IsRemote() != m.remoteAfter {
					t.Fatalf("remote %v after a crash at %q, want %v", v.IsRemote(), m.step, m.remoteAfter)
				}
				c.check(t, v)
				if !m.remoteAfter {
					if err := v.SetReadOnly(false, true); err != nil {
						t.Fatal(err)
					}
					takesWrite(t, v, c)
					return
				}
				// and the move can be finished from there
				if err := fromRemote(v, dirTier{snap[len(snap)-1]}, false); err != nil {
					t.Fatal(err)
				}
				c.check(t, v)
			})
			t.Run(lay.name+"/fail/"+m.step, func(t *testing.T) {
				s, c, tier, dirs := prepare(t)
				h := failAt(t, m.step)
				err := run(t, s, tier)
				h.done(t)
				if err == nil && m.step != stepTierLocalRemoved {
					t.Fatalf("failure at %q not reported", m.step)
				}
				if err != nil && !errors.Is(err, errInjected) && m.step != stepTierVif && m.step != stepTierVifLocal {
					t.Fatalf("failure at %q: %v", m.step, err)
				}
				c.check(t, mustVolume(t, s, crashVol))
				s.Close()
				data, index := dirsOf(dirs)
				s2 := tieredStore(t, data, index, tier)
				c.check(t, mustVolume(t, s2, crashVol))
				if m.step == stepTierUploaded {
					if objs := tier.objects(t); len(objs) != 0 {
						t.Fatalf("failed upload left %v on the tier", objs)
					}
				}
				if m.step == stepTierDownloaded {
					v := mustVolume(t, s2, crashVol)
					if _, err := os.Stat(v.FileName(".dat")); !errors.Is(err, os.ErrNotExist) {
						t.Fatalf("failed download left a .dat: %v", err)
					}
					noLeftovers(t, dirs...)
				}
			})
		}
	}
}
