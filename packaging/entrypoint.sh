#!/bin/sh
# Container entry point: the arguments upstream's image takes for its
# `volume` command (`volume [flags]`), run by weedvol. As upstream's, it
# defaults -dir to the data volume and -max to 0 (slots sized from free
# space) unless given, and logs to stderr for `docker logs`.
set -eu
BIN=${WEEDVOL_BIN:-/usr/bin/weedvol}
DATA=${WEEDVOL_DATA:-/data}

# passed NAME ARGS...: whether -NAME or --NAME, alone or as NAME=value, is
# among ARGS
passed() {
  name=$1
  shift
  for a in "$@"; do
    case $a in
    "-$name" | "--$name" | "-$name="* | "--$name="*) return 0 ;;
    esac
  done
  return 1
}

cmd=${1:-volume}
[ $# -gt 0 ] && shift
case $cmd in
volume)
  set -- -logtostderr=true volume "$@"
  passed dir "$@" || set -- "$@" "-dir=$DATA"
  passed max "$@" || set -- "$@" -max=0
  exec "$BIN" "$@"
  ;;
version | -version | --version | -h | -help | --help)
  exec "$BIN" "$cmd"
  ;;
*)
  echo "this image runs weedvol, SeaweedFS's volume server only: use \`volume [flags]\`, not \`$cmd\`" >&2
  echo "(run the master, filer and S3 gateway from upstream's image)" >&2
  exit 2
  ;;
esac
