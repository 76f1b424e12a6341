#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# A sandbox Docker engine for the demo, the end-to-end tests and the benchmarks: its own containerd
# and dockerd (live restore on, no bridge, no iptables: loopback only), its own sockets and folders,
# and a local apt repository that serves repacked "releases" of the installed docker.io package.
#
#   sandbox.sh install            apt packages it needs (docker.io busybox-static dpkg-dev), as root
#   sandbox.sh up                 start containerd + dockerd, import local/busybox:1
#   sandbox.sh stop-daemon        stop dockerd (containers keep running: live restore)
#   sandbox.sh start-daemon       start dockerd (restarts containerd first if
#                                 DOCKER_LIVE_UPGRADE_RESTART_CONTAINERD=1; without live
#                                 restore if DLU_SANDBOX_LIVE_RESTORE=0)
#   sandbox.sh repo VER[:FAULT]...  publish repacked docker.io releases; FAULT is one of
#                                 dockerd-exits, preinst-fails, preinst-sleeps
#   sandbox.sh config [FILE]      write a docker-live-upgrade config for this sandbox
#   sandbox.sh env                print DOCKER_HOST for this sandbox
#   sandbox.sh down               remove every container, stop both daemons, delete everything it
#                                 made and put the original packages back
#
# It refuses to touch a folder it did not create (no marker file there).
set -euo pipefail

DIR=${DLU_SANDBOX_DIR:-/var/lib/docker-live-upgrade-sandbox}
RUN=${DLU_SANDBOX_RUN:-/run/docker-live-upgrade-sandbox}
DATA=$DIR/data
REPO=$DIR/repo
MARK=$DIR/.created-by-docker-live-upgrade-sandbox
LIST_NAME=docker-live-upgrade-sandbox.list
LIST=/etc/apt/sources.list.d/$LIST_NAME
SOCK=$RUN/docker.sock
SELF=$(readlink -f "$0")
export DEBIAN_FRONTEND=noninteractive
DOCKER=(/usr/bin/docker -H "unix://$SOCK")

TESTBED=sandbox
ROOT_WHY="it starts dockerd and installs packages"
# shellcheck source=testbed/lib.sh
. "$(dirname "$SELF")/testbed/lib.sh"

