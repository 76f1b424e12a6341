import type { InstalledPackage, SimulatedChange } from "../../ports/packages.js";

/** An rpm EVR as the rest of the program writes it: no `0:`/`(none):` epoch, else `E:V-R`. */
export function evr(epoch: string, version: string, release: string): string {
  const e = epoch === "(none)" || epoch === "0" || epoch === "" ? "" : `${epoch}:`;
  return `${e}${version}${release ? `-${release}` : ""}`;
}

/**
 * `rpm -q --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\n' NAME...` ("package X is not installed"
 * lines are skipped). A name recorded twice is what an interrupted transaction leaves (the old and the
 * new version both in the database): reported once, not ok, with both versions in its status.
 */
export function parseRpmQuery(stdout: string): InstalledPackage[] {
  const seen = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    const cols = line.split("\t");
    if (cols.length !== 4 || !cols[0]) continue;
    const [name, epoch, version, release] = cols as [string, string, string, string];
    seen.set(name, [...(seen.get(name) ?? []), evr(epoch, version, release)]);
  }
  return [...seen].map(([name, versions]) =>
    versions.length === 1
      ? { name, version: versions[0]!, status: "installed", ok: true }
      : { name, version: versions.at(-1)!, status: `duplicate: ${versions.join(", ")} (an interrupted transaction)`, ok: false },
  );
}

/** `rpm -qa --qf '%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n'`: name.arch recorded more than once (gpg-pubkey and kernels may). */
export function duplicates(stdout: string, installOnly: readonly string[] = ["gpg-pubkey", "kernel", "kernel-core", "kernel-modules", "kernel-devel"]): Map<string, string[]> {
  const all = new Map<string, string[]>();
  for (const line of stdout.split("\n")) {
    const cols = line.split("\t");
    if (cols.length !== 5 || !cols[0] || installOnly.includes(cols[0])) continue;
    const [name, epoch, version, release, arch] = cols as [string, string, string, string, string];
    const key = arch === "(none)" ? name : `${name}.${arch}`;
    all.set(key, [...(all.get(key) ?? []), evr(epoch, version, release)]);
  }
  return new Map([...all].filter(([, v]) => v.length > 1));
}

/** `dnf repoquery --showduplicates -q --qf '%{name}\t%{epoch}\t%{version}\t%{release}\n' NAME` */
export function parseRepoquery(stdout: string, name: string): string[] {
  const versions: string[] = [];
  for (const line of stdout.split("\n")) {
    const cols = line.trim().split("\t");
    if (cols.length !== 4 || cols[0] !== name) continue;
    const v = evr(cols[1]!, cols[2]!, cols[3]!);
    if (!versions.includes(v)) versions.push(v);
  }
  return versions;
}

const SECTIONS: Record<string, SimulatedChange["action"]> = {
  "Installing:": "install",
  "Installing dependencies:": "install",
  "Installing weak dependencies:": "install",
  "Upgrading:": "upgrade",
  "Downgrading:": "downgrade",
  "Reinstalling:": "reinstall",
  "Removing:": "remove",
  "Removing dependent packages:": "remove",
  "Removing unused dependencies:": "remove",
};

/**
 * The transaction table of `dnf install --assumeno ...` (dnf 4):
 *   Upgrading:
 *    docker-ce        x86_64     3:20.10.25-1.el9       docker-ce-stable      27 M
 *   Removing dependent packages:
 *    podman-docker    noarch     4:4.9.4-1.el9          @appstream            11 k
 * A long name takes a line of its own, its columns continue on the next. `from` is left null: the
 * adapter fills it from the installed versions. "replacing" lines (obsoletes) are removals.
 */
export function parseDnfTransaction(stdout: string): SimulatedChange[] {
  const changes: SimulatedChange[] = [];
  let action: SimulatedChange["action"] | null = null;
  let pending: string[] = [];
  for (const raw of stdout.split("\n")) {
    const line = raw.trimEnd();
    const header = SECTIONS[line.trim()];
    if (header !== undefined && !raw.startsWith(" ")) {
      action = header;
      pending = [];
      continue;
    }
    if (/^(Transaction Summary|Total|Is this ok|Operation aborted|Dependencies resolved|Nothing to do)/.test(line) || /^=+$/.test(line)) {
      if (!line.startsWith("=")) action = null;
      pending = [];
      continue;
    }
    if (!action || !raw.startsWith(" ")) continue;
    const replacing = /^\s+replacing\s+(\S+)\.[^.\s]+\s+(\S+)/.exec(raw);
    if (replacing) {
      changes.push({ name: replacing[1]!, from: replacing[2]!, to: null, action: "remove" });
      continue;
    }
    pending.push(...line.trim().split(/\s+/));
    // name arch version repo size unit
    if (pending.length >= 6) {
      const [name, , version] = pending as [string, string, string];
      changes.push(action === "remove" ? { name, from: version, to: null, action } : { name, from: null, to: version, action });
      pending = [];
    }
  }
  return changes;
}

/** `dnf versionlock list`: `docker-ce-3:20.10.24-1.el9.*` -> docker-ce. */
export function parseVersionlock(stdout: string): string[] {
  const names: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^!?([^\s]+?)-(?:\d+:)?[^-\s]+-[^-\s]+$/.exec(line.trim());
    if (m && !names.includes(m[1]!)) names.push(m[1]!);
  }
  return names;
}
