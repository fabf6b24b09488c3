package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/weedvol/weedvol/atomicfile"
	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
	"github.com/weedvol/weedvol/mmapidx"
)

// createIfMissing creates the volume's files (createFiles) unless its .dat
// exists with content. An empty .dat counts as missing: it is what a
// creation that did not get to write the super block left.
func (v *Volume) createIfMissing(cfg VolumeConfig) error {
	st, err := os.Lstat(v.FileName(".dat"))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("volume %d: %w", cfg.ID, err)
	case st.Mode().IsRegular() && st.Size() == 0:
	default:
		return nil // an existing volume, or something openDat refuses
	}
	return v.createFiles(cfg)
}

// createFiles writes a new volume's files (crash story in doc.go): an
// empty .idx, the .vif, then the .dat under its temporary name, renamed
// into place last. A volume is found by its .dat, so until that rename
// nothing of it is mounted, and whatever an earlier volume of the same id
// left (an .idx, a .vif with its read-only mark, a .wvx) is replaced, not
// inherited. On failure the files written are removed.
func (v *Volume) createFiles(cfg VolumeConfig) (err error) {
	ver := cfg.Version
	if ver == 0 {
		ver = needle.CurrentVersion
	}
	offsetSize := cfg.OffsetSize
	if offsetSize == 0 {
		offsetSize = idx.Offset4
	}
	if _, err := idx.FormatFor(offsetSize); err != nil {
		return fmt.Errorf("volume %d: %w", cfg.ID, err)
	}
	sb := superblock.SuperBlock{Version: ver, ReplicaPlacement: cfg.ReplicaPlacement, TTL: cfg.TTL}
	head, err := sb.Encode()
	if err != nil {
		return err
	}
	dat, idxPath, vifPath := v.FileName(".dat"), v.FileName(".idx"), v.FileName(".vif")
	tmp := atomicfile.TempName(dat)
	renamed := false
	defer func() {
		if err == nil {
			return
		}
		for _, p := range []string{tmp, idxPath, vifPath} {
			os.Remove(p)
		}
		if renamed {
			os.Remove(dat)
		}
		err = fmt.Errorf("volume %d: create: %w", cfg.ID, err)
	}()

	mmapidx.Remove(idxPath) // a stale snapshot of an earlier volume's index
	f, err := createFresh(idxPath)
	if err != nil {
		return err
	}
	if err := errors.Join(f.Close(), reached(stepCreateIdx)); err != nil {
		return err
	}
	info := &vif.Info{Version: uint32(ver), BytesOffset: uint32(offsetSize), Replication: cfg.ReplicaPlacement.String()}
	if err := vif.Save(vifPath, info); err != nil {
		return err
	}
	if err := reached(stepCreateVif); err != nil {
		return err
	}
	if f, err = createFresh(tmp); err != nil {
		return err
	}
	if cfg.Preallocate > 0 {
		preallocate(f, cfg.Preallocate)
	}
	_, err = f.WriteAt(head, 0)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return err
	}
	if err := reached(stepCreateDat); err != nil {
		return err
	}
	if v.idxDir != v.dir {
		if err := atomicfile.SyncDir(v.idxDir); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, dat); err != nil {
		return err
	}
	renamed = true
	if err := atomicfile.SyncDir(v.dir); err != nil {
		return err
	}
	return reached(stepCreated)
}

// Destroy closes the volume and removes its files (crash story in
// doc.go): the .dat first, which unmakes the volume once its directory is
// synced, then the rest. When the .dat cannot be removed, nothing else is.
func (v *Volume) Destroy() error {
	if rd := v.current().remote.Load(); rd != nil {
		// a remote volume: its object goes first, as upstream (a failed
		// delete keeps the volume whole), then its .vif, the commit
		if be, rerr := rd.tiers.Resolve(rd.backend); rerr == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			derr := be.Delete(ctx, rd.key)
			cancel()
			if derr != nil {
				return fmt.Errorf("volume %d remote object %s/%s delete failed: %w", v.ID, rd.backend, rd.key, derr)
			}
		}
		err := v.Close()
		if rerr := os.Remove(v.FileName(".vif")); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			return errors.Join(err, rerr)
		}
		if serr := atomicfile.SyncDir(v.dir); serr != nil {
			return errors.Join(err, serr)
		}
	}
	err := v.Close()
	if rerr := os.Remove(v.FileName(".dat")); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return errors.Join(err, rerr)
	}
	if serr := atomicfile.SyncDir(v.dir); serr != nil {
		return errors.Join(err, serr)
	}
	if serr := reached(stepDestroyDat); serr != nil {
		return errors.Join(err, serr)
	}
	idxPath := v.FileName(".idx")
	rest := []string{idxPath, idxPath + ".precompact", v.FileName(".cpx"), v.FileName(".dat") + ".precompact",
		atomicfile.TempName(v.FileName(".dat"))}
	exts := []string{".cpd", ".cpc", ".note"}
	if !v.sharesVifWithEc() {
		exts = append(exts, ".vif")
	}
	for _, ext := range exts {
		rest = append(rest, v.FileName(ext))
	}
	rest = append(rest, atomicfile.TempName(v.FileName(".vif")))
	for _, p := range rest {
		if rerr := os.Remove(p); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
	}
	err = errors.Join(err, mmapidx.Remove(idxPath), v.syncDirs(), reached(stepDestroyRest))
	return err
}

// sharesVifWithEc reports whether an EC volume of the same id keeps its
// layout in this volume's .vif (an .ecx beside the .dat or the .idx), as
// after VolumeEcShardsGenerate: Destroy then leaves the .vif, as upstream.
func (v *Volume) sharesVifWithEc() bool {
	for _, dir := range []string{v.idxDir, v.dir} {
		if _, err := os.Lstat(filepath.Join(dir, BaseName(v.Collection, v.ID)+".ecx")); err == nil {
			return true
		}
	}
	return false
}

// syncDirs fsyncs the volume's data directory and, when it is another
// one, its index directory.
func (v *Volume) syncDirs() error {
	err := atomicfile.SyncDir(v.dir)
	if v.idxDir != v.dir {
		err = errors.Join(err, atomicfile.SyncDir(v.idxDir))
	}
	return err
}
