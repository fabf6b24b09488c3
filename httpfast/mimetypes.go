package httpfast

import (
	"mime"
	"sync"
	"sync/atomic"
)

// maxCachedExtensions bounds the extension cache: extensions come from
// request paths, so a client could otherwise grow it without limit.
const maxCachedExtensions = 512

// extTypes caches mime.TypeByExtension by extension (".jpg"), misses
// included. Readers load the map and index it with no lock and no
// allocation; a miss copies the map with the new entry and publishes the
// copy, so a published map is never written again.
var extTypes struct {
	m  atomic.Pointer[map[string]string]
	mu sync.Mutex // serialises publishers
}

// typeByExtension is mime.TypeByExtension for an extension given as bytes,
// "" for none. Repeated extensions are answered from extTypes.
func typeByExtension(ext []byte) string {
	if len(ext) == 0 {
		return ""
	}
	if m := extTypes.m.Load(); m != nil {
		if t, ok := (*m)[string(ext)]; ok {
			return t
		}
	}
	key := string(ext)
	t := mime.TypeByExtension(key)
	extTypes.mu.Lock()
	defer extTypes.mu.Unlock()
	old := extTypes.m.Load()
	if old != nil && len(*old) >= maxCachedExtensions {
		return t
	}
	next := make(map[string]string, 1+lenOf(old))
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	next[key] = t
	extTypes.m.Store(&next)
	return t
}

func lenOf(m *map[string]string) int {
	if m == nil {
		return 0
	}
	return len(*m)
}
