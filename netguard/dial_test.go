package netguard

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// rebinder answers a name with a public address first, then with
// loopback: what a DNS rebinding attacker's server does.
type rebinder struct{ calls atomic.Int32 }

func (r *rebinder) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	if r.calls.Add(1) == 1 {
		return []net.IPAddr{{IP: net.ParseIP("52.216.10.10")}}, nil
	}
	return []net.IPAddr{{IP: net.ParseIP("127.0.0.1")}}, nil
}

// listen accepts connections on loopback until the test ends.
func listen(t *testing.T) (addr string, accepted *atomic.Int32) {
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
	return lis.Addr().String(), accepted
}

func dialCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestDialerRefusesRebinding: the name checks out as public, then resolves
// to loopback when dialed; the dial is refused and nothing connects.
func TestDialerRefusesRebinding(t *testing.T) {
	addr, accepted := listen(t)
	_, port, _ := net.SplitHostPort(addr)
	r := &rebinder{}
	g := Guard{Resolver: r}
	target := "rebind.example.com:" + port
	if err := g.CheckPeer(dialCtx(t), target); err != nil {
		t.Fatalf("the first answer is public: %v", err)
	}
	c, err := g.Dialer(Peer, target)(dialCtx(t), "tcp", target)
	if c != nil {
		c.Close()
	}
	if err == nil || !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("dial after rebinding: %v, want a loopback refusal", err)
	}
	if accepted.Load() != 0 {
		t.Fatal("a connection reached the loopback listener")
	}
}

// TestDialerControlChecksLiterals: a literal refused address is refused by
// the socket hook before connecting; with AllowUntrusted there is no
// guarded dialer and a plain dial connects.
func TestDialerControlChecksLiterals(t *testing.T) {
	addr, accepted := listen(t)
	for _, a := range []string{addr, "[::ffff:127.0.0.1]:" + addr[strings.LastIndexByte(addr, ':')+1:]} {
		c, err := Guard{}.Dialer(Peer, a)(dialCtx(t), "tcp", a)
		if c != nil {
			c.Close()
		}
		if !errors.Is(err, ErrRefused) {
			t.Fatalf("dial %s: %v, want a refusal", a, err)
		}
	}
	if accepted.Load() != 0 {
		t.Fatal("a refused dial connected")
	}
	if d := (Guard{AllowUntrusted: true}).Dialer(Peer, addr); d != nil {
		t.Fatal("AllowUntrusted still returns a guarded dialer")
	}
	c, err := (&net.Dialer{}).DialContext(dialCtx(t), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// TestDialerSkipsRefusedAnswers: of a name's answers, refused ones are
// skipped and an allowed one is dialed; the resolver is asked once.
func TestDialerSkipsRefusedAnswers(t *testing.T) {
	r := &stubResolver{answers: map[string][]string{"two.example.com": {"127.0.0.1", "192.0.2.1"}}}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c, err := Guard{Resolver: r}.Dialer(Peer, "two.example.com:9")(ctx, "tcp", "two.example.com:9")
	if c != nil {
		c.Close()
	}
	// 192.0.2.1 (TEST-NET-1) is allowed but unreachable: the error is the
	// refusal of the first answer, and the second one was tried.
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("dial: %v", err)
	}
	if r.calls["two.example.com"] != 1 {
		t.Fatalf("%d lookups, want 1", r.calls["two.example.com"])
	}
	for _, addr := range []string{"metadata:80", "localhost:80", "x.localhost:80"} {
		if _, err := (Guard{Resolver: r}).Dialer(Peer, addr)(dialCtx(t), "tcp", addr); !errors.Is(err, ErrRefused) {
			t.Errorf("dial %s: %v, want a refusal", addr, err)
		}
	}
}
