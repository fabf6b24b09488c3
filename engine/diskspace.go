package engine

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/weedvol/weedvol/diskstat"
)

// MinFreeSpace is how much of a data directory's file system must stay
// free (upstream's -minFreeSpace / -minFreeSpacePercent). Below it the
// directory's volumes are read-only and it takes no new volume, until the
// space comes back. The zero value never counts a disk as low.
type MinFreeSpace struct {
	Percent float64 // used when Bytes is 0: free space below this % is low
	Bytes   uint64  // free bytes below this are low
	Raw     string  // as given
}

// ErrMinFreeSpace is returned for a -minFreeSpace value upstream refuses.
var ErrMinFreeSpace = errors.New("minFreeSpace is invalid")

// ParseMinFreeSpace parses one value as upstream does: a number from 0 to
// 100 is a percentage; otherwise a size such as 10GiB, 500M or 1,000,000
// (binary units with an i, decimal ones without), which must exceed 100
// bytes.
func ParseMinFreeSpace(s string) (MinFreeSpace, error) {
	s = strings.TrimSpace(s)
	if p, err := strconv.ParseFloat(s, 32); err == nil {
		if p < 0 || p > 100 || math.IsNaN(p) {
			return MinFreeSpace{}, fmt.Errorf("%w: %q (a percentage is 0 to 100)", ErrMinFreeSpace, s)
		}
		return MinFreeSpace{Percent: float64(float32(p)), Raw: s}, nil
	}
	n, err := parseBytes(s)
	if err != nil || n <= 100 {
		return MinFreeSpace{}, fmt.Errorf("%w: %q (give a percentage or a size such as 10GiB)", ErrMinFreeSpace, s)
	}
	return MinFreeSpace{Bytes: n, Raw: s}, nil
}

// ParseMinFreeSpaces parses upstream's comma list; minFreeSpace wins over
// minFreeSpacePercent when set.
func ParseMinFreeSpaces(minFreeSpace, minFreeSpacePercent string) ([]MinFreeSpace, error) {
	s := minFreeSpace
	if s == "" {
		s = minFreeSpacePercent
	}
	var out []MinFreeSpace
	for _, part := range strings.Split(s, ",") {
		m, err := ParseMinFreeSpace(part)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

var byteUnits = map[string]uint64{
	"": 1, "b": 1,
	"k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12, "p": 1e15, "pb": 1e15, "e": 1e18, "eb": 1e18,
	"ki": 1 << 10, "kib": 1 << 10, "mi": 1 << 20, "mib": 1 << 20, "gi": 1 << 30, "gib": 1 << 30,
	"ti": 1 << 40, "tib": 1 << 40, "pi": 1 << 50, "pib": 1 << 50, "ei": 1 << 60, "eib": 1 << 60,
}

// parseBytes reads a human-readable size: digits (commas allowed as
// thousands separators, a decimal point allowed) and a unit.
func parseBytes(s string) (uint64, error) {
	end := 0
	for end < len(s) && (unicode.IsDigit(rune(s[end])) || s[end] == '.' || s[end] == ',') {
		end++
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s[:end], ",", ""), 64)
	if err != nil {
		return 0, err
	}
	unit, ok := byteUnits[strings.ToLower(strings.TrimSpace(s[end:]))]
	if !ok {
		return 0, fmt.Errorf("unknown size unit in %q", s)
	}
	f *= float64(unit)
	if f >= math.MaxUint64 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return uint64(f), nil
}

// IsLow reports whether free bytes (freePercent of the file system) are
// below the minimum.
func (m MinFreeSpace) IsLow(free uint64, freePercent float64) bool {
	if m.Bytes > 0 {
		return free < m.Bytes
	}
	return freePercent < m.Percent
}

// Available is the free space above the minimum.
func (m MinFreeSpace) Available(free, total uint64) uint64 {
	keep := m.Bytes
	if keep == 0 {
		keep = uint64(float64(total) * m.Percent / 100)
	}
	if keep > free {
		return 0
	}
	return free - keep
}

func (m MinFreeSpace) String() string {
	if m.Bytes > 0 {
		return m.Raw
	}
	return strconv.FormatFloat(m.Percent, 'f', 2, 64) + "%"
}

// defaultDiskCheck is upstream's interval between free-space checks.
const defaultDiskCheck = time.Minute

// IsLowDisk reports whether the location's free space was below its
// MinFreeSpace at the last check; its volumes are then read-only.
func (l *Location) IsLowDisk() bool { return l.lowDisk.Load() }

// Max is the location's volume slot count: -max, or for -max=0 the count
// AdjustAutoMax last derived from the free space (0 before it ran).
func (l *Location) Max() int {
	if l.MaxVolumes > 0 {
		return l.MaxVolumes
	}
	return int(l.autoMax.Load())
}

// HeartbeatMax is the slot count the master is told: Max, or while the
// disk is low the slots already used, so the master places nothing here.
func (l *Location) HeartbeatMax() int {
	if l.IsLowDisk() {
		return l.VolumeCount()
	}
	return l.Max()
}

// CheckDiskSpace measures each location's free space against its
// MinFreeSpace and marks it low or not; a change is logged. OpenStore
// calls it once and then every StoreConfig.DiskCheckInterval.
func (s *Store) CheckDiskSpace() {
	for _, l := range s.locations {
		dir, err := filepath.Abs(l.Dir)
		if err != nil {
			continue
		}
		ds := diskstat.Of(dir, l.DiskType)
		if ds.All == 0 {
			continue // unknown: keep the previous verdict
		}
		low := l.MinFreeSpace.IsLow(ds.Free, float64(ds.PercentFree))
		if l.lowDisk.Swap(low) != low {
			if low {
				s.cfg.Logf("data directory %s: disk free %d bytes (%.2f%%) below the minimum %s; its volumes are read-only", dir, ds.Free, ds.PercentFree, l.MinFreeSpace)
			} else {
				s.cfg.Logf("data directory %s: disk free %d bytes (%.2f%%), at least the minimum %s; its volumes are writable again", dir, ds.Free, ds.PercentFree, l.MinFreeSpace)
			}
		}
	}
}

func (s *Store) diskCheckLoop(every time.Duration, stop chan struct{}) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			s.CheckDiskSpace()
		case <-stop:
			return
		}
	}
}

