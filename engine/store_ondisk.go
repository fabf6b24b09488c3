package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
	"github.com/weedvol/weedvol/wlog"
)

// placementOffset is where the replica placement byte sits in a super
// block (see superblock's layout).
const placementOffset = 1

// ConfigureUnmounted rewrites the replication of volume id, which must not
// be mounted, in byte 1 of its .dat (the super block's placement) and in
// its .vif (crash story in doc.go). The super block is the truth: it is
// rewritten and synced first, and Open brings a .vif that disagrees in
// line with it (reconcileReplication). A failure puts the old byte back.
// The .dat is opened without following a symbolic link and the .vif is
// replaced atomically, so a link planted at either name is never written
// through. The error texts are upstream's VolumeConfigure ones.
func (s *Store) ConfigureUnmounted(id uint32, replication string, rp superblock.ReplicaPlacement) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := (*s.volumes.Load())[id]; ok {
		return fmt.Errorf("volume %d is mounted", id)
	}
	dir, base, ok := s.findOnDisk(id)
	if !ok {
		return fmt.Errorf("volume %d not found on disk", id)
	}
	vifPath := filepath.Join(dir, base+".vif")
	info, _, err := vif.Load(vifPath)
	if err != nil {
		return fmt.Errorf("volume %d failed to load vif: %v", id, err)
	}
	f, err := openNoFollow(filepath.Join(dir, base+".dat"), os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("volume %d failed to open %s: %v", id, base+".dat", err)
	}
	defer f.Close()
	head := make([]byte, superblock.Size)
	if _, err := f.ReadAt(head, 0); err != nil {
		return fmt.Errorf("volume %d failed to parse superblock: %v", id, err)
	}
	if !needle.Version(head[0]).Supported() {
		return fmt.Errorf("volume %d failed to parse superblock: unsupported version %d", id, head[0])
	}
	old := head[placementOffset]
	if err := writePlacement(f, rp.Byte()); err != nil {
		return fmt.Errorf("volume %d failed to write superblock: %w", id, errors.Join(err, writePlacement(f, old)))
	}
	if err := reached(stepConfigureDat); err != nil {
		return fmt.Errorf("volume %d failed to write superblock: %w", id, errors.Join(err, writePlacement(f, old)))
	}
	info.Replication = replication
	err = vif.Save(vifPath, info)
	if err == nil {
		err = reached(stepConfigureVif)
	}
	if err != nil {
		// a .vif that did get replaced is brought back in line by Open
		return fmt.Errorf("volume %d failed to save vif: %w", id, errors.Join(err, writePlacement(f, old)))
	}
	return nil
}

// writePlacement writes the placement byte of the super block of f and
// syncs it.
func writePlacement(f *os.File, b byte) error {
	if _, err := f.WriteAt([]byte{b}, placementOffset); err != nil {
		return err
	}
	return f.Sync()
}

// reconcileReplication, at Open, rewrites a .vif whose replication
// disagrees with the super block's: a replication change
// (ConfigureUnmounted) that a crash or a failure stopped between the two
// files. A .vif without a replication (upstream's older ones) is left
// alone. Called before the volume is shared.
func (v *Volume) reconcileReplication() {
	if v.info.Replication == "" {
		return
	}
	if rp, err := superblock.ParsePlacement(v.info.Replication); err == nil && rp == v.super.ReplicaPlacement {
		return
	}
	was := v.info.Replication
	v.info.Replication = v.super.ReplicaPlacement.String()
	if err := vif.Save(v.FileName(".vif"), v.info); err != nil {
		wlog.Warningf("volume %d: save %s: %v", v.ID, v.FileName(".vif"), err)
		return
	}
	v.logf("volume %d: .vif replication %q brought in line with the super block's %q", v.ID, was, v.info.Replication)
}

// findOnDisk locates the .dat of volume id in the store's directories.
// Called with mu held.
func (s *Store) findOnDisk(id uint32) (dir, base string, ok bool) {
	for _, l := range s.locations {
		found, err := scanVolumes(l.Dir, nil)
		if err != nil {
			continue
		}
		for _, f := range found {
			if f.id == id {
				return l.Dir, BaseName(f.collection, f.id), true
			}
		}
	}
	return "", "", false
}
