# shellcheck shell=bash
# The machines' base roots, built once and cached: Debian 12 by debootstrap with Docker's .deb set
# (base), and the same with dnf and rpm holding Docker's rpm set instead (base-rpm). Debian 13's
# (base-trixie) is in trixie.sh.

cmd_install() {
  need_root
  # (and the linter of these very scripts: npm run lint runs it)
  install_missing systemd-container debootstrap dpkg-dev docker.io busybox-static etcd-server etcd-client rpm createrepo-c shellcheck
}

in_root() { # root cmd...: a command inside a root that is not booted (package installs)
  local r=$1; shift
  mount -t proc proc "$r/proc"
  local rc=0
  chroot "$r" env -i PATH="$MACHINE_PATH" DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@" || rc=$?
  umount "$r/proc"
  return $rc
}

# What every machine root has besides its packages: dockerd's loopback-only daemon.json, the cgroup v1
# controllers made writable, quiet boots (the units named after ROOT masked too), busybox for the test
# image (imported at boot), the project linked in as `npm install -g .` would, a mount point for Node.js.
machine_root() { # root [unit to mask...]
  local t=$1; shift
  mkdir -p "$t/etc/docker" "$t/opt/docker-live-upgrade"
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
  mkdir -p "$t/etc/systemd/system/multi-user.target.wants"
  ln -sf /etc/systemd/system/cgroup-writable.service "$t/etc/systemd/system/multi-user.target.wants/cgroup-writable.service"
  # Quiet, quick boots: no getty, no time sync, no journal flush to disk.
  systemctl --root="$t" mask console-getty.service getty@.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer "$@" >/dev/null 2>&1 || true
  echo "machine" >"$t/etc/hostname"
  # Busybox for the test image (imported at boot).
  cp /bin/busybox "$t/usr/local/lib-busybox" 2>/dev/null || cp "$(command -v busybox)" "$t/usr/local/lib-busybox"
  # The project installed as a user would with `npm install -g .` from a checkout (a link to it),
  # Node.js from the host, bound in at boot.
  ln -sf /opt/docker-live-upgrade/dist/src/cli/main.js "$t/usr/local/bin/docker-live-upgrade"
  touch "$t/usr/local/bin/node"
}

# Before a base is built: the folder is new or ours, the tools are there.
own_dir() {
  if [ -d "$DIR" ] && [ ! -f "$MARK" ]; then die "$DIR exists and was not created by this script; refusing"; fi
  if ! command -v debootstrap >/dev/null || ! command -v systemd-nspawn >/dev/null; then die "run '$0 install' first"; fi
  mkdir -p "$DIR" "$MACHINES"; touch "$MARK"
}

cmd_base() {
  need_root
  [ -f "$BASE/.complete" ] && { log "base ready: $BASE"; return 0; }
  own_dir
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
  machine_root "$t"
  # Package scripts may not start services while the base is built.
  printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d"; chmod 755 "$t/usr/sbin/policy-rc.d"
  in_root "$t" apt-get update -q -o APT::Get::List-Cleanup=0 >&2
  local set=() spec
  for spec in "${BASE_SET[@]}"; do set+=("${spec%%=*}=$(full_version "${spec%%=*}" "${spec#*=}")"); done
  in_root "$t" apt-get install -y -q --no-install-recommends "${set[@]}" >&2
  rm -f "$t/usr/sbin/policy-rc.d"
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
  if ! command -v rpmbuild >/dev/null || ! command -v createrepo_c >/dev/null; then die "run '$0 install' first (rpm, createrepo-c)"; fi
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
  local set=() spec
  for spec in "${BASE_SET[@]}"; do set+=("${spec%%=*}-$(rpm_version "${spec%%=*}" "${spec#*=}")"); done
  in_root "$t" dnf -y -q --releasever=9 install machine-release "${set[@]}" >&2
  rm -rf "$t/var/cache/dnf/"*
  touch "$t/.complete"
  mv "$t" "$BASE_RPM"
  log "rpm base ready in $(( $(date +%s) - started ))s: $BASE_RPM ($(du -sh "$BASE_RPM" | cut -f1))"
}
