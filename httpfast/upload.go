package httpfast

import (
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine/needle"
)

// parsedUpload is an upload request turned into needle fields.
type parsedUpload struct {
	fileName     string
	data         []byte
	mimeType     string
	pairs        map[string]string
	gzipped      bool
	originalSize int
	modified     uint64
	ttl          needle.TTL
	chunked      bool
	contentMD5   string
	replicate    bool
	fsync        bool
}

// parseUpload reads an upload as upstream's ParseUpload does: a multipart
// form's first file part (or first part) or a raw body; form values ts,
// ttl, cm, type and fsync from the query or, in a multipart body, from form
// fields (also after the file part); Seaweed-* headers as pairs; text-like
// content gzipped when that saves 10%; Content-MD5 checked.
func parseUpload(ctx *fasthttp.RequestCtx, sizeLimit int64) (*parsedUpload, error) {
	pu := &parsedUpload{}
	form := map[string]string{}
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		if _, seen := form[string(k)]; !seen {
			form[string(k)] = string(v)
		}
	})
	ctx.Request.Header.VisitAll(func(k, v []byte) {
		if len(k) < len("Seaweed-") || !bytes.EqualFold(k[:len("Seaweed-")], []byte("Seaweed-")) {
			return
		}
		key := http.CanonicalHeaderKey(string(k))
		if strings.HasPrefix(key, "Seaweed-") {
			if pu.pairs == nil {
				pu.pairs = map[string]string{}
			}
			pu.pairs[key] = string(v)
		}
	})
	contentType := string(ctx.Request.Header.ContentType())
	body := ctx.Request.Body()
	if int64(len(body)) > sizeLimit {
		return nil, fmt.Errorf("file over the limited %d bytes", sizeLimit)
	}
	if ctx.IsPost() && (contentType == "" || strings.Contains(contentType, "form-data")) {
		if err := pu.parseMultipart(body, contentType, sizeLimit, form); err != nil {
			return nil, err
		}
		contentType = pu.mimeType
		pu.mimeType = ""
	} else {
		disposition := string(ctx.Request.Header.Peek("Content-Disposition"))
		if strings.Contains(disposition, "name=") {
			if !strings.HasPrefix(disposition, "inline") && !strings.HasPrefix(disposition, "attachment") {
				disposition = "attachment; " + disposition
			}
			if _, params, err := mime.ParseMediaType(disposition); err == nil {
				if fn, ok := params["filename"]; ok {
					pu.fileName = fn
				} else if n, ok := params["name"]; ok {
					pu.fileName = n
				}
			}
		}
		if pu.fileName != "" {
			pu.fileName = cleanBase(pu.fileName)
		} else {
			pu.fileName = path.Base(string(requestPath(ctx)))
		}
		pu.data = body
		pu.mimeType = contentType
		pu.gzipped = string(ctx.Request.Header.Peek("Content-Encoding")) == "gzip"
	}
	pu.chunked = parseBoolField(form["cm"])
	pu.replicate = form["type"] == "replicate"
	pu.fsync = parseBoolField(form["fsync"])
	if pu.replicate {
		pu.mimeType = contentType
	} else if !pu.chunked {
		ext, byExt := "", ""
		if dot := strings.LastIndexByte(pu.fileName, '.'); dot > 0 {
			ext = strings.ToLower(pu.fileName[dot:])
			byExt = mime.TypeByExtension(ext)
		}
		if contentType != "" && contentType != "application/octet-stream" && byExt != contentType {
			pu.mimeType = contentType
		} else if byExt != "" && pu.mimeType == "" && byExt != "application/octet-stream" {
			pu.mimeType = byExt
		}
	}
	if ts := form["ts"]; ts != "" {
		pu.modified, _ = strconv.ParseUint(ts, 10, 64)
	}
	pu.ttl, _ = needle.ParseTTL(form["ttl"])
	pu.originalSize = len(pu.data)
	uncompressed := pu.data
	expectedMD5 := string(ctx.Request.Header.Peek("Content-MD5"))
	if expectedMD5 == "" {
		expectedMD5 = pu.contentMD5
	}
	if pu.gzipped {
		if plain, err := gunzip(pu.data); err == nil {
			pu.originalSize = len(plain)
			uncompressed = plain
		}
	} else if !pu.replicate {
		ext := ""
		if dot := strings.LastIndexByte(pu.fileName, '.'); dot >= 0 {
			ext = pu.fileName[dot:]
		}
		mt := pu.mimeType
		if mt == "" {
			mt = http.DetectContentType(pu.data)
		}
		if mt == "application/octet-stream" {
			mt = ""
		}
		if should, sure := compressible(ext, mt); should && sure {
			if z, err := gzipBytes(pu.data); err == nil && len(z)*10 < len(pu.data)*9 {
				pu.data, pu.gzipped = z, true
			}
		}
	}
	if expectedMD5 != "" {
		sum := md5.Sum(uncompressed)
		pu.contentMD5 = base64.StdEncoding.EncodeToString(sum[:])
		if expectedMD5 != pu.contentMD5 {
			return nil, fmt.Errorf("Content-MD5 did not match md5 of file data expected [%s] received [%s] size %d", expectedMD5, pu.contentMD5, len(uncompressed))
		}
	}
	return pu, nil
}

