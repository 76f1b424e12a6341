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

# Debian 13 machines (base-trixie): Debian's own packages under their own names and versions.
# shellcheck disable=SC2034 # used by the scripts that source this one
TRIXIE_SUITE=trixie
# What the trixie base has installed, as Debian 13 serves it (tini: what docker.io 26.1 depends on).
# shellcheck disable=SC2034 # used by the scripts that source this one
TRIXIE_SET=(docker.io=26.1.5+dfsg1-9+deb13u1+b1 docker-cli=26.1.5+dfsg1-9+deb13u1+b1 containerd=1.7.24~ds1-6+deb13u1
  runc=1.1.15+ds1-2+b4 tini=0.19.0-3+b8)
# Debian unstable's newer engine and what it takes to install it on Debian 13 (`apt-get install -s`
# in a trixie root says so; tini-static replaces tini), served together by `repo NAME docker.io=28.5.2`.
# shellcheck disable=SC2034 # used by the scripts that source this one
SID_SET=(docker.io=28.5.2+dfsg4-5 docker-cli=28.5.2+dfsg4-5 containerd=2.1.9+ds1-5 runc=1.3.6+ds1-1 tini-static=0.19.0-6+b2)

# CRIU for checkpoints, each set with what installing it on Debian 13 takes (`repo NAME criu=4.1.1`):
# Debian 13's own 4.1.1, and unstable's (4.2.1 when written: TCP sockets on kernels >= 6.16) with its
# newer libraries; a newer one there lands in criu-NEWER, and `repo NAME criu=4.2.1` then names both.
# Debian 12 machines get Debian 12's criu 3.17.1 (`repo NAME criu=3.17.1`) from the host's archive.
# shellcheck disable=SC2034 # used by the scripts that source this one
CRIU_TRIXIE=(criu=4.1.1-1)
# shellcheck disable=SC2034 # used by the scripts that source this one
CRIU_SID=(criu/sid libnl-3-200/sid libcompel1/sid libnet9/sid)

# The upstream release in a Debian version: 26.1.5 of 26.1.5+dfsg1-9+deb13u1+b1, 1.7.24 of 1.7.24~ds1-6.
debian_upstream() { local u=${1#*:}; u=${u%-*}; echo "${u%%[+~]*}"; }

# Debian 13 machines' version forms: the installed (trixie) or unstable release's own version when UP
# is theirs, else a patch release repacked from the installed one: UP with Debian's upstream suffix and
# revision 1 (26.1.6+dfsg1-1, 1.7.25~ds1-1), above every 26.1.5+dfsg1-* and below 28.5.2+dfsg4-*.
debian13_version() {
  local pkg=$1 up=$2 v installed=""
  for v in "${TRIXIE_SET[@]}" "${SID_SET[@]}"; do
    [ "${v%%=*}" = "$pkg" ] || continue
    [ "$(debian_upstream "${v#*=}")" = "$up" ] && { echo "${v#*=}"; return 0; }
  done
  for v in "${TRIXIE_SET[@]}"; do [ "${v%%=*}" = "$pkg" ] && installed=${v#*=}; done
  [ -n "$installed" ] || die "not a package of the trixie set: $pkg"
  [[ $up =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not an upstream version: $up"
  v=${installed#*:}; v=${v%-*}
  echo "$up${v#"$(debian_upstream "$installed")"}-1"
}
