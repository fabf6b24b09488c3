package main

import (
	"context"
	"fmt"
	"net"
	"strconv"

	"github.com/weedvol/weedvol/grpcsvc"
	"github.com/weedvol/weedvol/metrics"
	"github.com/weedvol/weedvol/nodestate"
)

// newMetrics is the process's registry, its build info labelled as
// upstream's build of the same version and .idx offset width is.
func newMetrics(offsetSize int) *metrics.Metrics {
	limit := nodestate.SizeLimit
	if offsetSize == 5 {
		limit = nodestate.SizeLimit5
	}
	return metrics.New(metrics.BuildInfo{Version: nodestate.VersionNumber, SizeLimit: limit})
}

// startMetrics serves m on -metricsPort (none when 0) at -metricsIp, which
// defaults to -ip.bind as upstream's; a port that cannot be bound stops
// start-up. It also starts pushing to the gateway the master announces,
// once a seed master has answered, as upstream's volume server does (job
// "volumeServer", instance ip:port). Both stop when ctx ends.
func startMetrics(ctx context.Context, o *options, m *metrics.Metrics, svc *grpcsvc.Service, logf func(string, ...any)) error {
	m.SetNode(svc)
	if o.metricsPort != 0 {
		ip := o.metricsIP
		if ip == "" {
			ip = o.ipBind
		}
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(o.metricsPort)))
		if err != nil {
			return fmt.Errorf("listen metrics: %w", err)
		}
		go func() {
			if err := m.Serve(ctx, ln); err != nil {
				logf("weedvol: metrics: %v", err)
			}
		}()
		logf("weedvol: serving metrics on %s", ln.Addr())
	}
	go func() {
		p, err := svc.MetricsPush(ctx)
		if err != nil {
			return
		}
		m.PushLoop(ctx, p, "volumeServer", net.JoinHostPort(o.ip, strconv.Itoa(o.port)), logf)
	}()
	return nil
}
