package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"
	"unsafe"
)

// ecFloor is the disk's own time for the I/O of each timed EC step, taken
// by the bench itself with no server in between, once a round: the .dat
// bytes a step reads (10 shards' worth, each stream through its own open
// file, sequentially advised, 4 MiB buffered reads, page cache dropped
// first) read while the shards it writes are written at the same time,
// the way weedvol writes them (an encode's 14 with 4 MiB O_DIRECT writes,
// a rebuild's 1 or 4 through the page cache with writeback started after
// each 4 MiB), each file then fsynced. It is the I/O of weedvol's method
// without the computing; upstream's encode and rebuild, which do not
// fsync, are not bound by it.
type ecFloor struct {
	encode, rebuild1, rebuild4 time.Duration
}

// ecFloorChunk is the size of each read and write of the floor.
const ecFloorChunk = 4 << 20

// measureEcFloor times the floor of the encode (read the .dat, write 14
// shards), of the 1-shard and of the 4-shard rebuild (read the same bytes,
// write 1 or 4 shards) on a synced copy of the fixture's .dat under
// cfg.work, each after a page-cache drop.
func measureEcFloor(cfg config, fx ecFixture, round int) (ecFloor, error) {
	var fl ecFloor
	dir := filepath.Join(cfg.work, fmt.Sprintf("ec-floor-r%d", round))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fl, err
	}
	defer os.RemoveAll(dir)
	dat := filepath.Join(dir, "floor.dat")
	if err := copySynced(filepath.Join(fx.Dir, fmt.Sprintf("%d.dat", fx.Volume)), dat); err != nil {
		return fl, err
	}
	shard := (fx.DatSize + ecDataShards - 1) / ecDataShards
	for _, step := range []struct {
		out  *time.Duration
		outs int
	}{{&fl.encode, ecTotalShards}, {&fl.rebuild1, len(ecRebuildOne)}, {&fl.rebuild4, len(ecRebuildFour)}} {
		if err := dropPageCache(); err != nil {
			return fl, fmt.Errorf("disk floor: page cache not dropped: %w", err)
		}
		d, err := floorIO(dat, fx.DatSize, shard, step.outs, dir)
		if err != nil {
			return fl, fmt.Errorf("disk floor: %w", err)
		}
		*step.out = d
	}
	return fl, nil
}

// floorIO reads the first size bytes of dat in ecDataShards streams of
// shard bytes while writing outs files of shard bytes (rounded up to 4
// KiB) into dir, each fsynced, and returns the time until all is done.
func floorIO(dat string, size, shard int64, outs int, dir string) (time.Duration, error) {
	errs := make([]error, ecDataShards+outs)
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < ecDataShards; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = floorRead(dat, int64(i)*shard, min(shard, size-int64(i)*shard))
		}()
	}
	for i := 0; i < outs; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[ecDataShards+i] = floorWrite(filepath.Join(dir, fmt.Sprintf("out%02d", i)), shard, outs > len(ecRebuildFour))
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for i := 0; i < outs; i++ {
		os.Remove(filepath.Join(dir, fmt.Sprintf("out%02d", i)))
	}
	return took, errors.Join(errs...)
}

// floorRead reads n bytes of path from off.
func floorRead(path string, off, n int64) error {
	if n <= 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	adviseSequentialRead(f)
	buf := make([]byte, ecFloorChunk)
	for done := int64(0); done < n; {
		got, err := f.ReadAt(buf[:min(int64(len(buf)), n-done)], off+done)
		done += int64(got)
		if err != nil && !(errors.Is(err, io.EOF) && done == n) {
			return err
		}
	}
	return nil
}

// floorWrite writes n bytes (rounded up to 4 KiB) to a new file at path,
// with O_DIRECT (where the file system takes it) when direct, else through
// the page cache starting each chunk's writeback at once, and fsyncs it.
func floorWrite(path string, n int64, direct bool) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	f, err := os.OpenFile(path, flags|directWriteFlag, 0o644)
	if !direct || err != nil {
		if err == nil {
			f.Close()
		}
		direct = false
		f, err = os.OpenFile(path, flags, 0o644)
	}
	if err != nil {
		return err
	}
	raw := make([]byte, ecFloorChunk+4096)
	skip := (4096 - int(uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%4096)) % 4096
	buf := raw[skip : skip+ecFloorChunk]
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	n = (n + 4095) / 4096 * 4096
	for done := int64(0); done < n; {
		w, err := f.Write(buf[:min(int64(len(buf)), n-done)])
		if err != nil {
			f.Close()
			return err
		}
		if !direct {
			startWriteback(f, done, int64(w))
		}
		done += int64(w)
	}
	return errors.Join(f.Sync(), f.Close())
}
