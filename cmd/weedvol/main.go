// Command weedvol is a drop-in replacement for `weed volume`: the same
// command line, the same files and the same HTTP and gRPC behaviour.
//
//	weedvol [-config_dir=D] [volume] [flags]
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"github.com/weedvol/weedvol/guard"
	"github.com/weedvol/weedvol/tlsconf"
	"google.golang.org/grpc/credentials"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"

	"github.com/weedvol/weedvol/buildinfo"
	"github.com/weedvol/weedvol/engine"
	"github.com/weedvol/weedvol/grpcsvc"
	"github.com/weedvol/weedvol/httpfast"
	"github.com/weedvol/weedvol/iouring"
	"github.com/weedvol/weedvol/nodestate"
	"github.com/weedvol/weedvol/secconf"
	"github.com/weedvol/weedvol/wlog"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	setSchedulerProcs()
	o, err := parseArgs(args)
	if errors.Is(err, flag.ErrHelp) {
		// upstream prints its usage to stderr and exits 2
		printUsage(os.Stderr)
		return 2
	}
	if err != nil {
		wlog.Errorf("weedvol: %v", err)
		return 2
	}
	if o.command == "version" {
		printVersion(os.Stdout)
		return 0
	}
	logs, err := wlog.New(o.log)
	if err != nil {
		wlog.Errorf("weedvol: %v", err)
		return 2
	}
	wlog.SetDefault(logs)
	defer logs.Close()
	if err := serve(o); err != nil {
		wlog.Errorf("weedvol: %v", err)
		return 1
	}
	return 0
}

