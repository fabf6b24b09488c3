package engine

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/engine/superblock"
	"github.com/weedvol/weedvol/engine/vif"
)

// placementOffset is where the replica placement byte sits in a super
// block (see superblock's layout).
const placementOffset = 1

// ConfigureUnmounted rewrites the replication of volume id, which must not
// be mounted, in its .vif and in byte 1 of its .dat (the super block's
// placement). The .dat is opened without following a symbolic link and the
// .vif is replaced atomically, so a link planted at either name is never
// written through. The error texts are upstream's VolumeConfigure ones.
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
	info.Replication = replication
	if err := vif.Save(vifPath, info); err != nil {
		return fmt.Errorf("volume %d failed to save vif: %v", id, err)
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
	if _, err := f.WriteAt([]byte{rp.Byte()}, placementOffset); err != nil {
		return fmt.Errorf("volume %d failed to write superblock: %v", id, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("volume %d failed to sync superblock: %v", id, err)
	}
	return nil
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
