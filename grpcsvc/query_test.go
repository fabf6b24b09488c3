package grpcsvc

import (
	"errors"
	"io"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/engine/needle"
)

// TestQueryRequests runs Query over a real store: the answers upstream
// gives, and InvalidArgument where upstream would panic (after the read,
// so a missing needle still fails as upstream and a wrong cookie still
// ends the stream quietly).
func TestQueryRequests(t *testing.T) {
	e := newEnv(t)
	v := e.allocate(t, 3, "")
	write(t, v, needle.Needle{ID: 5, Cookie: 9, Data: []byte("{\"a\":1}\n{\"a\":2,\"b\":\"x\"}\n")})
	good := fid(3, 5, 9)
	jsonIn := &volume_server_pb.QueryRequest_InputSerialization{JsonInput: &volume_server_pb.QueryRequest_InputSerialization_JSONInput{}}
	f := &volume_server_pb.QueryRequest_Filter{Field: "a", Operand: ">", Value: "1"}
	tests := []struct {
		name    string
		req     *volume_server_pb.QueryRequest
		stripes []string
		code    codes.Code
		msg     string
	}{
		{"match", &volume_server_pb.QueryRequest{FromFileIds: []string{good, good}, Selections: []string{"b", "a"}, Filter: f, InputSerialization: jsonIn}, []string{`{b:"x",a:2}`, `{b:"x",a:2}`}, codes.OK, ""},
		{"no input", &volume_server_pb.QueryRequest{FromFileIds: []string{good}, Filter: f}, nil, codes.InvalidArgument, ""},
		{"no filter", &volume_server_pb.QueryRequest{FromFileIds: []string{good}, InputSerialization: jsonIn}, nil, codes.InvalidArgument, ""},
		{"no input, wrong cookie", &volume_server_pb.QueryRequest{FromFileIds: []string{fid(3, 5, 8)}}, nil, codes.OK, ""},
		{"no input, missing", &volume_server_pb.QueryRequest{FromFileIds: []string{fid(3, 6, 9)}}, nil, codes.Unknown, "not found"},
		{"gjson query path", &volume_server_pb.QueryRequest{FromFileIds: []string{good}, Selections: []string{"a.#(b)"}, Filter: f, InputSerialization: jsonIn}, nil, codes.Unimplemented, ""},
		{"no fids", &volume_server_pb.QueryRequest{}, nil, codes.OK, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream, err := e.client.Query(ctxT(t), tt.req)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for {
				s, err := stream.Recv()
				if errors.Is(err, io.EOF) {
					err = nil
				}
				if err != nil || s == nil {
					st := status.Convert(err)
					if st.Code() != tt.code || (tt.msg != "" && st.Message() != tt.msg) {
						t.Fatalf("end = %v, want %v %q", err, tt.code, tt.msg)
					}
					break
				}
				got = append(got, string(s.GetRecords()))
			}
			if len(got) != len(tt.stripes) {
				t.Fatalf("stripes %q, want %q", got, tt.stripes)
			}
			for i := range got {
				if got[i] != tt.stripes[i] {
					t.Fatalf("stripes %q, want %q", got, tt.stripes)
				}
			}
		})
	}
}
