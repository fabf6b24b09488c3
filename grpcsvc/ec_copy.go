package grpcsvc

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"

	"github.com/weedvol/weedvol/engine"
)

// Moving EC files between nodes: VolumeEcShardsCopy pulls them from a peer
// with CopyFile; CopyFile with is_ec_volume serves them; ReceiveFile takes
// them pushed. Every file goes through the engine (EcOpenFile,
// EcCreateFile, EcMergeJournal), which picks the paths and refuses to
// overwrite a mounted shard.

// maxEcjBytes bounds the deletion journal VolumeEcShardsCopy reads from a
// peer into memory (8 bytes per deleted needle id: 16M ids).
const maxEcjBytes = 128 << 20

// shardExt is upstream's ToExt: ".ec" and the id in two digits at least.
func shardExt(id uint32) string {
	if id < 10 {
		return ".ec0" + strconv.Itoa(int(id))
	}
	return ".ec" + strconv.Itoa(int(id))
}

// copyEcFile is CopyFile of an EC volume's file (is_ec_volume): found on
// any disk of this node, mounted or not. ext and collection were checked.
func (s *Service) copyEcFile(req *volume_server_pb.CopyFileRequest, stream volume_server_pb.VolumeServer_CopyFileServer) error {
	f, err := s.store.EcOpenFile(req.GetVolumeId(), req.GetCollection(), req.GetExt())
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			if req.GetIgnoreSourceFileNotFound() {
				return nil
			}
			return fmt.Errorf("CopyFile not found ec volume id %d", req.GetVolumeId())
		}
		return err
	}
	defer f.Close()
	return sendFile(f, int64(req.GetStopOffset()), stream)
}

// VolumeEcShardsCopy pulls the listed shards of a volume, and on request
// its .ecx, .ecj (merged into the local journal as a set, with the keys the
// source's .ecx tombstones: ecxTombstones), .vif and .ecsum, from source_data_node into one disk of this node (disk_id, or
// the one the engine picks). Shards are not mounted. The source address
// is checked as VolumeCopy's is; every failure after it is wrapped in
// "VolumeEcShardsCopy volume %d: ", as upstream's.
func (s *Service) VolumeEcShardsCopy(ctx context.Context, req *volume_server_pb.VolumeEcShardsCopyRequest) (*volume_server_pb.VolumeEcShardsCopyResponse, error) {
	if err := s.checkAdmin(ctx); err != nil {
		return nil, err
	}
	if err := s.maintenanceErr(); err != nil {
		return nil, err
	}
	source := req.GetSourceDataNode()
	if err := s.checkPeer(ctx, source); err != nil {
		return nil, fmt.Errorf("invalid source data node %s: %w", source, err)
	}
	vid, coll := req.GetVolumeId(), req.GetCollection()
	if err := engine.ValidCollection(coll); err != nil {
		return nil, err
	}
	if n := len(s.store.Locations()); req.GetDiskId() > 0 && int(req.GetDiskId()) >= n {
		return nil, fmt.Errorf("invalid disk_id %d: only have %d disks", req.GetDiskId(), n)
	}
	for _, id := range req.GetShardIds() {
		if id >= maxShardID {
			return nil, fmt.Errorf("VolumeEcShardsCopy volume %d: invalid shard id %d", vid, id)
		}
	}
	disk, err := s.store.EcTarget(vid, coll, req.GetDiskId(), req.GetShardIds())
	if err != nil {
		return nil, err
	}
	rate := s.cfg.MaintenanceBytesPerSecond
	if r := req.GetIoBytePerSecond(); r > 0 {
		rate = r
	}
	c := &ecCopier{svc: s, vid: vid, coll: coll, disk: disk, pace: newPacer(rate)}
	if err := c.run(ctx, source, req); err != nil {
		return nil, fmt.Errorf("VolumeEcShardsCopy volume %d: %v", vid, err)
	}
	return &volume_server_pb.VolumeEcShardsCopyResponse{}, nil
}

// ecCopier is one VolumeEcShardsCopy: the target disk and one pacer for
// the whole request, so the rate caps the transfer as a whole.
type ecCopier struct {
	svc    *Service
	vid    uint32
	coll   string
	disk   int
	pace   *pacer
	client volume_server_pb.VolumeServerClient
}

