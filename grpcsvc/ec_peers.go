package grpcsvc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/wlog"
)

// EcPeers is the engine's way to other nodes' EC shards (engine.EcPeers):
// where shards live comes from the master's LookupEcVolume, cached per
// volume as upstream's store_ec.go caches it; bytes come from a holder's
// VolumeEcShardRead and deletes go out as VolumeEcBlobDelete. Holders are
// addresses the master names, dialed with this server's client TLS and
// the peer guard (dialPeer), like every other peer call. This node itself
// is never asked (its shards are the engine's to read).
type EcPeers struct {
	svc *Service
	now func() time.Time

	mu    sync.Mutex // guards cache and conns
	cache map[uint32]*ecLocations
	conns map[string]*grpc.ClientConn // by holder gRPC address
}

// ecLocations is one LookupEcVolume answer: holders by shard id.
type ecLocations struct {
	at      time.Time
	holders map[uint32][]string // gRPC "host:port" addresses, master's order
	stale   bool                // a read disproved it: look up again soon
}

// The cache lifetimes upstream uses: short while the answer is incomplete
// (or a read found it wrong), long when every shard has a holder.
const (
	ecLookupShort = 11 * time.Second
	ecLookupMid   = 7 * time.Minute
	ecLookupLong  = 37 * time.Minute
)

// ecPeerTimeout bounds one peer call that its caller's context does not.
const ecPeerTimeout = 30 * time.Second

// NewEcPeers returns the EcPeers of s; the caller installs it with
// engine.Store.SetEcPeers and closes it after the store.
func (s *Service) NewEcPeers() *EcPeers {
	return &EcPeers{svc: s, now: time.Now, cache: map[uint32]*ecLocations{}, conns: map[string]*grpc.ClientConn{}}
}

var _ engine.EcPeers = (*EcPeers)(nil)

// Close closes the cached holder connections.
func (p *EcPeers) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for k, c := range p.conns {
		errs = append(errs, c.Close())
		delete(p.conns, k)
	}
	return errors.Join(errs...)
}

// ttl is how long an answer listing n of total shards stays good.
func ecLookupTTL(l *ecLocations, data, total int) time.Duration {
	n := len(l.holders)
	switch {
	case l.stale || n < data:
		return ecLookupShort
	case n >= total:
		return ecLookupLong
	default:
		return ecLookupMid
	}
}

// layout is the volume's data and total shard counts, upstream's default
// 10+4 when the store does not know it.
func (p *EcPeers) layout(vid uint32) (data, total int) {
	data, total = 10, 14
	if d, par, _, ok := p.svc.store.EcShape(vid); ok && d > 0 {
		data, total = d, d+max(par, 0)
	}
	return data, total
}

// holders returns the holders of shard of vid, from the cache while it is
// fresh, else from the master.
func (p *EcPeers) holders(ctx context.Context, vid uint32, shard uint32) ([]string, error) {
	data, total := p.layout(vid)
	p.mu.Lock()
	l := p.cache[vid]
	if l != nil && p.now().Before(l.at.Add(ecLookupTTL(l, data, total))) {
		h := l.holders[shard]
		p.mu.Unlock()
		return h, nil
	}
	p.mu.Unlock()
	fresh, err := p.lookup(ctx, vid)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.cache[vid] = fresh
	p.mu.Unlock()
	return fresh.holders[shard], nil
}

// forget marks vid's cached answer stale after a read it led astray.
func (p *EcPeers) forget(vid uint32) {
	p.mu.Lock()
	if l := p.cache[vid]; l != nil {
		l.stale = true
	}
	p.mu.Unlock()
}

