package difftest

import (
	"errors"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// TestCompareAnswers checks that the gRPC comparison sees each way two
// answers can differ, and nothing when they agree.
func TestCompareAnswers(t *testing.T) {
	msg := func(cookie uint32, blob string) proto.Message {
		return &volume_server_pb.ReadAllNeedlesResponse{VolumeId: 3, NeedleId: 9, Cookie: cookie, NeedleBlob: []byte(blob)}
	}
	notFound := status.Error(codes.NotFound, "needle not found 9")
	for _, tc := range []struct {
		name   string
		up, wv grpcAnswer
		want   []string // Diff.What, in order
	}{
		{"equal", grpcAnswer{msgs: []proto.Message{msg(1, "a"), msg(2, "b")}}, grpcAnswer{msgs: []proto.Message{msg(1, "a"), msg(2, "b")}}, nil},
		{"equal errors", grpcAnswer{err: notFound}, grpcAnswer{err: notFound}, nil},
		{"field", grpcAnswer{msgs: []proto.Message{msg(1, "a")}}, grpcAnswer{msgs: []proto.Message{msg(2, "a")}}, []string{"cookie"}},
		{"field of a stream", grpcAnswer{msgs: []proto.Message{msg(1, "a"), msg(1, "a")}}, grpcAnswer{msgs: []proto.Message{msg(1, "a"), msg(1, "b")}}, []string{"message 1 needle_blob"}},
		{"count", grpcAnswer{msgs: []proto.Message{msg(1, "a"), msg(1, "a")}}, grpcAnswer{msgs: []proto.Message{msg(1, "a")}}, []string{"messages"}},
		{"code", grpcAnswer{err: notFound}, grpcAnswer{err: status.Error(codes.Unknown, "needle not found 9")}, []string{"code"}},
		{"text", grpcAnswer{err: notFound}, grpcAnswer{err: status.Error(codes.NotFound, "needle not found 10")}, []string{"error"}},
		{"error against answer", grpcAnswer{err: notFound}, grpcAnswer{msgs: []proto.Message{msg(1, "a")}}, []string{"messages", "code", "error"}},
		{"stream end", grpcAnswer{msgs: []proto.Message{msg(1, "a")}, err: errors.New("not found volume id 9999")}, grpcAnswer{msgs: []proto.Message{msg(1, "a")}}, []string{"code", "error"}},
		{"sub-message", grpcAnswer{msgs: []proto.Message{&volume_server_pb.ReadVolumeFileStatusResponse{VolumeInfo: &volume_server_pb.VolumeInfo{Version: 3}}}},
			grpcAnswer{msgs: []proto.Message{&volume_server_pb.ReadVolumeFileStatusResponse{VolumeInfo: &volume_server_pb.VolumeInfo{Version: 2}}}}, []string{"volume_info.version"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range compareAnswers(tc.up, tc.wv) {
				got = append(got, d.What)
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Fatalf("diffs %q, want %q", got, tc.want)
			}
		})
	}
}

// TestKnownSizeMismatchID checks the rule for upstream's doubly
// hex-encoded id: weedvol's text must be upstream's with the id decoded.
func TestKnownSizeMismatchID(t *testing.T) {
	req := &Request{Method: "gRPC", Target: "ReadNeedleMeta volume=97 needle=9 offset=6040 size=0"}
	answer := func(msg string) Response { return grpcAnswer{err: errors.New(msg)}.response() }
	up := answer("size mismatch for entry at offset 6040: found id 3332 size 2518, expected size 0")
	k, ok := matchKnown(req, up, answer("size mismatch for entry at offset 6040: found id 32 size 2518, expected size 0"))
	if !ok || !strings.HasPrefix(k.name, "ReadNeedleMeta size mismatch") {
		t.Fatalf("rule not matched: %q", k.name)
	}
	if d := k.check(req, up, answer("size mismatch for entry at offset 6040: found id 32 size 2518, expected size 0")); d != nil {
		t.Fatalf("the decoded id fails the check: %v", d)
	}
	if d := k.check(req, up, answer("size mismatch for entry at offset 6040: found id 33 size 2518, expected size 0")); d == nil {
		t.Fatal("another id passes the check")
	}
	if d := k.check(req, up, answer("size mismatch for entry at offset 6048: found id 32 size 2518, expected size 0")); d == nil {
		t.Fatal("another offset passes the check")
	}
}
