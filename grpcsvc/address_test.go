package grpcsvc

import "testing"

func TestMasterAddresses(t *testing.T) {
	for _, tc := range []struct {
		in, http, grpc string
	}{
		{"127.0.0.1:9333", "127.0.0.1:9333", "127.0.0.1:19333"},
		{"127.0.0.1:9333.19444", "127.0.0.1:9333", "127.0.0.1:19444"},
		{"master.example:9333", "master.example:9333", "master.example:19333"},
		{"[::1]:9333", "[::1]:9333", "[::1]:19333"},
		{"[::1]:9333.9334", "[::1]:9333", "[::1]:9334"},
		{"localhost", "localhost", "localhost"},
		{"host:", "host:", "host:"},
	} {
		if got := httpAddress(tc.in); got != tc.http {
			t.Errorf("httpAddress(%q) = %q, want %q", tc.in, got, tc.http)
		}
		if got := grpcAddress(tc.in); got != tc.grpc {
			t.Errorf("grpcAddress(%q) = %q, want %q", tc.in, got, tc.grpc)
		}
	}
	if !sameServer("10.0.0.1:9333", "10.0.0.1:9333.19333") || sameServer("10.0.0.1:9333", "10.0.0.2:9333") {
		t.Error("sameServer compares HTTP addresses")
	}
}
