package ec

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
)

// FuzzIndex opens arbitrary bytes as an .ecx of either width and exercises
// every operation: none may panic, and a lookup hit must agree with Walk.
func FuzzIndex(f *testing.F) {
	row := make([]byte, 16)
	binary.BigEndian.PutUint64(row, 7)
	binary.BigEndian.PutUint32(row[8:], 3)
	binary.BigEndian.PutUint32(row[12:], 100)
	f.Add(row, uint64(7), false)
	f.Add(append(row, row...), uint64(7), true)
	f.Add(row[:15], uint64(1), false)
	f.Fuzz(func(t *testing.T, b []byte, key uint64, five bool) {
		width := 4
		if five {
			width = 5
		}
		p := filepath.Join(t.TempDir(), "f.ecx")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := OpenIndex(p, width)
		if err != nil {
			return
		}
		defer x.Close()
		_ = x.Check()
		off, size, ok := x.Lookup(key)
		seen := false
		_ = x.Walk(func(k uint64, o int64, s int32) error {
			if k == key && o == off && s == size {
				seen = true
			}
			return nil
		})
		if ok && !seen {
			t.Fatalf("lookup %x hit %d/%d not in walk", key, off, size)
		}
		if _, err := x.MarkDeleted(key); err != nil {
			t.Fatal(err)
		}
		if _, size, ok := x.Lookup(key); ok && size != tombstone {
			t.Fatalf("after MarkDeleted size %d", size)
		}
	})
}

// FuzzJournal decodes arbitrary bytes as an .ecj.
func FuzzJournal(f *testing.F) {
	f.Add(binary.BigEndian.AppendUint64(nil, 1))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := decodeJournal(b, "fuzz")
		if len(ids) != len(b)/8 || (err != nil) != (len(b)%8 != 0) {
			t.Fatalf("%d bytes: %d ids, %v", len(b), len(ids), err)
		}
	})
}

// FuzzSums parses arbitrary bytes as an .ecsum and, when they parse,
// validates and uses them against a small shard file.
func FuzzSums(f *testing.F) {
	l := Layout{DataShards: 2, ParityShards: 1, BlockSize: SmallBlockSize}
	good, _ := MarshalSums(testSums(l))
	f.Add(good)
	f.Add(good[:20])
	f.Add([]byte("ECSU"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := UnmarshalSums(b)
		if err != nil {
			return
		}
		_ = ValidateSums(s, l)
		_, _ = LayoutFromSums(s)
		p := filepath.Join(t.TempDir(), "s")
		if err := os.WriteFile(p, make([]byte, 100), 0o644); err != nil {
			t.Fatal(err)
		}
		for id := 0; id < 3; id++ {
			_, _ = VerifyShard(s, id, p)
		}
		if _, err := MarshalSums(s); err != nil {
			t.Fatal(err)
		}
	})
}

func testSums(l Layout) *Sums {
	s := newSums(l, nil)
	for id := 0; id < l.Total(); id++ {
		b := sumBuilder{block: SumBlockSize}
		b.write(make([]byte, 100))
		s.Shards = append(s.Shards, b.finish(id))
	}
	return s
}

// FuzzLocate checks Locate on arbitrary layouts and ranges: no panic, and
// a non-nil answer covers exactly the range with in-bounds data shards.
func FuzzLocate(f *testing.F) {
	f.Add(10, 4, int64(SmallBlockSize), int64(0), int64(100), int64(1000), int64(SmallBlockSize))
	f.Add(10, 4, int64(0), int64(0), int64(3<<20), int64(1<<20), int64(9<<20))
	f.Add(6, 3, int64(2<<20), int64(1<<20), int64(5<<20+7), int64(4<<20), int64(2<<20))
	f.Fuzz(func(t *testing.T, d, p int, bs, datSize, off, size, shardSize int64) {
		l := Layout{DataShards: d, ParityShards: p, BlockSize: bs, DatSize: datSize}
		ivs := l.Locate(shardSize, off, size)
		if ivs == nil {
			return
		}
		var sum int64
		for _, iv := range ivs {
			if iv.Shard < 0 || iv.Shard >= d || iv.Size <= 0 || iv.Offset < 0 {
				t.Fatalf("bad interval %+v", iv)
			}
			if bs > 0 && iv.Offset+iv.Size > bs || bs == 0 && iv.Offset+iv.Size > shardSize {
				t.Fatalf("interval %+v past the shard", iv)
			}
			sum += iv.Size
		}
		if sum != size {
			t.Fatalf("intervals cover %d of %d", sum, size)
		}
	})
}
