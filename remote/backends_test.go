package remote_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"

	"github.com/weedvol/weedvol/remote"
)

func TestConfigFromProperties(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]string
		want  remote.S3Config
	}{
		{"defaults", map[string]string{"bucket": "b"},
			remote.S3Config{Bucket: "b", ForcePathStyle: true, StorageClass: "STANDARD_IA"}},
		{"all", map[string]string{"aws_access_key_id": "ak", "aws_secret_access_key": "sk", "region": "r", "bucket": "b",
			"endpoint": "http://h:1", "storage_class": "GLACIER", "force_path_style": "false", "upload_concurrency": "9"},
			remote.S3Config{AccessKey: "ak", SecretKey: "sk", Region: "r", Bucket: "b", Endpoint: "http://h:1",
				StorageClass: "GLACIER", ForcePathStyle: false}},
		{"unparsable bool is the default", map[string]string{"bucket": "b", "force_path_style": "maybe"},
			remote.S3Config{Bucket: "b", ForcePathStyle: true, StorageClass: "STANDARD_IA"}},
	}
	for _, c := range cases {
		if got := remote.ConfigFromProperties(c.props); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestBackendsUpdate(t *testing.T) {
	b := remote.NewBackends()
	s3 := func(id string, props map[string]string) *master_pb.StorageBackend {
		return &master_pb.StorageBackend{Type: "s3", Id: id, Properties: props}
	}
	if err := b.Update([]*master_pb.StorageBackend{
		s3("default", map[string]string{"bucket": "one", "endpoint": "http://h:1"}),
		s3("other", map[string]string{"bucket": "two"}),
	}); err != nil {
		t.Fatal(err)
	}
	if got := b.Names(); !reflect.DeepEqual(got, []string{"s3.default", "s3.other"}) {
		t.Fatalf("Names = %v", got)
	}
	first, _ := b.Get("s3.default")

	steps := []struct {
		name      string
		list      []*master_pb.StorageBackend
		errHas    []string
		bucket    string // of s3.default afterwards
		sameFirst bool   // s3.default keeps its client
	}{
		{"unchanged keeps the client", []*master_pb.StorageBackend{s3("default", map[string]string{"bucket": "one", "endpoint": "http://h:1"})}, nil, "one", true},
		{"bad entry leaves the old one", []*master_pb.StorageBackend{
			s3("default", map[string]string{"bucket": "", "endpoint": "http://h:1"}),
			{Type: "gcs", Id: "x"},
		}, []string{"s3.default", "bucket is empty", "gcs.x", "unsupported type"}, "one", true},
		{"bad endpoint", []*master_pb.StorageBackend{s3("default", map[string]string{"bucket": "b", "endpoint": "ftp://h"})}, []string{"scheme"}, "one", true},
		{"changed replaces", []*master_pb.StorageBackend{s3("default", map[string]string{"bucket": "new", "endpoint": "http://h:1"})}, nil, "new", false},
	}
	for _, st := range steps {
		err := b.Update(st.list)
		for _, h := range st.errHas {
			if err == nil || !strings.Contains(err.Error(), h) {
				t.Errorf("%s: err %v lacks %q", st.name, err, h)
			}
		}
		if st.errHas == nil && err != nil {
			t.Errorf("%s: %v", st.name, err)
		}
		got, ok := b.Get("s3.default")
		if !ok || got.Bucket() != st.bucket || (got == first) != st.sameFirst {
			t.Errorf("%s: s3.default = %v (bucket %q), same client %v", st.name, ok, got.Bucket(), got == first)
		}
		if _, ok := b.Get("s3.other"); !ok {
			t.Errorf("%s: s3.other dropped", st.name)
		}
	}
}
