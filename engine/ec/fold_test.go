package ec

import (
	"context"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"testing"

	uec "github.com/seaweedfs/seaweedfs/weed/storage/erasure_coding"
	utypes "github.com/seaweedfs/seaweedfs/weed/storage/types"
)

func TestFoldJournalMatchesUpstream(t *testing.T) {
	dir := t.TempDir()
	v := genVolume(t, dir, "v", 4<<20, utypes.OffsetSize, 91)
	encodeTest(t, v, 10, 4)
	keys := sortedLive(v)
	var j []byte
	for _, k := range []uint64{keys[1], keys[3], 1 << 62, keys[1]} {
		j = binary.BigEndian.AppendUint64(j, k)
	}
	up := v.base + "u"
	linkOrCopy(t, v.base+".ecx", v.base+".ecx.orig")
	os.WriteFile(up+".ecx", mustRead(t, v.base+".ecx"), 0o644)
	os.WriteFile(up+".ecj", j, 0o644)
	os.WriteFile(v.base+".ecj", j, 0o644)
	if err := FoldJournal(v.base+".ecx", v.base+".ecj", utypes.OffsetSize); err != nil {
		t.Fatal(err)
	}
	if err := uec.RebuildEcxFile(up); err != nil {
		t.Fatal(err)
	}
	sameFile(t, v.base+".ecx", up+".ecx")
	if _, err := os.Stat(v.base + ".ecj"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("journal left: %v", err)
	}
	if err := FoldJournal(v.base+".ecx", v.base+".ecj", utypes.OffsetSize); err != nil {
		t.Fatalf("no journal: %v", err)
	}
	os.WriteFile(v.base+".ecj", j[:12], 0o644)
	if err := FoldJournal(v.base+".ecx", v.base+".ecj", utypes.OffsetSize); !errors.Is(err, ErrCorruptIndex) {
		t.Fatalf("torn journal: %v", err)
	}

	// Through an open volume.
	os.WriteFile(v.base+".ecx", mustRead(t, v.base+".ecx.orig"), 0o644)
	os.Remove(v.base + ".ecj")
	res := EncodeResult{Layout: Layout{DataShards: 10, ParityShards: 4, BlockSize: UniformBlockSize(v.datSize, 10), DatSize: v.datSize}}
	vol := openTestVolume(t, v, res, seqIDs(14)...)
	if _, err := vol.Delete(keys[2]); err != nil {
		t.Fatal(err)
	}
	if err := vol.FoldJournal(); err != nil {
		t.Fatal(err)
	}
	if ids, err := ReadJournal(v.base + ".ecj"); err != nil || len(ids) != 0 {
		t.Fatalf("journal after fold %v %v", ids, err)
	}
	if _, err := vol.Delete(keys[4]); err != nil {
		t.Fatal(err)
	}
	if ids, _ := ReadJournal(v.base + ".ecj"); len(ids) != 1 || ids[0] != keys[4] {
		t.Fatalf("journal after a later delete %v", ids)
	}
	if _, err := vol.ReadNeedle(context.Background(), keys[2], nil); !errors.Is(err, ErrDeleted) {
		t.Fatal(err)
	}
	if _, del := vol.Counts(); del != 2 {
		t.Fatalf("deleted %d", del)
	}
}
