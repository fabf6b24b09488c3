package grpcsvc

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/netguard"
)

// refusePeers is the default policy, which the harness lifts.
func refusePeers(c *Config) { c.AllowUntrustedRemoteEndpoints = false }

// countingListener accepts TCP connections on loopback and counts them.
func countingListener(t *testing.T) (port string, accepted *atomic.Int32) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	return strconv.Itoa(lis.Addr().(*net.TCPAddr).Port), accepted
}

// volumeCopyErr runs VolumeCopy of vid from source on e and returns its
// error.
func volumeCopyErr(t *testing.T, e *env, vid uint32, source string) error {
	t.Helper()
	stream, err := e.client.VolumeCopy(ctxT(t), &volume_server_pb.VolumeCopyRequest{VolumeId: vid, SourceDataNode: source})
	if err != nil {
		return err
	}
	for {
		if _, err := stream.Recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// TestPeerSourcesRefused: VolumeCopy and VolumeTailReceiver refuse sources
// that lead to loopback, link-local or metadata addresses, in every form,
// with upstream's code (Unknown) and text, before dialing anything and
// without touching a file. (VolumeIncrementalCopy takes no source: the
// backup dials the volume server, not the other way round.)
func TestPeerSourcesRefused(t *testing.T) {
	dst := newEnv(t, refusePeers)
	const vid = 41
	dv := dst.allocate(t, vid, "pics")
	write(t, dv, needle.Needle{ID: 1, Cookie: 1, Data: []byte("kept")})
	port, accepted := countingListener(t)
	before := snapshotTree(t, dst.dir)
	for _, tc := range []struct{ source, why string }{
		{"127.0.0.1:" + port, "resolves to loopback address 127.0.0.1"},
		{"127.0.0.1:1." + port, "resolves to loopback address 127.0.0.1"},
		{"127.3.2.1:1." + port, "resolves to loopback address 127.3.2.1"},
		{"[::1]:1." + port, "resolves to loopback address ::1"},
		{"[::ffff:127.0.0.1]:1." + port, "resolves to loopback address 127.0.0.1"},
		{"localhost:1." + port, "resolves to loopback address 127.0.0.1"},
		{"0.0.0.0:1." + port, "resolves to unspecified address 0.0.0.0"},
		{"169.254.169.254:80", "targets instance metadata service 169.254.169.254"},
		{"169.254.169.254:80.18080", "targets instance metadata service 169.254.169.254"},
		{"[::ffff:169.254.169.254]:80", "targets instance metadata service 169.254.169.254"},
		{"[64:ff9b::a9fe:a9fe]:80", "targets instance metadata service 169.254.169.254"},
		{"[2002:a9fe:a9fe::]:80", "targets instance metadata service 169.254.169.254"},
		{"[fd00:ec2::254]:80", "targets instance metadata service fd00:ec2::254"},
		{"169.254.10.10:80", "resolves to link-local address 169.254.10.10"},
		{"[fe80::1]:80", "resolves to link-local address fe80::1"},
		{"metadata.google.internal:80", "targets instance metadata service"},
		{"http://10.0.0.1:8080", "must be a bare host:port"},
		{"", "replica target is empty"},
	} {
		why := netguard.Guard{}.CheckPeer(context.Background(), tc.source)
		if why == nil || !strings.Contains(why.Error(), tc.why) {
			t.Fatalf("netguard on %q: %v, want %q", tc.source, why, tc.why)
		}
		err := volumeCopyErr(t, dst, vid, tc.source)
		if want := "invalid source data node " + tc.source + ": " + why.Error(); status.Code(err) != codes.Unknown || status.Convert(err).Message() != want {
			t.Errorf("VolumeCopy from %q: %v, want Unknown %q", tc.source, err, want)
		}
		_, err = dst.client.VolumeTailReceiver(ctxT(t), &volume_server_pb.VolumeTailReceiverRequest{VolumeId: vid, SourceVolumeServer: tc.source})
		if want := "invalid source volume server " + tc.source + ": " + why.Error(); status.Code(err) != codes.Unknown || status.Convert(err).Message() != want {
			t.Errorf("VolumeTailReceiver from %q: %v, want Unknown %q", tc.source, err, want)
		}
		// upstream checks the source before looking for the volume
		_, err = dst.client.VolumeTailReceiver(ctxT(t), &volume_server_pb.VolumeTailReceiverRequest{VolumeId: 999, SourceVolumeServer: tc.source})
		if err == nil || !strings.Contains(err.Error(), "invalid source volume server") {
			t.Errorf("VolumeTailReceiver of a missing volume from %q: %v", tc.source, err)
		}
	}
	if n := accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the loopback listener", n)
	}
	if after := snapshotTree(t, dst.dir); !sameTree(before, after) {
		t.Fatalf("refused calls changed the data directory:\n%v\n%v", before, after)
	}
	if _, ok := dst.store.Volume(vid); !ok {
		t.Fatal("the local replica was unmounted")
	}
}

// rebindResolver answers a public address for the check, then loopback.
type rebindResolver struct{ calls atomic.Int32 }

func (r *rebindResolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if r.calls.Add(1) == 1 {
		return []net.IPAddr{{IP: net.ParseIP("192.0.2.10")}}, nil
	}
	return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}}, nil
}

