#!/usr/bin/env bash
# Machines with systemd as PID 1 for the end-to-end tests and benchmarks: Debian 12 roots booted by
# systemd-nspawn, each an overlay of one cached base, sharing the host's network namespace (every
# service binds 127.0.0.1 only; dockerd runs with bridge none and no iptables). The base has Docker's
# own package set installed from a local apt repository laid out like Docker's (docker-ce,
# docker-ce-cli, containerd.io, docker-buildx-plugin, docker-compose-plugin), repacked from Debian's
# binaries with Docker's version forms, units and debhelper-style maintainer scripts.
#
#   machine.sh install              host packages it needs (systemd-container debootstrap dpkg-dev, etcd for
#                                   fleets, rpm and createrepo-c for rpm machines)
#   machine.sh base                 build the base root once (debootstrap + the package set; cached)
#   machine.sh base-rpm             build the rpm base once: the base with dnf and rpm, Docker's set
#                                   installed as rpm packages by dnf from a local repository
#   machine.sh up NAME [--rpm]      boot machine NAME and wait until systemd runs and dockerd answers
#   machine.sh exec NAME CMD...     run a command inside NAME (as root, in all its namespaces)
#   machine.sh repo NAME SPEC...    serve these releases in NAME's local apt repository besides the
#                                   installed ones; SPEC is PACKAGE=UPSTREAM[:FAULT], e.g.
#                                   docker-ce=20.10.25 docker-ce-cli=20.10.25 containerd.io=1.6.21
#                                   docker-ce=20.10.26:dockerd-exits docker-ce=20.10.27:preinst-sleeps
#                                   (an rpm machine: its dnf repository, same SPEC form)
#   machine.sh version PACKAGE UP [--rpm]
#                                   the full package version Docker's repository would give UP
#   machine.sh pid NAME             the machine's PID 1 as the host sees it
#   machine.sh down NAME|--all      stop machine(s) and delete their overlay
#   machine.sh purge                down --all, then delete the base and the package pool
#
# Everything lives under $DLU_MACHINE_DIR (default /var/lib/docker-live-upgrade-machines); it refuses
# to touch a folder it did not create (no marker file there).
set -euo pipefail

DIR=${DLU_MACHINE_DIR:-/var/lib/docker-live-upgrade-machines}
MARK=$DIR/.created-by-docker-live-upgrade-machine
BASE=$DIR/base
BASE_RPM=$DIR/base-rpm
POOL=$DIR/pool
MACHINES=$DIR/machines
ROOT_PROJECT=$(cd "$(dirname "$0")/.." && pwd)
SELF=$(readlink -f "$0")
export DEBIAN_FRONTEND=noninteractive
SUITE=bookworm
# What the base has installed: Docker's forms of the versions.
BASE_SET=(docker-ce=20.10.24 docker-ce-cli=20.10.24 containerd.io=1.6.20 docker-buildx-plugin=0.10.4 docker-compose-plugin=2.17.2)
MACHINE_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "machine: $*" >&2; exit 1; }
log() { echo "machine: $*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || die "run as root (it boots machines with systemd-nspawn)"; }
ours() { [ -f "$MARK" ] || die "$DIR was not created by this script (no $MARK); refusing to touch it"; }
valid_name() { [[ $1 =~ ^[a-z][a-z0-9-]{0,30}$ ]] || die "not a machine name: $1 (lower-case letters, digits, -)"; }

mirror() {
  local m; m=$(sed -n 's/^URIs: *\(http[^ ]*debian\)\/\?$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1 || true)
  [ -n "$m" ] || m=$(awk '$1=="deb" && $3 ~ /^bookworm$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  [ -n "$m" ] || die "cannot find the Debian archive's URL in /etc/apt/sources.list.d/debian.sources"
  echo "$m"
}

cmd_install() {
  need_root
  local missing=() p
  for p in systemd-container debootstrap dpkg-dev docker.io busybox-static etcd-server etcd-client rpm createrepo-c; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^[ih][^n]' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -q >&2
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
}

# ---------------------------------------------------------------------------------------------------
# The package pool: Docker's package set, repacked from Debian's binaries.

deb_of() { # package version: the .deb from Debian's archive (cached under the pool)
  local f; mkdir -p "$DIR/debian"
  f=$(ls "$DIR/debian/$1"_*.deb 2>/dev/null | head -n1 || true)
  if [ -z "$f" ]; then
    f=$(ls /var/cache/apt/archives/"$1_${2//:/%3a}"_*.deb 2>/dev/null | head -n1 || true)
    if [ -n "$f" ]; then cp "$f" "$DIR/debian/"; else (cd "$DIR/debian" && apt-get download -q "$1=$2" >&2); fi
    f=$(ls "$DIR/debian/$1"_*.deb | head -n1)
  fi
  echo "$f"
}

# Docker's version forms: 5:27.3.1-1~debian.12~bookworm (engine, cli), 1.7.22-1 (containerd.io),
# 0.17.1-1~debian.12~bookworm (plugins).
full_version() {
  case "$1" in
    docker-ce | docker-ce-cli) echo "5:$2-1~debian.12~$SUITE" ;;
    containerd.io) echo "$2-1" ;;
    docker-buildx-plugin | docker-compose-plugin) echo "$2-1~debian.12~$SUITE" ;;
    *) die "not a package of the set: $1" ;;
  esac
}

