package wlog

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

// ident is what file names are made of, as glog makes them.
type ident struct {
	program, host, user string
	pid                 int
}

func currentIdent(program string) ident {
	id := ident{program: program, host: "unknownhost", user: "unknownuser", pid: os.Getpid()}
	if h, err := os.Hostname(); err == nil {
		id.host, _, _ = strings.Cut(h, ".")
	}
	if u, err := user.Current(); err == nil {
		id.user = strings.ReplaceAll(u.Username, `\`, "_")
	}
	return id
}

// prefix is the start of every file name of severity tag.
func (id ident) prefix(tag string) string {
	return id.program + "." + id.host + "." + id.user + ".log." + tag + "."
}

// name is the file of severity tag started at t, and its symlink.
func (id ident) name(tag string, t time.Time) (name, link string) {
	return fmt.Sprintf("%s%04d%02d%02d-%02d%02d%02d.%d", id.prefix(tag),
		t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), id.pid), id.program + "." + tag
}

// logFile is one severity's open file.
type logFile struct {
	f       *os.File
	n       uint64    // bytes in f
	created time.Time // the time in its name
}

// writeFile appends line to severity s's file, making it or rotating it
// first: when line would take it to -log_max_size_mb, or it is older than
// -log_rotate_hours. h.mu is held.
func (h *Handler) writeFile(s Severity, line []byte, t time.Time) error {
	lf := h.files[s]
	if lf != nil {
		maxBytes := h.opts.MaxSizeMB << 20
		if h.opts.maxBytes > 0 {
			maxBytes = h.opts.maxBytes
		}
		old := h.opts.RotateHours > 0 && t.Sub(lf.created) >= time.Duration(h.opts.RotateHours)*time.Hour
		if lf.n+uint64(len(line)) >= maxBytes || old {
			h.files[s] = nil
			name := lf.f.Name()
			lf.f.Close()
			if h.opts.Compress {
				h.compressing.Add(1)
				go func() { defer h.compressing.Done(); h.compressFile(name) }()
			}
			// a name holds seconds: a file rotated within the second of the
			// last one is stamped a second later, so it never reopens (and
			// truncates) the one just closed and names keep sorting by age
			if last := lf.created.Truncate(time.Second); !t.Truncate(time.Second).After(last) {
				t = last.Add(time.Second)
			}
		}
	}
	if h.files[s] == nil {
		nf, err := h.create(s, t)
		if err != nil {
			return err
		}
		h.files[s] = nf
	}
	lf = h.files[s]
	n, err := lf.f.Write(line)
	lf.n += uint64(n)
	if err != nil {
		return fmt.Errorf("write %s: %w", lf.f.Name(), err)
	}
	return nil
}

// create starts severity s's file stamped t: it first removes the oldest
// files of s so that -log_max_files remain with the new one (a file and
// its .gz count once), then points the symlink at the new file.
func (h *Handler) create(s Severity, t time.Time) (*logFile, error) {
	tag := severityNames[s]
	dir := h.opts.Dir
	name, link := h.ident.name(tag, t)
	prefix := h.ident.prefix(tag)
	h.rmu.Lock() // no compression finishes between the listing and the removals
	defer h.rmu.Unlock()
	if entries, err := os.ReadDir(dir); err == nil {
		kept := map[string][]string{}
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ".tmp") {
				continue // a compression under way
			}
			bare := strings.TrimSuffix(e.Name(), ".gz")
			if strings.HasPrefix(bare, prefix) && bare != name {
				kept[bare] = append(kept[bare], e.Name())
			}
		}
		if len(kept) >= h.opts.MaxFiles {
			bares := make([]string, 0, len(kept))
			for b := range kept {
				bares = append(bares, b)
			}
			sort.Strings(bares)
			for _, b := range bares[:len(bares)-h.opts.MaxFiles+1] {
				for _, n := range kept[b] {
					os.Remove(filepath.Join(dir, n))
				}
			}
		}
	}
	path := filepath.Join(dir, name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot create log: %w", err)
	}
	symlink := filepath.Join(dir, link)
	os.Remove(symlink)
	os.Symlink(name, symlink) // as glog: a link that cannot be made is no error
	lf := &logFile{f: f, created: t}
	if !h.opts.JSON { // JSON files stay one object a line
		hdr := fmt.Sprintf("Log file created at: %s\nRunning on machine: %s\nBinary: Built with %s %s for %s/%s\nLog line format: [IWEF]mmdd hh:mm:ss.uuuuuu file:line msg\n",
			t.Format("2006/01/02 15:04:05"), h.ident.host, runtime.Compiler, runtime.Version(), runtime.GOOS, runtime.GOARCH)
		n, err := f.WriteString(hdr)
		lf.n = uint64(n)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return lf, nil
}

// compressFile replaces path by path.gz; on any failure the original
// stays. If create removed path (-log_max_files) while it was being
// compressed, the .gz goes too rather than outliving its place in the count.
func (h *Handler) compressFile(path string) {
	src, err := os.Open(path)
	if err != nil {
		return
	}
	defer src.Close()
	tmp := path + ".gz.tmp"
	dst, err := os.Create(tmp)
	if err != nil {
		return
	}
	gz, _ := gzip.NewWriterLevel(dst, gzip.BestSpeed)
	_, err = io.Copy(gz, src)
	if err == nil {
		err = gz.Close()
	}
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	h.rmu.Lock()
	defer h.rmu.Unlock()
	if _, serr := os.Stat(path); err == nil && serr != nil {
		err = serr // removed meanwhile
	}
	if err == nil {
		err = os.Rename(tmp, path+".gz")
	}
	if err != nil {
		os.Remove(tmp)
		return
	}
	os.Remove(path)
}
