package httpfast

import (
	"bytes"
	"html/template"
	"time"

	"github.com/valyala/fasthttp"
)

var uiPage = template.Must(template.New("ui").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>SeaweedFS Volume {{.Version}} (weedvol)</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}</style>
</head><body>
<h1>SeaweedFS Volume <small>{{.Version}}, served by weedvol</small></h1>
<p>Up since {{.Started}}</p>
<h2>Disks</h2>
<table><tr><th>Path</th><th>Type</th><th>Total</th><th>Free</th><th>Usage</th></tr>
{{range .Disks}}<tr><td>{{.Dir}}</td><td>{{.DiskType}}</td><td>{{.All}}</td><td>{{.Free}}</td><td>{{printf "%.2f" .PercentUsed}}%</td></tr>
{{end}}</table>
<h2>Volumes</h2>
<table><tr><th>Id</th><th>Collection</th><th>Disk</th><th>Data Size</th><th>Files</th><th>Trash</th><th>TTL</th><th>ReadOnly</th><th>Version</th></tr>
{{range .Volumes}}<tr><td>{{.Id}}</td><td>{{.Collection}}</td><td>{{.DiskType}}</td><td>{{.Size}}</td><td>{{.FileCount}}</td><td>{{.DeletedByteCount}}</td><td>{{.Ttl.Count}}/{{.Ttl.Unit}}</td><td>{{.ReadOnly}}</td><td>{{.Version}}</td></tr>
{{end}}</table>
</body></html>
`))

// ui renders the status page at /ui/index.html.
func (s *Server) ui(ctx *fasthttp.RequestCtx) {
	var b bytes.Buffer
	err := uiPage.Execute(&b, map[string]any{
		"Version": s.cfg.State.Version(), "Started": startTime.UTC().Format(time.RFC3339),
		"Disks": s.diskStatuses(), "Volumes": VolumeInfos(s.cfg.Store),
	})
	if err != nil {
		writeJSONError(ctx, fasthttp.StatusInternalServerError, err.Error())
		return
	}
	ctx.Response.Header.SetContentType("text/html; charset=utf-8")
	ctx.SetBody(b.Bytes())
}