# Replaces a version string in a Go binary where the new one has the same length (Go keeps it as a
# plain string with its length beside it).
patch_version() { # file old new
  [ "$2" = "$3" ] && return 0
  # A release that is never installed (a MAJOR.MINOR jump the planner must refuse) may keep the old string.
  [ ${#2} = ${#3} ] || { log "$(basename "$1") keeps '$2': '$3' has another length"; return 0; }
  OLD="$2" NEW="$3" perl -pi -e 's/\Q$ENV{OLD}\E/$ENV{NEW}/g' "$1"
}

# debhelper's sections for a unit that is restarted on upgrade (dh_installsystemd, compat 12+) and
# an init script (dh_installinit): as in Docker's docker-ce and containerd.io packages.
dh_postinst() { # unit... ; init script name in $INIT (optional)
  local units="" u
  for u in "$@"; do units="$units '$u'"; done
  cat <<EOF
# Automatically added by dh_installinit/13.11.4
if [ "\$1" = "configure" ] || [ "\$1" = "abort-upgrade" ] || [ "\$1" = "abort-deconfigure" ] || [ "\$1" = "abort-remove" ] ; then
	if [ -z "\${DPKG_ROOT:-}" ] && [ -x "/etc/init.d/${INIT:-none}" ]; then
		update-rc.d ${INIT:-none} defaults >/dev/null
		if [ -n "\$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		invoke-rc.d --skip-systemd-native ${INIT:-none} \$_dh_action || exit 1
	fi
fi
# End automatically added section
EOF
  for u in "$@"; do
    cat <<EOF
# Automatically added by dh_installsystemd/13.11.4
if [ "\$1" = "configure" ] || [ "\$1" = "abort-upgrade" ] || [ "\$1" = "abort-deconfigure" ] || [ "\$1" = "abort-remove" ] ; then
	if deb-systemd-helper --quiet was-enabled '$u'; then
		deb-systemd-helper enable '$u' >/dev/null || true
	else
		deb-systemd-helper update-state '$u' >/dev/null || true
	fi
fi
# End automatically added section
EOF
  done
  cat <<EOF
# Automatically added by dh_installsystemd/13.11.4
if [ "\$1" = "configure" ] || [ "\$1" = "abort-upgrade" ] || [ "\$1" = "abort-deconfigure" ] || [ "\$1" = "abort-remove" ] ; then
	if [ -z "\${DPKG_ROOT:-}" ] && [ -d /run/systemd/system ]; then
		systemctl --system daemon-reload >/dev/null || true
		if [ -n "\$2" ]; then
			_dh_action=restart
		else
			_dh_action=start
		fi
		deb-systemd-invoke \$_dh_action$units >/dev/null || true
	fi
fi
# End automatically added section
EOF
}

dh_prerm() { # unit...
  local units="" u
  for u in "$@"; do units="$units '$u'"; done
  cat <<EOF
# Automatically added by dh_installsystemd/13.11.4
if [ -z "\${DPKG_ROOT:-}" ] && [ "\$1" = remove ] && [ -d /run/systemd/system ] ; then
	deb-systemd-invoke stop$units >/dev/null || true
fi
# End automatically added section
EOF
}

write_unit_docker() { # unit folder
  cat >"$1/docker.service" <<'EOF'
[Unit]
Description=Docker Application Container Engine
Documentation=https://docs.docker.com
After=network-online.target docker.socket firewalld.service containerd.service time-set.target
Wants=network-online.target containerd.service
Requires=docker.socket
StartLimitBurst=3
StartLimitIntervalSec=60

[Service]
Type=notify
ExecStart=/usr/bin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock
ExecReload=/bin/kill -s HUP $MAINPID
TimeoutStartSec=0
RestartSec=2
Restart=always
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
Delegate=yes
KillMode=process
OOMScoreAdjust=-500

[Install]
WantedBy=multi-user.target
EOF
  cat >"$1/docker.socket" <<'EOF'
[Unit]
Description=Docker Socket for the API

[Socket]
ListenStream=/run/docker.sock
SocketMode=0660
SocketUser=root
SocketGroup=docker

[Install]
WantedBy=sockets.target
EOF
}

write_unit_containerd() { # unit folder
  cat >"$1/containerd.service" <<'EOF'
[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target dbus.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=/usr/bin/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=5
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
EOF
}

control() { # dir package version depends extra-fields...
  local d=$1 p=$2 v=$3 deps=$4; shift 4
  {
    echo "Package: $p"
    echo "Version: $v"
    echo "Architecture: amd64"
    echo "Maintainer: docker-live-upgrade test packages <root@localhost>"
    echo "Section: admin"
    echo "Priority: optional"
    [ -z "$deps" ] || echo "Depends: $deps"
    local f; for f in "$@"; do echo "$f"; done
    echo "Installed-Size: $(du -sk "$d" | cut -f1)"
    echo "Description: $p repacked for docker-live-upgrade's machine tests"
    echo " Debian's binaries under Docker's package name and version form."
  } >"$d/DEBIAN/control"
}

scripts() { # dir postinst-body prerm-body
  printf '#!/bin/sh\nset -e\n%s\n' "$2" >"$1/DEBIAN/postinst"
  printf '#!/bin/sh\nset -e\n%s\n' "$3" >"$1/DEBIAN/prerm"
  chmod 755 "$1/DEBIAN/postinst" "$1/DEBIAN/prerm"
}

fault() { # dir fault
  case "$2" in
    "") ;;
    dockerd-exits) printf '#!/bin/sh\necho "broken build: dockerd exits at once" >&2\nexit 1\n' >"$1/usr/bin/dockerd" ;;
    preinst-sleeps) printf '#!/bin/sh\nsleep %s\n' "${DLU_PREINST_SLEEP:-30}" >"$1/DEBIAN/preinst"; chmod 755 "$1/DEBIAN/preinst" ;;
    preinst-fails) printf '#!/bin/sh\necho "preinst: failing on purpose" >&2\nexit 1\n' >"$1/DEBIAN/preinst"; chmod 755 "$1/DEBIAN/preinst" ;;
    *) die "unknown fault $2 (dockerd-exits, preinst-sleeps, preinst-fails)" ;;
  esac
}