func serve(o *options) error {
	// packages log at INFO through their Logf; warnings, errors and V(n)
	// lines they write through wlog directly
	logf := wlog.Infof
	if o.debug {
		dbg := startDebugServer(o.debugPort, logf)
		defer dbg.Close()
	}
	logf("weedvol: %s, compatible with SeaweedFS %s", buildinfo.Get(), nodestate.VersionFor(o.offsetSize))
	for _, n := range o.notes() {
		logf("weedvol: %s", n)
	}
	if !o.pprof {
		// -pprof precludes the profile files, as upstream
		stopProfiles, err := startProfiles(o.cpuProfile, o.memProfile, wlog.Errorf)
		if err != nil {
			return err
		}
		defer stopProfiles()
	}
	locs, err := o.locations()
	if err != nil {
		return err
	}
	minFree, err := o.minFreeSpaces(len(locs))
	if err != nil {
		return err
	}
	sec, err := secconf.Load(o.securityFile, o.configDir)
	if err != nil {
		return err
	}
	if sec.Path != "" {
		logf("weedvol: security configuration from %s", sec.Path)
	}
	if len(sec.Env) > 0 {
		logf("weedvol: security settings from the environment: %s", strings.Join(sec.Env, ", "))
	}
	// every TLS file must load now: a setting that cannot be honoured stops
	// start-up instead of leaving a port in plaintext
	tlsSet, err := tlsconf.Build(sec)
	if err != nil {
		return fmt.Errorf("security configuration: %w", err)
	}
	whiteList, wlErrs := guard.New(append(guard.Split(o.whiteList), guard.Split(sec.Guard.WhiteList)...))
	for _, e := range wlErrs {
		wlog.Warningf("weedvol: white list entry skipped: %v", e)
	}
	io, err := iouring.New(o.ioEngine)
	if err != nil {
		return fmt.Errorf("-ioengine=%s: %w", o.ioEngine, err)
	}
	defer io.Close()
	// volumes idle for 10 minutes give their descriptors back (engine/park.go)
	// and a disk still opening after 30 s joins later instead of holding back the others
	cfg := engine.StoreConfig{IO: io, OffsetSize: o.offsetSize, Logf: logf, IdleClose: 10 * time.Minute, SlowDiskWait: 30 * time.Second}
	for i, l := range locs {
		cfg.Locations = append(cfg.Locations, engine.LocationConfig{Dir: l.dir, IdxDir: o.idxDir, MaxVolumes: l.max, DiskType: l.disk, MinFreeSpace: minFree[i]})
	}
	opening := time.Now()
	store, err := engine.OpenStore(cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	logf("weedvol: %d volumes in %d directories opened in %v, io engine %s", len(store.Volumes()), len(locs), time.Since(opening).Round(time.Millisecond), io.Name())

	state := nodestate.NewFor(o.offsetSize)
	reg := newMetrics(o.offsetSize)
	fatal := make(chan error, 1) // a refusal the heartbeat cannot serve through
	publicURL := o.publicURL
	if publicURL == "" {
		publicURL = o.ip + ":" + strconv.Itoa(o.portPublic)
	}
	svc := grpcsvc.New(grpcsvc.Config{
		Store: store, State: state, IP: o.ip, Port: o.port, GrpcPort: o.portGrpc, PublicURL: publicURL,
		DataCenter: o.dataCenter, Rack: o.rack, Masters: splitList(o.masters), ID: o.id, Logf: logf,
		WhiteList:                     whiteList,
		ClientTLS:                     tlsSet.GRPCClient,
		AllowUntrustedRemoteEndpoints: o.allowUntrusted,
		MaintenanceBytesPerSecond:     int64(o.maintenanceMBps) << 20,
		CompactionBytesPerSecond:      int64(o.compactionMBps) << 20,
		Metrics:                       reg,
		MaxParallelCommits:            o.compactionMaxParallelCommits,
		Tags:                          dirTags(o.tags, len(locs)),
		Fatal: func(err error) {
			select {
			case fatal <- err:
			default:
			}
		},
	})
	// EC reads and deletes reach other nodes' shards through the service's
	// master lookups and peer connections.
	ecPeers := svc.NewEcPeers()
	store.SetEcPeers(ecPeers)
	defer ecPeers.Close()
	h := httpfast.New(httpfast.Config{
		Store: store, State: state, ReadMode: o.readMode,
		FileSizeLimit:           int64(o.fileSizeLimitMB) << 20,
		ConcurrentUploadLimit:   int64(o.concurrentUploadLimitMB) << 20,
		ConcurrentDownloadLimit: int64(o.concurrentDownloadLimitMB) << 20,
		InflightUploadTimeout:   o.inflightUploadTimeout,
		InflightDownloadTimeout: o.inflightDownloadTimeout,
		WhiteList:               whiteList,
		PeerTLS:                 tlsSet.HTTPClient,
		UI:                      sec.JWT.Signing.Key == "" || sec.Access.UI,
		SigningKey:              []byte(sec.JWT.Signing.Key),
		SelfURL:                 o.ip + ":" + strconv.Itoa(o.port),
		Lookup: func(ctx context.Context, vid uint32) ([]string, error) {
			locs, err := svc.LookupVolume(ctx, vid)
			urls := make([]string, 0, len(locs))
			for _, l := range locs {
				urls = append(urls, l.URL)
			}
			return urls, err
		},
		ReadSigningKey:    []byte(sec.JWT.Signing.Read.Key),
		Pprof:             pprofHandler(o.pprof),
		Masters:           splitList(o.masters),
		FixJpgOrientation: o.fixJpgOrientation,
		Logf:              logf,
		Metrics:           reg,
	})
	mctx, stopMetrics := context.WithCancel(context.Background())
	defer stopMetrics()
	if err := startMetrics(mctx, o, reg, svc, logf); err != nil {
		return err
	}

	grpcLis, err := net.Listen("tcp", net.JoinHostPort(o.ipBind, strconv.Itoa(o.portGrpc)))
	if err != nil {
		return fmt.Errorf("listen grpc: %w", err)
	}
	grpcOpts := grpcsvc.ServerOptions(o.fileSizeLimitMB << 20)
	if tlsSet.GRPCServer != nil {
		grpcOpts = append(grpcOpts, grpc.Creds(credentials.NewTLS(tlsSet.GRPCServer)))
	}
	gs := grpc.NewServer(grpcOpts...)
	svc.Register(gs)
	go gs.Serve(grpcLis)

	idle := time.Duration(o.idleTimeout) * time.Second
	admin := httpfast.NewFront(h.Admin, idle)
	adminLis, err := net.Listen("tcp", net.JoinHostPort(o.ipBind, strconv.Itoa(o.port)))
	if err != nil {
		return fmt.Errorf("listen http: %w", err)
	}
	if tlsSet.HTTPSServer != nil {
		// the admin port only, as upstream: the public port stays HTTP
		adminLis = tls.NewListener(adminLis, tlsSet.HTTPSServer)
	}
	go admin.Serve(adminLis)
	var public *httpfast.Front
	if o.portPublic != o.port {
		public = httpfast.NewFront(h.Public, idle)
		pubLis, err := net.Listen("tcp", net.JoinHostPort(o.ipBind, strconv.Itoa(o.portPublic)))
		if err != nil {
			return fmt.Errorf("listen public http: %w", err)
		}
		go public.Serve(pubLis)
	}
	logf("weedvol: serving http on %s:%d, grpc on %d, public on %d", o.ipBind, o.port, o.portGrpc, o.portPublic)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	svc.StartHeartbeat(ctx)

	stopRefresh := make(chan struct{})
	defer close(stopRefresh)
	go tlsSet.Refresh(tlsconf.RefreshInterval(), stopRefresh, wlog.Warningf)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	var fatalErr error
wait:
	for {
		select {
		case s := <-sig:
			if s != syscall.SIGHUP {
				break wait
			}
			reload(o, whiteList, h, tlsSet, logf)
		case fatalErr = <-fatal:
			logf("weedvol: %v; shutting down", fatalErr)
			break wait
		}
	}
	logf("weedvol: stopping")
	state.SetStopping()
	svc.StopHeartbeat()
	if o.preStopSeconds > 0 {
		time.Sleep(time.Duration(o.preStopSeconds) * time.Second)
	}
	shutdown := func(s *httpfast.Front) {
		if s != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Shutdown(ctx)
		}
	}
	shutdown(admin)
	shutdown(public)
	stopped := make(chan struct{})
	go func() { gs.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		gs.Stop()
	}
	return errors.Join(fatalErr, store.Close())
}

