package httpfast

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
	"github.com/weedvol/weedvol/metrics"
)

// upload serves POST and PUT.
func (s *Server) upload(ctx *fasthttp.RequestCtx) {
	if !s.waitUploadSlot(ctx) {
		return
	}
	length := int64(ctx.Request.Header.ContentLength())
	if length > 0 {
		s.inflightUpload.Add(length)
		defer s.releaseUpload(length)
	}
	if !s.allowed(ctx) {
		return
	}
	path := requestPath(ctx)
	p := parseFidPath(path)
	vid, err := needle.ParseVolumeID(p.vid)
	if err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusBadRequest, needle.UpstreamVolumeIDError(string(p.vid)).Error())
		return
	}
	if !s.authorized(ctx, p, true) {
		writeJSONError(ctx, fasthttp.StatusUnauthorized, errWrongJWT.Error())
		return
	}
	releaseBody, err := readBody(ctx, s.cfg.FileSizeLimit)
	if err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	defer releaseBody()
	pu, err := parseUpload(ctx, s.cfg.FileSizeLimit)
	if err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusBadRequest, err.Error())
		return
	}
	fid := uploadFid(path)
	key, cookie, err := needle.ParseKeyCookie(fid)
	if err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusBadRequest, fidError(fid))
		return
	}
	v, ok := s.cfg.Store.Volume(vid)
	if !ok {
		// upstream: no local volume and no replica to forward to
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "volume "+strconv.FormatUint(uint64(vid), 10)+" not found on "+s.cfg.SelfURL)
		return
	}
	n := pu.toNeedle(key, cookie, uint64(time.Now().Unix()))
	if s.cfg.FixJpgOrientation && isJpegUpload(pu.mimeType, pu.fileName) {
		n.Data = fixJpgOrientation(n.Data)
	}
	var remote []string
	if !pu.replicate {
		if remote, err = s.remoteReplicas(vid, v); err != nil {
			s.m.WriteFailures.Inc()
			writeJSONError(ctx, fasthttp.StatusInternalServerError, err.Error())
			return
		}
	}
	s.m.ReplicationTargets(len(remote))
	var res engine.WriteResult
	var replicaErr error
	if len(remote) > 0 {
		res, err, replicaErr = s.writeAndReplicate(ctx, &n, pu, v, vid, remote)
	} else {
		res, err = s.writeLocal(v, &n, pu.fsync)
	}
	if err == nil && replicaErr != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusInternalServerError, replicaErr.Error())
		return
	}
	if err != nil {
		s.m.WriteFailures.Inc()
		status := fasthttp.StatusInternalServerError
		msg := "failed to write to local disk: " + err.Error()
		if errors.Is(err, engine.ErrReadOnly) {
			// upstream's text for read-only volumes too (operator mark or low disk)
			status = fasthttp.StatusConflict
			// A plain write to an unreplicated volume that was refused
			// before anything was appended says so, as upstream does, so a
			// client knows it may retry elsewhere.
			if v.SuperBlock().ReplicaPlacement.CopyCount() == 1 && !pu.fsync && !pu.replicate {
				ctx.Response.Header.Set("X-Seaweed-Write-Outcome", "refused-before-append")
				msg = "write refused before append: " + msg
			}
		}
		writeJSONError(ctx, status, msg)
		return
	}
	var etag [10]byte
	ctx.Response.Header.SetBytesV("ETag", appendEtag(etag[:0], &n))
	if pu.contentMD5 != "" {
		ctx.Response.Header.Set("Content-MD5", pu.contentMD5)
	} else {
		ctx.Response.Header.Set("Content-MD5", "")
	}
	if res.Unchanged {
		ctx.SetStatusCode(fasthttp.StatusNoContent)
		return
	}
	var name []byte
	if n.Has(needle.FlagHasName) {
		name = n.Name
	}
	var scratch [512]byte
	writeJSONBody(ctx, fasthttp.StatusCreated,
		appendUploadResult(scratch[:0], name, uint32(pu.originalSize), uint32(n.Checksum), n.Mime, pu.contentMD5))
}

// uploadFid is the key-and-cookie part of an upload's path as upstream
// takes it: after the last ',' and before a later '.', whatever the path's
// shape (so "/3/01637037d6" is not an upload path upstream accepts).
func uploadFid(path []byte) []byte {
	comma := bytes.LastIndexByte(path, ',')
	fid := path[comma+1:]
	if dot := bytes.LastIndexByte(path, '.'); dot > comma {
		fid = path[comma+1 : dot]
	}
	return fid
}

// fidError words a file id ParseKeyCookie refused as upstream does.
func fidError(fid []byte) string {
	if err := needle.UpstreamFidError(string(fid)); err != nil {
		return err.Error()
	}
	return needle.ErrBadFid.Error()
}