# payload PACKAGE UPSTREAM DIR: the package's files (Debian's binaries, version strings patched) into DIR.
# UNITDIR: where the units go (lib/systemd/system for .deb, usr/lib/systemd/system for .rpm).
payload() {
  local pkg=$1 up=$2 w=$3 unitdir=${UNITDIR:-lib/systemd/system}
  local docker_up containerd_up runc_up
  docker_up=$(dpkg-query -W -f='${Version}' docker.io); containerd_up=$(dpkg-query -W -f='${Version}' containerd); runc_up=$(dpkg-query -W -f='${Version}' runc)
  local engine_str=${docker_up%%-*}; engine_str=${engine_str#*:}    # 20.10.24+dfsg1
  local ctd_str=${containerd_up%%-*}                                  # 1.6.20~ds1
  mkdir -p "$w/$unitdir"
  case "$pkg" in
    docker-ce)
      dpkg-deb -x "$(deb_of docker.io "$docker_up")" "$w/x"
      mkdir -p "$w/usr/bin" "$w/usr/libexec/docker" "$w/etc/docker"
      cp "$w/x/usr/sbin/dockerd" "$w/x/usr/sbin/docker-proxy" "$w/usr/bin/"
      patch_version "$w/usr/bin/dockerd" "$engine_str" "$up${engine_str#"${engine_str%%+*}"}"
      if [ "${WITH_INIT:-}" ]; then
        mkdir -p "$w/etc/init.d" "$w/etc/default"
        sed 's#/usr/sbin/dockerd#/usr/bin/dockerd#' "$w/x/etc/init.d/docker" >"$w/etc/init.d/docker"; chmod 755 "$w/etc/init.d/docker"
        cp "$w/x/etc/default/docker" "$w/etc/default/docker"
      fi
      rm -rf "$w/x"
      write_unit_docker "$w/$unitdir" ;;
    docker-ce-cli)
      dpkg-deb -x "$(deb_of docker.io "$docker_up")" "$w/x"
      mkdir -p "$w/usr/bin"; cp "$w/x/usr/bin/docker" "$w/usr/bin/"; rm -rf "$w/x"
      patch_version "$w/usr/bin/docker" "$engine_str" "$up${engine_str#"${engine_str%%+*}"}" ;;
    containerd.io)
      dpkg-deb -x "$(deb_of containerd "$containerd_up")" "$w/x"
      dpkg-deb -x "$(deb_of runc "$runc_up")" "$w/x"
      mkdir -p "$w/usr/bin" "$w/etc/containerd"
      cp "$w/x/usr/bin/containerd" "$w/x/usr/bin/containerd-shim-runc-v2" "$w/x/usr/bin/ctr" "$w/usr/bin/"
      cp "$w/x/usr/sbin/runc" "$w/usr/bin/runc"
      rm -rf "$w/x"
      # Upstream builds report the version with a leading v (v1.7.27): so do these.
      [ "$up" = "${ctd_str%%~*}" ] || patch_version "$w/usr/bin/containerd" "$ctd_str" "$(printf 'v%s~ds' "$up" | cut -c1-${#ctd_str})"
      printf 'disabled_plugins = ["cri"]\n' >"$w/etc/containerd/config.toml"
      write_unit_containerd "$w/$unitdir" ;;
    docker-buildx-plugin | docker-compose-plugin)
      local sub=${pkg#docker-}; sub=${sub%-plugin}
      mkdir -p "$w/usr/libexec/docker/cli-plugins"
      printf '#!/bin/sh\nif [ "$1" = docker-cli-plugin-metadata ]; then echo '"'"'{"SchemaVersion":"0.1.0","Vendor":"Docker Inc.","Version":"v%s"}'"'"'; exit 0; fi\necho "docker %s v%s"\n' "$up" "$sub" "$up" \
        >"$w/usr/libexec/docker/cli-plugins/docker-$sub"
      chmod 755 "$w/usr/libexec/docker/cli-plugins/docker-$sub" ;;
  esac
  (cd "$w" && rmdir -p "$unitdir" 2>/dev/null) || true
}

