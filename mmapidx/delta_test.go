package mmapidx

import "testing"

func TestTableGrowth(t *testing.T) {
	d := newTable(0)
	ref := map[uint64]uint64{}
	for i := range uint64(10000) {
		k := i * 0x9e3779b97f4a7c15 // spread, then some repeats
		if i%3 == 0 {
			k = i / 3
		}
		if d.needsGrow() {
			d = d.grow()
		}
		d.set(k, i, uint32(i&0xff))
		ref[k] = i
	}
	if d.len() != len(ref) {
		t.Fatalf("len %d, want %d", d.len(), len(ref))
	}
	if 2*d.len() > len(d.slots) || len(d.slots) > 8*d.len() {
		t.Fatalf("%d slots for %d entries", len(d.slots), d.len())
	}
	for k, v := range ref {
		if val, hi, ok := d.lookup(k); !ok || val != v || hi != uint32(v&0xff) {
			t.Fatalf("lookup(%d) = %d, %d, %v", k, val, hi, ok)
		}
	}
	// Folding a big table into a small one must stay linear and must not
	// inflate: repeated fold-backs (failed Persists) keep the size.
	small := newTable(0)
	big := d.growTo(d.len(), len(d.slots))
	if len(big.slots) != len(d.slots) {
		t.Fatalf("growTo changed size %d -> %d", len(d.slots), len(big.slots))
	}
	small = small.growTo(d.len(), len(d.slots))
	d.forEach(func(k, v uint64, hi uint32) { small.set(k, v, hi) })
	if len(small.slots) != len(d.slots) || small.len() != d.len() {
		t.Fatalf("fold: %d slots %d entries, want %d %d", len(small.slots), small.len(), len(d.slots), d.len())
	}
}