// parseMultipart takes the first part, or the first part with a file name
// if the first has none, and the control fields type and fsync.
func (pu *parsedUpload) parseMultipart(body []byte, contentType string, sizeLimit int64, form map[string]string) error {
	// The errors read as net/http's MultipartReader words them.
	mediaType, params, err := mime.ParseMediaType(contentType)
	if err != nil || (mediaType != "multipart/form-data" && mediaType != "multipart/mixed") {
		return errors.New("request Content-Type isn't multipart/form-data")
	}
	boundary := params["boundary"]
	if boundary == "" {
		return errors.New("no multipart boundary param in Content-Type")
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	part, err := r.NextPart()
	if err != nil {
		return err
	}
	take := func(p *multipart.Part) error {
		data, err := io.ReadAll(io.LimitReader(p, sizeLimit+1))
		if err != nil {
			return err
		}
		if int64(len(data)) > sizeLimit {
			return fmt.Errorf("file over the limited %d bytes", sizeLimit)
		}
		pu.data = data
		pu.fileName = p.FileName()
		if pu.fileName != "" {
			pu.fileName = cleanBase(pu.fileName)
		}
		pu.mimeType = p.Header.Get("Content-Type")
		pu.contentMD5 = p.Header.Get("Content-MD5")
		pu.gzipped = p.Header.Get("Content-Encoding") == "gzip"
		return nil
	}
	control := func(name string, value []byte) {
		if name != "type" && name != "fsync" && name != "ts" && name != "ttl" && name != "cm" {
			return
		}
		if _, seen := form[name]; !seen {
			if len(value) > 64 {
				value = value[:64]
			}
			form[name] = string(value)
		}
	}
	if err := take(part); err != nil {
		return err
	}
	if part.FileName() == "" {
		control(part.FormName(), pu.data)
	}
	for {
		p, err := r.NextPart()
		if err != nil {
			break
		}
		if pu.fileName == "" && p.FileName() != "" {
			if err := take(p); err != nil {
				return err
			}
			continue
		}
		if p.FileName() == "" {
			v, _ := io.ReadAll(io.LimitReader(p, 65))
			control(p.FormName(), v)
		}
	}
	return nil
}

// toNeedle builds the needle to store, as upstream's CreateNeedleFromRequest.
func (pu *parsedUpload) toNeedle(key uint64, cookie uint32, now uint64) needle.Needle {
	n := needle.Needle{ID: key, Cookie: cookie, Data: pu.data}
	if len(pu.fileName) < 256 {
		n.Name = []byte(pu.fileName)
		n.Flags |= needle.FlagHasName
	}
	if len(pu.mimeType) < 256 {
		n.Mime = []byte(pu.mimeType)
		n.Flags |= needle.FlagHasMime
	}
	if len(pu.pairs) > 0 {
		trimmed := make(map[string]string, len(pu.pairs))
		keys := make([]string, 0, len(pu.pairs))
		for k := range pu.pairs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			trimmed[k[len("Seaweed-"):]] = pu.pairs[k]
		}
		if b, err := json.Marshal(trimmed); err == nil && len(b) < 65536 {
			n.SetPairs(b)
		}
	}
	if pu.gzipped {
		n.Flags |= needle.FlagIsCompressed
	}
	n.LastModified = pu.modified
	if n.LastModified == 0 {
		n.LastModified = now
	}
	n.Flags |= needle.FlagHasLastModifiedDate
	if !pu.ttl.IsZero() {
		n.SetTTL(pu.ttl)
	}
	if pu.chunked {
		n.Flags |= needle.FlagIsChunkManifest
	}
	return n
}

func cleanBase(p string) string { return path.Base(strings.ReplaceAll(p, "\\", "/")) }

func gzipBytes(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(b)/2 + 64)
	w := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(w)
	w.Reset(&buf)
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// gzipWriters recycles compressors (a fresh one allocates its ~1 MB of
// tables per upload). Each writer is Reset to its caller's buffer, which
// the caller owns; Reset keeps upstream's level, BestSpeed, so the stored
// bytes, and with them the ETag, match upstream's.
var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// compressible is upstream's table of what is worth gzipping.
func compressible(ext, mtype string) (should, sure bool) {
	ext = strings.ToLower(ext)
	if i := strings.IndexByte(mtype, ';'); i >= 0 {
		mtype = strings.TrimSpace(mtype[:i])
	}
	mtype = strings.ToLower(mtype)
	if strings.HasPrefix(mtype, "text/") {
		return true, true
	}
	switch ext {
	case ".svg", ".bmp", ".wav":
		return true, true
	}
	if strings.HasPrefix(mtype, "image/") {
		return false, true
	}
	switch ext {
	case ".zip", ".rar", ".gz", ".bz2", ".xz", ".zst", ".br", ".png", ".jpg", ".jpeg":
		return false, true
	case ".pdf", ".txt", ".html", ".htm", ".css", ".js", ".json",
		".php", ".java", ".go", ".rb", ".c", ".cpp", ".h", ".hpp":
		return true, true
	}
	if strings.HasPrefix(mtype, "application/") {
		switch {
		case strings.HasSuffix(mtype, "zstd"):
			return false, true
		case strings.HasSuffix(mtype, "xml"), strings.HasSuffix(mtype, "script"):
			return true, true
		case strings.HasSuffix(mtype, "json"), strings.HasSuffix(mtype, "json-seq"):
			return true, true
		case strings.HasSuffix(mtype, "vnd.rar"):
			return false, true
		}
	}
	if strings.HasPrefix(mtype, "audio/") {
		switch strings.TrimPrefix(mtype, "audio/") {
		case "wave", "wav", "x-wav", "x-pn-wav":
			return true, true
		}
	}
	return false, false
}

// parseBoolField is strconv.ParseBool with false for an absent or bad
// value, without the error allocation of the absent case.
func parseBoolField(v string) bool {
	if v == "" {
		return false
	}
	b, _ := strconv.ParseBool(v)
	return b
}
