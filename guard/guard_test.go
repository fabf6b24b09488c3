package guard

import (
	"net"
	"sync"
	"testing"
)

func TestWhiteList(t *testing.T) {
	w, errs := New(Split(" 127.0.0.2 , 10.0.0.0/8,::1, 192.168.1.0/30, bad/99, fd00::/8"))
	if len(errs) != 1 {
		t.Fatalf("errors %v, want the one bad CIDR", errs)
	}
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"127.0.0.2", true}, {"127.0.0.1", false}, {"10.1.2.3", true}, {"11.0.0.1", false},
		{"::1", true}, {"[::1]", true}, {"::ffff:10.9.9.9", true}, {"192.168.1.3", true}, {"192.168.1.4", false},
		{"fd12::1", true}, {"fe80::1", false}, {"not-an-ip", false}, {"", false},
	} {
		if got := w.Allows(tc.host); got != tc.want {
			t.Errorf("Allows(%q) = %v, want %v", tc.host, got, tc.want)
		}
		if ip := net.ParseIP(tc.host); ip != nil && w.AllowsIP(ip) != tc.want {
			t.Errorf("AllowsIP(%s) disagrees", tc.host)
		}
	}
	var empty *WhiteList
	if !empty.Allows("1.2.3.4") || !empty.Empty() {
		t.Fatal("a nil list must allow everyone")
	}
	w.Set(nil)
	if !w.Empty() || !w.Allows("8.8.8.8") {
		t.Fatal("an emptied list must allow everyone")
	}
}

// TestSetWhileReading: replacing the list races with no reader (-race).
func TestSetWhileReading(t *testing.T) {
	w, _ := New([]string{"10.0.0.1"})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
					w.Allows("10.0.0.1")
				}
			}
		}()
	}
	for i := 0; i < 1000; i++ {
		w.Set([]string{"10.0.0.1", "10.0.0.0/24"})
	}
	close(stop)
	wg.Wait()
}
