package metrics

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Replication operations and results, upstream's label values.
const (
	OpWrite  = "write"
	OpDelete = "delete"
)

// ReplicationTargets records how many other replicas a write or delete was
// forwarded to (0 for an unreplicated or already-replicated request), as
// upstream observes it for every write and every successful local delete.
func (m *Metrics) ReplicationTargets(n int) { m.replTargets.Observe(float64(n)) }

// Replicated records a finished replicated operation (OpWrite, OpDelete)
// that had at least one replica to forward to: its duration and result.
func (m *Metrics) Replicated(operation string, took time.Duration, err error) {
	m.replSeconds.WithLabelValues(operation).Observe(took.Seconds())
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.replOps.WithLabelValues(operation, result).Inc()
}

// ReplicationFailed counts a failed forward to the replicas by its reason
// (ReplicationReason).
func (m *Metrics) ReplicationFailed(operation string, err error) {
	m.replFailures.WithLabelValues(operation, ReplicationReason(err)).Inc()
}

// ReplicationReason classifies a replication error as upstream does:
// timeout (deadline exceeded), context_cancelled, connection_refused (by
// the error's text), or server_error.
func ReplicationReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "context_cancelled"
	case strings.Contains(err.Error(), "connection refused"):
		return "connection_refused"
	}
	return "server_error"
}

// Vacuumed records a compaction (stage "compact") or its commit ("commit"):
// vacuuming_seconds by stage and the stage's success counter.
func (m *Metrics) Vacuumed(stage string, took time.Duration, ok bool) {
	m.vacuumSeconds.WithLabelValues(stage).Observe(took.Seconds())
	c := m.vacuumCommit
	if stage == "compact" {
		c = m.vacuumCompact
	}
	c.WithLabelValues(strconv.FormatBool(ok)).Inc()
}

// VacuumCompactCounted counts a compaction outcome without a duration
// (upstream observes the duration only for a compaction that ran).
func (m *Metrics) VacuumCompactCounted(ok bool) {
	m.vacuumCompact.WithLabelValues(strconv.FormatBool(ok)).Inc()
}

// Scrubbed records a scrub pass in mode (upstream's mode name, e.g.
// "INDEX", "FULL"): when it ran, and how many volumes and (for EC
// scrubs, ec true) shards were found broken.
func (m *Metrics) Scrubbed(mode string, brokenVolumes, brokenShards int, ec bool) {
	m.scrubLast.WithLabelValues(mode).Set(float64(time.Now().Unix()))
	m.scrubVolumes.WithLabelValues(mode).Add(float64(brokenVolumes))
	if ec {
		m.scrubShards.WithLabelValues(mode).Add(float64(brokenShards))
	}
}

// EcRebuilt records an EC shard rebuild: ec_rebuild_seconds and
// ec_rebuild_total by result.
func (m *Metrics) EcRebuilt(took time.Duration, err error) {
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.ecRebuildSecs.WithLabelValues(result).Observe(took.Seconds())
	m.ecRebuilds.WithLabelValues(result).Inc()
}

// MasterDisconnected counts the loss of the heartbeat stream to master.
func (m *Metrics) MasterDisconnected(master string) {
	m.disconnects.WithLabelValues(master).Inc()
}