# build PACKAGE UPSTREAM [FAULT]: one .deb of the set into the pool (kept; faults get their own file).
build() {
  local pkg=$1 up=$2 flt=${3:-} ver out w
  [[ $up =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not an upstream version: $up"
  ver=$(full_version "$pkg" "$up")
  out="$POOL/${pkg}_${ver//:/%3a}${flt:+.$flt}_amd64.deb"
  [ -f "$out" ] && { echo "$out"; return 0; }
  mkdir -p "$POOL"
  w=$(mktemp -d)
  mkdir -p "$w/DEBIAN"
  WITH_INIT=1 payload "$pkg" "$up" "$w"
  case "$pkg" in
    docker-ce)
      printf '/etc/default/docker\n/etc/init.d/docker\n' >"$w/DEBIAN/conffiles"
      scripts "$w" "case \"\$1\" in
	configure)
		if [ -z \"\$2\" ]; then
			if ! getent group docker > /dev/null; then
				groupadd --system docker
			fi
		fi
		;;
	abort-*)
		exit 1
		;;
esac
$(INIT=docker dh_postinst docker.service docker.socket)" "$(dh_prerm docker.service docker.socket)"
      fault "$w" "$flt"
      control "$w" docker-ce "$ver" "containerd.io (>= 1.6.20), docker-ce-cli, iptables, libc6, libdevmapper1.02.1, libsystemd0" \
        "Pre-Depends: init-system-helpers (>= 1.54~)" "Conflicts: docker.io" "Replaces: docker-ce-cli (<< 5:28.0.0)" \
        "Recommends: docker-ce-rootless-extras" ;;
    docker-ce-cli)
      scripts "$w" "" ""
      control "$w" docker-ce-cli "$ver" "libc6" "Conflicts: docker.io, docker-cli" "Replaces: docker-ce (<< 5:0)" "Breaks: docker-ce (<< 5:0)" \
        "Recommends: docker-buildx-plugin, docker-compose-plugin" ;;
    containerd.io)
      printf '/etc/containerd/config.toml\n' >"$w/DEBIAN/conffiles"
      scripts "$w" "$(dh_postinst containerd.service)" "$(dh_prerm containerd.service)"
      control "$w" containerd.io "$ver" "libc6, libseccomp2" "Provides: containerd, runc" "Conflicts: containerd, runc" "Replaces: containerd, runc" ;;
    docker-buildx-plugin | docker-compose-plugin)
      scripts "$w" "" ""
      control "$w" "$pkg" "$ver" "" "Enhances: docker-ce-cli" ;;
  esac
  (cd "$w" && find . -type f ! -path './DEBIAN/*' -printf '%P\0' | xargs -0 -r md5sum >DEBIAN/md5sums)
  # into a file of its own, then renamed: machines booted together build the same package at once,
  # and a reader must never see half a file (a corrupt .deb in the pool broke every later repo)
  dpkg-deb -Zgzip -z1 -b "$w" "$out.part.$$" >/dev/null
  mv -f "$out.part.$$" "$out"
  rm -rf "$w"
  echo "$out"
}

