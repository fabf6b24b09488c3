package httpfast

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// Deletes of chunk manifests, as upstream: the chunks go first, each on
// every holder of its volume, without checking their cookies; if any of
// them fails the manifest stays and the client gets a 500 naming the first
// failed chunk, so the delete can be retried. The size reported for a
// deleted manifest is the manifest's own size field.

// deleteManifestChunks deletes the chunks of manifest key. It returns the size to report, or false once it has answered
// the request with the failure.
func (s *Server) deleteManifestChunks(ctx *fasthttp.RequestCtx, v *engine.Volume, key uint64, cookie uint32) (int64, bool) {
	var full needle.Needle
	_, err := v.Read(&full, key, cookie, nil, engine.ReadOptions{AnyCookie: true})
	var m chunkManifest
	if err == nil {
		m, err = parseManifest(full.Data, full.IsCompressed())
	}
	if err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "Load chunks manifest error: "+err.Error())
		return 0, false
	}
	if len(s.keys.Load().write) > 0 {
		// A write token names one file id. Cascading its DELETE to the
		// chunks a manifest names would let the holder of a token for X
		// delete any Y: upload a manifest at X naming Y, then delete X. So
		// with JWT signing on, a manifest's DELETE removes the manifest
		// alone; its chunks stay until deleted with their own tokens (or
		// by the admin BatchDelete, which the white list guards). The
		// filer never stores such manifests (its own chunk manifests are
		// plain needles it deletes chunk by chunk); only `weed upload
		// -maxMB` writes them.
		return m.Size, true
	}
	if err := s.deleteChunks(m.Chunks); err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "Delete chunks error: "+err.Error())
		return 0, false
	}
	return m.Size, true
}

// chunkDeleteError is one chunk that could not be deleted.
type chunkDeleteError struct{ fid, msg string }

func (e chunkDeleteError) Error() string { return "chunk delete " + e.fid + ": " + e.msg }

// deleteChunks deletes every chunk it can and returns the first failure in
// upstream's order: malformed file ids first, then volume by volume.
func (s *Server) deleteChunks(chunks []chunkInfo) error {
	var failed []chunkDeleteError
	var vids []string
	byVid := map[string][]string{}
	for _, c := range chunks {
		comma := strings.IndexByte(c.Fid, ',')
		if comma <= 0 {
			failed = append(failed, chunkDeleteError{c.Fid, "Wrong fid format."})
			continue
		}
		vid := c.Fid[:comma]
		if _, ok := byVid[vid]; !ok {
			vids = append(vids, vid)
		}
		byVid[vid] = append(byVid[vid], c.Fid)
	}
	for _, vid := range vids {
		failed = append(failed, s.deleteVolumeChunks(vid, byVid[vid])...)
	}
	if len(failed) > 0 {
		return failed[0]
	}
	return nil
}

// deleteVolumeChunks deletes fids, all of volume vid, here when this node
// holds the volume and on every other holder.
func (s *Server) deleteVolumeChunks(vid string, fids []string) []chunkDeleteError {
	var failed []chunkDeleteError
	fail := func(fid string, err error) { failed = append(failed, chunkDeleteError{fid, err.Error()}) }
	id, perr := needle.ParseVolumeID([]byte(vid))
	v, local := s.cfg.Store.Volume(id)
	var remote []string
	var err error
	if perr == nil && local {
		remote, err = s.remoteReplicas(id, v)
	} else if s.cfg.Lookup == nil {
		err = errors.New("no master to look the volume up")
	} else {
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var urls []string
		urls, err = s.cfg.Lookup(lctx, id)
		cancel()
		for _, u := range urls {
			if u != s.cfg.SelfURL {
				remote = append(remote, u)
			}
		}
		if err == nil && len(remote) == 0 {
			err = fmt.Errorf("volume %s not found", vid)
		}
	}
	if err != nil {
		for _, fid := range fids {
			fail(fid, fmt.Errorf("lookup error: %w", err))
		}
		return failed
	}
	for _, fid := range fids {
		if perr == nil && local {
			key, cookie, err := parseChunkKey(fid[len(vid)+1:])
			if err != nil {
				fail(fid, err)
				continue
			}
			if _, err := v.Delete(key, cookie, engine.WriteOptions{}); err != nil {
				fail(fid, err)
				continue
			}
		}
		err := fanOut(remote, func(url string) error { return s.deleteRemoteChunk(url, fid) })
		if err != nil {
			fail(fid, err)
		}
	}
	return failed
}

// parseChunkKey parses the key and cookie of a chunk's file id with the
// texts upstream's batch delete (which it uses for chunks) answers.
func parseChunkKey(s string) (uint64, uint32, error) {
	switch {
	case len(s) <= 2*needle.CookieSize:
		return 0, 0, errors.New("KeyHash is too short.")
	case len(s) > 2*(needle.CookieSize+needle.IDSize):
		return 0, 0, errors.New("KeyHash is too long.")
	case strings.IndexByte(s, '_') >= 0:
		return 0, 0, fmt.Errorf("Parse needleId error: invalid needle id %q", s)
	}
	key, cookie, err := needle.ParseKeyCookie([]byte(s))
	if err != nil {
		return 0, 0, fmt.Errorf("Invalid fid: %s", s)
	}
	return key, cookie, nil
}

// deleteRemoteChunk deletes fid on the volume server at host with a
// replica-only delete (the holders are all asked here). A chunk already
// gone counts as deleted.
func (s *Server) deleteRemoteChunk(host, fid string) error {
	host = strings.TrimPrefix(strings.TrimPrefix(host, "http://"), "https://")
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(s.peerScheme + host + "/" + fid + "?type=replicate")
	req.Header.SetMethod(fasthttp.MethodDelete)
	if key := s.keys.Load().write; len(key) > 0 {
		token, err := mintFidToken(key, fid)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "BEARER "+token)
	}
	if err := s.repl.client.DoTimeout(req, resp, replicaBaseTimeout); err != nil {
		return err
	}
	switch sc := resp.StatusCode(); sc {
	case fasthttp.StatusAccepted, fasthttp.StatusNotFound, fasthttp.StatusNotModified:
		return nil
	default:
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(resp.Body(), &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return errors.New("status " + strconv.Itoa(sc))
	}
}