// pprofHandler is the admin port's /debug/pprof/ of -pprof, nil without.
func pprofHandler(on bool) http.Handler {
	if !on {
		return nil
	}
	return pprofMux()
}

// reload is upstream's SIGHUP: security.toml is read again and its white
// list and JWT keys take effect; certificate files are re-read (TLS
// settings other than the files themselves need a restart).
func reload(o *options, whiteList *guard.WhiteList, h *httpfast.Server, tlsSet *tlsconf.Set, logf func(string, ...any)) {
	logf("weedvol: reloading the security configuration")
	sec, err := secconf.Load(o.securityFile, o.configDir)
	if err != nil {
		wlog.Warningf("weedvol: reload: %v (keeping the configuration in force)", err)
		return
	}
	for _, e := range whiteList.Set(append(guard.Split(o.whiteList), guard.Split(sec.Guard.WhiteList)...)) {
		wlog.Warningf("weedvol: white list entry skipped: %v", e)
	}
	h.SetSigningKeys([]byte(sec.JWT.Signing.Key), []byte(sec.JWT.Signing.Read.Key))
	if err := tlsSet.Reload(); err != nil {
		wlog.Warningf("weedvol: reload: %v (keeping the certificates loaded before)", err)
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// detectedIP returns the first non-loopback IPv4 address, as upstream's
// default for -ip, or "localhost".
func detectedIP() string {
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && !ipn.IP.IsLoopback() && ipn.IP.To4() != nil {
				return ipn.IP.String()
			}
		}
	}
	return "localhost"
}
