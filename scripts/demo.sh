#!/usr/bin/env bash
# The demo: a real live upgrade on a sandbox engine, as root on a Debian machine.
# Sets up its own containerd + dockerd (scripts/sandbox.sh), starts a few containers (one serving HTTP
# on 127.0.0.1), publishes the next patch release of the installed docker.io in a local apt repository,
# and runs `docker-live-upgrade upgrade` with an HTTP probe. Remove everything with:
#   bash scripts/sandbox.sh down
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: run as root (it starts dockerd and installs packages): sudo bash scripts/demo.sh" >&2; exit 1; }

bash scripts/sandbox.sh install
bash scripts/sandbox.sh up
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run --silent build

D=(/usr/bin/docker -H unix:///run/docker-live-upgrade-sandbox/docker.sock)
# the sandbox engine is the demo's own: start from no containers
ids=$("${D[@]}" ps -aq)
# shellcheck disable=SC2086 # one id per word
[ -z "$ids" ] || "${D[@]}" rm -f $ids >/dev/null
run() { "${D[@]}" run -d --label docker-live-upgrade-demo "$@" >/dev/null; }
run --name demo-web --network host --restart unless-stopped local/busybox:1 httpd -f -p 127.0.0.1:18080 -h /www
# shellcheck disable=SC2016 # the loop runs in the container's shell
run --name demo-logger --network none local/busybox:1 sh -c 'i=0; while true; do i=$((i+1)); echo "line $i"; sleep 0.01; done'
run --name demo-paused --network none local/busybox:1 sleep 1000000
"${D[@]}" pause demo-paused >/dev/null
echo "demo: containers:"; "${D[@]}" ps --format '  {{.Names}}\t{{.Status}}'

# The next patch release of what is installed now (20.10.24+dfsg1-... -> 20.10.25+dfsg1-1), and a
# MAJOR.MINOR jump (20.11.0) that must NOT be chosen.
cur=$(dpkg-query -W -f='${Version}' docker.io)
up=${cur%-*}; up=${up#*:}
core=${up%%[+~]*}; suffix=${up#"$core"}
IFS=. read -r major minor patch <<<"$core"
next="$major.$minor.$((patch + 1))$suffix-1"
jump="$major.$((minor + 1)).0$suffix-1"
echo "demo: installed docker.io $cur; publishing $next (patch) and $jump (minor jump) in a local apt repository"
# The installed release stays fetchable from the demo's repository (an earlier demo may have left its
# repack installed, which only that repository had), or no rollback would be possible.
bash scripts/sandbox.sh repo "$cur" "$next" "$jump"

cfg=$(mktemp --suffix=.yaml)
bash scripts/sandbox.sh config "$cfg"
cat >>"$cfg" <<YAML
probes:
  - name: demo-web
    http: http://127.0.0.1:18080/
    interval: 100ms
YAML
echo "demo: config $cfg"
echo "demo: \$ docker-live-upgrade plan"
node dist/src/cli/main.js plan --config "$cfg" | sed 's/^/  /'
echo "demo: \$ docker-live-upgrade upgrade"
set +e
node dist/src/cli/main.js upgrade --config "$cfg"
code=$?
set -e
echo "demo: exit code $code. Containers now:"; "${D[@]}" ps -a --format '  {{.Names}}\t{{.Status}}'
echo "demo: remove everything the demo made with: bash scripts/sandbox.sh down"
exit $code
