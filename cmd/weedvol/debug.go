package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"time"
)

// pprofMux serves the runtime profiles under /debug/pprof/, the handlers
// upstream's -pprof and -debug register.
func pprofMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// startDebugServer is upstream's -debug: pprof on 127.0.0.1:port, in the
// background. A port that cannot be bound is logged, as upstream does,
// and the volume server goes on.
func startDebugServer(port int, logf func(string, ...any)) *http.Server {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	srv := &http.Server{Addr: addr, Handler: pprofMux(), ReadHeaderTimeout: 10 * time.Second}
	logf("weedvol: starting debug server for pprof at http://%s/debug/pprof/", addr)
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("weedvol: debug server on %s: %v", addr, err)
		}
	}()
	return srv
}
