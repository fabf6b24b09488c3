package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
)

// HTTPHandler serves the registry at /metrics in Prometheus's text and
// protobuf formats; every other path is 404, as upstream's metrics port.
func (m *Metrics) HTTPHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

// Serve answers scrapes on ln until ctx ends; it returns nil then.
func (m *Metrics) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: m.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Push is what a master announces for pushing metrics: the Prometheus push
// gateway's address and the interval.
type Push struct {
	Address  string
	Interval time.Duration
}

// PushLoop pushes the registry to the gateway as upstream's
// LoopPushingMetric does: job job (upstream's volume server uses
// "volumeServer"), grouped by instance (the server's ip:port), replacing
// the group's metrics (PUT) every p.Interval (15 s when it is negative),
// until ctx ends. A push that fails is logged and retried at the next
// tick. It does nothing when p.Address is empty or p.Interval is 0.
func (m *Metrics) PushLoop(ctx context.Context, p Push, job, instance string, logf func(string, ...any)) {
	if p.Address == "" || p.Interval == 0 {
		return
	}
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if p.Interval < 0 {
		p.Interval = 15 * time.Second
	}
	logf("volumeServer server sends metrics to %s every %d seconds", p.Address, int(p.Interval/time.Second))
	pusher := push.New(p.Address, job).Gatherer(m.reg).Grouping("instance", instance)
	for {
		if err := pusher.PushContext(ctx); err != nil && ctx.Err() == nil && !strings.HasPrefix(err.Error(), "unexpected status code 200") {
			logf("could not push metrics to prometheus push gateway %s: %v", p.Address, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(p.Interval):
		}
	}
}
