#!/usr/bin/env bash
# systemd-analyze verify on the units in systemd/, with ExecStart pointed at the built bin
# (the installed path, /usr/local/bin/docker-live-upgrade, need not exist on a build machine).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/dist/src/cli/main.js
[ -x "$bin" ] || { echo "verify-units: build first (npm run build)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for u in systemd/*.service systemd/*.timer; do
  sed "s|/usr/local/bin/docker-live-upgrade|$bin|" "$u" >"$tmp/$(basename "$u")"
done
systemd-analyze verify "$tmp"/*.service "$tmp"/*.timer
for t in systemd/*.timer; do
  systemd-analyze calendar "$(sed -n 's/^OnCalendar=//p' "$t")" >/dev/null
done
echo "verify-units: $(cd systemd && printf '%s ' *)ok"
