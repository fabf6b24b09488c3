//go:build unix

package engine

import "golang.org/x/sys/unix"

// stamp is path's size, modification time and inode, from one lstat call (a link is stamped as itself, so a planted link never matches).
func stamp(path string) (fileStamp, bool) {
	var st unix.Stat_t
	if err := unix.Lstat(path, &st); err != nil {
		return fileStamp{}, false
	}
	return fileStamp{Size: st.Size, MtimeNs: st.Mtim.Nano(), Ino: uint64(st.Ino)}, true
}
