package reliability

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxCut is the deepest tail cut, from a file's end.
const maxCut = 300 << 10

// cutModes are what a cut cycle does to each volume, drawn with equal odds.
var cutModes = []struct {
	name     string
	dat, idx bool
}{
	{"none", false, false},
	{".dat", true, false},
	{".idx", false, true},
	{".dat and .idx", true, true},
}

// idxRow is one .idx row: needle key, record offset in bytes, size
// (negative: deleted).
type idxRow struct {
	key  uint64
	off  int64
	size int32
}

// cutDepth draws a depth between 1 byte and maxCut, log-uniformly, so that
// cuts of a few bytes (part of a row or record) are as common as deep ones.
func cutDepth(rng *rand.Rand) int64 {
	return max(1, int64(math.Exp(rng.Float64()*math.Log(maxCut))))
}

// cutTails cuts the ends of some volumes' .dat and .idx files (weedvol is
// down) and marks the files whose records or rows could lie in the cut
// regions as relaxed. It returns a description of the cuts.
func (r *run) cutTails() (string, error) {
	byKey := map[uint64]*entry{}
	for _, w := range r.writers {
		for _, e := range w.entries {
			byKey[e.key] = e
		}
	}
	modes := make([]int, len(r.vids))
	anyCut := false
	for i := range modes {
		modes[i] = r.rng.IntN(len(cutModes))
		anyCut = anyCut || modes[i] != 0
	}
	if !anyCut {
		modes[r.rng.IntN(len(modes))] = 1 + r.rng.IntN(len(cutModes)-1)
	}
	var notes []string
	for i, vid := range r.vids {
		m := cutModes[modes[i]]
		if !m.dat && !m.idx {
			continue
		}
		note, err := r.cutVolume(vid, m.dat, m.idx, byKey)
		if err != nil {
			return "", err
		}
		notes = append(notes, note)
	}
	return strings.Join(notes, ", "), nil
}

func (r *run) cutVolume(vid uint32, cutDat, cutIdx bool, byKey map[uint64]*entry) (string, error) {
	base := filepath.Join(r.dataDir, strconv.FormatUint(uint64(vid), 10))
	rowSize, err := idxRowSize(base + ".vif")
	if err != nil {
		return "", err
	}
	idxBytes, err := os.ReadFile(base + ".idx")
	if err != nil {
		return "", err
	}
	rows := parseIdx(idxBytes, rowSize)
	dat, err := os.Stat(base + ".dat")
	if err != nil {
		return "", err
	}
	datSize, idxSize := dat.Size(), int64(len(idxBytes))
	datTo, idxTo := datSize, idxSize
	note := fmt.Sprintf("volume %d", vid)
	if cutDat {
		first, err := firstRecord(base + ".dat")
		if err != nil {
			return "", err
		}
		datTo = max(first, datSize-cutDepth(r.rng))
		if err := os.Truncate(base+".dat", datTo); err != nil {
			return "", err
		}
		note += fmt.Sprintf(" .dat -%d B", datSize-datTo)
	}
	if cutIdx {
		idxTo = max(0, idxSize-cutDepth(r.rng))
		if err := os.Truncate(base+".idx", idxTo); err != nil {
			return "", err
		}
		note += fmt.Sprintf(" .idx -%d B", idxSize-idxTo)
	}
	hit := map[uint64]bool{}
	for _, tc := range touched(rows, rowSize, datTo, idxTo) {
		if e := byKey[tc.key]; e != nil {
			e.relaxed = true
			e.cutDat = e.cutDat || tc.dat
			hit[tc.key] = true
		}
	}
	return note + fmt.Sprintf(" (%d files)", len(hit)), nil
}

// touch is a row that touched found past a cut; dat says that the record
// it names reaches past the .dat cut (else only the row is past the .idx
// cut, and the record is intact).
type touch struct {
	key uint64
	dat bool
}

// touched returns the rows that lie, or name records that reach, past the
// cuts: a row from byte idxTo of the .idx on, a record ending past byte
// datTo of the .dat. A record's end is bounded from above (header, size
// bytes, checksum, timestamp, most padding).
func touched(rows []idxRow, rowSize int, datTo, idxTo int64) []touch {
	var out []touch
	for i, row := range rows {
		end := row.off + 16 + int64(max(row.size, 0)) + 4 + 8 + 8
		if int64(i+1)*int64(rowSize) > idxTo || end > datTo {
			out = append(out, touch{row.key, end > datTo})
		}
	}
	return out
}

// parseIdx decodes .idx rows: key (8 bytes), offset in 8-byte units (4
// bytes, or 4 bytes and a high fifth), size (4 bytes), all big-endian. A
// partial last row is left out.
func parseIdx(b []byte, rowSize int) []idxRow {
	rows := make([]idxRow, 0, len(b)/rowSize)
	for ; len(b) >= rowSize; b = b[rowSize:] {
		off := int64(binary.BigEndian.Uint32(b[8:12]))
		if rowSize == 17 {
			off |= int64(b[12]) << 32
		}
		rows = append(rows, idxRow{
			key:  binary.BigEndian.Uint64(b[:8]),
			off:  off * 8,
			size: int32(binary.BigEndian.Uint32(b[rowSize-4:])),
		})
	}
	return rows
}

// idxRowSize reads the offset width from the volume's .vif (4 when it does
// not say) and returns the .idx row size.
func idxRowSize(vifPath string) (int, error) {
	b, err := os.ReadFile(vifPath)
	if err != nil {
		return 0, err
	}
	var info struct {
		BytesOffset int `json:"bytesOffset"`
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return 0, fmt.Errorf("%s: %w", vifPath, err)
	}
	switch info.BytesOffset {
	case 0, 4:
		return 16, nil
	case 5:
		return 17, nil
	}
	return 0, fmt.Errorf("%s: bytesOffset %d", vifPath, info.BytesOffset)
}

// firstRecord is where the first record of a .dat starts: after the 8-byte
// super block and its extra bytes (length in bytes 6-7).
func firstRecord(datPath string) (int64, error) {
	f, err := os.Open(datPath)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	var sb [8]byte
	if _, err := f.ReadAt(sb[:], 0); err != nil {
		return 0, fmt.Errorf("%s: super block: %w", datPath, err)
	}
	return 8 + int64(binary.BigEndian.Uint16(sb[6:8])), nil
}
