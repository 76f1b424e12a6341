# shellcheck shell=bash
# Docker's .deb set (docker-ce, docker-ce-cli, containerd.io and the two plugins), repacked from
# Debian's binaries with Docker's version forms, units and debhelper's maintainer scripts; the
# binaries patched to report the package's release. Built into the pool once, served per machine.

deb_of() { # package version: that version's .deb from Debian's archive (cached under the pool)
  local f; mkdir -p "$DIR/debian"
  f="$DIR/debian/${1}_${2//:/%3a}_amd64.deb"
  if [ ! -f "$f" ]; then
    local cached; cached=$(find /var/cache/apt/archives -maxdepth 1 -name "${1}_${2//:/%3a}_*.deb" 2>/dev/null | head -n1)
    if [ -n "$cached" ]; then cp "$cached" "$f.part.$$"; else (cd "$DIR/debian" && apt-get download -q "$1=$2" >&2 && mv "${1}_${2//:/%3a}_amd64.deb" "$f.part.$$"); fi
    mv -f "$f.part.$$" "$f"
  fi
  echo "$f"
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
  local dockerd=$1/usr/bin/dockerd
  [ -e "$1/usr/sbin/dockerd" ] && dockerd=$1/usr/sbin/dockerd   # Debian's docker.io has it there
  case "$2" in
    "") ;;
    dockerd-exits) printf '#!/bin/sh\necho "broken build: dockerd exits at once" >&2\nexit 1\n' >"$dockerd" ;;
    preinst-sleeps) printf '#!/bin/sh\nsleep %s\n' "${DLU_PREINST_SLEEP:-30}" >"$1/DEBIAN/preinst"; chmod 755 "$1/DEBIAN/preinst" ;;
    preinst-fails) printf '#!/bin/sh\necho "preinst: failing on purpose" >&2\nexit 1\n' >"$1/DEBIAN/preinst"; chmod 755 "$1/DEBIAN/preinst" ;;
    *) die "unknown fault $2 (dockerd-exits, preinst-sleeps, preinst-fails)" ;;
  esac
}

# payload PACKAGE UPSTREAM DIR: the package's files (Debian's binaries, version strings patched) into DIR.
# UNITDIR: where the units go (lib/systemd/system for .deb, usr/lib/systemd/system for .rpm).
payload() {
  local pkg=$1 up=$2 w=$3 unitdir=${UNITDIR:-lib/systemd/system}
  # Debian's own builds, as its archive serves them: never what the host has installed at the moment
  # (the sandbox's tests upgrade the host's docker.io to repacks that keep the old binaries)
  local docker_up containerd_up runc_up
  docker_up=$(debian_version docker.io); containerd_up=$(debian_version containerd); runc_up=$(debian_version runc)
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
      # shellcheck disable=SC2016 # the plugin stub is a shell script of its own
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
  local specs=() spec
  for spec in "$@"; do
    if [[ $spec == criu=* ]]; then cp "$(criu_bookworm "${spec#criu=}")"/*.deb "$repo/"; else specs+=("$spec"); fi
  done
  build_each build "$repo" ${specs[@]+"${specs[@]}"}
  flat_repo "$repo"
}

# criu_bookworm UPSTREAM: a folder with Debian 12's criu and what installing it on the base takes,
# fetched once by the host's apt (a Debian 12 host) resolving against the base's installed packages.
criu_bookworm() {
  local up=$1 d=$POOL/criu-$1 v
  [ -f "$d/.complete" ] && { echo "$d"; return 0; }
  v=$(debian_version criu)
  [ "$(debian_upstream "$v")" = "$up" ] || die "Debian 12 serves criu $v, not $up"
  rm -rf "$d"; mkdir -p "$d/partial"
  apt-get -q -y -d --no-install-recommends -o Debug::NoLocking=1 -o Dir::State::status="$BASE/var/lib/dpkg/status" \
    -o Dir::Cache::archives="$d" install "criu=$v" >&2 || die "the host's apt could not fetch criu $v (apt-get update?)"
  rm -rf "$d/partial" "$d/lock"; touch "$d/.complete"
  echo "$d"
}
