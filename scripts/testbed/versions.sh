# shellcheck shell=bash
# The one place the testbed's version forms live. The tests ask `machine.sh version PACKAGE UPSTREAM
# [--rpm]` for them (test/e2e/machine.ts) instead of writing them again.

SUITE=bookworm
# What the machines' base has installed: Docker's forms of these upstream versions.
# shellcheck disable=SC2034 # used by the scripts that source this one
BASE_SET=(docker-ce=20.10.24 docker-ce-cli=20.10.24 containerd.io=1.6.20 docker-buildx-plugin=0.10.4 docker-compose-plugin=2.17.2)

# Docker's deb version forms: 5:27.3.1-1~debian.12~bookworm (engine, cli), 1.7.22-1 (containerd.io),
# 0.17.1-1~debian.12~bookworm (plugins).
full_version() {
  case "$1" in
    docker-ce | docker-ce-cli) echo "5:$2-1~debian.12~$SUITE" ;;
    containerd.io) echo "$2-1" ;;
    docker-buildx-plugin | docker-compose-plugin) echo "$2-1~debian.12~$SUITE" ;;
    *) die "not a package of the set: $1" ;;
  esac
}

# Docker's rpm version forms: 3:24.0.9-1.el9 (engine), 1:24.0.9-1.el9 (cli), 1.7.22-3.1.el9 (containerd.io).
rpm_version() {
  case "$1" in
    docker-ce) echo "3:$2-1.el9" ;;
    docker-ce-cli) echo "1:$2-1.el9" ;;
    containerd.io) echo "$2-3.1.el9" ;;
    docker-buildx-plugin | docker-compose-plugin) echo "$2-1.el9" ;;
    *) die "not a package of the set: $1" ;;
  esac
}

# build_each BUILDER DIR SPEC...: BUILDER PACKAGE UPSTREAM FAULT for the base set and each spec
# (PACKAGE=UPSTREAM[:FAULT]), each file it names copied into DIR.
build_each() {
  local builder=$1 dir=$2; shift 2
  local spec pkg up flt
  for spec in "${BASE_SET[@]}" "$@"; do
    pkg=${spec%%=*}; up=${spec#*=}; flt=""
    [[ $up == *:* ]] && { flt=${up#*:}; up=${up%%:*}; }
    [ "$pkg" != "$spec" ] || die "not PACKAGE=UPSTREAM[:FAULT]: $spec"
    cp "$("$builder" "$pkg" "$up" "$flt")" "$dir/"
  done
}

# The version of a Debian package as Debian's archive serves it (never a repack from a local
# repository: the sandbox publishes "releases" of docker.io that keep the old binaries), newest first.
debian_version() {
  local v
  v=$(apt-cache madison "$1" 2>/dev/null | awk -F'|' '$3 !~ /file:/ {gsub(/ /, "", $2); print $2; exit}')
  [ -n "$v" ] || die "Debian's archive offers no $1 (apt-get update?)"
  echo "$v"
}
