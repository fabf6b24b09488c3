//go:build !unix

package diskstat

import "errors"

func statfs(string) (uint64, uint64, error) { return 0, 0, errors.New("statfs unsupported") }
