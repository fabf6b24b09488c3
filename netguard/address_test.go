package netguard

import "testing"

func TestServerAddresses(t *testing.T) {
	for _, tc := range []struct {
		in, http, grpc string
	}{
		{"127.0.0.1:9333", "127.0.0.1:9333", "127.0.0.1:19333"},
		{"127.0.0.1:9333.19444", "127.0.0.1:9333", "127.0.0.1:19444"},
		{"master.example:9333", "master.example:9333", "master.example:19333"},
		{"[::1]:9333", "[::1]:9333", "[::1]:19333"},
		{"[::1]:9333.9334", "[::1]:9333", "[::1]:9334"},
		{"10.0.0.1:8080.notaport", "10.0.0.1:8080", "10.0.0.1:18080"},
		{"localhost", "localhost", "localhost"},
		{"host:", "host:", "host:"},
	} {
		if got := HTTPAddress(tc.in); got != tc.http {
			t.Errorf("HTTPAddress(%q) = %q, want %q", tc.in, got, tc.http)
		}
		if got := GRPCAddress(tc.in); got != tc.grpc {
			t.Errorf("GRPCAddress(%q) = %q, want %q", tc.in, got, tc.grpc)
		}
	}
	if !SameServer("10.0.0.1:9333", "10.0.0.1:9333.19333") || SameServer("10.0.0.1:9333", "10.0.0.2:9333") {
		t.Error("SameServer compares HTTP addresses")
	}
}

func TestValidPort(t *testing.T) {
	for p, want := range map[string]bool{
		"1": true, "8080": true, "65535": true,
		"": false, "0": false, "08080": false, "65536": false, "-1": false, "+80": false, "8o": false, "123456": false,
	} {
		if got := validPort(p); got != want {
			t.Errorf("validPort(%q) = %v, want %v", p, got, want)
		}
	}
}
