package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/seaweedfs/seaweedfs/weed/pb/volume_server_pb"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/weedvol/weedvol/internal/weedproc"
)

// queryDocs are the needles both servers store, by needle key: nested
// objects, arrays, numbers, escapes, NDJSON, and text that is not JSON.
var queryDocs = map[uint64]string{
	1: "{\"score\":3}\n{\"score\":12}\n{\"score\":18}\n",
	2: `{"name":"Bl\"ue","size":6,"tags":["a","b"],"o":{"p":{"q":[1,{"r":"deep"}]}},"ok":true,"nil":null}`,
	3: "[{\"score\":1},{\"score\":2}]\n{\"score\":\"12\"}\n{\"score\":1e2,\"name\":\"tab\\there \\u00e9\"}\n",
	4: `not json {"score":5 garbage "unterminated`,
	5: `{"score":-7.5,"name":"x*y","o":{"p":{"q":[]}}}{"score":100,"name":"xyz"}`,
	6: ``,
}

// TestQueryMatchesUpstream stores the same needles (same volume, keys and
// cookie) on the upstream volume server and on weedvol, each under its own
// upstream master, sends both the same Query requests (filters of every
// operand, projections of nested paths, CSV input, a wrong cookie, bad and
// missing fids) and requires the same streamed stripes and the same final
// error text.
func TestQueryMatchesUpstream(t *testing.T) {
	weed := weedproc.TestBinary(t, "WEED_BINARY", "weed")
	root := t.TempDir()
	weedvol := buildWeedvol(t, root)
	const vid = 7
	const cookie = 0x1234abcd
	fid := func(key uint64, c uint32) string { return fmt.Sprintf("%d,%x%08x", vid, key, c) }

	start := func(name, bin string) volume_server_pb.VolumeServerClient {
		dir := filepath.Join(root, name)
		mdir, vdir := filepath.Join(dir, "m"), filepath.Join(dir, "v")
		for _, d := range []string{mdir, vdir} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		master, err := weedproc.StartMaster(weed, mdir, "-volumeSizeLimitMB=100")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { master.Stop() })
		vol, err := weedproc.StartVolume(bin, vdir, dir, master.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { vol.Stop() })
		conn, err := grpc.NewClient("127.0.0.1:"+strconv.Itoa(vol.Port+10000), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		c := volume_server_pb.NewVolumeServerClient(conn)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := c.AllocateVolume(ctx, &volume_server_pb.AllocateVolumeRequest{VolumeId: vid, Replication: "000", Version: 3}); err != nil {
			t.Fatalf("%s: allocate: %v", name, err)
		}
		for key, doc := range queryDocs {
			if err := weedproc.Upload(vol.Addr(), fid(key, cookie), "doc.json", "application/json", []byte(doc)); err != nil {
				t.Fatalf("%s: upload %d: %v", name, key, err)
			}
		}
		return c
	}
	up, wv := start("up", weed), start("wv", weedvol)

	all := []string{fid(1, cookie), fid(2, cookie), fid(3, cookie), fid(4, cookie), fid(5, cookie), fid(6, cookie)}
	jsonIn := &volume_server_pb.QueryRequest_InputSerialization{JsonInput: &volume_server_pb.QueryRequest_InputSerialization_JSONInput{Type: "LINES"}}
	csvIn := &volume_server_pb.QueryRequest_InputSerialization{CsvInput: &volume_server_pb.QueryRequest_InputSerialization_CSVInput{}}
	filter := func(field, op, value string) *volume_server_pb.QueryRequest_Filter {
		return &volume_server_pb.QueryRequest_Filter{Field: field, Operand: op, Value: value}
	}
	tests := []struct {
		name string
		req  *volume_server_pb.QueryRequest
	}{
		{"gt", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"score", "name"}, Filter: filter("score", ">", "10"), InputSerialization: jsonIn}},
		{"exists", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"name", "tags", "tags.1", "tags.#", "o.p.q.1.r", "nil", "ok"}, Filter: filter("name", "", ""), InputSerialization: jsonIn}},
		{"string eq escaped", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"size"}, Filter: filter("name", "=", `Bl"ue`), InputSerialization: jsonIn}},
		{"wildcard", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"name", "score"}, Filter: filter("name", "%", `x\*?`), InputSerialization: jsonIn}},
		{"not wildcard", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"name"}, Filter: filter("name", "!%", "tab*"), InputSerialization: jsonIn}},
		{"le", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"score", "o.p.q.#"}, Filter: filter("score", "<=", "12"), InputSerialization: jsonIn}},
		{"bool", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: nil, Filter: filter("ok", ">=", ""), InputSerialization: jsonIn}},
		{"empty filter", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"score"}, Filter: filter("", "", ""), InputSerialization: jsonIn}},
		{"csv", &volume_server_pb.QueryRequest{FromFileIds: all, Selections: []string{"score"}, Filter: filter("score", ">", "1"), InputSerialization: csvIn}},
		{"wrong cookie stops", &volume_server_pb.QueryRequest{FromFileIds: []string{fid(1, cookie), fid(2, cookie+1), fid(3, cookie)}, Selections: []string{"score"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
		{"missing needle", &volume_server_pb.QueryRequest{FromFileIds: []string{fid(1, cookie), fid(99, cookie)}, Selections: []string{"score"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
		{"missing volume", &volume_server_pb.QueryRequest{FromFileIds: []string{"98,1" + "12345678"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
		{"bad vid", &volume_server_pb.QueryRequest{FromFileIds: []string{"x,112345678"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
		{"no comma", &volume_server_pb.QueryRequest{FromFileIds: []string{fid(1, cookie), "bad-fid"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
		{"short key", &volume_server_pb.QueryRequest{FromFileIds: []string{"7,1234"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
		{"bad hex", &volume_server_pb.QueryRequest{FromFileIds: []string{"7,zz12345678"}, Filter: filter("score", ">", "0"), InputSerialization: jsonIn}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := queryAll(up, tt.req)
			got, gotErr := queryAll(wv, tt.req)
			t.Logf("upstream: %q, %q", want, wantErr)
			if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", want) {
				t.Errorf("stripes\n got %q\nwant %q", got, want)
			}
			if gotErr != wantErr {
				t.Errorf("final error\n got %q\nwant %q", gotErr, wantErr)
			}
		})
	}
}

// queryAll runs one Query and returns the records of every stripe and the
// status message that ended the stream ("" for EOF).
func queryAll(c volume_server_pb.VolumeServerClient, req *volume_server_pb.QueryRequest) ([]string, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := c.Query(ctx, req)
	if err != nil {
		return nil, status.Convert(err).Message()
	}
	var out []string
	for {
		s, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, ""
		}
		if err != nil {
			return out, status.Convert(err).Message()
		}
		out = append(out, string(s.GetRecords()))
	}
}
