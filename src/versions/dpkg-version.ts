/**
 * Debian package versions ([epoch:]upstream[-revision]) ordered exactly as dpkg orders them
 * (dpkg's lib/dpkg/version.c: verrevcmp), so that "newer" means what apt means by it.
 */
export interface DebVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

const DEB_VERSION = /^(?:(\d+):)?([0-9][A-Za-z0-9.+~-]*?)(?:-([A-Za-z0-9.+~]+))?$/;

export function parseDebVersion(text: string): DebVersion {
  const m = DEB_VERSION.exec(text.trim());
  if (!m) throw new Error(`not a Debian package version: ${JSON.stringify(text)}`);
  return { epoch: m[1] ? Number(m[1]) : 0, upstream: m[2]!, revision: m[3] ?? "" };
}

export function isDebVersion(text: string): boolean {
  return DEB_VERSION.test(text.trim());
}

function order(c: string): number {
  if (c === "") return 0;
  if (c >= "0" && c <= "9") return 0;
  if ((c >= "A" && c <= "Z") || (c >= "a" && c <= "z")) return c.charCodeAt(0);
  if (c === "~") return -1;
  return c.charCodeAt(0) + 256;
}

const isDigit = (c: string): boolean => c !== "" && c >= "0" && c <= "9";

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number): string => (k < s.length ? s[k]! : "");
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(at(a, i))) || (j < b.length && !isDigit(at(b, j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === "0") i++;
    while (at(b, j) === "0") j++;
    while (isDigit(at(a, i)) && isDigit(at(b, j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(at(a, i))) return 1;
    if (isDigit(at(b, j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** <0, 0, >0 as `dpkg --compare-versions a lt|eq|gt b`. */
export function compareDebVersions(a: string, b: string): number {
  const va = parseDebVersion(a);
  const vb = parseDebVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch - vb.epoch;
  return verrevcmp(va.upstream, vb.upstream) || verrevcmp(va.revision, vb.revision);
}
