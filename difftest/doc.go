// Package difftest is weedvol's differential harness: the same files served
// by upstream `weed volume` and by weedvol, the same requests sent to both,
// every answer compared.
//
// A run, for each .idx offset width (4 with bin/weed, 5 with bin/weed-5b):
//
//  1. Upstream writes a corpus through its own HTTP API (corpus.go):
//     multipart uploads with names and MIME types, compressible text it
//     stores gzipped, pre-gzipped uploads, raw PUT/POST bodies with and
//     without a name, empty files, TTLs, Seaweed- pairs, overwrites,
//     deletes, chunk manifests, images, large (streamed) needles, into
//     volumes of needle version 3 and 2 and of several collections.
//  2. Upstream stops and its data directory is copied. Upstream serves one
//     copy under its master, weedvol the other under a master of its own.
//  3. Seeded random reads (requests.go) go to both over raw sockets, so the
//     bytes on the wire are exactly the same: every read option upstream
//     has (ranges single, multiple, invalid and unsatisfiable, conditional
//     headers, Accept-Encoding, response-* overrides, dl, image resize and
//     crop, cm=false, readDeleted), odd paths and methods, wrong cookies,
//     deleted and missing needles and volumes. Status, body and headers are
//     compared (compare.go).
//  4. The same gRPC reads go to both (grpc.go): ReadNeedleBlob,
//     ReadNeedleMeta, VolumeNeedleStatus, ReadAllNeedles, VolumeStatus,
//     ReadVolumeFileStatus, VolumeSyncStatus, on every needle, every .idx
//     row and seeded wrong offsets, sizes and ids.
//  5. Raw protocol cases (raw.go): framing and header edge cases only a
//     hand-written request produces (bare LF, 20 KB and 1 MB headers,
//     transfer codings, HTTP versions, pipelining, ...), each on a fresh
//     connection, every answer and how the connection ends compared.
//  6. The same seeded writes and deletes go to both (writes.go), their
//     answers are compared, and more random reads see the result.
//
// Where upstream is wrong and weedvol deliberately answers otherwise, the
// case is listed in knownDivergences (known.go) with the reason, and the
// comparison of that case is replaced by the check weedvol must pass.
package difftest
