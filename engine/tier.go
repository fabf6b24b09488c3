package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
)

// RemoteDat is a remote store of whole .dat files (one tier backend), as
// package remote's *S3 provides it. Every call is bounded in time by the
// implementation; errors name the bucket and key.
type RemoteDat interface {
	// ReadAt is one ranged read of key, with io.ReaderAt semantics.
	ReadAt(ctx context.Context, key string, p []byte, off int64) (int, error)
	// Upload streams size bytes of r to key, reporting the bytes sent.
	Upload(ctx context.Context, key string, r io.Reader, size int64, progress func(done int64)) error
	// Download streams key to w, reporting the bytes received.
	Download(ctx context.Context, key string, w io.Writer, progress func(done int64)) (int64, error)
	// Stat returns the size of key.
	Stat(ctx context.Context, key string) (int64, error)
	// Delete removes key.
	Delete(ctx context.Context, key string) error
}

// RemoteResolver finds the tier backend named "type.id" (e.g. "s3.default").
type RemoteResolver func(backendName string) (RemoteDat, bool)

// ErrRemoteVolume refuses an operation that needs a local .dat on a volume
// whose .dat lives on a remote tier.
var ErrRemoteVolume = errors.New("volume data is on a remote tier")

// ErrBackendUnknown is a remote volume's read before the backend it names is
// known (backends come with the master's first heartbeat reply).
var ErrBackendUnknown = errors.New("remote tier backend not known (yet)")

// RemoteTiers holds the resolver of a store and its volumes. The resolver
// is set once the backends can be looked up (after the store opens) and
// asked at every use, so a backend the master announces later, or
// reconfigures, is picked up. The zero value resolves nothing.
type RemoteTiers struct {
	fn atomic.Pointer[RemoteResolver]
	// guessed: a tiered volume opened with its super block taken from its
	// .vif (see Store.RefreshRemoteSupers).
	guessed atomic.Bool
}

// Set installs fn (nil: resolve nothing).
func (t *RemoteTiers) Set(fn RemoteResolver) {
	if fn == nil {
		t.fn.Store(nil)
		return
	}
	t.fn.Store(&fn)
}

// Resolve returns the backend named name, or an error wrapping
// ErrBackendUnknown.
func (t *RemoteTiers) Resolve(name string) (RemoteDat, error) {
	if t != nil {
		if fn := t.fn.Load(); fn != nil {
			if r, ok := (*fn)(name); ok && r != nil {
				return r, nil
			}
		}
	}
	return nil, fmt.Errorf("backend storage %s: %w", name, ErrBackendUnknown)
}

// BackendNameToTypeID splits "type.id" as upstream: a name without a dot
// is a type with id "default".
func BackendNameToTypeID(name string) (backendType, backendID string) {
	typ, id, ok := strings.Cut(name, ".")
	if !ok {
		return name, "default"
	}
	return typ, id
}

// remoteFileOf returns the remote file a .vif names (upstream serves the
// first of them), nil for a local volume.
func remoteFileOf(info *volume_server_pb.VolumeInfo) *volume_server_pb.RemoteFile {
	if files := info.GetFiles(); len(files) > 0 {
		return files[0]
	}
	return nil
}

// backendName is upstream's RemoteFile.BackendName.
func backendName(f *volume_server_pb.RemoteFile) string {
	return f.GetBackendType() + "." + f.GetBackendId()
}

// remoteDat is the iouring.File of a volume whose .dat is remote: reads
// are ranged reads of the remote object, resolved at each call (lazily: the
// backend may not be known when the volume opens); writes fail. It holds
// no descriptor.
type remoteDat struct {
	tiers   *RemoteTiers
	backend string // "type.id"
	key     string
	size    int64
}

func newRemoteDat(t *RemoteTiers, f *volume_server_pb.RemoteFile) *remoteDat {
	return &remoteDat{tiers: t, backend: backendName(f), key: f.GetKey(), size: int64(f.GetFileSize())}
}

// ReadAt reads p at off from the remote object, clamped to its recorded
// size (io.EOF past it).
func (r *remoteDat) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, fmt.Errorf("remote %s %s: negative offset %d", r.backend, r.key, off)
	}
	if off >= r.size {
		return 0, io.EOF
	}
	want := p
	short := false
	if int64(len(p)) > r.size-off {
		want, short = p[:r.size-off], true
	}
	be, err := r.tiers.Resolve(r.backend)
	if err != nil {
		return 0, err
	}
	n, err := be.ReadAt(context.Background(), r.key, want, off)
	if err == nil && short {
		err = io.EOF
	}
	if err == io.EOF && n == len(want) && !short {
		err = nil
	}
	return n, err
}

func (r *remoteDat) WriteAt([]byte, int64) (int, error) {
	return 0, fmt.Errorf("write to %s %s: %w", r.backend, r.key, ErrRemoteVolume)
}

func (r *remoteDat) WriteVAt([][]byte, int64) (int64, error) {
	return 0, fmt.Errorf("write to %s %s: %w", r.backend, r.key, ErrRemoteVolume)
}

func (r *remoteDat) Sync() error { return nil }

// Fd is no descriptor: callers that need one (zero-copy sends) check
// Volume.IsRemote first.
func (r *remoteDat) Fd() uintptr { return ^uintptr(0) }

func (r *remoteDat) Close() error { return nil }
