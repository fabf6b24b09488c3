package grpcsvc

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/weedvol/weedvol/internal/weedproc"
	"github.com/weedvol/weedvol/remote"
)

// TestHeartbeatStorageBackends: the storage backends of a real master's
// master.toml arrive in the heartbeat responses and are parsed as
// upstream's s3_backend parses them.
func TestHeartbeatStorageBackends(t *testing.T) {
	weed := weedBinary(t)
	work := t.TempDir()
	toml := `
[storage.backend]
	[storage.backend.s3.default]
	enabled = true
	aws_access_key_id = "ak"
	aws_secret_access_key = "sk"
	region = "eu-west-1"
	bucket = "tier-bucket"
	endpoint = "http://127.0.0.1:9799"
	[storage.backend.s3.plain]
	enabled = true
	bucket = "plain-bucket"
	force_path_style = false
	storage_class = "GLACIER"
	[storage.backend.s3.off]
	enabled = false
	bucket = "off-bucket"
`
	if err := os.WriteFile(filepath.Join(work, "master.toml"), []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	master, err := weedproc.StartMasterIn(weed, t.TempDir(), work)
	if err != nil {
		t.Fatal(err)
	}
	defer master.Stop()
	port, err := weedproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Port, c.GrpcPort = port, port+grpcPortOffset
		c.Masters = []string{master.Addr()}
		c.Pulse = time.Second
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.svc.StartHeartbeat(ctx)

	eventually(t, 20*time.Second, "backends announced", func() (bool, string) {
		names := e.svc.Backends().Names()
		return len(names) == 2, fmt.Sprint(names)
	})
	cases := []struct {
		name string
		want remote.S3Config
	}{
		{"s3.default", remote.S3Config{AccessKey: "ak", SecretKey: "sk", Region: "eu-west-1", Bucket: "tier-bucket",
			Endpoint: "http://127.0.0.1:9799", ForcePathStyle: true, StorageClass: "STANDARD_IA"}},
		{"s3.plain", remote.S3Config{Bucket: "plain-bucket", ForcePathStyle: false, StorageClass: "GLACIER"}},
	}
	for _, c := range cases {
		s, ok := e.svc.Backends().Get(c.name)
		if !ok {
			t.Fatalf("%s missing", c.name)
		}
		if got := s.Config(); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %+v, want %+v", c.name, s.Config(), c.want)
		}
	}
	if _, ok := e.svc.Backends().Get("s3.off"); ok {
		t.Error("disabled backend s3.off announced")
	}
}
