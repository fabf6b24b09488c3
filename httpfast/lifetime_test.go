package httpfast

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"
)

// TestCompressedNeedlesKeepTheirNames reads many needles that are stored
// gzipped, one after another and from several clients at once, with and
// without Accept-Encoding: gzip, and checks every answer's name and bytes.
//
// A read holds the needle's record in the response's pooled body buffer;
// the name and MIME type are slices of it, and the decompressed data is
// moved over it. An answer that built a header from such a slice after the
// move, or that kept a slice of a buffer another request reuses, shows
// another needle's bytes here (and the race detector reports the reuse).
func TestCompressedNeedlesKeepTheirNames(t *testing.T) {
	ts := newTestServer(t)
	const needles = 40
	type stored struct {
		path, name string
		data       []byte
	}
	var all []stored
	for i := 0; i < needles; i++ {
		name := fmt.Sprintf("file-%02d-%s.txt", i, strings.Repeat("n", i))
		// compressible, and longer than its record's header and name, so
		// the inflated data covers where the name was
		data := []byte(strings.Repeat(fmt.Sprintf("line %d of needle %d; ", i, i), 50+i*10))
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, name))
		h.Set("Content-Type", "text/plain")
		part, _ := mw.CreatePart(h)
		part.Write(data)
		mw.Close()
		path := fmt.Sprintf("/3,%x%08x", 0x1000+i, 0xabc00000+i)
		if resp, b := ts.do(t, "POST", path, &body, map[string]string{"Content-Type": mw.FormDataContentType()}); resp.StatusCode != 201 {
			t.Fatalf("upload %d: %d %s", i, resp.StatusCode, b)
		}
		all = append(all, stored{path, name, data})
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 16}}
	check := func(s stored, gzipOK bool) error {
		req, _ := http.NewRequest("GET", ts.url+s.path, nil)
		if gzipOK {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		if want := `inline; filename=` + s.name; resp.Header.Get("Content-Disposition") != want {
			return fmt.Errorf("%s: Content-Disposition %q, want %q", s.path, resp.Header.Get("Content-Disposition"), want)
		}
		if gzipOK {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				return fmt.Errorf("%s: not gzipped", s.path)
			}
			if got, err = gunzip(got); err != nil {
				return fmt.Errorf("%s: %v", s.path, err)
			}
		}
		if !bytes.Equal(got, s.data) {
			return fmt.Errorf("%s: %d bytes differ from the %d stored", s.path, len(got), len(s.data))
		}
		return nil
	}
	// in a row, on one kept-alive connection
	for round := 0; round < 3; round++ {
		for i, s := range all {
			if err := check(s, (i+round)%2 == 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	// in parallel
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				s := all[(i*7+w*13)%len(all)]
				if err := check(s, (i+w)%3 == 0); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