# A zombie has exited: where PID 1 is slow to reap orphans, kill -0 alone would wait for the reaper.
pid_alive() {
  [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
  local stat; stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [ "${stat%% *}" != Z ]
}
pid_of() { cat "$1" 2>/dev/null || true; }

# Every 10 ms: a stop returns within 10 ms of the process's exit (the down window is measured through it).
wait_gone() { # pid timeout_s
  local i=0
  while pid_alive "$1"; do
    i=$((i + 1)); [ $i -le $(($2 * 100)) ] || return 1; sleep 0.01
  done
}

cmd_install() {
  need_root
  local missing=()
  for p in docker.io busybox-static dpkg-dev; do
    # present in any state counts: a half-installed docker.io is a test's to repair, not a reason to reinstall
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ihr][^n]' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

start_containerd() {
  local pid; pid=$(pid_of "$RUN/containerd.pid")
  pid_alive "$pid" && return 0
  setsid containerd --config "$DIR/containerd.toml" --address "$RUN/containerd.sock" \
    --root "$DATA/containerd" --state "$RUN/containerd-state" >>"$DIR/containerd.log" 2>&1 </dev/null &
  echo $! >"$RUN/containerd.pid"
  for _ in $(seq 1 200); do [ -S "$RUN/containerd.sock" ] && return 0; sleep 0.05; done
  die "containerd did not come up; see $DIR/containerd.log"
}

stop_containerd() {
  local pid; pid=$(pid_of "$RUN/containerd.pid")
  pid_alive "$pid" || return 0
  kill -TERM "$pid"; wait_gone "$pid" 30 || kill -KILL "$pid"
  rm -f "$RUN/containerd.sock"
}

cmd_start_daemon() {
  ours
  if [ "${DOCKER_LIVE_UPGRADE_RESTART_CONTAINERD:-0}" = 1 ]; then stop_containerd; fi
  start_containerd
  local pid; pid=$(pid_of "$RUN/docker.pid")
  pid_alive "$pid" && return 0
  local live=--live-restore
  [ "${DLU_SANDBOX_LIVE_RESTORE:-1}" = 1 ] || live=""
  # shellcheck disable=SC2086 # $live is one flag or nothing
  setsid /usr/sbin/dockerd --config-file "$DIR/daemon.json" --containerd="$RUN/containerd.sock" \
    $live --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    --data-root "$DATA/docker" --exec-root "$RUN/docker-exec" --pidfile "$RUN/docker.pid" \
    -H "unix://$SOCK" >>"$DIR/dockerd.log" 2>&1 </dev/null &
  # Not waiting for the API here: the upgrader measures readiness itself.
}

cmd_stop_daemon() {
  ours
  local pid; pid=$(pid_of "$RUN/docker.pid")
  [ -n "$pid" ] || pid=$(pgrep -f "^/usr/sbin/dockerd --config-file $DIR/daemon.json" | head -n1 || true)
  pid_alive "$pid" || return 0
  kill -TERM "$pid"
  wait_gone "$pid" 60 || { log "dockerd $pid ignored SIGTERM for 60s; killing"; kill -KILL "$pid"; }
}

wait_api() {
  for _ in $(seq 1 400); do "${DOCKER[@]}" version >/dev/null 2>&1 && return 0; sleep 0.05; done
  die "dockerd did not answer; see $DIR/dockerd.log"
}

cmd_up() {
  need_root
  if [ -d "$DIR" ] && [ ! -f "$MARK" ]; then die "$DIR exists and was not created by this script; refusing"; fi
  command -v /usr/sbin/dockerd >/dev/null || die "docker.io is not installed: run '$0 install' first"
  mkdir -p "$DIR" "$RUN" "$DATA" "$REPO"
  touch "$MARK"
  [ -f "$DIR/original-packages" ] || dpkg-query -W -f='${Package}=${Version}\n' docker.io containerd runc >"$DIR/original-packages"
  [ -f "$DIR/original-holds" ] || apt-mark showhold >"$DIR/original-holds"
  echo '{}' >"$DIR/daemon.json"
  printf 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n' >"$DIR/containerd.toml"
  cmd_start_daemon
  wait_api
  if ! "${DOCKER[@]}" image inspect local/busybox:1 >/dev/null 2>&1; then
    local r; r=$(mktemp -d)
    mkdir -p "$r/bin" "$r/www" "$r/tmp"
    cp /bin/busybox "$r/bin/"
    for c in sh httpd sleep echo cat date true nc wc seq; do ln -s busybox "$r/bin/$c"; done
    echo "hello from the sandbox" >"$r/www/index.html"
    tar -C "$r" -c . | "${DOCKER[@]}" import - local/busybox:1 >/dev/null
    rm -rf "$r"
  fi
  log "engine up: DOCKER_HOST=unix://$SOCK ($("${DOCKER[@]}" version -f '{{.Server.Version}}'))"
}

original_deb() {
  local ver; ver=$(grep '^docker.io=' "$DIR/original-packages" | cut -d= -f2)
  local f="$DIR/orig/docker.io_${ver//:/%3a}_amd64.deb"
  if [ ! -f "$f" ]; then
    mkdir -p "$DIR/orig"
    local cached; cached=$(find /var/cache/apt/archives -maxdepth 1 -name "docker.io_${ver//:/%3a}_*.deb" 2>/dev/null | head -n1)
    if [ -n "$cached" ]; then cp "$cached" "$f"; else (cd "$DIR/orig" && apt-get download -q "docker.io=$ver" >&2); fi
  fi
  echo "$f"
}

# repack VERSION FAULT: the original package under a new version. Where the new upstream version has
# the same length as the original, the binaries are patched to report it (Go keeps it as a plain string).
repack() {
  local ver=$1 fault=${2:-} orig; orig=$(original_deb)
  local out="$REPO/docker.io_${ver//:/%3a}_amd64.deb"
  [ -f "$out" ] && [ -z "$fault" ] && return 0
  local w; w=$(mktemp -d)
  dpkg-deb -R "$orig" "$w/x"
  local old_up new_up
  old_up=$(sed -n 's/^Version: \(.*\)-[^-]*$/\1/p' "$w/x/DEBIAN/control"); old_up=${old_up#*:}
  new_up=${ver%-*}; new_up=${new_up#*:}
  sed -i "s/^Version: .*/Version: $ver/" "$w/x/DEBIAN/control"
  if [ ${#old_up} = ${#new_up} ] && [ "$old_up" != "$new_up" ]; then
    for b in usr/sbin/dockerd usr/bin/docker; do
      OLD="$old_up" NEW="$new_up" perl -pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/g' "$w/x/$b"
    done
  fi
  case "$fault" in
    "") ;;
    dockerd-exits) printf '#!/bin/sh\necho "broken build: dockerd exits at once" >&2\nexit 1\n' >"$w/x/usr/sbin/dockerd" ;;
    preinst-fails) printf '#!/bin/sh\necho "preinst: failing on purpose" >&2\nexit 1\n' >"$w/x/DEBIAN/preinst"; chmod 755 "$w/x/DEBIAN/preinst" ;;
    preinst-sleeps) printf '#!/bin/sh\nsleep %s\n' "${DLU_PREINST_SLEEP:-30}" >"$w/x/DEBIAN/preinst"; chmod 755 "$w/x/DEBIAN/preinst" ;;
    *) die "unknown fault $fault" ;;
  esac
  (cd "$w/x" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | xargs -0 md5sum >DEBIAN/md5sums)
  dpkg-deb -Zgzip -z1 -b "$w/x" "$out" >/dev/null
  rm -rf "$w"
}

