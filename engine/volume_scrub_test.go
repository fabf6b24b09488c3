package engine

import (
	"os"
	"strings"
	"testing"

	"github.com/weedvol/weedvol/engine/idx"
	"github.com/weedvol/weedvol/engine/needle"
)

func TestScrub(t *testing.T) {
	v := newVolume(t, t.TempDir(), engines(t)["sync"], needle.Version3, 4)
	defer v.Close()
	for key := uint64(1); key <= 10; key++ {
		mustWrite(t, v, key, 1, []byte(strings.Repeat("s", int(key)*10)))
	}
	mustWrite(t, v, 3, 1, []byte("overwritten"))
	if _, err := v.Delete(4, 1, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, full := range []bool{false, true} {
		if rows, problems := v.Scrub(full); rows != 12 || len(problems) != 0 {
			t.Fatalf("healthy volume, full %v: %d rows, %v", full, rows, problems)
		}
	}

	// flip a data byte of needle 7: only a full scrub reads it
	off, _, _ := v.Lookup(7)
	dat, err := os.OpenFile(v.FileName(".dat"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dat.Close()
	if _, err := dat.WriteAt([]byte{'X'}, off+needle.HeaderSize+4+5); err != nil {
		t.Fatal(err)
	}
	if _, problems := v.Scrub(false); len(problems) != 0 {
		t.Fatalf("index scrub read data: %v", problems)
	}
	if _, problems := v.Scrub(true); len(problems) != 1 || !strings.Contains(problems[0].Error(), "needle 7") {
		t.Fatalf("full scrub of a damaged needle: %v", problems)
	}

	// point the first row past the end of the data: the index scrub sees it
	f := idx.Format{OffsetSize: 4}
	row := f.AppendEntry(nil, idx.Entry{Key: 1, Offset: 1 << 30, Size: 10})
	idxFile, err := os.OpenFile(v.FileName(".idx"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer idxFile.Close()
	if _, err := idxFile.WriteAt(row, 0); err != nil {
		t.Fatal(err)
	}
	if _, problems := v.Scrub(false); len(problems) != 1 || !strings.Contains(problems[0].Error(), "outside the data") {
		t.Fatalf("index scrub of a row past the end: %v", problems)
	}
}
