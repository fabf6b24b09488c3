package ec

// geometry is the block placement of one volume: nLarge rows of d blocks of
// large bytes, then rows of d blocks of small bytes. The uniform layout is
// the special case large == small == BlockSize with nLarge == 0 (its single
// row covers the whole .dat). Tests build geometries with small block sizes
// to exercise the legacy arithmetic without 10 GiB files.
type geometry struct {
	d      int
	large  int64
	small  int64
	nLarge int64
}

// encodeGeometry is the placement an encoder uses for a .dat of datSize
// bytes: large rows while a whole one fits, then small rows.
func (l Layout) encodeGeometry(datSize int64) geometry {
	if l.BlockSize > 0 {
		return geometry{d: l.DataShards, large: l.BlockSize, small: l.BlockSize}
	}
	return legacyGeometry(l.DataShards, LargeBlockSize, SmallBlockSize, datSize)
}

func legacyGeometry(d int, large, small, datSize int64) geometry {
	return geometry{d: d, large: large, small: small, nLarge: datSize / (int64(d) * large)}
}

// readGeometry is the placement a reader derives for shards of shardSize
// bytes. For the legacy layout the number of large rows comes from DatSize
// when recorded, else from the shard length minus one: a shard that is an
// exact multiple of LargeBlockSize is read as ending in a full small region,
// as upstream's reader does.
func (l Layout) readGeometry(shardSize int64) geometry {
	if l.BlockSize > 0 {
		return geometry{d: l.DataShards, large: l.BlockSize, small: l.BlockSize}
	}
	return legacyReadGeometry(l.DataShards, LargeBlockSize, SmallBlockSize, l.DatSize, shardSize)
}

func legacyReadGeometry(d int, large, small, datSize, shardSize int64) geometry {
	g := geometry{d: d, large: large, small: small}
	switch {
	case datSize > 0:
		g.nLarge = (datSize / int64(d)) / large
	case shardSize > 0:
		g.nLarge = (shardSize - 1) / large
	}
	return g
}

// shardSize is the length of every shard after encoding datSize bytes.
func (g geometry) shardSize(datSize int64) int64 {
	if datSize <= 0 {
		return 0
	}
	d := int64(g.d)
	rest := datSize - g.nLarge*d*g.large
	smallRows := (rest + d*g.small - 1) / (d * g.small)
	return g.nLarge*g.large + smallRows*g.small
}

// place maps one .dat offset to its shard, the offset inside that shard and
// how many bytes remain in its block.
func (g geometry) place(off int64) (shard int, shardOff, blockLeft int64) {
	d := int64(g.d)
	largeEnd := g.nLarge * d * g.large
	if off < largeEnd {
		row, w := off/(d*g.large), off%(d*g.large)
		inner := w % g.large
		return int(w / g.large), row*g.large + inner, g.large - inner
	}
	o := off - largeEnd
	row, w := o/(d*g.small), o%(d*g.small)
	inner := w % g.small
	return int(w / g.small), g.nLarge*g.large + row*g.small + inner, g.small - inner
}

// locate splits [off, off+size) into per-shard intervals. limit is the shard
// length the intervals must stay within (<= 0: no check). It returns nil for
// an empty, negative or out-of-range request.
func (g geometry) locate(off, size, limit int64) []Interval {
	if g.d <= 0 || g.large <= 0 || g.small <= 0 || off < 0 || size <= 0 || off > (1<<62)-size {
		return nil
	}
	var out []Interval
	for size > 0 {
		shard, so, left := g.place(off)
		n := min(size, left)
		if limit > 0 && so+n > limit {
			return nil
		}
		out = append(out, Interval{Shard: shard, Offset: so, Size: n})
		off += n
		size -= n
	}
	return out
}

// Interval is one contiguous piece of a .dat range inside one data shard.
type Interval struct {
	Shard  int
	Offset int64 // in the shard file
	Size   int64
}

// Locate returns where .dat bytes [datOffset, datOffset+size) live, in .dat
// order. shardSize is the length of a shard file (needed for legacy volumes
// whose .vif records no dat size; ignored for uniform ones). It returns nil
// when l is invalid, size <= 0, datOffset < 0, or the range runs past the
// data the shards can hold (uniform: DataShards*BlockSize; legacy: the shard
// length).
//
// Unlike upstream's LocateData, which hard-codes 10 data shards, the row
// width is l.DataShards; both agree for every layout upstream can read back
// correctly (10 data shards, or any uniform layout with at most 10).
func (l Layout) Locate(shardSize, datOffset, size int64) []Interval {
	if l.Validate() != nil {
		return nil
	}
	g := l.readGeometry(shardSize)
	if l.BlockSize > 0 {
		if datOffset < 0 || size <= 0 || datOffset > int64(l.DataShards)*l.BlockSize-size {
			return nil
		}
		return g.locate(datOffset, size, 0)
	}
	if shardSize <= 0 || shardSize > MaxDatSize {
		return nil
	}
	return g.locate(datOffset, size, shardSize)
}