// writeAndReplicate runs the local write of n and its forwards to the
// other holders side by side and returns when both are done.
func (s *Server) writeAndReplicate(ctx *fasthttp.RequestCtx, n *needle.Needle, pu *parsedUpload, v *engine.Volume, vid uint32, remote []string) (res engine.WriteResult, err, replicaErr error) {
	rw := newReplicaWrite(ctx, n, pu, v)
	var forwarded sync.WaitGroup
	forwarded.Add(1)
	go func() {
		defer forwarded.Done()
		stage := s.m.BeginStage(metrics.TypeWriteToReplicas)
		start := time.Now()
		replicaErr = s.replicateWrite(vid, remote, rw)
		stage.End()
		if replicaErr != nil {
			s.m.Handler(metrics.ErrorWriteToReplicas)
			s.m.ReplicationFailed(metrics.OpWrite, replicaErr)
		}
		s.m.Replicated(metrics.OpWrite, time.Since(start), replicaErr)
	}()
	res, err = s.writeLocal(v, n, pu.fsync)
	forwarded.Wait()
	return res, err, replicaErr
}

// writeLocal appends n to v, timed as upstream's writeToLocalDisk stage.
func (s *Server) writeLocal(v *engine.Volume, n *needle.Needle, fsync bool) (engine.WriteResult, error) {
	stage := s.m.BeginStage(metrics.TypeWriteToLocalDisk)
	res, err := v.Write(n, engine.WriteOptions{Fsync: fsync})
	stage.End()
	if err != nil {
		s.m.Handler(metrics.ErrorWriteToLocalDisk)
	}
	return res, err
}

// delete serves DELETE.
func (s *Server) delete(ctx *fasthttp.RequestCtx) {
	p := parseFidPath(requestPath(ctx))
	vid, _ := needle.ParseVolumeID(p.vid)
	key, cookie, err := needle.ParseKeyCookie(p.fid)
	if err != nil {
		writeJSONError(ctx, fasthttp.StatusBadRequest, fidError(p.fid))
		return
	}
	if !s.authorized(ctx, p, true) {
		writeJSONError(ctx, fasthttp.StatusUnauthorized, errWrongJWT.Error())
		return
	}
	if s.cfg.Store.HasEcVolume(vid) {
		s.deleteEc(ctx, vid, key, cookie)
		return
	}
	v, ok := s.cfg.Store.Volume(vid)
	if !ok {
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]uint32{"size": 0})
		return
	}
	var n needle.Needle
	var scratch []byte
	off, size, found := v.Lookup(key)
	if !found || off == 0 || size < 0 {
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]uint32{"size": 0})
		return
	}
	if size > 0 && v.Version() != needle.Version1 {
		_, _, _, err = v.DataRange(&n, key, cookie, scratch, engine.ReadOptions{AnyCookie: true})
	} else if size > 0 {
		_, err = v.Read(&n, key, cookie, nil, engine.ReadOptions{AnyCookie: true})
	} else {
		n = needle.Needle{ID: key, Cookie: cookie}
	}
	if err != nil {
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]uint32{"size": 0})
		return
	}
	if n.Cookie != cookie {
		writeJSONError(ctx, fasthttp.StatusBadRequest, "File Random Cookie does not match.")
		return
	}
	count := int64(size)
	if n.IsChunkManifest() {
		var ok bool
		if count, ok = s.deleteManifestChunks(ctx, v, key, cookie); !ok {
			return
		}
	}
	var remote []string
	if string(ctx.QueryArgs().Peek("type")) != "replicate" {
		if remote, err = s.remoteReplicas(vid, v); err != nil {
			s.m.WriteFailures.Inc()
			writeJSONError(ctx, fasthttp.StatusInternalServerError, "Deletion Failed: "+err.Error())
			return
		}
	}
	start := time.Now()
	if _, err := v.Delete(key, cookie, engine.WriteOptions{}); err != nil {
		if len(remote) > 0 {
			s.m.Replicated(metrics.OpDelete, time.Since(start), err)
		}
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "Deletion Failed: "+err.Error())
		return
	}
	s.m.ReplicationTargets(len(remote))
	err = s.replicateDelete(vid, remote, string(requestPath(ctx)), requestToken(ctx))
	if len(remote) > 0 {
		if err != nil {
			s.m.ReplicationFailed(metrics.OpDelete, err)
		}
		s.m.Replicated(metrics.OpDelete, time.Since(start), err)
	}
	if err != nil {
		s.m.WriteFailures.Inc()
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "Deletion Failed: "+err.Error())
		return
	}
	writeJSON(ctx, fasthttp.StatusAccepted, map[string]int64{"size": count})
}
