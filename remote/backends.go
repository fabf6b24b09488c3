package remote

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"

	"github.com/seaweedfs/seaweedfs/weed/pb/master_pb"
)

// Backends holds the tier backends the master announces in
// HeartbeatResponse.storage_backends, keyed "type.id" ("s3.default"), as
// upstream's backend.BackendStorages. mu guards m; no other lock is taken
// while it is held, and no call is made to a store under it.
type Backends struct {
	mu sync.RWMutex
	m  map[string]*S3
}

// NewBackends returns an empty set.
func NewBackends() *Backends { return &Backends{m: map[string]*S3{}} }

// defaultStorageClass is upstream's storage_class when none is set.
const defaultStorageClass = "STANDARD_IA"

// ConfigFromProperties reads an s3 backend's properties the way
// upstream's s3_backend does: aws_access_key_id, aws_secret_access_key,
// region, bucket, endpoint, storage_class (default STANDARD_IA) and
// force_path_style (default true; an unparsable value is the default).
// Concurrency and HTTP tuning properties are accepted and ignored.
func ConfigFromProperties(p map[string]string) S3Config {
	cfg := S3Config{
		AccessKey:      p["aws_access_key_id"],
		SecretKey:      p["aws_secret_access_key"],
		Region:         p["region"],
		Bucket:         p["bucket"],
		Endpoint:       p["endpoint"],
		StorageClass:   p["storage_class"],
		ForcePathStyle: true,
	}
	if v, err := strconv.ParseBool(p["force_path_style"]); err == nil {
		cfg.ForcePathStyle = v
	}
	if cfg.StorageClass == "" {
		cfg.StorageClass = defaultStorageClass
	}
	return cfg
}

// Update replaces the entries named in list. An entry of an unknown type
// or with a bad configuration is reported in the returned error and leaves
// the entry of that name as it was; the others are applied. An entry whose
// configuration is unchanged keeps its client (and its connections).
// Entries not named in list are kept, as upstream keeps them.
func (b *Backends) Update(list []*master_pb.StorageBackend) error {
	var errs []error
	built := map[string]*S3{}
	for _, sb := range list {
		if sb == nil {
			continue
		}
		name := sb.GetType() + "." + sb.GetId()
		if sb.GetType() != "s3" {
			errs = append(errs, fmt.Errorf("storage backend %s: unsupported type %q", name, sb.GetType()))
			continue
		}
		cfg := ConfigFromProperties(sb.GetProperties())
		if old, ok := b.Get(name); ok && sameConfig(old.cfg, cfg) {
			continue
		}
		s, err := NewS3(cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("storage backend %s: %w", name, err))
			continue
		}
		built[name] = s
	}
	if len(built) > 0 {
		b.mu.Lock()
		for k, v := range built {
			b.m[k] = v
		}
		b.mu.Unlock()
	}
	return errors.Join(errs...)
}

func sameConfig(a, b S3Config) bool {
	return a.Endpoint == b.Endpoint && a.Region == b.Region && a.AccessKey == b.AccessKey &&
		a.SecretKey == b.SecretKey && a.Bucket == b.Bucket && a.ForcePathStyle == b.ForcePathStyle &&
		a.StorageClass == b.StorageClass
}

// Get returns the backend named "type.id".
func (b *Backends) Get(name string) (*S3, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	s, ok := b.m[name]
	return s, ok
}

// Names returns the configured names, sorted.
func (b *Backends) Names() []string {
	b.mu.RLock()
	names := make([]string, 0, len(b.m))
	for k := range b.m {
		names = append(names, k)
	}
	b.mu.RUnlock()
	sort.Strings(names)
	return names
}
