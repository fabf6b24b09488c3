package engine

import (
	"bytes"
	"io"
	"testing"

	"github.com/weedvol/weedvol/engine/needle"
)

func TestDatReaderPoolsAndOutlivesClose(t *testing.T) {
	v := newVolume(t, t.TempDir(), nil, needle.Version3, 4)
	data := bytes.Repeat([]byte("0123456789"), 10_000)
	mustWrite(t, v, 7, 0x1234, data)
	var n needle.Needle
	off, size, _, err := v.DataRange(&n, 7, 0x1234, nil, ReadOptions{})
	if err != nil || int(size) != len(data) {
		t.Fatalf("DataRange: %d %v", size, err)
	}
	readAt := func(f interface {
		io.Seeker
		io.Reader
	}) []byte {
		if _, err := f.Seek(off, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, size)
		if _, err := io.ReadFull(f, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	f1, done1, err := v.DatReader()
	if err != nil {
		t.Fatal(err)
	}
	f2, done2, err := v.DatReader()
	if err != nil {
		t.Fatal(err)
	}
	if f1 == f2 {
		t.Fatal("two holders got the same descriptor")
	}
	if !bytes.Equal(readAt(f1), data) || !bytes.Equal(readAt(f2), data) {
		t.Fatal("descriptors read wrong bytes")
	}
	done1()
	f3, done3, err := v.DatReader()
	if err != nil {
		t.Fatal(err)
	}
	if f3 != f1 {
		t.Fatal("a returned descriptor was not reused")
	}
	done3()
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	// a descriptor held across Close still reads, and is closed on return
	if !bytes.Equal(readAt(f2), data) {
		t.Fatal("held descriptor broke at Close")
	}
	done2()
	if _, err := f2.Read(make([]byte, 1)); err == nil {
		t.Fatal("descriptor returned after Close was kept open")
	}
	if _, _, err := v.DatReader(); err == nil {
		t.Fatal("DatReader on a closed volume")
	}
}
