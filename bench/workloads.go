package main

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// kind is what a workload's requests do.
type kind int

const (
	kindWrite    kind = iota // POST fresh needles of one size
	kindRead                 // GET uniformly random stored needles
	kindReadZipf             // GET with a Zipf hot set
	kindReadRate             // GET uniformly at a fixed rate (open loop)
	kindMixed                // 90% uniform GET, 10% POST, 1 KB needles
	kindDelete               // DELETE stored needles, each once
	kindReadCold             // GET each stored needle once, page cache dropped first
)

// workload is one line of the results table.
type workload struct {
	kind    kind
	size    int
	clients int
	rate    float64 // kindReadRate only
	// bound also runs the workload against the bare fasthttp server.
	bound bool
}

func (w workload) name() string {
	s := sizeName(w.size)
	switch w.kind {
	case kindWrite:
		return "write " + s
	case kindRead:
		return "read " + s + " uniform"
	case kindReadZipf:
		return "read " + s + " zipf"
	case kindReadRate:
		return fmt.Sprintf("read %s @%.0f/s", s, w.rate)
	case kindMixed:
		return "90% read / 10% write " + s
	case kindDelete:
		return "delete " + s
	case kindReadCold:
		return "read " + s + " cold cache"
	}
	return "?"
}

// id identifies a workload across rounds and contenders.
func (w workload) id() string { return fmt.Sprintf("%s c%d", w.name(), w.clients) }

func sizeName(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// plan lists the workloads in the order they run against one server: writes
// first (they store what the reads read), deletes and cold reads last.
func plan(cfg config) []workload {
	var ws []workload
	for _, s := range cfg.sizes {
		ws = append(ws, workload{kind: kindWrite, size: s, clients: cfg.writeClients})
	}
	for _, s := range cfg.sizes {
		for _, c := range cfg.readClients {
			ws = append(ws, workload{kind: kindRead, size: s, clients: c, bound: true})
		}
		for _, c := range cfg.readClients {
			ws = append(ws, workload{kind: kindReadZipf, size: s, clients: c})
		}
	}
	small := cfg.sizes[0]
	if cfg.rate > 0 {
		ws = append(ws, workload{kind: kindReadRate, size: small, clients: cfg.readClients[len(cfg.readClients)-1], rate: cfg.rate})
	}
	ws = append(ws,
		workload{kind: kindMixed, size: small, clients: cfg.writeClients},
		workload{kind: kindDelete, size: small, clients: cfg.writeClients},
	)
	if cfg.coldSize > 0 {
		ws = append(ws, workload{kind: kindReadCold, size: cfg.coldSize, clients: cfg.writeClients})
	}
	return ws
}

// engineOnly is the shorter plan for the extra weedvol contenders that only
// compare .dat I/O engines: store the cold-read size, read it warm and cold.
func engineOnly(cfg config) []workload {
	if cfg.coldSize <= 0 {
		return nil
	}
	return []workload{
		{kind: kindWrite, size: cfg.coldSize, clients: cfg.writeClients},
		{kind: kindRead, size: cfg.coldSize, clients: cfg.writeClients},
		{kind: kindReadCold, size: cfg.coldSize, clients: cfg.writeClients},
	}
}

var errNoKeys = errors.New("nothing of this size was stored by the write workloads")

// loadFor builds the traffic of w against t. payloads maps a size to the
// bytes written for it. It returns an error when w cannot run (for example
// reads of a size no write stored).
func loadFor(w workload, t *target, payloads map[int][]byte, d time.Duration, coldPrep func() error) (load, error) {
	l := load{clients: w.clients, duration: d, rate: w.rate}
	t.setClients(w.clients)
	payload := payloads[w.size]
	switch w.kind {
	case kindWrite:
		l.op = func(wk *worker) (int, error) { return t.write(wk, payload) }
		return l, nil
	case kindMixed:
		keys := t.keys(w.size)
		if len(keys) == 0 {
			return l, errNoKeys
		}
		l.op = func(wk *worker) (int, error) {
			if wk.rng.IntN(10) == 0 {
				return t.write(wk, payload)
			}
			return t.read(wk, keys[wk.rng.IntN(len(keys))], w.size)
		}
		return l, nil
	}
	keys := t.keys(w.size)
	if len(keys) == 0 {
		return l, errNoKeys
	}
	switch w.kind {
	case kindRead, kindReadRate:
		l.op = func(wk *worker) (int, error) { return t.read(wk, keys[wk.rng.IntN(len(keys))], w.size) }
	case kindReadZipf:
		l.op = func(wk *worker) (int, error) { return t.read(wk, keys[wk.zipfIndex(len(keys))], w.size) }
	case kindDelete, kindReadCold:
		order := append([]uint64(nil), keys...)
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		var cursor atomic.Int64
		l.maxOps = int64(len(order))
		if w.kind == kindDelete {
			l.op = func(wk *worker) (int, error) { return t.remove(wk, order[cursor.Add(1)-1]) }
		} else {
			if err := coldPrep(); err != nil {
				return l, err
			}
			l.op = func(wk *worker) (int, error) { return t.read(wk, order[cursor.Add(1)-1], w.size) }
		}
	default:
		return l, fmt.Errorf("unknown workload kind %d", w.kind)
	}
	return l, nil
}
