package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
)

// copyProgressEvery is how many .dat bytes pass between VolumeCopy's
// progress messages, as upstream's.
const copyProgressEvery = 128 << 20

// copyStagingDir is the subdirectory of a data directory where VolumeCopy
// stages incoming files and parks the files of the replica it replaces.
// The volume scan does not descend into it.
const copyStagingDir = "copying"

// VolumeCopy brings a volume in from SourceDataNode: it stages the
// source's .dat, .idx and .vif under copying/, checks their sizes, then
// swaps them in for the local replica (if any), mounts the result and
// checks its needle counts against the source's. Any failure before the
// end puts the previous replica back, mounted as it was. The last message
// carries the newest record's append time.
func (s *Service) VolumeCopy(req *volume_server_pb.VolumeCopyRequest, stream volume_server_pb.VolumeServer_VolumeCopyServer) error {
	ctx := stream.Context()
	if err := s.checkAdmin(ctx); err != nil {
		return err
	}
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	source := req.GetSourceDataNode()
	if err := validateReplicaTarget(ctx, source); err != nil {
		return fmt.Errorf("invalid source data node %s: %w", source, err)
	}
	id := req.GetVolumeId()
	if _, busy := s.copying.LoadOrStore(id, struct{}{}); busy {
		return status.Errorf(codes.Unavailable, "volume %d is already being copied", id)
	}
	defer s.copying.Delete(id)

	conn, err := grpc.NewClient(grpcAddress(source), dialOptions(s.cfg.ClientTLS)...)
	if err != nil {
		return fmt.Errorf("fail to dial %s: %w", source, err)
	}
	defer conn.Close()
	client := volume_server_pb.NewVolumeServerClient(conn)
	before, _ := client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: id})
	fs, err := client.ReadVolumeFileStatus(ctx, &volume_server_pb.ReadVolumeFileStatusRequest{VolumeId: id})
	if err != nil {
		return fmt.Errorf("read volume file status failed, %w", err)
	}

	loc, err := s.copyLocation(id, req.GetDiskType(), fs.GetDiskType())
	if err != nil {
		return err
	}
	base := engine.BaseName(fs.GetCollection(), id)
	final := volumePaths(loc.Dir, idxDirOf(loc), base)
	staged := volumePaths(filepath.Join(loc.Dir, copyStagingDir), filepath.Join(idxDirOf(loc), copyStagingDir), base)
	parked := volumePaths(filepath.Join(loc.Dir, copyStagingDir), filepath.Join(idxDirOf(loc), copyStagingDir), base+".replaced")
	defer staged.remove()

	if err := staged.mkdirs(); err != nil {
		return fmt.Errorf("create %s dir for volume %d: %w", copyStagingDir, id, err)
	}
	staged.remove() // leftovers of a crashed copy
	rev := fs.GetCompactionRevision()
	rate := req.GetIoBytePerSecond()
	if rate <= 0 {
		rate = s.cfg.MaintenanceBytesPerSecond
	}
	pace := newPacer(rate)
	next := int64(copyProgressEvery)
	progress := func(done int64) error {
		if done < next {
			return nil
		}
		next = done + copyProgressEvery
		return stream.Send(&volume_server_pb.VolumeCopyResponse{ProcessedBytes: done})
	}
	if err := fetchFile(ctx, client, id, rev, ".dat", fs.GetDatFileSize(), false, staged.dat, pace, progress); err != nil {
		return err
	}
	if err := fetchFile(ctx, client, id, rev, ".idx", fs.GetIdxFileSize(), false, staged.idx, pace, nil); err != nil {
		return err
	}
	if err := fetchFile(ctx, client, id, rev, ".vif", 1<<20, true, staged.vif, pace, nil); err != nil {
		return err
	}
	for _, f := range []struct {
		path string
		want uint64
	}{{staged.dat, fs.GetDatFileSize()}, {staged.idx, fs.GetIdxFileSize()}} {
		if st, err := os.Stat(f.path); err != nil || uint64(st.Size()) != f.want {
			return fmt.Errorf("volume %d: copied %s does not have the source's %d bytes (%v)", id, filepath.Base(f.path), f.want, err)
		}
	}
	after, err := client.VolumeStatus(ctx, &volume_server_pb.VolumeStatusRequest{VolumeId: id})
	if err != nil {
		return fmt.Errorf("read source volume %d status after copy failed: %w", id, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	// the swap: park the replica being replaced, move the copy in, mount
	_, hadReplica := s.store.Volume(id)
	if hadReplica {
		if err := s.unmount(id); err != nil {
			return fmt.Errorf("failed to unmount existing volume %d: %w", id, err)
		}
	}
	parked.remove()
	if err := final.moveTo(parked); err != nil {
		_ = parked.moveTo(final)
		s.remountAfterFailedCopy(id, hadReplica)
		return fmt.Errorf("preserve files of existing volume %d: %w", id, err)
	}
	rollback := func(cause error) error {
		if _, mounted := s.store.Volume(id); mounted {
			_ = s.unmount(id) // the copy; the master hears it is gone
		}
		final.remove()
		if err := parked.moveTo(final); err != nil {
			s.logf("volume copy %d: restore replaced files: %v", id, err)
		}
		s.remountAfterFailedCopy(id, hadReplica)
		return cause
	}
	if err := staged.moveTo(final); err != nil {
		return rollback(fmt.Errorf("move copied volume %d into place: %w", id, err))
	}
	if err := s.mount(id); err != nil {
		return rollback(fmt.Errorf("failed to mount or validate volume %d: %w", id, err))
	}
	v, ok := s.store.Volume(id)
	if !ok {
		return rollback(fmt.Errorf("failed to mount or validate volume %d: not mounted", id))
	}
	if stable := before != nil && before.GetFileCount() == after.GetFileCount() && before.GetFileDeletedCount() == after.GetFileDeletedCount(); stable {
		if st := v.Stats(); st.FileCount != after.GetFileCount() || st.DeleteCount != after.GetFileDeletedCount() {
			return rollback(fmt.Errorf("failed to mount or validate volume %d: copy holds %d files (%d deleted), source %d (%d deleted)",
				id, st.FileCount, st.DeleteCount, after.GetFileCount(), after.GetFileDeletedCount()))
		}
	}
	parked.remove()
	last := v.LastAppendAtNs()
	if last == 0 {
		last = fs.GetDatFileTimestampSeconds() * 1e9
	}
	return stream.Send(&volume_server_pb.VolumeCopyResponse{LastAppendAtNs: last})
}

// copyLocation is where the copy of volume id goes: beside the local
// replica if there is one, else the directory of the disk type (the
// request's, else the source's) with the most free slots.
func (s *Service) copyLocation(id uint32, reqDiskType, srcDiskType string) (*engine.Location, error) {
	if loc, ok := s.store.LocationOf(id); ok {
		return loc, nil
	}
	diskType := srcDiskType
	if reqDiskType != "" {
		diskType = reqDiskType
	}
	if diskType == "hdd" {
		diskType = ""
	}
	loc, err := s.store.PickLocation(diskType)
	if err != nil {
		return nil, fmt.Errorf("no space left for disk type %q: %w", diskType, err)
	}
	return loc, nil
}

// remountAfterFailedCopy mounts the previous replica again when there was
// one.
func (s *Service) remountAfterFailedCopy(id uint32, hadReplica bool) {
	if !hadReplica {
		return
	}
	if err := s.mount(id); err != nil {
		s.logf("volume copy %d: remount previous replica: %v", id, err)
	}
}

func idxDirOf(loc *engine.Location) string {
	if loc.IdxDir != "" {
		return loc.IdxDir
	}
	return loc.Dir
}

// volumeFiles are the paths of one volume's files. derived are files built
// from the others (the mapped index snapshot), dropped, never moved.
type volumeFiles struct {
	dat, idx, vif string
	derived       []string
}

func volumePaths(dir, idxDir, base string) volumeFiles {
	return volumeFiles{
		dat: filepath.Join(dir, base+".dat"), idx: filepath.Join(idxDir, base+".idx"), vif: filepath.Join(dir, base+".vif"),
		derived: []string{filepath.Join(idxDir, base+".wvx"), filepath.Join(dir, base+".note")},
	}
}

func (f volumeFiles) mkdirs() error {
	if err := os.MkdirAll(filepath.Dir(f.dat), 0o755); err != nil {
		return err
	}
	return os.MkdirAll(filepath.Dir(f.idx), 0o755)
}

func (f volumeFiles) remove() {
	for _, p := range append([]string{f.dat, f.idx, f.vif}, f.derived...) {
		os.Remove(p)
	}
}

// moveTo renames f's files that exist onto to's names (.vif first, so a
// scan finds the volume's name as soon as anything lands) and drops f's
// derived files.
func (f volumeFiles) moveTo(to volumeFiles) error {
	for _, p := range f.derived {
		os.Remove(p)
	}
	for _, pair := range [][2]string{{f.vif, to.vif}, {f.dat, to.dat}, {f.idx, to.idx}} {
		if err := os.Rename(pair[0], pair[1]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// fetchFile copies up to size bytes of the source's file ext into path via
// CopyFile. optional files may be absent at the source (then no file is
// written). pace holds the copy to its byte rate; progress, when set, hears
// the bytes written so far.
func fetchFile(ctx context.Context, client volume_server_pb.VolumeServerClient, id, rev uint32, ext string, size uint64, optional bool, path string,
	pace *pacer, progress func(int64) error) error {
	stream, err := client.CopyFile(ctx, &volume_server_pb.CopyFileRequest{
		VolumeId: id, Ext: ext, CompactionRevision: rev, StopOffset: size, IgnoreSourceFileNotFound: optional,
	})
	if err != nil {
		return fmt.Errorf("copy %s of volume %d: %w", ext, id, err)
	}
	var f *os.File
	var done int64
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if f != nil {
				f.Close()
			}
			return fmt.Errorf("copy %s of volume %d: %w", ext, id, err)
		}
		if f == nil {
			if f, err = os.Create(path); err != nil {
				return err
			}
		}
		if _, err := f.Write(msg.GetFileContent()); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", path, err)
		}
		done += int64(len(msg.GetFileContent()))
		if err := pace.wait(ctx, len(msg.GetFileContent())); err != nil {
			f.Close()
			return err
		}
		if progress != nil {
			if err := progress(done); err != nil {
				f.Close()
				return err
			}
		}
	}
	if f == nil {
		if optional {
			return nil
		}
		f, err = os.Create(path) // an empty source file
		if err != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pacer holds a stream of bytes to a rate: after each n bytes it sleeps
// until the total so far is no ahead of rate bytes per second since the
// start. A nil pacer does not wait.
type pacer struct {
	rate  int64
	start time.Time
	total int64
}

func newPacer(bytesPerSecond int64) *pacer {
	if bytesPerSecond <= 0 {
		return nil
	}
	return &pacer{rate: bytesPerSecond, start: time.Now()}
}

// wait accounts n more bytes and sleeps as long as they are early; it
// returns ctx's error if ctx ends first.
func (p *pacer) wait(ctx context.Context, n int) error {
	if p == nil {
		return ctx.Err()
	}
	p.total += int64(n)
	due := p.start.Add(time.Duration(float64(p.total) / float64(p.rate) * float64(time.Second)))
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReceiveFile takes a file a peer pushes for a mounted volume: the first
// message names the volume and the extension, the rest carry the bytes,
// written to <volume base><ext> beside the volume's .dat. Problems with the
// request are answered in the response's Error, as upstream does. Refused:
// maintenance mode (as an error), the files of the mounted volume itself
// (.dat, .idx, .vif, .wvx, and a compaction's .cpd, .cpx: overwriting them
// under a live volume would corrupt it), EC shards and staged new volumes
// (erasure coding is not implemented yet).
func (s *Service) ReceiveFile(stream volume_server_pb.VolumeServer_ReceiveFileServer) error {
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	reply := func(written uint64, problem string) error {
		return stream.SendAndClose(&volume_server_pb.ReceiveFileResponse{BytesWritten: written, Error: problem})
	}
	var f *os.File
	var written uint64
	fail := func(problem string) error {
		if f != nil {
			f.Close()
			os.Remove(f.Name())
			f = nil
		}
		return reply(0, problem)
	}
	defer func() {
		if f != nil {
			f.Close()
		}
	}()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if f != nil {
				if err := errors.Join(f.Sync(), f.Close()); err != nil {
					os.Remove(f.Name())
					f = nil
					return reply(0, fmt.Sprintf("failed to write file: %v", err))
				}
				f = nil
			}
			return reply(written, "")
		}
		if err != nil {
			if f != nil {
				f.Close()
				os.Remove(f.Name())
				f = nil
			}
			return fmt.Errorf("failed to receive stream: %v", err)
		}
		switch data := req.GetData().(type) {
		case *volume_server_pb.ReceiveFileRequest_Info:
			if f != nil {
				return fail("file info sent twice")
			}
			info := data.Info
			if err := checkExt(info.GetExt()); err != nil {
				return fail(err.Error())
			}
			if info.GetIsEcVolume() {
				return fail(fmt.Sprintf("ec volume %d: receiving erasure-coded shards is not supported", info.GetVolumeId()))
			}
			v, ok := s.store.Volume(info.GetVolumeId())
			if !ok {
				if info.GetDiskType() != "" {
					return fail(fmt.Sprintf("volume %d: staging a new volume is not supported", info.GetVolumeId()))
				}
				return fail(fmt.Sprintf("volume %d not found", info.GetVolumeId()))
			}
			switch info.GetExt() {
			case ".dat", ".idx", ".vif", ".wvx", ".cpd", ".cpx":
				return fail(fmt.Sprintf("refusing to overwrite %s of mounted volume %d", info.GetExt(), v.ID))
			}
			if f, err = os.Create(v.FileName(info.GetExt())); err != nil {
				return fail(fmt.Sprintf("failed to create file: %v", err))
			}
		case *volume_server_pb.ReceiveFileRequest_FileContent:
			if f == nil {
				return fail("file info must be sent first")
			}
			n, err := f.Write(data.FileContent)
			if err != nil {
				return fail(fmt.Sprintf("failed to write file: %v", err))
			}
			written += uint64(n)
		default:
			return fail("unknown message type")
		}
	}
}