// AdjustAutoMax sizes every -max=0 location as upstream does, given the
// master's volume size limit: one slot per volume it holds, plus one per
// whole volume that fits in the free space above MinFreeSpace once the
// writable volumes have grown to the limit, plus one per ten EC shards it
// holds (rounded up, upstream's DataShardsCount whatever the layout); at
// least one. It reports whether any count changed. Without a limit it
// does nothing.
func (s *Store) AdjustAutoMax(volumeSizeLimit uint64) (changed bool) {
	if volumeSizeLimit == 0 {
		return false
	}
	vols := *s.volumes.Load()
	var shards []int // EC shards per location, counted when needed
	for li, l := range s.locations {
		if l.MaxVolumes > 0 {
			continue
		}
		ds := diskstat.Of(l.Dir, l.DiskType)
		var unused uint64
		count := 0
		for _, e := range vols {
			if e.loc != l {
				continue
			}
			count++
			if e.v.IsReadOnly() {
				continue
			}
			if used := uint64(e.v.Size() + e.v.IndexSize()); used < volumeSizeLimit {
				unused += volumeSizeLimit - used
			}
		}
		if shards == nil {
			shards = make([]int, len(s.locations))
			for _, ev := range s.EcVolumes() {
				for _, sh := range ev.Shards {
					if sh.DiskID >= 0 && sh.DiskID < len(shards) {
						shards[sh.DiskID]++
					}
				}
			}
		}
		const perSlot = 10 // upstream's erasure_coding.DataShardsCount
		n := int64(count) + int64((shards[li]+perSlot-1)/perSlot)
		if unclaimed := int64(l.MinFreeSpace.Available(ds.Free, ds.All)) - int64(unused); unclaimed > 0 {
			n += unclaimed / int64(volumeSizeLimit)
		}
		n = max(n, 1)
		if l.autoMax.Swap(int32(min(n, math.MaxInt32))) != int32(n) {
			changed = true
		}
	}
	return changed
}
