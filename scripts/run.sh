#!/usr/bin/env bash
# `make run`: the pinned upstream master and weedvol on ./data, on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
MASTER_PORT=${MASTER_PORT:-9333}
VOLUME_PORT=${VOLUME_PORT:-8080}
DATA=${DATA:-./data}
mkdir -p "$DATA/master" "$DATA/volume"

bin/weed master -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$MASTER_PORT" -mdir="$DATA/master" \
  -peers=none -defaultReplication=000 -volumeSizeLimitMB=1024 -telemetry=false \
  >"$DATA/master.log" 2>&1 &
master=$!
trap 'kill $master 2>/dev/null; wait $master 2>/dev/null' EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$MASTER_PORT/cluster/status" >/dev/null 2>&1 && break
  sleep 0.1
done

cat <<MSG
master : http://127.0.0.1:$MASTER_PORT   (log $DATA/master.log)
weedvol: http://127.0.0.1:$VOLUME_PORT   (data $DATA/volume)

Try (in another terminal):
  fid=\$(curl -s http://127.0.0.1:$MASTER_PORT/dir/assign | sed -E 's/.*"fid":"([^"]+)".*/\\1/')
  curl -s -F file=@README.md "http://127.0.0.1:$VOLUME_PORT/\$fid"
  curl -s "http://127.0.0.1:$VOLUME_PORT/\$fid"
  bin/weed upload -master=127.0.0.1:$MASTER_PORT README.md
Ctrl-C stops both.
MSG

bin/weedvol volume -ip=127.0.0.1 -ip.bind=127.0.0.1 -port="$VOLUME_PORT" -dir="$DATA/volume" -max=16 \
  -master="127.0.0.1:$MASTER_PORT" -preStopSeconds=0