// TestPeerSourceRebinding: a source name that resolves to a public address
// when checked and to loopback when dialed reaches nothing.
func TestPeerSourceRebinding(t *testing.T) {
	r := &rebindResolver{}
	peerResolver = r
	t.Cleanup(func() { peerResolver = nil })
	dst := newEnv(t, refusePeers)
	port, accepted := countingListener(t)
	before := snapshotTree(t, dst.dir)
	err := volumeCopyErr(t, dst, 42, "rebind.example:1."+port)
	if err == nil || !strings.Contains(err.Error(), "loopback address 127.0.0.1") {
		t.Fatalf("VolumeCopy from a rebinding name: %v", err)
	}
	if r.calls.Load() < 2 {
		t.Fatalf("the dial did not resolve through the guard (%d lookups)", r.calls.Load())
	}
	if accepted.Load() != 0 {
		t.Fatal("the rebound dial connected to loopback")
	}
	if !sameTree(before, snapshotTree(t, dst.dir)) {
		t.Fatal("the data directory changed")
	}
}

// TestPeerSourcesAllowedByFlag: with -volume.allowUntrustedRemoteEndpoints
// a loopback source is dialed, as upstream's test suite relies on.
func TestPeerSourcesAllowedByFlag(t *testing.T) {
	src, dst := newEnv(t), newEnv(t) // the harness allows
	const vid = 43
	n := write(t, src.allocate(t, vid, ""), needle.Needle{ID: 5, Cookie: 5, Data: []byte("over loopback")})
	if _, err := runVolumeCopy(t, dst, src, vid, 0); err != nil {
		t.Fatal(err)
	}
	if got, err := readNeedle(t, dst, vid, n); err != nil || string(got) != "over loopback" {
		t.Fatalf("copied needle: %q, %v", got, err)
	}
	_, err := dst.client.VolumeTailReceiver(ctxT(t), &volume_server_pb.VolumeTailReceiverRequest{VolumeId: 999, SourceVolumeServer: "127.0.0.1:1.1"})
	if err == nil || !strings.Contains(err.Error(), "receiver not found volume id 999") {
		t.Fatalf("missing volume with the flag: %v", err)
	}
}

// TestGuardedVolumeCopyFromPeer: with the guard on, a copy from a peer on
// a non-loopback address of this host goes through the guarded dialer.
func TestGuardedVolumeCopyFromPeer(t *testing.T) {
	ip := hostIPv4(t)
	src := newEnv(t, func(c *Config) { c.IP = ip })
	dst := newEnv(t, refusePeers)
	const vid = 44
	n := write(t, src.allocate(t, vid, "pics"), needle.Needle{ID: 6, Cookie: 6, Data: []byte("through the guard")})
	source := ip + ":1." + src.addr[strings.LastIndexByte(src.addr, ':')+1:]
	if err := volumeCopyErr(t, dst, vid, source); err != nil {
		t.Fatal(err)
	}
	if got, err := readNeedle(t, dst, vid, n); err != nil || string(got) != "through the guard" {
		t.Fatalf("copied needle: %q, %v", got, err)
	}
}

// hostIPv4 is a non-loopback IPv4 address of this host that the peer
// policy allows; the test is skipped without one.
func hostIPv4(t *testing.T) string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Skip(err)
	}
	for _, a := range addrs {
		n, ok := a.(*net.IPNet)
		if !ok || n.IP.To4() == nil {
			continue
		}
		ip := n.IP.String()
		if (netguard.Guard{}).CheckPeer(context.Background(), ip+":1") == nil {
			if lis, err := net.Listen("tcp", ip+":0"); err == nil {
				lis.Close()
				return ip
			}
		}
	}
	t.Skip("no non-loopback IPv4 address to listen on")
	return ""
}
