package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Type is the "type" label of request_total, request_seconds and
// in_flight_requests: the HTTP method of a request to a needle, INVALID for
// a method upstream refuses, or one of upstream's two write stages.
type Type uint8

// The request types, with upstream's label values.
const (
	TypeGet Type = iota
	TypeHead
	TypePost
	TypePut
	TypeDelete
	TypeOptions
	TypeInvalid
	TypeWriteToLocalDisk
	TypeWriteToReplicas
	numTypes
)

var typeNames = [numTypes]string{"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "INVALID", "writeToLocalDisk", "writeToReplicas"}

// String is the label value.
func (t Type) String() string { return typeNames[t] }

// TypeOf maps an HTTP method to its Type without allocating; methods
// upstream does not serve are TypeInvalid.
func TypeOf(method []byte) Type {
	switch string(method) {
	case "GET":
		return TypeGet
	case "HEAD":
		return TypeHead
	case "POST":
		return TypePost
	case "PUT":
		return TypePut
	case "DELETE":
		return TypeDelete
	case "OPTIONS":
		return TypeOptions
	}
	return TypeInvalid
}

// numCodes bounds the status codes whose request_total child is cached.
const numCodes = 600

// Request times one request from Begin to End. It is a value: keeping it
// on the stack costs no allocation.
type Request struct {
	m        *Metrics
	start    time.Time
	typ      Type
	inflight bool
}

// Begin starts timing a request of type t; with inflight it also counts
// the request in in_flight_requests until End (upstream counts the admin
// port's requests there, not the public port's).
func (m *Metrics) Begin(t Type, inflight bool) Request {
	if inflight {
		m.inflightGauge(t).Inc()
	}
	return Request{m: m, start: time.Now(), typ: t, inflight: inflight}
}

// End records the request with its final status code: request_total by
// type and code, request_seconds by type.
func (r Request) End(code int) {
	r.m.observe(r.typ, time.Since(r.start))
	r.m.requestCounter(r.typ, code).Inc()
	if r.inflight {
		r.m.inflightGauge(r.typ).Dec()
	}
}

// Stage times one of upstream's write stages (writeToLocalDisk,
// writeToReplicas): request_seconds and in_flight_requests, no count.
type Stage struct {
	m     *Metrics
	start time.Time
	typ   Type
}

// BeginStage starts a write stage.
func (m *Metrics) BeginStage(t Type) Stage {
	m.inflightGauge(t).Inc()
	return Stage{m: m, start: time.Now(), typ: t}
}

// End records the stage's duration.
func (s Stage) End() {
	s.m.observe(s.typ, time.Since(s.start))
	s.m.inflightGauge(s.typ).Dec()
}

func (m *Metrics) observe(t Type, d time.Duration) {
	p := m.secondsChildren[t].Load()
	if p == nil {
		o := m.seconds.WithLabelValues(typeNames[t])
		m.secondsChildren[t].CompareAndSwap(nil, &o)
		p = m.secondsChildren[t].Load()
	}
	(*p).Observe(d.Seconds())
}

func (m *Metrics) inflightGauge(t Type) prometheus.Gauge {
	p := m.inflightChildren[t].Load()
	if p == nil {
		g := m.inflight.WithLabelValues(typeNames[t])
		m.inflightChildren[t].CompareAndSwap(nil, &g)
		p = m.inflightChildren[t].Load()
	}
	return *p
}

func (m *Metrics) requestCounter(t Type, code int) prometheus.Counter {
	if code < 0 || code >= numCodes {
		return m.requests.WithLabelValues(typeNames[t], strconv.Itoa(code))
	}
	slot := &m.requestChildren[t][code]
	p := slot.Load()
	if p == nil {
		c := m.requests.WithLabelValues(typeNames[t], strconv.Itoa(code))
		slot.CompareAndSwap(nil, &c)
		p = slot.Load()
	}
	return *p
}

// Handler is the "type" label of handler_total: upstream's names for
// notable events of the request handlers.
type Handler uint8

// The handler events, with upstream's label values.
const (
	ErrorGetNotFound Handler = iota
	ErrorGetInternal
	ReadProxyReq
	ReadRedirectReq
	ReadDeletedNeedle
	EmptyReadProxyLoc
	FailedReadProxyReq
	DownloadLimitCond
	UploadLimitCond
	ErrorSizeMismatchOffsetSize
	ErrorSizeMismatch
	ErrorCRC
	ErrorIndexOutOfRange
	ErrorWriteToLocalDisk
	ErrorWriteToReplicas
	ErrorUnmarshalPairs
	numHandlers
)

var handlerNames = [numHandlers]string{
	"errorGetNotFound", "errorGetInternal", "readProxyRequest", "readRedirectRequest",
	"readDeletedNeedle", "emptyReadProxyLocaction", "failedReadProxyRequest",
	"downloadLimitCondition", "uploadLimitCondition",
	"errorSizeMismatchOffsetSize", "errorSizeMismatch", "errorCRC", "errorIndexOutOfRange",
	"errorWriteToLocalDisk", "errorWriteToReplicas", "errorUnmarshalPairs",
}

// String is the label value.
func (h Handler) String() string { return handlerNames[h] }

// Handler counts one event h in handler_total.
func (m *Metrics) Handler(h Handler) {
	p := m.handlerChildren[h].Load()
	if p == nil {
		c := m.handlers.WithLabelValues(handlerNames[h])
		m.handlerChildren[h].CompareAndSwap(nil, &c)
		p = m.handlerChildren[h].Load()
	}
	(*p).Inc()
}

// NotFound is upstream's NotFound helper's accounting: a failed read,
// counted as errorGetNotFound.
func (m *Metrics) NotFound() {
	m.ReadFailures.Inc()
	m.Handler(ErrorGetNotFound)
}

// InternalError is upstream's InternalError helper's accounting.
func (m *Metrics) InternalError() {
	m.ReadFailures.Inc()
	m.Handler(ErrorGetInternal)
}