func (c *ecCopier) run(ctx context.Context, source string, req *volume_server_pb.VolumeEcShardsCopyRequest) error {
	conn, err := c.svc.dialPeer(source)
	if err != nil {
		return fmt.Errorf("fail to dial %s: %w", source, err)
	}
	defer conn.Close()
	c.client = volume_server_pb.NewVolumeServerClient(conn)
	for _, id := range req.GetShardIds() {
		if _, err := c.fetch(ctx, shardExt(id), false, nil); err != nil {
			return err
		}
	}
	var tomb *ecxTombstones
	if req.GetCopyEcjFile() {
		tomb = newEcxTombstones() // see ecxTombstones: the source's folded deletes
	}
	if req.GetCopyEcxFile() {
		if _, err := c.fetch(ctx, ".ecx", false, tomb); err != nil {
			return err
		}
	} else if tomb != nil {
		if err := c.scanEcx(ctx, tomb); err != nil {
			return err
		}
	}
	if req.GetCopyEcjFile() {
		if err := c.mergeJournal(ctx, tomb.ids()); err != nil {
			return err
		}
	}
	if req.GetCopyVifFile() {
		if _, err := c.fetch(ctx, ".vif", true, nil); err != nil {
			return err
		}
	}
	if req.GetCopyEcsumFile() {
		if _, err := c.fetch(ctx, ".ecsum", true, nil); err != nil {
			return fmt.Errorf("copy .ecsum sidecar: %w", err)
		}
	}
	return nil
}

// open starts the peer's CopyFile of ext, the whole file.
func (c *ecCopier) open(ctx context.Context, ext string, optional bool) (volume_server_pb.VolumeServer_CopyFileClient, error) {
	return c.client.CopyFile(ctx, &volume_server_pb.CopyFileRequest{
		VolumeId: c.vid, Collection: c.coll, Ext: ext, IsEcVolume: true,
		CompactionRevision: math.MaxUint32, StopOffset: math.MaxInt64, IgnoreSourceFileNotFound: optional,
	})
}

// fetch copies the peer's file ext into the target disk. An optional file
// the source lacks (no message at all) writes nothing and reports false.
// The file replaces the local one only once complete (Commit); a failed
// copy leaves the old one. An .ecx of 0 bytes is refused: it would only
// fail the mount later. tomb, when set, also reads the bytes (an .ecx's).
func (c *ecCopier) fetch(ctx context.Context, ext string, optional bool, tomb *ecxTombstones) (bool, error) {
	stream, err := c.open(ctx, ext, optional)
	if err != nil {
		return false, fmt.Errorf("copy %s: %w", ext, err)
	}
	var in *engine.Incoming
	abort := func() {
		if in != nil {
			in.Abort()
			in = nil
		}
	}
	defer abort()
	var size int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, fmt.Errorf("copy %s: %w", ext, err)
		}
		if in == nil {
			if in, err = c.svc.store.EcCreateFile(c.disk, c.vid, c.coll, ext); err != nil {
				return false, err
			}
		}
		data := msg.GetFileContent()
		if _, err := in.Write(data); err != nil {
			return false, fmt.Errorf("write %s: %w", ext, err)
		}
		size += int64(len(data))
		if tomb != nil {
			if err := tomb.write(data); err != nil {
				return false, fmt.Errorf("copy %s: %w", ext, err)
			}
		}
		if err := c.pace.wait(ctx, len(data)); err != nil {
			return false, err
		}
	}
	if in == nil {
		if optional {
			return false, nil
		}
		if in, err = c.svc.store.EcCreateFile(c.disk, c.vid, c.coll, ext); err != nil {
			return false, err
		}
	}
	if ext == ".ecx" && size == 0 {
		return false, errors.New("source .ecx is 0 bytes")
	}
	err = in.Commit()
	in = nil
	if err != nil {
		return false, fmt.Errorf("write %s: %w", ext, err)
	}
	return true, nil
}

// scanEcx reads the peer's .ecx (if it has one) into tomb without
// keeping the file.
func (c *ecCopier) scanEcx(ctx context.Context, tomb *ecxTombstones) error {
	stream, err := c.open(ctx, ".ecx", true)
	if err != nil {
		return fmt.Errorf("start reading .ecx: %w", err)
	}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read .ecx: %w", err)
		}
		if err := tomb.write(msg.GetFileContent()); err != nil {
			return fmt.Errorf("read .ecx: %w", err)
		}
		if err := c.pace.wait(ctx, len(msg.GetFileContent())); err != nil {
			return err
		}
	}
}