# publish DIR SPEC...: a Packages index over the base set and the given specs.
publish() {
  local repo=$1; shift
  mkdir -p "$repo"; rm -f "$repo"/*.deb "$repo"/Packages   # emptied, not replaced: machines bind it
  local spec pkg up flt
  for spec in "${BASE_SET[@]}" "$@"; do
    pkg=${spec%%=*}; up=${spec#*=}; flt=""
    [[ $up == *:* ]] && { flt=${up#*:}; up=${up%%:*}; }
    [ "$pkg" != "$spec" ] || die "not PACKAGE=UPSTREAM[:FAULT]: $spec"
    cp "$(build "$pkg" "$up" "$flt")" "$repo/"
  done
  (cd "$repo" && dpkg-scanpackages -m . /dev/null >Packages 2>/dev/null)
}

# ---------------------------------------------------------------------------------------------------
# The same set as Docker's rpm packages (docker-ce.spec, containerd.io's spec): built with rpmbuild
# from the same payload, served by a createrepo_c repository, installed by Debian's dnf and rpm.

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

# The scriptlets as systemd's rpm macros expand them with systemctl called directly (EL8's
# %systemd_post, %systemd_preun, %systemd_postun_with_restart): the upgrade's %postun try-restarts.
rpm_unit_scripts() { # unit
  cat <<EOF
%post
if [ \$1 -eq 1 ] ; then
        # Initial installation
        systemctl --no-reload preset $1 >/dev/null 2>&1 || :
fi
${RPM_POST_EXTRA:-}

%preun
if [ \$1 -eq 0 ] ; then
        # Package removal, not upgrade
        systemctl --no-reload disable --now $1 >/dev/null 2>&1 || :
fi

%postun
if [ \$1 -ge 1 ] ; then
        # Package upgrade, not uninstall
        systemctl try-restart $1 >/dev/null 2>&1 || :
fi
EOF
}

# build_rpm PACKAGE UPSTREAM [FAULT]: one .rpm of the set into the pool.
build_rpm() {
  local pkg=$1 up=$2 flt=${3:-} evr ver rel epoch out w
  [[ $up =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "not an upstream version: $up"
  evr=$(rpm_version "$pkg" "$up"); epoch=""; [[ $evr == *:* ]] && epoch=${evr%%:*}
  ver=${evr#*:}; rel=${ver#*-}; ver=${ver%%-*}
  out="$POOL/rpm/$pkg-$ver-$rel${flt:+.$flt}.x86_64.rpm"
  [ -f "$out" ] && { echo "$out"; return 0; }
  mkdir -p "$POOL/rpm"
  w=$(mktemp -d)
  mkdir -p "$w/stage" "$w/out"
  UNITDIR=usr/lib/systemd/system payload "$pkg" "$up" "$w/stage"
  local requires="" extra="" pre="" scriptlets=""
  case "$pkg" in
    docker-ce)
      requires="Requires: /usr/sbin/groupadd, docker-ce-cli, systemd, iptables, containerd.io >= 1.4.1, tar, xz"
      extra=$'Conflicts: docker, docker-io\nObsoletes: docker-engine'
      scriptlets=$(RPM_POST_EXTRA=$'if ! getent group docker > /dev/null; then\n    groupadd --system docker\nfi' rpm_unit_scripts docker.service) ;;
    containerd.io)
      extra=$'Provides: containerd, runc\nObsoletes: containerd, runc'
      scriptlets=$(rpm_unit_scripts containerd.service) ;;
  esac
  case "$flt" in
    "") ;;
    dockerd-exits) printf '#!/bin/sh\necho "broken build: dockerd exits at once" >&2\nexit 1\n' >"$w/stage/usr/bin/dockerd" ;;
    preinst-sleeps) pre=$'%pre\nsleep '"${DLU_PREINST_SLEEP:-30}" ;;
    preinst-fails) pre=$'%pre\necho "pre: failing on purpose" >&2\nexit 1' ;;
    *) die "unknown fault $flt (dockerd-exits, preinst-sleeps, preinst-fails)" ;;
  esac
  {
    echo "Name: $pkg"
    echo "Version: $ver"
    echo "Release: $rel"
    [ -z "$epoch" ] || echo "Epoch: $epoch"
    echo "Summary: $pkg repacked for docker-live-upgrade's machine tests"
    echo "License: ASL 2.0"
    echo "AutoReqProv: no"
    [ -z "$requires" ] || echo "$requires"
    [ -z "$extra" ] || echo "$extra"
    printf '\n%%description\nDebian binaries under the name and version form of Docker packages.\n\n'
    printf '%%install\ncp -a %s/. %%{buildroot}/\n\n%%files\n' "$w/stage"
    (cd "$w/stage" && find . \( -type f -o -type l \) -printf '/%P\n' | sort | sed 's#^/etc/#%config(noreplace) /etc/#')
    printf '\n%s\n\n%s\n' "$pre" "$scriptlets"
  } >"$w/$pkg.spec"
  rpmbuild -bb --quiet --target x86_64 --define "_topdir $w/top" --define "_rpmdir $w/out" \
    --define "_build_name_fmt %%{NAME}.rpm" --define "__os_install_post %{nil}" --define "debug_package %{nil}" \
    --define "_build_id_links none" --define "_binary_payload w1.gzdio" "$w/$pkg.spec" >"$w/build.log" 2>&1 \
    || { tail -n 20 "$w/build.log" >&2; die "rpmbuild $pkg failed"; }
  cp "$w/out/$pkg.rpm" "$out.part.$$" && mv -f "$out.part.$$" "$out"   # whole or not at all (see build)
  rm -rf "$w"
  echo "$out"
}

# What an rpm host has that the packages require: a Debian root provides it from dpkg's side.
build_rpm_host() {
  local out="$POOL/rpm/machine-release-12-1.noarch.rpm" w
  [ -f "$out" ] && { echo "$out"; return 0; }
  mkdir -p "$POOL/rpm"; w=$(mktemp -d); mkdir -p "$w/out"
  cat >"$w/machine-release.spec" <<'EOF'
Name: machine-release
Version: 12
Release: 1
Summary: What the Debian root of a test machine provides to rpm packages
License: MIT
BuildArch: noarch
Provides: /bin/sh, /usr/sbin/groupadd, systemd, iptables, tar, xz, system-release, system-release(releasever) = 9

%description
The test machine's shell, systemd and tools come from dpkg; this tells rpm they are there, and dnf
which release the host is (9, as on EL9).

%files
EOF
  rpmbuild -bb --quiet --define "_topdir $w/top" --define "_rpmdir $w/out" --define "_build_name_fmt %%{NAME}.rpm" \
    "$w/machine-release.spec" >"$w/build.log" 2>&1 || { tail -n 20 "$w/build.log" >&2; die "rpmbuild machine-release failed"; }
  cp "$w/out/machine-release.rpm" "$out.part.$$" && mv -f "$out.part.$$" "$out"; rm -rf "$w"
  echo "$out"
}

# publish_rpm DIR SPEC...: a dnf repository over the base set and the given specs.
publish_rpm() {
  local repo=$1; shift
  mkdir -p "$repo"; rm -rf "$repo"/*.rpm "$repo"/*.deb "$repo"/Packages "$repo"/repodata   # emptied, not replaced: machines bind it
  cp "$(build_rpm_host)" "$repo/"
  local spec pkg up flt
  for spec in "${BASE_SET[@]}" "$@"; do
    pkg=${spec%%=*}; up=${spec#*=}; flt=""
    [[ $up == *:* ]] && { flt=${up#*:}; up=${up%%:*}; }
    [ "$pkg" != "$spec" ] || die "not PACKAGE=UPSTREAM[:FAULT]: $spec"
    cp "$(build_rpm "$pkg" "$up" "$flt")" "$repo/"
  done
  createrepo_c -q "$repo" >/dev/null
}

# ---------------------------------------------------------------------------------------------------
# The base root.

in_root() { # root cmd...: a command inside a root that is not booted (package installs)
  local r=$1; shift
  mount -t proc proc "$r/proc"
  local rc=0
  chroot "$r" env -i PATH=$MACHINE_PATH DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@" || rc=$?
  umount "$r/proc"
  return $rc
}

cmd_base() {
  need_root
  [ -f "$BASE/.complete" ] && { log "base ready: $BASE"; return 0; }
  if [ -d "$DIR" ] && [ ! -f "$MARK" ]; then die "$DIR exists and was not created by this script; refusing"; fi
  command -v debootstrap >/dev/null && command -v systemd-nspawn >/dev/null || die "run '$0 install' first"
  mkdir -p "$DIR" "$MACHINES"; touch "$MARK"
  rm -rf "$BASE" "$BASE.tmp"
  local t=$BASE.tmp started; started=$(date +%s)
  log "debootstrap $SUITE into $t"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,iptables,libdevmapper1.02.1,libseccomp2,procps,init-system-helpers,perl-base \
    "$SUITE" "$t" "$(mirror)" >"$DIR/debootstrap.log" 2>&1 || { tail -n 20 "$DIR/debootstrap.log" >&2; die "debootstrap failed; see $DIR/debootstrap.log"; }
  # No network sources inside: apt sees only the local repository, as `machine.sh repo` lays it out.
  rm -f "$t/etc/apt/sources.list" "$t/etc/apt/sources.list.d/"*
  echo "deb [trusted=yes] file:/srv/docker-repo ./" >"$t/etc/apt/sources.list.d/docker.list"
  mkdir -p "$t/srv/docker-repo" "$t/etc/docker" "$t/opt/docker-live-upgrade"
  publish "$t/srv/docker-repo"
  printf '{\n  "live-restore": true,\n  "bridge": "none",\n  "iptables": false,\n  "ip6tables": false,\n  "ip-masq": false\n}\n' >"$t/etc/docker/daemon.json"
  # cgroup v1: nspawn mounts the controllers read-only; runc needs them writable.
  cat >"$t/etc/systemd/system/cgroup-writable.service" <<'EOF'
[Unit]
Description=Remount read-only cgroup v1 controllers writable (test machine)
DefaultDependencies=no
Before=containerd.service docker.service
After=local-fs.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/cgroup-writable

[Install]
WantedBy=multi-user.target
EOF
  cat >"$t/usr/local/sbin/cgroup-writable" <<'EOF'
#!/bin/sh
# For each read-only cgroup v1 controller mount: mount it afresh, writable.
awk '$3 == "cgroup" && $4 ~ /(^|,)ro(,|$)/ {print $2}' /proc/self/mounts | while read -r m; do
  opts=$(awk -v m="$m" '$2 == m {print $4}' /proc/self/mounts | tr ',' '\n' | grep -vxE 'ro|rw|nosuid|nodev|noexec|relatime' | paste -sd, -)
  umount "$m" && mount -t cgroup -o "$opts" cgroup "$m"
done
exit 0
EOF
  chmod 755 "$t/usr/local/sbin/cgroup-writable"
  ln -s /etc/systemd/system/cgroup-writable.service "$t/etc/systemd/system/multi-user.target.wants/cgroup-writable.service"
  # Quiet, quick boots: no getty, no time sync, no journal flush to disk.
  systemctl --root="$t" mask console-getty.service getty@.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer >/dev/null 2>&1 || true
  echo "machine" >"$t/etc/hostname"
  # Package scripts may not start services while the base is built.
  printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d"; chmod 755 "$t/usr/sbin/policy-rc.d"
  in_root "$t" apt-get update -q -o APT::Get::List-Cleanup=0 >&2
  in_root "$t" apt-get install -y -q --no-install-recommends $(printf '%s\n' "${BASE_SET[@]}" | while IFS== read -r p u; do echo "$p=$(full_version "$p" "$u")"; done) >&2
  rm -f "$t/usr/sbin/policy-rc.d"
  # Busybox for the test image (imported at boot).
  cp /bin/busybox "$t/usr/local/lib-busybox" 2>/dev/null || cp "$(command -v busybox)" "$t/usr/local/lib-busybox"
  # The project installed as a user would with `npm install -g .` from a checkout (a link to it),
  # Node.js from the host, bound in at boot.
  ln -sf /opt/docker-live-upgrade/dist/src/cli/main.js "$t/usr/local/bin/docker-live-upgrade"
  touch "$t/usr/local/bin/node"
  apt-get clean -o Dir="$t" 2>/dev/null || true
  rm -rf "$t/var/cache/apt/archives/"*.deb "$t/var/lib/apt/lists/"*_Packages 2>/dev/null || true
  touch "$t/.complete"
  mv "$t" "$BASE"
  log "base ready in $(( $(date +%s) - started ))s: $BASE ($(du -sh "$BASE" | cut -f1))"
}

# The rpm base: the base with dnf, rpm and dnf-plugins-core from Debian's archive, Docker's .deb set
# purged, and the same set installed by dnf from a local repository shaped like download.docker.com's.
cmd_base_rpm() {
  need_root
  [ -f "$BASE_RPM/.complete" ] && { log "rpm base ready: $BASE_RPM"; return 0; }
  [ -f "$BASE/.complete" ] || cmd_base
  command -v rpmbuild >/dev/null && command -v createrepo_c >/dev/null || die "run '$0 install' first (rpm, createrepo-c)"
  local t=$BASE_RPM.tmp started; started=$(date +%s)
  rm -rf "$BASE_RPM" "$t"
  cp -a "$BASE" "$t"; rm -f "$t/.complete"
  echo "deb $(mirror) $SUITE main" >"$t/etc/apt/sources.list.d/debian-once.list"
  printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d"; chmod 755 "$t/usr/sbin/policy-rc.d"
  in_root "$t" apt-get update -q >&2
  in_root "$t" apt-get install -y -q --no-install-recommends dnf dnf-plugins-core rpm >&2
  in_root "$t" dpkg --purge docker-ce docker-ce-cli containerd.io docker-buildx-plugin docker-compose-plugin >&2
  rm -f "$t/etc/apt/sources.list.d/debian-once.list" "$t/usr/sbin/policy-rc.d"
  rm -rf "$t/var/lib/apt/lists/"*_Packages "$t/var/cache/apt/archives/"*.deb
  # Debian ships dnf's "local" plugin enabled (an EL host does not have it): it would add a repository
  sed -i 's/^enabled *=.*/enabled=0/' "$t/etc/dnf/plugins/local.conf"
  mkdir -p "$t/etc/yum.repos.d"
  cat >"$t/etc/yum.repos.d/docker-ce.repo" <<'EOF'
[docker-ce-stable]
name=Docker CE Stable - local test repository
baseurl=file:///srv/docker-repo
enabled=1
gpgcheck=0
EOF
  publish_rpm "$t/srv/docker-repo"
  # the first install names the release: machine-release, installed with it, names it afterwards
  in_root "$t" dnf -y -q --releasever=9 install machine-release \
    $(printf '%s\n' "${BASE_SET[@]}" | while IFS== read -r p u; do echo "$p-$(rpm_version "$p" "$u")"; done) >&2
  rm -rf "$t/var/cache/dnf/"*
  touch "$t/.complete"
  mv "$t" "$BASE_RPM"
  log "rpm base ready in $(( $(date +%s) - started ))s: $BASE_RPM ($(du -sh "$BASE_RPM" | cut -f1))"
}

