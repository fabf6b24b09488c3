package difftest

import (
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// Side is one server of the comparison with the master it registers with.
type Side struct {
	Name   string // "upstream" or "weedvol"
	Master *weedproc.Process
	Volume *weedproc.Process
	Dir    string // the data directory it serves

	bin, logDir string
	extra       []string
	conn        *grpc.ClientConn
	GRPC        volume_server_pb.VolumeServerClient
	raw         *rawClient
}

// Addr is the volume server's ip:port.
func (s *Side) Addr() string { return s.Volume.Addr() }

// startVolume starts bin serving s.Dir under s.Master.
func (s *Side) startVolume() error {
	v, err := weedproc.StartVolume(s.bin, s.Dir, s.logDir, s.Master.Addr(), s.extra...)
	if err != nil {
		return fmt.Errorf("%s: %w", s.Name, err)
	}
	s.Volume = v
	grpcAddr := "127.0.0.1:" + strconv.Itoa(v.Port+10000)
	s.conn, err = grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(64<<20)))
	if err != nil {
		return err
	}
	s.GRPC = volume_server_pb.NewVolumeServerClient(s.conn)
	s.raw = newRawClient(v.Addr())
	return nil
}

// stopVolume stops the volume server, leaving the master running.
func (s *Side) stopVolume() error {
	if s.raw != nil {
		s.raw.close()
		s.raw = nil
	}
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	err := s.Volume.Stop()
	s.Volume = nil
	return err
}

// Stop stops the volume server and the master.
func (s *Side) Stop() {
	if s.Volume != nil {
		_ = s.stopVolume()
	}
	if s.Master != nil {
		_ = s.Master.Stop()
		s.Master = nil
	}
}

// LogTail is the last n bytes of the volume server's log.
func (s *Side) LogTail(n int64) string {
	b, err := os.ReadFile(filepath.Join(s.logDir, "volume.log"))
	if err != nil {
		return err.Error()
	}
	if int64(len(b)) > n {
		b = b[int64(len(b))-n:]
	}
	return string(b)
}

// newSide starts a master in root/<name>/m and prepares (without starting)
// a volume server bin on root/<name>/v.
func newSide(name, weed, bin, root string, extra ...string) (*Side, error) {
	base := filepath.Join(root, name)
	mdir, vdir := filepath.Join(base, "m"), filepath.Join(base, "v")
	for _, d := range []string{mdir, vdir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	m, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=64")
	if err != nil {
		return nil, fmt.Errorf("%s master: %w", name, err)
	}
	return &Side{Name: name, Master: m, Dir: vdir, bin: bin, logDir: base, extra: extra}, nil
}

// copyDir copies the regular files of src into dst (created), keeping
// modification times, as an operator's rsync or cp -a would.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Close(); err != nil {
			return err
		}
		return os.Chtimes(target, info.ModTime(), info.ModTime())
	})
}

// waitVolumesKnown polls the master until it can look up every volume id.
func waitVolumesKnown(master string, vids []uint32, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for _, vid := range vids {
		for {
			resp, err := http.Get("http://" + master + "/dir/lookup?volumeId=" + strconv.FormatUint(uint64(vid), 10))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 && strings.Contains(string(b), `"locations"`) {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("master %s does not know volume %d after %v", master, vid, timeout)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}
