package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/wlog"
)

// copyProgressEvery is how many .dat bytes pass between VolumeCopy's
// progress messages, as upstream's.
const copyProgressEvery = 128 << 20

// VolumeCopy brings a volume in from SourceDataNode: it stages the
// source's .dat, .idx and .vif under copying/, checks their sizes, then
// swaps them in for the local replica (if any), mounts the result and
// checks its needle counts against the source's. Any failure before the
// end puts the previous replica back, mounted as it was. The last message
// carries the newest record's append time.
//
// The source address is checked as upstream checks it (checkPeer) unless
// untrusted endpoints are allowed. The collection the source names is
// checked (engine.ValidCollection) before any file is touched: upstream
// builds paths from it unchecked. Every file operation goes through an
// engine.CopyStage, which stays inside the location's directories.
func (s *Service) VolumeCopy(req *volume_server_pb.VolumeCopyRequest, stream volume_server_pb.VolumeServer_VolumeCopyServer) error {
	ctx := stream.Context()
	if err := s.checkAdmin(ctx); err != nil {
		return err
	}
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	source := req.GetSourceDataNode()
	if err := s.checkPeer(ctx, source); err != nil {
		return fmt.Errorf("invalid source data node %s: %w", source, err)
	}
	id := req.GetVolumeId()
	if _, busy := s.copying.LoadOrStore(id, struct{}{}); busy {
		return status.Errorf(codes.Unavailable, "volume %d is already being copied", id)
	}
	defer s.copying.Delete(id)

	conn, err := s.dialPeer(source)
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
	if err := engine.ValidCollection(fs.GetCollection()); err != nil {
		return fmt.Errorf("volume %d from %s: %w", id, source, err)
	}

	loc, err := s.copyLocation(id, req.GetDiskType(), fs.GetDiskType())
	if err != nil {
		return err
	}
	stage, err := loc.BeginCopy(fs.GetCollection(), id)
	if err != nil {
		return fmt.Errorf("create %s dir for volume %d: %w", engine.CopyStagingDir, id, err)
	}
	defer stage.Close()
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
	if err := fetchFile(ctx, client, id, rev, ".dat", fs.GetDatFileSize(), false, stage, pace, progress); err != nil {
		return err
	}
	if err := fetchFile(ctx, client, id, rev, ".idx", fs.GetIdxFileSize(), false, stage, pace, nil); err != nil {
		return err
	}
	if err := fetchFile(ctx, client, id, rev, ".vif", 1<<20, true, stage, pace, nil); err != nil {
		return err
	}
	for _, f := range []struct {
		ext  string
		want uint64
	}{{".dat", fs.GetDatFileSize()}, {".idx", fs.GetIdxFileSize()}} {
		if size, err := stage.StagedSize(f.ext); err != nil || uint64(size) != f.want {
			return fmt.Errorf("volume %d: copied %s does not have the source's %d bytes (%v)", id, engine.BaseName(fs.GetCollection(), id)+f.ext, f.want, err)
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
	if err := stage.Park(); err != nil {
		s.remountAfterFailedCopy(id, hadReplica)
		return fmt.Errorf("preserve files of existing volume %d: %w", id, err)
	}
	rollback := func(cause error) error {
		if _, mounted := s.store.Volume(id); mounted {
			_ = s.unmount(id) // the copy; the master hears it is gone
		}
		if err := stage.Restore(); err != nil {
			wlog.Errorf("volume copy %d: restore replaced files: %v", id, err)
		}
		s.remountAfterFailedCopy(id, hadReplica)
		return cause
	}
	if err := stage.Install(); err != nil {
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
	if err := stage.DropParked(); err != nil {
		// the copy is mounted and stays; only garbage is left behind
		wlog.Warningf("volume %d: remove the replaced replica's files after the copy: %v (the next open removes them)", id, err)
	}
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
		wlog.Errorf("volume copy %d: remount previous replica: %v", id, err)
	}
}

// fetchFile copies up to size bytes of the source's file ext into the
// staged file ext via CopyFile. optional files may be absent at the source
// (then no file is written). pace holds the copy to its byte rate;
// progress, when set, hears the bytes written so far.
func fetchFile(ctx context.Context, client volume_server_pb.VolumeServerClient, id, rev uint32, ext string, size uint64, optional bool, stage *engine.CopyStage,
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
			if f, err = stage.Create(ext); err != nil {
				return err
			}
		}
		if _, err := f.Write(msg.GetFileContent()); err != nil {
			f.Close()
			return fmt.Errorf("write %s: %w", f.Name(), err)
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
		f, err = stage.Create(ext) // an empty source file
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
// written to <volume base><ext> beside the volume's .dat, created anew
// (engine.Volume.CreateFile: never through a symbolic link). Problems with
// the request are answered in the response's Error, as upstream does.
// Refused: extensions and collections engine.ValidExt and ValidCollection
// refuse (upstream's texts),
// maintenance mode (as an error), the files of the mounted volume itself
// (.dat, .idx, .vif, .wvx, and a compaction's .cpd, .cpx: overwriting them
// under a live volume would corrupt it), staged new volumes, and EC files
// of a volume with shards mounted here (receiveEcFile); other EC files go
// to the disk disk_id names or the engine picks (engine.Store.EcCreateFile).
func (s *Service) ReceiveFile(stream volume_server_pb.VolumeServer_ReceiveFileServer) error {
	if err := s.maintenanceErr(); err != nil {
		return err
	}
	reply := func(written uint64, problem string) error {
		return stream.SendAndClose(&volume_server_pb.ReceiveFileResponse{BytesWritten: written, Error: problem})
	}
	var f *engine.Incoming
	var written uint64
	fail := func(problem string) error {
		if f != nil {
			f.Abort()
			f = nil
		}
		return reply(0, problem)
	}
	defer func() {
		if f != nil {
			f.Abort()
		}
	}()
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			if f != nil {
				err := f.Commit()
				f = nil
				if err != nil {
					return reply(0, fmt.Sprintf("failed to write file: %v", err))
				}
			}
			return reply(written, "")
		}
		if err != nil {
			if f != nil {
				f.Abort()
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
			if err := engine.ValidExt(info.GetExt()); err != nil {
				return fail(err.Error())
			}
			if err := engine.ValidCollection(info.GetCollection()); err != nil {
				return fail(err.Error())
			}
			if info.GetIsEcVolume() {
				var problem string
				if f, problem = s.receiveEcFile(info); problem != "" {
					return fail(problem)
				}
				continue
			}
			v, ok := s.store.Volume(info.GetVolumeId())
			if !ok {
				if info.GetDiskType() != "" {
					return fail(fmt.Sprintf("volume %d: staging a new volume is not supported", info.GetVolumeId()))
				}
				return fail(fmt.Sprintf("volume %d not found", info.GetVolumeId()))
			}
			if f, err = v.CreateFile(info.GetExt()); err != nil {
				if errors.Is(err, engine.ErrVolumeFile) {
					return fail(fmt.Sprintf("refusing to overwrite %s of mounted volume %d", info.GetExt(), v.ID))
				}
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