# ---------------------------------------------------------------------------------------------------
# Machines.

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
  nsenter -t "$pid" -a env -i PATH=$MACHINE_PATH LC_ALL=C HOME=/root TERM=dumb "$@"
}

cmd_up() { # name [deb|rpm]
  need_root; ours; valid_name "$1"
  local name=$1 flavor=${2:-deb} d lower; d=$(mdir "$1")
  case "$flavor" in
    deb) lower=$BASE; [ -f "$BASE/.complete" ] || cmd_base ;;
    rpm) lower=$BASE_RPM; [ -f "$BASE_RPM/.complete" ] || cmd_base_rpm ;;
    *) die "not a flavor: $flavor (deb, rpm)" ;;
  esac
  if [ -n "$(leader "$name")" ]; then log "$name is running"; return 0; fi
  if [ -f "$d/flavor" ] && [ "$(cat "$d/flavor")" != "$flavor" ]; then die "$name is a $(cat "$d/flavor") machine; 'down' it first"; fi
  mkdir -p "$d/upper" "$d/work" "$d/root" "$d/docker" "$d/containerd"
  echo "$flavor" >"$d/flavor"
  mountpoint -q "$d/root" || mount -t overlay overlay -o "lowerdir=$lower,upperdir=$d/upper,workdir=$d/work" "$d/root"
  [ -d "$d/repo" ] || cp -a "$lower/srv/docker-repo" "$d/repo"
  echo "$name" >"$d/root/etc/hostname"
  SYSTEMD_NSPAWN_API_VFS_WRITABLE=1 setsid systemd-nspawn -D "$d/root" --boot --register=no --keep-unit \
    --console=pipe -M "$name" --capability=all --system-call-filter=@keyring \
    --bind-ro="$(readlink -f "$(command -v node)")":/usr/local/bin/node \
    --bind-ro="$ROOT_PROJECT":/opt/docker-live-upgrade \
    --bind="$d/repo":/srv/docker-repo \
    --bind="$d/docker":/var/lib/docker --bind="$d/containerd":/var/lib/containerd \
    >"$d/console.log" 2>&1 </dev/null &
  echo $! >"$d/nspawn.pid"
  local i state=""
  for i in $(seq 1 600); do
    if [ -n "$(leader "$name")" ]; then
      state=$(in_machine "$name" systemctl is-system-running 2>/dev/null || true)
      case "$state" in running | degraded) break ;; esac
    fi
    kill -0 "$(cat "$d/nspawn.pid")" 2>/dev/null || { tail -n 30 "$d/console.log" >&2; die "machine $name exited while booting; see $d/console.log"; }
    sleep 0.1
  done
  case "$state" in running | degraded) ;; *) tail -n 30 "$d/console.log" >&2; die "machine $name did not finish booting (state '$state')" ;; esac
  [ "$state" = running ] || log "$name is $state: $(in_machine "$name" systemctl --failed --no-legend --plain 2>/dev/null | tr '\n' ' ')"
  for i in $(seq 1 300); do in_machine "$name" docker version >/dev/null 2>&1 && break; sleep 0.1; done
  in_machine "$name" docker version >/dev/null 2>&1 || die "dockerd in $name does not answer; see 'machine.sh exec $name journalctl -u docker'"
  # cgroup-writable.service can leave a controller read-only when its umount races (seen once with
  # three machines booting together): runc then cannot create the container's cgroup. Check, redo.
  local ro=""
  for i in 1 2 3 4 5; do
    ro=$(in_machine "$name" awk '$3 == "cgroup" && $4 ~ /(^|,)ro(,|$)/ {print $2}' /proc/self/mounts | tr '\n' ' ')
    [ -z "${ro// /}" ] && break
    log "$name: cgroup controllers still read-only ($ro): remounting them"
    in_machine "$name" /usr/local/sbin/cgroup-writable >&2 || true
    sleep 0.2
  done
  [ -z "${ro// /}" ] || die "cgroup controllers in $name stay read-only ($ro); containers cannot start there"
  if ! in_machine "$name" docker image inspect local/busybox:1 >/dev/null 2>&1; then
    in_machine "$name" sh -c 'r=$(mktemp -d) && mkdir -p $r/bin $r/www $r/tmp && cp /usr/local/lib-busybox $r/bin/busybox &&
      for c in sh httpd sleep echo cat date true nc wc seq; do ln -s busybox $r/bin/$c; done &&
      echo "hello from $(hostname)" >$r/www/index.html && tar -C $r -c . | docker import - local/busybox:1 >/dev/null && rm -rf $r'
  fi
  log "$name up ($(in_machine "$name" docker version -f '{{.Server.Version}}'), pid $(leader "$name"))"
}