cmd_repo() {
  need_root; ours
  [ $# -gt 0 ] || die "usage: $0 repo VERSION[:FAULT]..."
  rm -f "$REPO"/*.deb
  for spec in "$@"; do
    local ver=${spec%%:dockerd-exits}; ver=${ver%%:preinst-fails}; ver=${ver%%:preinst-sleeps}
    local fault=""; [ "$ver" != "$spec" ] && fault=${spec##*:}
    [[ $ver =~ ^[0-9][A-Za-z0-9.+~:-]*$ ]] || die "not a version: $ver"
    repack "$ver" "$fault"
  done
  flat_repo "$REPO"
  echo "deb [trusted=yes] file:$REPO ./" >"$LIST"
  apt-get update -qq -o Dir::Etc::sourcelist="sources.list.d/$LIST_NAME" -o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 >&2
  log "repo: $(cd "$REPO" && find . -maxdepth 1 -name '*.deb' | sort | tr '\n' ' ')"
}

cmd_config() {
  ours
  local out=${1:-/dev/stdout}
  cat >"$out" <<YAML
# docker-live-upgrade config for the sandbox engine (scripts/sandbox.sh)
docker:
  socket: $SOCK
  pidFile: $RUN/docker.pid
service:
  manager: command
  stop: ["$SELF", "stop-daemon"]
  start: ["$SELF", "start-daemon"]
packages:
  manager: apt
  names: [docker.io, containerd, runc]
  refresh: false
stateDir: $DIR/state
YAML
}

cmd_down() {
  need_root
  [ -d "$DIR" ] || { log "nothing to remove"; return 0; }
  ours
  if "${DOCKER[@]}" version >/dev/null 2>&1; then
    local ids; ids=$("${DOCKER[@]}" ps -aq)
    # shellcheck disable=SC2086 # one id per word
    [ -z "$ids" ] || "${DOCKER[@]}" rm -f $ids >/dev/null 2>&1 || true
  fi
  cmd_stop_daemon || true
  stop_containerd || true
  # the shims of our containerd, by the PIDs it wrote in its own state directory (never by name)
  local pidfile
  for pidfile in "$RUN"/containerd-state/io.containerd.runtime.v2.task/*/*/shim.pid; do
    if [ -f "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  { grep -o " ${DATA}[^ ]*\| ${RUN}[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -f "$LIST"
  if [ -f "$DIR/original-packages" ]; then
    local want=() p
    while read -r p; do
      [ "$(dpkg-query -W -f='${Package}=${Version}' "${p%%=*}" 2>/dev/null)" = "$p" ] || want+=("$p")
    done <"$DIR/original-packages"
    if [ ${#want[@]} -gt 0 ]; then
      log "putting back ${want[*]}"
      apt-get install -y -q --allow-downgrades "${want[@]}" >&2 || log "could not put back ${want[*]}: do it by hand"
    fi
  fi
  if [ -f "$DIR/original-holds" ]; then
    # the runs hold the engine's packages (packages.hold): only those that were not held before go
    local p unhold=()
    for p in docker.io containerd runc; do grep -qx "$p" "$DIR/original-holds" || unhold+=("$p"); done
    apt-mark unhold "${unhold[@]}" >/dev/null 2>&1 || true
  fi
  rm -rf "$DIR" "$RUN"
  log "removed"
}

case "${1:-}" in
  install) cmd_install ;;
  up) cmd_up ;;
  stop-daemon) cmd_stop_daemon ;;
  start-daemon) cmd_start_daemon ;;
  repo) shift; cmd_repo "$@" ;;
  config) shift; cmd_config "$@" ;;
  env) echo "export DOCKER_HOST=unix://$SOCK" ;;
  down) cmd_down ;;
  *) sed -n '2,22p' "$SELF" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
