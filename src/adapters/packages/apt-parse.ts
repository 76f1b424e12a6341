import type { InstalledPackage, SimulatedChange } from "../../ports/packages.js";

/** `dpkg-query -W -f='${Package}\t${Version}\t${db:Status-Abbrev}\n'` */
export function parseDpkgQuery(stdout: string): InstalledPackage[] {
  const out: InstalledPackage[] = [];
  for (const line of stdout.split("\n")) {
    const [name, version, status] = line.split("\t");
    if (!name || !version || !status) continue;
    // "ii " installed; "iU"/"iF"/"iH"/"iW"/"iT": wanted installed but unpacked/half-configured/triggers pending.
    if (!/^[ihr][iUFHWT]/.test(status) || status[1] === "n") continue;
    // first letter: what is wanted (i install, h hold, ...); second: the state (i installed); third: errors
    out.push({ name, version, status: status.trim(), ok: status[1] === "i" && !status[2]?.trim() });
  }
  return out;
}

/** `apt-cache madison NAME`: " docker.io | 20.10.24+dfsg1-1+deb12u1+b6 | http://... bookworm/main amd64 Packages" */
export function parseMadison(stdout: string, name: string): string[] {
  const versions: string[] = [];
  for (const line of stdout.split("\n")) {
    const cols = line.split("|").map((c) => c.trim());
    if (cols.length >= 3 && cols[0] === name && cols[2]!.endsWith("Packages") && !versions.includes(cols[1]!)) {
      versions.push(cols[1]!);
    }
  }
  return versions;
}

/**
 * `apt-get -s install ...`:
 *   Inst docker.io [20.10.24+dfsg1-1+deb12u1+b6] (20.10.25+dfsg1-1 local [amd64])
 *   Inst tini (0.19.0-1 Debian:12.8/stable [amd64])
 *   Inst containerd [1.6.20~ds1-1+deb12u3] (1.6.20~ds1-1+deb12u2 Debian-Security:12/stable-security [amd64]) [runc:amd64 ]
 *   Remv docker-ce [5:24.0.7-1~debian.12~bookworm]
 */
export function parseSimulation(stdout: string): SimulatedChange[] {
  const changes: SimulatedChange[] = [];
  for (const line of stdout.split("\n")) {
    let m = /^Inst (\S+) (?:\[([^\]]+)\] )?\((\S+) /.exec(line);
    if (m) {
      const [, name, from, to] = m;
      changes.push({ name: name!, from: from ?? null, to: to!, action: from ? "upgrade" : "install" });
      continue;
    }
    m = /^Remv (\S+)(?: \[([^\]]+)\])?/.exec(line);
    if (m) changes.push({ name: m[1]!, from: m[2] ?? null, to: null, action: "remove" });
  }
  return changes;
}

/** The start of the file name `apt-get download` gives a version of a package (the epoch's colon written %3a): NAME_VERSION_ */
export function debFilePrefix(name: string, version: string): string {
  return `${name}_${version.replace(/:/g, "%3a")}_`;
}