cmd_down_one() {
  local name=$1 d; d=$(mdir "$1")
  [ -d "$d" ] || return 0
  local np; np=$(cat "$d/nspawn.pid" 2>/dev/null || true)
  if [ -n "$(leader "$name")" ]; then
    # A frozen process keeps PID 1 from finishing its shutdown: thaw first.
    in_machine "$name" sh -c 'ids=$(docker ps -q --filter status=paused 2>/dev/null); [ -z "$ids" ] || docker unpause $ids' >/dev/null 2>&1 || true
    kill -TERM "$np" 2>/dev/null || true
    local i; for i in $(seq 1 100); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
    kill -TERM "$np" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$np" 2>/dev/null || break; sleep 0.1; done
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

case "${1:-}" in
  install) cmd_install ;;
  base) cmd_base ;;
  base-rpm) cmd_base_rpm ;;
  up) [ $# = 2 ] || { [ $# = 3 ] && [ "$3" = --rpm ]; } || die "usage: $0 up NAME [--rpm]"; cmd_up "$2" "${3:+rpm}" ;;
  exec) [ $# -ge 3 ] || die "usage: $0 exec NAME CMD..."; valid_name "$2"; n=$2; shift 2; in_machine "$n" "$@" ;;
  repo) [ $# -ge 2 ] || die "usage: $0 repo NAME SPEC..."; need_root; ours; valid_name "$2"; n=$2; shift 2
    if [ "$(cat "$(mdir "$n")/flavor" 2>/dev/null)" = rpm ]; then
      publish_rpm "$(mdir "$n")/repo" "$@"
      in_machine "$n" dnf -q makecache --refresh >/dev/null
    else
      publish "$(mdir "$n")/repo" "$@"
      in_machine "$n" apt-get update -q -o APT::Get::List-Cleanup=0 >/dev/null
    fi ;;
  version) [ $# = 3 ] || { [ $# = 4 ] && [ "$4" = --rpm ]; } || die "usage: $0 version PACKAGE UPSTREAM [--rpm]"
    if [ $# = 4 ]; then rpm_version "$2" "$3"; else full_version "$2" "$3"; fi ;;
  pid) valid_name "$2"; leader "$2" ;;
  down) [ $# = 2 ] || die "usage: $0 down NAME|--all"; cmd_down "$2" ;;
  purge) need_root; [ -d "$DIR" ] || exit 0; ours; cmd_down --all; rm -rf "$DIR" ;;
  *) sed -n '2,25p' "$SELF" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
