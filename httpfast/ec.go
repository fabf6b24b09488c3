package httpfast

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// Needles of erasure-coded volumes. A volume that is only EC shards on this
// node (no normal volume of the id mounted) is read through
// engine.Store.EcRead, which fetches other nodes' shards and reconstructs
// missing ones, and the needle then takes the same reply path as a normal
// one (serveRecord: headers, validators, ranges, manifests, images, gzip).
// A deleted, absent or expired needle, or a cookie mismatch, is a plain
// 404, as upstream's. Deletes go to EC shards first when the node has any
// of the volume (upstream checks them before the normal volume), through
// engine.Store.EcDelete, which also tells the other holders.

// ecTimeout bounds one EC delete, which waits on other nodes.
const ecTimeout = time.Minute

// getEc serves GET and HEAD of key on EC volume vid.
func (s *Server) getEc(ctx *fasthttp.RequestCtx, vid uint32, key uint64, cookie uint32, p fidPath) {
	if !s.waitDownloadSlot(ctx, vid, false) {
		return
	}
	var hold int64
	if _, size, ok, err := s.cfg.Store.EcLookup(vid, key); err == nil && ok && size > 0 {
		hold = int64(size)
	}
	release := s.holdDownload(hold)
	defer release()
	var n needle.Needle
	// rec is freshly allocated by the engine and ours; n aliases it. No
	// timeout here: the engine bounds the fetches from other nodes, and
	// a read of local shards sets no timer.
	rec, err := s.cfg.Store.EcRead(context.Background(), vid, &n, key, cookie, engine.ReadOptions{})
	if err != nil {
		if errors.Is(err, engine.ErrEcNotFound) {
			s.m.ReadInvalidNeedles.Inc()
			s.m.NotFound()
			ctx.SetStatusCode(fasthttp.StatusNotFound)
			return
		}
		s.readError(ctx, err)
		return
	}
	s.serveRecord(ctx, &n, p, rec)
}

// deleteEc serves DELETE of key on EC volume vid, answering as upstream's
// writeDeleteResult: 202 with the record's size on disk, 404 with size 0
// for a needle already deleted, 500 "Deletion Failed: ..." otherwise.
func (s *Server) deleteEc(ctx *fasthttp.RequestCtx, vid uint32, key uint64, cookie uint32) {
	rctx, cancel := context.WithTimeout(context.Background(), ecTimeout)
	defer cancel()
	size, err := s.cfg.Store.EcDelete(rctx, vid, key, cookie)
	switch {
	case err == nil:
		count := int64(size)
		if info, ok := s.cfg.Store.EcVolume(vid); ok && size > 0 {
			count = needle.ActualSize(size, needle.Version(info.Version))
		}
		writeJSON(ctx, fasthttp.StatusAccepted, map[string]int64{"size": count})
	case errors.Is(err, engine.ErrDeleted):
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]uint32{"size": 0})
	case errors.Is(err, engine.ErrCookieMismatch):
		writeJSONError(ctx, fasthttp.StatusInternalServerError, fmt.Sprintf("Deletion Failed: unexpected cookie %x", cookie))
	case errors.Is(err, engine.ErrNotFound):
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "Deletion Failed: locate in local ec volume: needle not found")
	case errors.Is(err, engine.ErrEcNotFound):
		writeJSON(ctx, fasthttp.StatusNotFound, map[string]uint32{"size": 0})
	default:
		writeJSONError(ctx, fasthttp.StatusInternalServerError, "Deletion Failed: "+err.Error())
	}
}
