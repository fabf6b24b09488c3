//go:build !unix

package engine

import "os"

// stamp is path's size and modification time.
func stamp(path string) (fileStamp, bool) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, false
	}
	return fileStamp{Size: st.Size(), MtimeNs: st.ModTime().UnixNano()}, true
}
