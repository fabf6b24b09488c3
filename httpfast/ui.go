package httpfast

import (
	"bytes"
	"fmt"
	"html/template"
	"runtime"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/weedvol/weedvol/buildinfo"
	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/engine/needle"
)

// uiPage has the sections of upstream's volume server page, in its order:
// Disk Stats, System Stats, Volumes (those with a local .dat), Remote
// Volumes (those served from a remote tier, with backend and key) and
// Erasure Coding Shards; the last two are shown when not empty. System
// Stats lists the masters, the up time, weedvol's version and the
// process's memory; upstream's request-rate sparklines are not drawn
// (weedvol keeps no per-request counters on its read path).
var uiPage = template.Must(template.New("ui").Funcs(template.FuncMap{
	"human": humanBytes, "percent": percentOf,
}).Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SeaweedFS {{.Version}}</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style>
</head><body>
<h1><img src="/seaweedfsstatic/seaweed50x50.png" alt=""> SeaweedFS <small>{{.Version}}</small></h1>
<h2>Disk Stats</h2>
<table><tr><th>Path</th><th>Disk</th><th>Total</th><th>Free</th><th>Usage</th></tr>
{{range .Disks}}<tr><td>{{.Dir}}</td><td>{{.DiskType}}</td><td>{{human .All}}</td><td>{{human .Free}}</td><td>{{percent .All .Used}}%</td></tr>
{{end}}</table>
<h2>System Stats</h2>
<table>
<tr><th>Masters</th><td>{{.Masters}}</td></tr>
{{range .Stats}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
<h2>Volumes</h2>
<table><tr><th>Id</th><th>Collection</th><th>Disk</th><th>Data Size</th><th>Files</th><th>Trash</th><th>TTL</th><th>ReadOnly</th><th>Version</th></tr>
{{range .Volumes}}<tr><td><code>{{.Id}}</code></td><td>{{.Collection}}</td><td>{{.DiskType}}</td><td>{{human .Size}}</td><td>{{.FileCount}}</td><td>{{.DeleteCount}} / {{human .DeletedByteCount}}</td><td>{{.TTL}}</td><td>{{.ReadOnly}}</td><td>{{.Version}}</td></tr>
{{end}}</table>
{{if .RemoteVolumes}}<h2>Remote Volumes</h2>
<table><tr><th>Id</th><th>Collection</th><th>Size</th><th>Files</th><th>Trash</th><th>Remote</th><th>Key</th></tr>
{{range .RemoteVolumes}}<tr><td><code>{{.Id}}</code></td><td>{{.Collection}}</td><td>{{human .Size}}</td><td>{{.FileCount}}</td><td>{{.DeleteCount}} / {{human .DeletedByteCount}}</td><td>{{.RemoteStorageName}}</td><td>{{.RemoteStorageKey}}</td></tr>
{{end}}</table>{{end}}
{{if .EcVolumes}}<h2>Erasure Coding Shards</h2>
<table><tr><th>Id</th><th>Collection</th><th>Total Size</th><th>Shard Details</th><th>CreatedAt</th></tr>
{{range .EcVolumes}}<tr><td><code>{{.ID}}</code></td><td>{{.Collection}}</td><td>{{human .Size}}</td><td>{{range .Shards}}<span style="margin-right:5px">{{.ID}}: {{human .Size}}</span> {{end}}</td><td>{{.Created}}</td></tr>
{{end}}</table>{{end}}
</body></html>
`))

// uiVolume is a /status volume with its TTL as upstream prints it and,
// for a remote volume, the key of its remote .dat.
type uiVolume struct {
	volumeInfo
	TTL              string
	RemoteStorageKey string
}

type uiEcVolume struct {
	engine.EcVolumeInfo
	Size    int64
	Created string
}

type uiStat struct{ Name, Value string }

// ui renders the status page at /ui/index.html.
func (s *Server) ui(ctx *fasthttp.RequestCtx) {
	var vols, remote []uiVolume
	for _, v := range VolumeInfos(s.cfg.Store) {
		u := uiVolume{volumeInfo: v, TTL: needle.TTL{Count: v.Ttl.Count, Unit: v.Ttl.Unit}.String()}
		if v.RemoteStorageName == "" {
			vols = append(vols, u)
			continue
		}
		if vol, ok := s.cfg.Store.Volume(v.Id); ok {
			_, u.RemoteStorageKey = vol.RemoteStorage()
		}
		remote = append(remote, u)
	}
	var ecs []uiEcVolume
	for _, ev := range s.cfg.Store.EcVolumes() {
		e := uiEcVolume{EcVolumeInfo: ev}
		for _, sh := range ev.Shards {
			e.Size += sh.Size
		}
		if ev.EncodeTsNs > 0 {
			e.Created = time.Unix(0, ev.EncodeTsNs).Format("2006-01-02 15:04")
		}
		ecs = append(ecs, e)
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	stats := []uiStat{
		{"Up Time", time.Since(startTime).Truncate(time.Second).String()},
		{"Served By", buildinfo.Get().String()},
		{"Memory (Go heap in use / from the OS)", humanBytes(m.HeapInuse) + " / " + humanBytes(m.Sys)},
		{"Goroutines", fmt.Sprint(runtime.NumGoroutine())},
	}
	var b bytes.Buffer
	err := uiPage.Execute(&b, map[string]any{
		"Version": s.cfg.State.Version() + " (weedvol " + buildinfo.Get().Version + ")",
		"Masters": s.cfg.Masters, "Stats": stats,
		"Disks": s.diskStatuses(), "Volumes": vols, "RemoteVolumes": remote, "EcVolumes": ecs,
	})
	if err != nil {
		writeJSONError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	ctx.Response.Header.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(b.Bytes())
}

// humanBytes is upstream's BytesToHumanReadable: "512 B", "1.50 KiB".
func humanBytes(n any) string {
	var b uint64
	switch v := n.(type) {
	case uint64:
		b = v
	case int64:
		if v < 0 {
			return fmt.Sprintf("%d B", v)
		}
		b = uint64(v)
	case uint32:
		b = uint64(v)
	case int:
		if v < 0 {
			return fmt.Sprintf("%d B", v)
		}
		b = uint64(v)
	default:
		return fmt.Sprint(n)
	}
	if b < 1024 {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(1024), 0
	for x := b / 1024; x >= 1024; x /= 1024 {
		div *= 1024
		exp++
	}
	return fmt.Sprintf("%.2f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// percentOf is part as a percentage of total, two decimals.
func percentOf(total, part uint64) string {
	if total == 0 {
		return "0.00"
	}
	return fmt.Sprintf("%.2f", float64(part)/float64(total)*100)
}