// mergeJournal reads the peer's .ecj (if it has one) into its distinct
// ids and adds those the local journal lacks, with extra (the tombstones
// of the peer's .ecx): the journal is a set, and appending it whole would
// grow it each time a shard moves.
func (c *ecCopier) mergeJournal(ctx context.Context, extra []uint64) error {
	stream, err := c.open(ctx, ".ecj", true)
	if err != nil {
		return fmt.Errorf("start copying .ecj: %w", err)
	}
	var d ecjDecoder
	found := false
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("copy .ecj: %w", err)
		}
		if msg.GetModifiedTsNs() != 0 || len(msg.GetFileContent()) > 0 {
			found = true
		}
		if err := d.write(msg.GetFileContent()); err != nil {
			return fmt.Errorf("copy .ecj: %w", err)
		}
		if err := c.pace.wait(ctx, len(msg.GetFileContent())); err != nil {
			return err
		}
	}
	for _, id := range extra {
		d.add(id)
	}
	if !found && len(extra) == 0 {
		return nil
	}
	if err := c.svc.store.EcMergeJournal(c.disk, c.vid, c.coll, d.ids()); err != nil {
		return fmt.Errorf("merge .ecj: %w", err)
	}
	return nil
}

// ecjDecoder collects the distinct needle ids of a deletion journal
// arriving in pieces: 8-byte big-endian ids back to back; a torn last id
// is dropped, as upstream's decoder drops it.
type ecjDecoder struct {
	seen    map[uint64]struct{}
	order   []uint64
	partial [8]byte
	pending int
	total   int64
}

func (d *ecjDecoder) add(id uint64) {
	if d.seen == nil {
		d.seen = map[uint64]struct{}{}
	}
	if _, ok := d.seen[id]; ok {
		return
	}
	d.seen[id] = struct{}{}
	d.order = append(d.order, id)
}

// write takes the next bytes of the journal; it fails past maxEcjBytes.
func (d *ecjDecoder) write(p []byte) error {
	d.total += int64(len(p))
	if d.total > maxEcjBytes {
		return fmt.Errorf("journal over %d bytes", maxEcjBytes)
	}
	if d.pending > 0 {
		n := copy(d.partial[d.pending:], p)
		d.pending += n
		p = p[n:]
		if d.pending < 8 {
			return nil
		}
		d.add(binary.BigEndian.Uint64(d.partial[:]))
		d.pending = 0
	}
	whole := len(p) - len(p)%8
	for i := 0; i < whole; i += 8 {
		d.add(binary.BigEndian.Uint64(p[i:]))
	}
	d.pending = copy(d.partial[:], p[whole:])
	return nil
}

// ids is the distinct ids in first-seen order.
func (d *ecjDecoder) ids() []uint64 { return d.order }

// receiveEcFile starts ReceiveFile of an EC file: refused while any shard
// of the volume is mounted here (the mounted files are live readers'),
// otherwise created on disk_id or the disk the engine picks. The returned
// problem, when not "", is the response's error text.
func (s *Service) receiveEcFile(info *volume_server_pb.ReceiveFileInfo) (*engine.Incoming, string) {
	vid := info.GetVolumeId()
	if ev, mounted := s.store.EcVolume(vid); mounted {
		var disks []uint32
		for _, sh := range ev.Shards {
			d := uint32(max(sh.DiskID, 0))
			if len(disks) == 0 || !containsU32(disks, d) {
				disks = append(disks, d)
			}
		}
		return nil, fmt.Sprintf("ec volume %d is mounted on disk_ids:%v; unmount before ReceiveFile", vid, disks)
	}
	if n := len(s.store.Locations()); info.GetDiskId() > 0 && int(info.GetDiskId()) >= n {
		return nil, fmt.Sprintf("invalid disk_id %d: only have %d disks", info.GetDiskId(), n)
	}
	disk, err := s.store.EcTarget(vid, info.GetCollection(), info.GetDiskId(), nil)
	if err != nil {
		return nil, "no storage location available"
	}
	f, err := s.store.EcCreateFile(disk, vid, info.GetCollection(), info.GetExt())
	if err != nil {
		return nil, fmt.Sprintf("failed to create file: %v", err)
	}
	return f, ""
}

func containsU32(a []uint32, x uint32) bool {
	for _, v := range a {
		if v == x {
			return true
		}
	}
	return false
}
