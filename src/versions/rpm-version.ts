/**
 * RPM versions ([epoch:]version[-release]) ordered as rpm orders them (rpmvercmp, with `~` and `^`).
 */
export interface RpmVersion {
  epoch: number;
  version: string;
  release: string;
}

const RPM_VERSION = /^(?:(\d+):)?([^-:\s]+)(?:-([^-:\s]+))?$/;

export function parseRpmVersion(text: string): RpmVersion {
  const m = RPM_VERSION.exec(text.trim());
  if (!m) throw new Error(`not an RPM package version: ${JSON.stringify(text)}`);
  return { epoch: m[1] ? Number(m[1]) : 0, version: m[2]!, release: m[3] ?? "" };
}

const isAlnum = (c: string): boolean => /^[A-Za-z0-9]$/.test(c);
const isDigit = (c: string): boolean => /^[0-9]$/.test(c);
const isAlpha = (c: string): boolean => /^[A-Za-z]$/.test(c);

export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  const at = (s: string, k: number): string => (k < s.length ? s[k]! : "");
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(at(a, i)) && at(a, i) !== "~" && at(a, i) !== "^") i++;
    while (j < b.length && !isAlnum(at(b, j)) && at(b, j) !== "~" && at(b, j) !== "^") j++;
    if (at(a, i) === "~" || at(b, j) === "~") {
      if (at(a, i) !== "~") return 1;
      if (at(b, j) !== "~") return -1;
      i++;
      j++;
      continue;
    }
    if (at(a, i) === "^" || at(b, j) === "^") {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (at(a, i) !== "^") return 1;
      if (at(b, j) !== "^") return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < a.length && j < b.length)) break;
    const numeric = isDigit(at(a, i));
    const test = numeric ? isDigit : isAlpha;
    let ei = i;
    let ej = j;
    while (test(at(a, ei))) ei++;
    while (test(at(b, ej))) ej++;
    if (ej === j) return numeric ? 1 : -1;
    let sa = a.slice(i, ei);
    let sb = b.slice(j, ej);
    if (numeric) {
      sa = sa.replace(/^0+/, "");
      sb = sb.replace(/^0+/, "");
      if (sa.length !== sb.length) return sa.length > sb.length ? 1 : -1;
    }
    if (sa !== sb) return sa < sb ? -1 : 1;
    i = ei;
    j = ej;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

/** <0, 0, >0 as rpm's EVR comparison. */
export function compareRpmVersions(a: string, b: string): number {
  const va = parseRpmVersion(a);
  const vb = parseRpmVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch > vb.epoch ? 1 : -1;
  return rpmvercmp(va.version, vb.version) || rpmvercmp(va.release, vb.release);
}
