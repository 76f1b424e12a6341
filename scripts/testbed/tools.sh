# shellcheck shell=bash
# Tools the fleet tests run beside the machines, taken from Debian's archive without installing them
# (no service of theirs is started on the host): Prometheus, for the alert gate.

cmd_prometheus() { # prints the path of a prometheus binary (Debian's), extracted once
  need_root; ours
  local dir=$DIR/tools/prometheus
  if [ ! -x "$dir/usr/bin/prometheus" ]; then
    local w; w=$(mktemp -d)
    chown _apt "$w" 2>/dev/null || true # apt downloads as _apt where it can
    (cd "$w" && apt-get download -q prometheus >&2) || die "could not download Debian's prometheus package (apt-get update?)"
    mkdir -p "$dir"
    dpkg-deb -x "$w"/prometheus_*.deb "$dir"
    rm -rf "$w"
    [ -x "$dir/usr/bin/prometheus" ] || die "Debian's prometheus package has no usr/bin/prometheus"
  fi
  echo "$dir/usr/bin/prometheus"
}
