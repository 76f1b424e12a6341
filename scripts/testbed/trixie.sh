# shellcheck shell=bash
# Debian 13 machines: a trixie root with Debian's own docker.io, docker-cli, containerd, runc and tini
# installed (base-trixie), and Debian unstable's newer engine fetched beside it as Debian built it, for
# MAJOR.MINOR jumps made of real packages. Patch releases and faults are repacks of Debian's .debs.
# The pool ($POOL_TRIXIE): trixie/ the installed set's .debs (a machine's repository always serves
# them: a rollback installs them again), sid/ unstable's set, repack/ repacks, built when first asked.

# The .deb of PACKAGE VERSION as Debian's archive served it (the installed set's or unstable's), or nothing.
trixie_real_deb() { # package version
  find "$POOL_TRIXIE/trixie" "$POOL_TRIXIE/sid" -maxdepth 1 -name "${1}_${2//:/%3a}_*.deb" 2>/dev/null | head -n1
}

# trixie_repack PACKAGE VERSION [FAULT]: a release that Debian's archive never served, from the
# installed one's .deb with its binaries patched to report it (26.1.5+dfsg1 -> 26.1.6+dfsg1), or a
# real release with a fault (deb.sh's). Kept in the pool; faults get their own file.
trixie_repack() {
  local pkg=$1 ver=$2 flt=${3:-} src out w installed="" old="" new="" v f
  out="$POOL_TRIXIE/repack/${pkg}_${ver//:/%3a}${flt:+.$flt}_amd64.deb"
  [ -f "$out" ] && { echo "$out"; return 0; }
  src=$(trixie_real_deb "$pkg" "$ver")
  if [ -z "$src" ]; then
    for v in "${TRIXIE_SET[@]}"; do [ "${v%%=*}" = "$pkg" ] && installed=${v#*=}; done
    [ -n "$installed" ] || die "no $pkg in the trixie set to repack as $ver"
    src=$(trixie_real_deb "$pkg" "$installed")
    [ -n "$src" ] || die "no .deb of $pkg $installed in $POOL_TRIXIE/trixie (run '$0 base-trixie')"
    old=${installed#*:}; old=${old%-*}; new=${ver#*:}; new=${new%-*}   # 26.1.5+dfsg1, 26.1.6+dfsg1
  fi
  mkdir -p "$POOL_TRIXIE/repack"
  w=$(mktemp -d)
  dpkg-deb -R "$src" "$w/p"
  sed -i "s/^Version: .*/Version: $ver/" "$w/p/DEBIAN/control"
  if [ -n "$old" ]; then
    find "$w/p/usr/bin" "$w/p/usr/sbin" -type f 2>/dev/null | while read -r f; do
      if grep -qaF "$old" "$f"; then patch_version "$f" "$old" "$new"; fi
    done
  fi
  fault "$w/p" "$flt"
  (cd "$w/p" && find . -type f ! -path './DEBIAN/*' ! -path './etc/*' -printf '%P\0' | sort -z | xargs -0 -r md5sum >DEBIAN/md5sums)
  dpkg-deb -Zgzip -z1 -b "$w/p" "$out.part.$$" >/dev/null   # whole or not at all (see deb.sh's build)
  mv -f "$out.part.$$" "$out"
  rm -rf "$w"
  echo "$out"
}

# publish_trixie DIR SPEC...: a flat apt repository serving the installed set and, per SPEC
# (PACKAGE=UPSTREAM[:FAULT]), Debian's own build when it is the installed or unstable's release
# (docker.io=28.5.2 brings unstable's whole set: the .debs that installing it takes), else a repack
# of the installed package; a FAULT replaces that package's .deb with a broken one of the same version.
publish_trixie() {
  local repo=$1; shift
  [ -n "$(find "$POOL_TRIXIE/trixie" -maxdepth 1 -name '*.deb' 2>/dev/null)" ] || die "no trixie pool in $POOL_TRIXIE: run '$0 base-trixie'"
  mkdir -p "$repo"; rm -f "$repo"/*.deb "$repo"/Packages "$repo"/Release   # emptied, not replaced: machines bind it
  cp "$POOL_TRIXIE/trixie/"*.deb "$repo/"
  local pass spec pkg up flt ver f
  for pass in releases faults; do   # faults last: each replaces its release's .deb
    for spec in "$@"; do
      pkg=${spec%%=*}; up=${spec#*=}; flt=""
      [[ $up == *:* ]] && { flt=${up#*:}; up=${up%%:*}; }
      [ "$pkg" != "$spec" ] || die "not PACKAGE=UPSTREAM[:FAULT]: $spec"
      if [ "$pkg" = criu ]; then
        [ "$pass" = releases ] || continue
        [ -d "$POOL_TRIXIE/criu-$up" ] || die "no criu $up for Debian 13 machines (there are: $(find "$POOL_TRIXIE" -maxdepth 1 -name "criu-*" -printf "%f "))"
        cp "$POOL_TRIXIE/criu-$up/"*.deb "$repo/"
        continue
      fi
      ver=$(debian13_version "$pkg" "$up")
      if [ "$pass" = releases ]; then
        f=$(trixie_real_deb "$pkg" "$ver")
        if [ -z "$f" ]; then f=$(trixie_repack "$pkg" "$ver"); fi
        if [ "$pkg" = docker.io ] && [[ $f == "$POOL_TRIXIE/sid/"* ]]; then cp "$POOL_TRIXIE/sid/"*.deb "$repo/"; fi
        cp "$f" "$repo/"
      elif [ -n "$flt" ]; then
        rm -f "$repo/${pkg}_${ver//:/%3a}_"*.deb
        cp "$(trixie_repack "$pkg" "$ver" "$flt")" "$repo/"
      fi
    done
  done
  flat_repo "$repo"
}

# The Debian 13 base: debootstrap trixie, the installed set from Debian 13, unstable's set fetched into
# the pool as apt would install it over that one (a sources line for unstable pinned at 1 while the
# base is built, removed after: no network source is left in the root).
cmd_base_trixie() {
  need_root
  [ -f "$BASE_TRIXIE/.complete" ] && { log "trixie base ready: $BASE_TRIXIE"; return 0; }
  own_dir
  local t=$BASE_TRIXIE.tmp started m; started=$(date +%s); m=$(mirror)
  rm -rf "$BASE_TRIXIE" "$t"
  log "debootstrap $TRIXIE_SUITE into $t"
  debootstrap --variant=minbase \
    --include=systemd,systemd-sysv,dbus,iptables,libseccomp2,procps,init-system-helpers,perl-base \
    "$TRIXIE_SUITE" "$t" "$m" >"$DIR/debootstrap-trixie.log" 2>&1 || { tail -n 20 "$DIR/debootstrap-trixie.log" >&2; die "debootstrap failed; see $DIR/debootstrap-trixie.log"; }
  rm -f "$t/etc/apt/sources.list" "$t/etc/apt/sources.list.d/"*
  # (unstable's Release carries a Valid-Until a week ahead: the archive's copy may be older than that)
  printf 'deb %s %s main\ndeb [check-valid-until=no] %s sid main\n' "$m" "$TRIXIE_SUITE" "$m" >"$t/etc/apt/sources.list.d/debian-once.list"
  printf 'Package: *\nPin: release n=sid\nPin-Priority: 1\n' >"$t/etc/apt/preferences.d/sid-once"
  # Package scripts may not start services while the base is built.
  printf '#!/bin/sh\nexit 101\n' >"$t/usr/sbin/policy-rc.d"; chmod 755 "$t/usr/sbin/policy-rc.d"
  in_root "$t" apt-get update -q -o Acquire::Languages=none >&2 || die "apt-get update of trixie and unstable failed in $t"
  in_root "$t" apt-get install -y -q --no-install-recommends "${TRIXIE_SET[@]}" >&2 \
    || die "Debian 13 does not serve TRIXIE_SET (scripts/testbed/versions.sh) any more: $(apt_policy "$t" "${TRIXIE_SET[@]}")"
  # What installing unstable's set over it takes: Inst PKG [OLD] (NEW ...), Remv PKG [OLD].
  local sim; sim=$(in_root "$t" apt-get install -s -q --no-install-recommends "${SID_SET[@]}" 2>&1) \
    || { echo "$sim" | tail -n 5 >&2; die "Debian unstable does not serve SID_SET (scripts/testbed/versions.sh) any more: $(apt_policy "$t" "${SID_SET[@]}")"; }
  in_root "$t" apt-get install -d -y -q --no-install-recommends "${SID_SET[@]}" >&2
  rm -rf "$POOL_TRIXIE/trixie" "$POOL_TRIXIE/sid" "$POOL_TRIXIE/repack" "$POOL_TRIXIE"/criu-*
  mkdir -p "$POOL_TRIXIE/trixie" "$POOL_TRIXIE/sid"
  local keep=("${TRIXIE_SET[@]}") act pkg w3 w4 old new extra=()
  while read -r act pkg w3 w4 _; do
    old=""; new=""
    case "$act $w3" in
      "Inst ["*) old=${w3#[}; old=${old%]}; new=${w4#(} ;;
      "Inst "*) new=${w3#(} ;;
      "Remv ["*) old=${w3#[}; old=${old%]} ;;
      *) continue ;;
    esac
    [ -z "$old" ] || keep+=("$pkg=$old")
    if [ -n "$new" ]; then
      cp "$t/var/cache/apt/archives/${pkg}_${new//:/%3a}_"*.deb "$POOL_TRIXIE/sid/"
      [[ " ${SID_SET[*]} " == *" $pkg=$new "* ]] || extra+=("$pkg=$new")
    fi
  done <<<"$sim"
  [ ${#extra[@]} = 0 ] || log "installing unstable's set on Debian 13 takes also: ${extra[*]}"
  local spec f
  for spec in "${keep[@]}"; do
    pkg=${spec%%=*}; old=${spec#*=}
    f=$(find "$t/var/cache/apt/archives" -maxdepth 1 -name "${pkg}_${old//:/%3a}_*.deb" | head -n1)
    if [ -z "$f" ]; then
      in_root "$t" sh -c "cd /var/cache/apt/archives && apt-get download -q '$pkg=$old'" >&2
      f=$(find "$t/var/cache/apt/archives" -maxdepth 1 -name "${pkg}_${old//:/%3a}_*.deb" | head -n1)
    fi
    [ -n "$f" ] || die "no .deb of the installed $pkg $old"
    cp "$f" "$POOL_TRIXIE/trixie/"
  done
  criu_pool "$t" "${CRIU_TRIXIE[@]}"
  criu_pool "$t" "${CRIU_SID[@]}"
  # No network sources inside: apt sees only the local repository, as `machine.sh repo` lays it out.
  rm -f "$t/etc/apt/sources.list.d/debian-once.list" "$t/etc/apt/preferences.d/sid-once" "$t/usr/sbin/policy-rc.d"
  echo "deb [trusted=yes] file:/srv/docker-repo ./" >"$t/etc/apt/sources.list.d/docker.list"
  mkdir -p "$t/srv/docker-repo"
  publish_trixie "$t/srv/docker-repo"
  # systemd-modules-load fails in a machine (no modules to load there) and leaves systemd degraded.
  machine_root "$t" systemd-modules-load.service
  apt-get clean -o Dir="$t" 2>/dev/null || true
  rm -rf "$t/var/cache/apt/archives/"*.deb
  find "$t/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
  touch "$t/.complete"
  mv "$t" "$BASE_TRIXIE"
  log "trixie base ready in $(( $(date +%s) - started ))s: $BASE_TRIXIE ($(du -sh "$BASE_TRIXIE" | cut -f1)); pool: $(du -sh "$POOL_TRIXIE" | cut -f1)"
}

# criu_pool ROOT SPEC...: the .debs installing these into ROOT takes (criu and what it depends on that
# the base lacks), downloaded by the root's apt into $POOL_TRIXIE/criu-UPSTREAM, UPSTREAM criu's own.
criu_pool() {
  local r=$1; shift
  rm -f "$r/var/cache/apt/archives/"*.deb
  in_root "$r" apt-get install -d -y -q --no-install-recommends "$@" >&2 \
    || die "Debian does not serve $* any more: $(apt_policy "$r" "${@%%/*}")"
  local f up; f=$(find "$r/var/cache/apt/archives" -maxdepth 1 -name 'criu_*.deb' | head -n1)
  [ -n "$f" ] || die "no criu .deb among what apt fetched for $*"
  up=$(debian_upstream "$(dpkg-deb -f "$f" Version)")
  mkdir -p "$POOL_TRIXIE/criu-$up"
  cp "$r/var/cache/apt/archives/"*.deb "$POOL_TRIXIE/criu-$up/"
  rm -f "$r/var/cache/apt/archives/"*.deb
  log "criu $up for Debian 13 machines: $(find "$POOL_TRIXIE/criu-$up" -name "*.deb" -printf "%f ")"
}

apt_policy() { # root PACKAGE=VERSION...: what the archive offers of each, on one line
  local r=$1 spec; shift
  for spec in "$@"; do
    printf '%s: %s; ' "${spec%%=*}" "$(in_root "$r" apt-cache madison "${spec%%=*}" 2>/dev/null | awk -F'|' '{gsub(/ /, "", $2); printf "%s ", $2}')"
  done
}
