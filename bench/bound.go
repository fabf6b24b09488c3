package main

import (
	"strconv"

	"github.com/valyala/fasthttp"
)

// serveBound runs the bare fasthttp server that stands for "what this
// machine can do over HTTP at all": GET /<n> answers n bytes held in memory,
// with no lookup, no disk and no parsing beyond fasthttp's own. Every read
// figure is also shown as a fraction of this bound.
func serveBound(addr string, sizes []int) error {
	bodies := make(map[int][]byte, len(sizes))
	for _, n := range sizes {
		bodies[n] = payload(n, uint64(n))
	}
	s := &fasthttp.Server{
		Name: "bound",
		Handler: func(ctx *fasthttp.RequestCtx) {
			n, err := strconv.Atoi(string(ctx.Path()[1:]))
			b, ok := bodies[n]
			if err != nil || !ok {
				ctx.SetStatusCode(fasthttp.StatusNotFound)
				return
			}
			ctx.SetContentType("application/octet-stream")
			ctx.Response.SetBodyRaw(b)
		},
	}
	return s.ListenAndServe(addr)
}

// boundURI is the bound server's path for a body of n bytes.
func boundURI(t *target, n int) []byte {
	return strconv.AppendInt(append([]byte(nil), t.base...), int64(n), 10)
}
