# shellcheck shell=bash
# Machines: overlays of a base root booted by systemd-nspawn with systemd as PID 1, sharing the host's
# network namespace; entered with nsenter; shut down and deleted.

mdir() { echo "$MACHINES/$1"; }
leader() { # the machine's PID 1 as the host sees it (the nspawn process's child), or nothing
  local d; d=$(mdir "$1")
  local np; np=$(cat "$d/nspawn.pid" 2>/dev/null || true)
  [ -n "$np" ] && kill -0 "$np" 2>/dev/null || return 0
  pgrep -P "$np" | head -n1 || true
}

in_machine() { # name cmd...
  local pid; pid=$(leader "$1"); [ -n "$pid" ] || die "machine $1 is not running"
  shift
  nsenter -t "$pid" -a env -i PATH="$MACHINE_PATH" LC_ALL=C HOME=/root TERM=dumb "$@"
}

# Boots the machine's root with nspawn; prints the state systemd reached (running, degraded), or
# `exited` when nspawn ended first, or the state it was stuck in after a minute (and fails).
boot() { # name dir
  local name=$1 d=$2 state=""
  # Debian 13 machines run without nspawn's own seccomp filter: CRIU can lift a container's filter
  # only when it has none itself (every checkpoint fails otherwise)
  local seccomp=1; [ "$(cat "$d/flavor" 2>/dev/null)" = trixie ] && seccomp=0
  SYSTEMD_SECCOMP=$seccomp SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 setsid systemd-nspawn -D "$d/root" --boot --register=no --keep-unit \
    --console=pipe -M "$name" --capability=all --system-call-filter=@keyring \
    --bind-ro="$(readlink -f "$(command -v node)")":/usr/local/bin/node \
    --bind-ro="$ROOT_PROJECT":/opt/docker-live-upgrade \
    --bind="$d/repo":/srv/docker-repo \
    --bind="$d/docker":/var/lib/docker --bind="$d/containerd":/var/lib/containerd \
    >"$d/console.log" 2>&1 </dev/null &
  echo $! >"$d/nspawn.pid"
  for _ in $(seq 1 600); do
    if [ -n "$(leader "$name")" ]; then
      state=$(in_machine "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running | degraded) echo "$state"; return 0 ;; esac
    fi
    kill -0 "$(cat "$d/nspawn.pid")" 2>/dev/null || { echo exited; return 1; }
    sleep 0.1
  done
  echo "$state"
  return 1
}

cmd_up() { # name [deb|rpm|trixie]
  need_root; ours; valid_name "$1"
  local name=$1 flavor=${2:-deb} d lower; d=$(mdir "$1")
  case "$flavor" in
    deb) lower=$BASE; [ -f "$BASE/.complete" ] || cmd_base ;;
    rpm) lower=$BASE_RPM; [ -f "$BASE_RPM/.complete" ] || cmd_base_rpm ;;
    trixie) lower=$BASE_TRIXIE; [ -f "$BASE_TRIXIE/.complete" ] || cmd_base_trixie ;;
    *) die "not a flavor: $flavor (deb, rpm, trixie)" ;;
  esac
  if [ -n "$(leader "$name")" ]; then log "$name is running"; return 0; fi
  if [ -f "$d/flavor" ] && [ "$(cat "$d/flavor")" != "$flavor" ]; then die "$name is a $(cat "$d/flavor") machine; 'down' it first"; fi
  mkdir -p "$d/upper" "$d/work" "$d/root" "$d/docker" "$d/containerd"
  echo "$flavor" >"$d/flavor"
  mountpoint -q "$d/root" || mount -t overlay overlay -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$d/root"
  [ -d "$d/repo" ] || cp -a "$lower/srv/docker-repo" "$d/repo"
  echo "$name" >"$d/root/etc/hostname"
  local state="" try
  for try in 1 2; do
    state=$(boot "$name" "$d") && break
    # nspawn ended before the machine was up (seen once in about 200 boots, cause not found): once more,
    # the first console kept beside the second
    if [ "$state" != exited ] || [ "$try" = 2 ]; then
      tail -n 30 "$d/console.log" >&2
      die "machine $name did not finish booting (state '$state'); see $d/console.log"
    fi
    mv "$d/console.log" "$d/console.1.log"
    log "$name: nspawn exited while booting; booting once more (its console: $d/console.1.log)"
    tail -n 15 "$d/console.1.log" >&2
  done
  [ "$state" = running ] || log "$name is $state: $(in_machine "$name" systemctl --failed --no-legend --plain 2>/dev/null | tr '\n' ' ')"
  for _ in $(seq 1 300); do in_machine "$name" docker version >/dev/null 2>&1 && break; sleep 0.1; done
  in_machine "$name" docker version >/dev/null 2>&1 || die "dockerd in $name does not answer; see 'machine.sh exec $name journalctl -u docker'"
  # cgroup-writable.service can leave a controller read-only when its umount races (seen once with
  # three machines booting together): runc then cannot create the container's cgroup. Check, redo.
  local ro=""
  for _ in 1 2 3 4 5; do
    # shellcheck disable=SC2016 # the script runs inside the machine: its $ are for that shell
    ro=$(in_machine "$name" awk '$3 == "cgroup" && $4 ~ /(^|,)ro(,|$)/ {print $2}' /proc/self/mounts | tr '\n' ' ')
    [ -z "${ro// /}" ] && break
    log "$name: cgroup controllers still read-only ($ro): remounting them"
    in_machine "$name" /usr/local/sbin/cgroup-writable >&2 || true
    sleep 0.2
  done
  [ -z "${ro// /}" ] || die "cgroup controllers in $name stay read-only ($ro); containers cannot start there"
  # shellcheck disable=SC2016 # the script runs inside the machine: its $ are for that shell
  if ! in_machine "$name" docker image inspect local/busybox:1 >/dev/null 2>&1; then
    in_machine "$name" sh -c 'r=$(mktemp -d) && mkdir -p $r/bin $r/www $r/tmp && cp /usr/local/lib-busybox $r/bin/busybox &&
      for c in sh httpd sleep echo cat date true nc wc seq; do ln -s busybox $r/bin/$c; done &&
      echo "hello from $(hostname)" >$r/www/index.html && tar -C $r -c . | docker import - local/busybox:1 >/dev/null && rm -rf $r'
  fi
  log "$name up ($(in_machine "$name" docker version -f '{{.Server.Version}}'), pid $(leader "$name"))"
}

