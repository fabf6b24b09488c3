package engine

import "github.com/weedvol/weedvol/mmapidx"

func openIndexForBench(path string) (interface{ Close() error }, error) {
	return mmapidx.Open(path, 4)
}
