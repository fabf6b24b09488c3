package reliability

import (
	"encoding/binary"
	"slices"
	"testing"
)

func TestJudge(t *testing.T) {
	const none = category(-1)
	tests := []struct {
		st      state
		relaxed bool
		empty   bool
		o       observation
		cat     category // none: no problem
		next    state
	}{
		{stLive, false, false, obsExact, none, stLive},
		{stLive, false, false, obsAbsent, catLost, stGone},
		{stLive, true, false, obsAbsent, none, stGone},
		{stLive, false, false, obsEmpty, catOther, stBroken},
		{stLive, true, false, obsOther, catOther, stBroken},
		{stLive, false, false, obs5xx, cat5xx, stLive},
		{stLive, true, false, obsUnexpected, catUnexpected, stLive},

		{stPendingWrite, false, false, obsExact, none, stLive},
		{stPendingWrite, false, false, obsAbsent, none, stGone},
		{stPendingWrite, false, false, obsEmpty, catOther, stBroken},
		{stPendingWrite, false, true, obsExact, none, stLive},

		{stPendingDelete, false, false, obsExact, none, stLive},
		{stPendingDelete, false, false, obsAbsent, none, stDeleted},
		{stPendingDelete, false, false, obsEmpty, catDeleteBackEmpty, stBroken},
		{stPendingDelete, true, false, obsEmpty, catDeleteBackEmpty, stBroken},
		{stPendingDelete, false, false, obsOther, catOther, stBroken},
		{stPendingDelete, false, true, obsExact, none, stLive},

		{stDeleted, false, false, obsAbsent, none, stDeleted},
		{stDeleted, false, false, obsExact, catDeleteBackData, stBroken},
		{stDeleted, false, true, obsExact, catDeleteBackEmpty, stBroken},
		{stDeleted, false, false, obsEmpty, catDeleteBackEmpty, stBroken},
		{stDeleted, true, false, obsEmpty, catDeleteBackEmpty, stBroken},
		{stDeleted, true, false, obsExact, none, stLive},
		{stDeleted, true, true, obsExact, none, stLive},
		{stDeleted, false, false, obsOther, catOther, stBroken},
		{stDeleted, false, false, obs5xx, cat5xx, stDeleted},

		{stGone, false, false, obsAbsent, none, stGone},
		{stGone, false, false, obsExact, catOther, stBroken},
		{stGone, true, false, obsExact, none, stLive},
		{stGone, true, false, obsEmpty, catOther, stBroken},

		{stBroken, false, false, obsOther, none, stBroken},
	}
	for _, tc := range tests {
		cat, ok, next := judge(tc.st, tc.relaxed, tc.empty, tc.o)
		got := none
		if !ok {
			got = cat
		}
		if got != tc.cat || next != tc.next {
			t.Errorf("judge(%v, relaxed %v, empty %v, obs %d) = (%d, %v), want (%d, %v)",
				tc.st, tc.relaxed, tc.empty, tc.o, got, next, tc.cat, tc.next)
		}
	}
}

func TestTouched(t *testing.T) {
	row := func(key uint64, off int64, size int32) []byte {
		b := make([]byte, 16)
		binary.BigEndian.PutUint64(b, key)
		binary.BigEndian.PutUint32(b[8:], uint32(off/8))
		binary.BigEndian.PutUint32(b[12:], uint32(size))
		return b
	}
	var idx []byte
	idx = append(idx, row(1, 8, 100)...)     // record 8..~144
	idx = append(idx, row(2, 144, 1000)...)  // 144..~1180
	idx = append(idx, row(3, 1184, 0)...)    // empty record 1184..~1220
	idx = append(idx, row(2, 1224, -1)...)   // tombstone of 2
	idx = append(idx, row(4, 1264, 5000)...) // 1264..~6300
	rows := parseIdx(append(idx, 1, 2, 3), 16)
	if len(rows) != 5 || rows[3].size != -1 || rows[4].off != 1264 {
		t.Fatalf("parseIdx: %+v", rows)
	}
	row4, idx4 := touch{4, true}, touch{4, false}
	tests := []struct {
		name         string
		datTo, idxTo int64
		want         []touch
	}{
		{"nothing cut", 1 << 20, 80, nil},
		{"last record's tail", 6000, 80, []touch{row4}},
		{"partial last row", 1 << 20, 79, []touch{idx4}},
		{"two rows", 1 << 20, 48, []touch{{2, false}, idx4}},
		{"data into the tombstone", 1240, 80, []touch{{2, true}, row4}},
		{"both", 1200, 20, []touch{{2, false}, {3, true}, {2, true}, row4}},
		{"to the super block", 8, 0, []touch{{1, true}, {2, true}, {3, true}, {2, true}, row4}},
	}
	for _, tc := range tests {
		if got := touched(rows, 16, tc.datTo, tc.idxTo); !slices.Equal(got, tc.want) {
			t.Errorf("%s: touched = %v, want %v", tc.name, got, tc.want)
		}
	}
}