cmd_kill() { # name: pull the plug; the overlay stays, `up` boots it again
  need_root; ours; valid_name "$1"
  local d np pid; d=$(mdir "$1"); np=$(cat "$d/nspawn.pid" 2>/dev/null || true)
  pid=$(leader "$1")
  [ -n "$pid" ] || { log "$1 is not running"; return 0; }
  # the end of a PID namespace's init takes every process of the machine with it, at once
  kill -KILL "$pid"
  for _ in $(seq 1 100); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$np" 2>/dev/null && die "machine $1's nspawn ($np) did not exit after its PID 1 was killed"
  log "$1 killed (its disk kept)"
}

cmd_down_one() {
  local name=$1 d; d=$(mdir "$1")
  [ -d "$d" ] || return 0
  local np; np=$(cat "$d/nspawn.pid" 2>/dev/null || true)
  # shellcheck disable=SC2016 # the script runs inside the machine: its $ are for that shell
  if [ -n "$(leader "$name")" ]; then
    # A frozen process keeps PID 1 from finishing its shutdown: thaw first.
    in_machine "$name" sh -c 'ids=$(docker ps -q --filter status=paused 2>/dev/null); [ -z "$ids" ] || docker unpause $ids' >/dev/null 2>&1 || true
    kill -TERM "$np" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$np" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$np" 2>/dev/null || true
  fi
  { grep -o " $d/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  umount -l "$d/root" 2>/dev/null || true
  rm -rf "$d"
}

cmd_down() {
  need_root
  [ -d "$DIR" ] || return 0
  ours
  if [ "${1:-}" = --all ]; then
    local m; for m in "$MACHINES"/*/; do if [ -d "$m" ]; then cmd_down_one "$(basename "$m")"; fi; done
  else
    valid_name "$1"; cmd_down_one "$1"
  fi
}
