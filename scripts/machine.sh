#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Machines with systemd as PID 1 for the end-to-end tests and benchmarks: Debian 12 roots booted by
# systemd-nspawn, each an overlay of one cached base, sharing the host's network namespace (every
# service binds 127.0.0.1 only; dockerd runs with bridge none and no iptables). The base has Docker's
# own package set installed from a local apt repository laid out like Docker's (docker-ce,
# docker-ce-cli, containerd.io, docker-buildx-plugin, docker-compose-plugin), repacked from Debian's
# binaries with Docker's version forms, units and debhelper-style maintainer scripts. Debian 13
# machines (--trixie) have Debian's own docker.io, docker-cli, containerd and runc instead, and serve
# Debian unstable's real newer builds for MAJOR.MINOR jumps.
#
#   machine.sh install              host packages it needs (systemd-container debootstrap dpkg-dev, etcd for
#                                   fleets, rpm and createrepo-c for rpm machines)
#   machine.sh base                 build the base root once (debootstrap + the package set; cached)
#   machine.sh base-rpm             build the rpm base once: the base with dnf and rpm, Docker's set
#                                   installed as rpm packages by dnf from a local repository
#   machine.sh base-trixie          build the Debian 13 base once: debootstrap trixie with Debian's own
#                                   docker.io, docker-cli, containerd, runc and tini installed, and Debian
#                                   unstable's newer set (docker.io 28.5.2 and what it takes) kept in a pool
#   machine.sh up NAME [--rpm|--trixie]
#                                   boot machine NAME and wait until systemd runs and dockerd answers
#   machine.sh exec NAME CMD...     run a command inside NAME (as root, in all its namespaces)
#   machine.sh repo NAME SPEC...    serve these releases in NAME's local apt repository besides the
#                                   installed ones; SPEC is PACKAGE=UPSTREAM[:FAULT], e.g.
#                                   docker-ce=20.10.25 docker-ce-cli=20.10.25 containerd.io=1.6.21
#                                   docker-ce=20.10.26:dockerd-exits docker-ce=20.10.27:preinst-sleeps
#                                   (an rpm machine: its dnf repository, same SPEC form)
#                                   A trixie machine's repository always serves the installed set; its
#                                   SPECs name Debian's packages: docker.io=28.5.2 serves unstable's real
#                                   build together with everything installing it takes (containerd 2.1.9,
#                                   runc 1.3.6, docker-cli 28.5.2, tini-static); containerd=2.1.9,
#                                   runc=1.3.6, docker-cli=28.5.2 each serve that one package alone;
#                                   any other UP (docker.io=26.1.6, docker-cli=26.1.6, containerd=1.7.25)
#                                   is a repack of the installed package (26.1.6+dfsg1-1, binaries patched
#                                   to report it); a FAULT repacks that one .deb, real or not
#                                   (docker.io=28.5.2:dockerd-exits)
#                                   criu=4.1.1 (Debian 13's) or criu=4.2.1 (unstable's) on a trixie
#                                   machine, criu=3.17.1 (Debian 12's) on a deb one: criu and what
#                                   installing it takes, for `apt-get install criu` inside
#   machine.sh version PACKAGE UP [--rpm|--trixie]
#                                   the full package version Docker's repository would give UP (--trixie:
#                                   the one a trixie machine's repository gives, e.g. 28.5.2+dfsg4-5)
#   machine.sh pid NAME             the machine's PID 1 as the host sees it
#   machine.sh kill NAME            pull the plug: every process of NAME ends at once, its disk stays
#                                   (`up NAME` boots it again, a host restarted after a power loss)
#   machine.sh prometheus           the path of Debian's prometheus binary, extracted (not installed) once
#   machine.sh down NAME|--all      stop machine(s) and delete their overlay
#   machine.sh purge                down --all, then delete the bases and the package pools
#
# Everything lives under $DLU_MACHINE_DIR (default /var/lib/docker-live-upgrade-machines); it refuses
# to touch a folder it did not create (no marker file there).
set -euo pipefail

DIR=${DLU_MACHINE_DIR:-/var/lib/docker-live-upgrade-machines}
MARK=$DIR/.created-by-docker-live-upgrade-machine
BASE=$DIR/base
BASE_RPM=$DIR/base-rpm
BASE_TRIXIE=$DIR/base-trixie
POOL=$DIR/pool
POOL_TRIXIE=$DIR/pool-trixie
MACHINES=$DIR/machines
ROOT_PROJECT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$(readlink -f "$0")
TESTBED=machine
ROOT_WHY="it boots machines with systemd-nspawn"
MACHINE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export DEBIAN_FRONTEND=noninteractive
HERE=$(dirname "$SELF")/testbed
# shellcheck source=testbed/lib.sh
. "$HERE/lib.sh"
# shellcheck source=testbed/versions.sh
. "$HERE/versions.sh"
# shellcheck source=testbed/deb.sh
. "$HERE/deb.sh"
# shellcheck source=testbed/rpm.sh
. "$HERE/rpm.sh"
# shellcheck source=testbed/base.sh
. "$HERE/base.sh"
# shellcheck source=testbed/trixie.sh
. "$HERE/trixie.sh"
# shellcheck source=testbed/machines.sh
. "$HERE/machines.sh"
# shellcheck source=testbed/tools.sh
. "$HERE/tools.sh"

case "${1:-}" in
  install) cmd_install ;;
  base) cmd_base ;;
  base-rpm) cmd_base_rpm ;;
  base-trixie) cmd_base_trixie ;;
  up) [ $# = 2 ] || { [ $# = 3 ] && [[ $3 =~ ^--(rpm|trixie)$ ]]; } || die "usage: $0 up NAME [--rpm|--trixie]"; f=${3:-}; cmd_up "$2" "${f#--}" ;;
  exec) [ $# -ge 3 ] || die "usage: $0 exec NAME CMD..."; valid_name "$2"; n=$2; shift 2; in_machine "$n" "$@" ;;
  repo) [ $# -ge 2 ] || die "usage: $0 repo NAME SPEC..."; need_root; ours; valid_name "$2"; n=$2; shift 2
    case "$(cat "$(mdir "$n")/flavor" 2>/dev/null)" in
      rpm)
        publish_rpm "$(mdir "$n")/repo" "$@"
        in_machine "$n" dnf -q makecache --refresh >/dev/null ;;
      trixie)
        publish_trixie "$(mdir "$n")/repo" "$@"
        in_machine "$n" apt-get update -q -o APT::Get::List-Cleanup=0 >/dev/null ;;
      *)
        publish "$(mdir "$n")/repo" "$@"
        in_machine "$n" apt-get update -q -o APT::Get::List-Cleanup=0 >/dev/null ;;
    esac ;;
  version) [ $# = 3 ] || { [ $# = 4 ] && [[ $4 =~ ^--(rpm|trixie)$ ]]; } || die "usage: $0 version PACKAGE UPSTREAM [--rpm|--trixie]"
    case "${4:-}" in
      --rpm) rpm_version "$2" "$3" ;;
      --trixie) debian13_version "$2" "$3" ;;
      *) full_version "$2" "$3" ;;
    esac ;;
  pid) valid_name "$2"; leader "$2" ;;
  prometheus) cmd_prometheus ;;
  kill) [ $# = 2 ] || die "usage: $0 kill NAME"; cmd_kill "$2" ;;
  down) [ $# = 2 ] || die "usage: $0 down NAME|--all"; cmd_down "$2" ;;
  purge) need_root; [ -d "$DIR" ] || exit 0; ours; cmd_down --all; rm -rf "$DIR" ;;
  *) sed -n '3,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'; exit 2 ;;
esac
