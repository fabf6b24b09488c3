package httpfast

import (
	"encoding/json"
	"errors"
	"slices"
)

// chunkManifest is upstream's chunk manifest (weed/operation): the JSON a
// client stores with ?cm=true in place of a file too large for one needle.
// The file is the concatenation of the chunks in offset order; each chunk
// is a needle of its own, named by file id, possibly on another server.
//
//	{"name":"a.bin","mime":"...","size":N,"chunks":[{"fid":"3,01637037d6","offset":0,"size":N0},...]}
type chunkManifest struct {
	Name   string      `json:"name,omitempty"`
	Mime   string      `json:"mime,omitempty"`
	Size   int64       `json:"size,omitempty"`
	Chunks []chunkInfo `json:"chunks,omitempty"`
}

// chunkInfo is one piece of a manifest's file.
type chunkInfo struct {
	Fid    string `json:"fid"`
	Offset int64  `json:"offset"`
	Size   int64  `json:"size"`
}

var errManifestSize = errors.New("chunk manifest: negative or overflowing chunk size")

// parseManifest decodes a manifest needle's data as upstream does: gzip is
// undone when the needle is flagged compressed and the data starts with
// gzip's magic; the chunks come back sorted by offset (stably, so chunks
// at the same offset keep their stored order).
func parseManifest(data []byte, compressed bool) (chunkManifest, error) {
	var m chunkManifest
	if compressed && len(data) >= 2 && data[0] == 0x1f && data[1] == 0x8b {
		plain, err := gunzip(data)
		if err != nil {
			return m, err
		}
		data = plain
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return m, err
	}
	slices.SortStableFunc(m.Chunks, func(a, b chunkInfo) int {
		switch {
		case a.Offset < b.Offset:
			return -1
		case a.Offset > b.Offset:
			return 1
		}
		return 0
	})
	return m, nil
}

// total is the length of the expanded file, the sum of the chunk sizes
// (what upstream serves as Content-Length, whatever the manifest's own
// size field says). It fails on a negative size or an overflowing sum,
// which upstream would serve as garbage.
func (m *chunkManifest) total() (int64, error) {
	var n int64
	for _, c := range m.Chunks {
		if c.Size < 0 || n+c.Size < n {
			return 0, errManifestSize
		}
		n += c.Size
	}
	return n, nil
}
