// Package grpcsvc is the volume server's gRPC side: the VolumeServer service
// that shells and masters call (volume lifecycle, needle blobs, batch
// deletes, maintenance state) and the heartbeat client that keeps the
// master's topology in step with the store.
//
// It builds on engine (volumes and files) and nodestate (flags shared with
// the HTTP front end) and imports no other project package above them.
// Replies carry the gRPC codes and error texts upstream `weed volume` uses,
// since shells and tests match on them.
//
// # Heartbeat
//
// One goroutine owns the SendHeartbeat stream to the leader master: it sends
// a full heartbeat on connect and every pulse (5s), and in between the
// volumes the RPC handlers add or remove (new_volumes, deleted_volumes) and
// state changes. The full list is sent every pulse (no volume digest), the
// mode upstream masters keep for servers that report no digest. A reply
// naming another leader makes the loop reconnect there; errors back off and
// move on to the next seed master. Stopping sends a last heartbeat with no
// volumes so the master stops routing to this node, as upstream does.
//
// Erasure-coded shards are reported as upstream does: the full list
// (one VolumeEcShardInformationMessage per volume and disk) with every full
// heartbeat and as the second message of a stream, and NewEcShards /
// DeletedEcShards deltas as soon as an RPC mounted or dropped shards
// (ec_heartbeat.go: the store's EC volumes before and after the RPC are
// compared). A pulse sends a light heartbeat only when neither the volume
// nor the EC list changed.
//
// # Erasure coding
//
// The EC RPCs (ec_rpc.go, ec_copy.go, ec_scrub.go) translate requests into
// engine.Store's EC calls, with upstream's auth, maintenance checks and
// texts. EcPeers (ec_peers.go) is the engine's way to other nodes' shards:
// the master's LookupEcVolume, cached per volume for upstream's lifetimes
// (11 s while incomplete or disproved by a failed read, 7 min, 37 min when
// every shard has a holder), VolumeEcShardRead and VolumeEcBlobDelete to
// holders dialed like every peer (below).
//
// # Peers and names
//
// RPCs that dial a peer a request names (VolumeCopy, VolumeTailReceiver,
// VolumeEcShardsCopy) and EcPeers' holders
// check the address with netguard first and dial through its guarded
// dialer (peers.go), unless Config.AllowUntrustedRemoteEndpoints. Names
// from requests and from peers' answers (collections, extensions) are
// checked by the engine's constructors; handlers check them first only to
// answer with upstream's codes. This package creates, moves and rewrites
// no file of a data directory itself (TestNoFileWritesOutsideEngine).
//
// # Remote storage
//
// FetchAndWriteNeedle (fetch.go) reads a range of an S3 object with the
// remote package, its endpoint checked with netguard's Remote policy and
// dialed through the guard, and its replicas checked as peers before any
// write. The tier backends the master announces (GetMasterConfiguration,
// asked on every heartbeat stream and by MetricsPush, and any
// HeartbeatResponse.storage_backends) live in Service.Backends(); the
// heartbeat goroutines update it, under its own lock only.
package grpcsvc