// lookup asks the masters (leader first) where vid's shards are. This node
// is left out of the answer.
func (p *EcPeers) lookup(ctx context.Context, vid uint32) (*ecLocations, error) {
	candidates := p.svc.masterCandidates()
	if len(candidates) == 0 {
		return nil, ErrNoMaster
	}
	self := net.JoinHostPort(p.svc.cfg.IP, strconv.Itoa(p.svc.cfg.Port))
	var last error
	for _, m := range candidates {
		c, err := p.svc.masters.client(m)
		if err != nil {
			last = err
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, ecPeerTimeout)
		resp, err := c.LookupEcVolume(cctx, &master_pb.LookupEcVolumeRequest{VolumeId: vid})
		cancel()
		if err != nil {
			last = fmt.Errorf("lookup ec volume %d: %v", vid, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		l := &ecLocations{at: p.now(), holders: map[uint32][]string{}}
		for _, sl := range resp.GetShardIdLocations() {
			if sl.GetShardId() >= maxShardID {
				continue
			}
			for _, loc := range sl.GetLocations() {
				if loc.GetUrl() == "" || sameServer(loc.GetUrl(), self) {
					continue
				}
				l.holders[sl.GetShardId()] = append(l.holders[sl.GetShardId()], holderAddress(loc))
			}
		}
		return l, nil
	}
	return nil, last
}

// holderAddress is the "host:port.grpcPort" form dialPeer takes, from a
// master's Location (gRPC port+10000 when it names none).
func holderAddress(loc *master_pb.Location) string {
	if gp := loc.GetGrpcPort(); gp != 0 {
		return loc.GetUrl() + "." + strconv.Itoa(int(gp))
	}
	return loc.GetUrl()
}

// client returns a cached connection to holder, dialed through the peer
// guard.
// The check (which may resolve a name) runs outside p.mu; of two
// connections dialed at once the first stored wins. At most maxEcConns are
// kept: beyond that an arbitrary one is closed to make room (a call still
// on it fails, and the read moves on to the next holder).
func (p *EcPeers) client(ctx context.Context, holder string) (volume_server_pb.VolumeServerClient, error) {
	p.mu.Lock()
	c, ok := p.conns[holder]
	p.mu.Unlock()
	if ok {
		return volume_server_pb.NewVolumeServerClient(c), nil
	}
	if err := p.svc.checkPeer(ctx, holder); err != nil {
		return nil, fmt.Errorf("ec shard holder %s: %w", holder, err)
	}
	c, err := p.svc.dialPeer(holder)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if old, ok := p.conns[holder]; ok {
		c.Close()
		return volume_server_pb.NewVolumeServerClient(old), nil
	}
	if len(p.conns) >= maxEcConns {
		for k, old := range p.conns {
			old.Close()
			delete(p.conns, k)
			break
		}
	}
	p.conns[holder] = c
	return volume_server_pb.NewVolumeServerClient(c), nil
}

// maxEcConns bounds the holder connections kept open.
const maxEcConns = 256

// FetchEcShard reads len(buf) bytes at off of a shard from the first holder
// that serves them. deleted reports a holder's answer that needle key is
// deleted there. When every cached holder fails, the master is asked
// again at once (at most every ecRelookupEvery) and the holders it names
// now are tried; a failure on every one of them marks the cached
// locations stale.
//
// Buffer ownership: buf is the caller's; it is written only here, before
// FetchEcShard returns, and never past len(buf) whatever a holder sends.
func (p *EcPeers) FetchEcShard(ctx context.Context, vid uint32, collection string, shard int, off int64, buf []byte, key uint64) (int, bool, error) {
	if shard < 0 || shard >= maxShardID {
		return 0, false, fmt.Errorf("ec shard %d.%d: shard id out of range", vid, shard)
	}
	holders, err := p.holders(ctx, vid, uint32(shard))
	if err != nil {
		return 0, false, err
	}
	if len(holders) == 0 {
		p.forget(vid)
		return 0, false, fmt.Errorf("ec shard %d.%d: no holder known", vid, shard)
	}
	_, _, want, _ := p.svc.store.EcShape(vid)
	tried := map[string]bool{}
	n, deleted, err := p.readAny(ctx, holders, tried, vid, uint32(shard), off, buf, key, want)
	if err == nil || ctx.Err() != nil {
		return n, deleted, err
	}
	// Every holder the cache named failed: shards may have moved (ec.balance,
	// ec.rebuild, a node back on another port). Ask the master again at once,
	// unless it was asked within ecRelookupEvery, and try the holders it
	// names now that were not tried.
	if fresh, ok := p.relookup(ctx, vid); ok {
		if n, deleted, rerr := p.readAny(ctx, fresh.holders[uint32(shard)], tried, vid, uint32(shard), off, buf, key, want); rerr == nil {
			return n, deleted, nil
		} else if !errors.Is(rerr, errNoHolderLeft) {
			err = rerr
		}
	}
	p.forget(vid)
	return 0, false, err
}

// ecRelookupEvery bounds how often a failed read makes the master be asked
// again for one volume.
const ecRelookupEvery = time.Second

// errNoHolderLeft: every holder named was tried already.
var errNoHolderLeft = errors.New("no untried holder")

// readAny reads from the first of holders not in tried that serves the
// bytes, adding each it tries to tried.
func (p *EcPeers) readAny(ctx context.Context, holders []string, tried map[string]bool, vid, shard uint32, off int64, buf []byte, key uint64, want int64) (int, bool, error) {
	last := errNoHolderLeft
	for _, h := range holders {
		if tried[h] {
			continue
		}
		tried[h] = true
		n, deleted, err := p.readFrom(ctx, h, vid, shard, off, buf, key, want)
		if err == nil {
			return n, deleted, nil
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	return 0, false, last
}

// relookup replaces vid's cached answer with the master's current one,
// unless the cached one is younger than ecRelookupEvery.
func (p *EcPeers) relookup(ctx context.Context, vid uint32) (*ecLocations, bool) {
	p.mu.Lock()
	l := p.cache[vid]
	recent := l != nil && p.now().Sub(l.at) < ecRelookupEvery
	p.mu.Unlock()
	if recent {
		return nil, false
	}
	fresh, err := p.lookup(ctx, vid)
	if err != nil {
		return nil, false
	}
	p.mu.Lock()
	p.cache[vid] = fresh
	p.mu.Unlock()
	return fresh, true
}

// readFrom is one VolumeEcShardRead from holder into buf.
func (p *EcPeers) readFrom(ctx context.Context, holder string, vid, shard uint32, off int64, buf []byte, key uint64, want int64) (int, bool, error) {
	c, err := p.client(ctx, holder)
	if err != nil {
		return 0, false, err
	}
	ctx, cancel := context.WithTimeout(ctx, ecPeerTimeout)
	defer cancel()
	stream, err := c.VolumeEcShardRead(ctx, &volume_server_pb.VolumeEcShardReadRequest{
		VolumeId: vid, ShardId: shard, Offset: off, Size: int64(len(buf)), FileKey: key, EncodeTsNs: want,
	})
	if err != nil {
		return 0, false, fmt.Errorf("read ec shard %d.%d from %s: %v", vid, shard, holder, err)
	}
	n, deleted := 0, false
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if deleted {
				break // a deleted answer stands
			}
			return 0, false, fmt.Errorf("read ec shard %d.%d from %s: %v", vid, shard, holder, err)
		}
		if want != 0 && msg.GetEncodeTsNs() != want {
			return 0, false, fmt.Errorf("ec shard %d.%d from %s belongs to a different encode run (want %d, got %d)", vid, shard, holder, want, msg.GetEncodeTsNs())
		}
		if msg.GetIsDeleted() {
			deleted = true
		}
		data := msg.GetData()
		if len(data) > len(buf)-n {
			return 0, false, fmt.Errorf("read ec shard %d.%d from %s: %d bytes more than asked", vid, shard, holder, len(data)-(len(buf)-n))
		}
		n += copy(buf[n:], data)
	}
	if deleted {
		return 0, true, nil
	}
	return n, false, nil
}

// DeleteEcBlob records needle key deleted on every other node holding any
// shard of the volume, the holders of shard (the needle's first data
// shard) first. It succeeds when at least one of them accepted (or when no
// other node holds a shard); the errors of all the others are returned
// only when none did.
//
// This is stricter than upstream (doDeleteNeedleFromAtLeastOneRemoteEcShards
// reaches only the primary shard's holders): the delete then survives the
// loss of any one node's disk, including the primary holder's, which
// ec.rebuild would otherwise rebuild without the journal that knew of it.
func (p *EcPeers) DeleteEcBlob(ctx context.Context, vid uint32, collection string, key uint64, version uint32, shard int) error {
	order := make([]uint32, 0, maxShardID)
	if shard >= 0 && shard < maxShardID {
		order = append(order, uint32(shard))
	}
	for id := uint32(0); id < maxShardID; id++ {
		if int(id) != shard {
			order = append(order, id)
		}
	}
	var targets []string
	seen := map[string]bool{}
	for _, id := range order {
		h, err := p.holders(ctx, vid, id)
		if err != nil {
			return err
		}
		for _, a := range h {
			if !seen[a] {
				seen[a] = true
				targets = append(targets, a)
			}
		}
	}
	if len(targets) == 0 {
		return nil
	}
	req := &volume_server_pb.VolumeEcBlobDeleteRequest{VolumeId: vid, Collection: collection, FileKey: key, Version: version}
	var errs []error
	accepted := 0
	for _, h := range targets {
		c, err := p.client(ctx, h)
		if err == nil {
			cctx, cancel := context.WithTimeout(ctx, ecPeerTimeout)
			_, err = c.VolumeEcBlobDelete(cctx, req)
			cancel()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("delete ec needle %d.%x on %s: %v", vid, key, h, err))
			continue
		}
		accepted++
	}
	if accepted > 0 {
		if len(errs) > 0 {
			wlog.Warningf("ec delete %d.%x reached %d of %d holders: %v", vid, key, accepted, len(targets), errors.Join(errs...))
		}
		return nil
	}
	return errors.Join(errs...)
}
