import { parse } from "node-cron";
/** A maintenance window as the config gives it (durations in ms). */
export interface WindowConfig {
  cron: string;
  duration: number;
  timezone?: string | undefined;
}

/** The schedule as the config gives it: windows, blackout dates, the least time between runs. */
export interface Schedule {
  windows: WindowConfig[];
  blackout: string[];
  minInterval: number;
}

export interface OpenWindow {
  opens: number;
  closes: number;
  cron: string;
}

const MINUTE = 60_000;
const formatters = new Map<string, Intl.DateTimeFormat>();

function fmt(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? "";
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      weekday: "short",
    });
    formatters.set(key, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Sun: 0, Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6 };

/** Wall-clock fields of an instant in a time zone (DST included). */
export function wallClock(t: number, timeZone?: string) {
  const parts = Object.fromEntries(fmt(timeZone).formatToParts(new Date(t)).map((p) => [p.type, p.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: WEEKDAYS[parts.weekday!]!,
    date: `${parts.year}-${String(parts.month).padStart(2, "0")}-${String(parts.day).padStart(2, "0")}`,
  };
}


/** A cron matcher on wall-clock minutes; cron's rule: day-of-month OR day-of-week when both are restricted. */
function matcher(expression: string) {
  const f = parse(expression);
  const nums = (xs: (number | string)[]) => new Set(xs.map(Number).map((n) => (n === 7 ? 0 : n)));
  const minute = new Set(f.minute);
  const hour = new Set(f.hour);
  const dom = nums(f.dayOfMonth);
  const month = new Set(f.month);
  const dow = nums(f.dayOfWeek);
  const [, , domField, , dowField] = expression.trim().split(/\s+/);
  const domAny = domField === "*";
  const dowAny = dowField === "*";
  return (w: ReturnType<typeof wallClock>): boolean => {
    if (!minute.has(w.minute) || !hour.has(w.hour) || !month.has(w.month)) return false;
    const d = dom.has(w.day);
    const wd = dow.has(w.weekday);
    if (domAny && dowAny) return true;
    if (domAny) return wd;
    if (dowAny) return d;
    return d || wd;
  };
}

/** The window of `win` that contains `now`, if any: the latest opening within `duration` before now. */
function containing(win: WindowConfig, now: number): OpenWindow | null {
  const match = matcher(win.cron);
  const start = Math.floor(now / MINUTE) * MINUTE;
  for (let t = start; t > now - win.duration; t -= MINUTE) {
    if (match(wallClock(t, win.timezone))) return { opens: t, closes: t + win.duration, cron: win.cron };
  }
  return null;
}

/** The next opening of `win` strictly after now, searching up to `horizonDays`. */
function nextOpening(win: WindowConfig, now: number, horizonDays = 400): number | null {
  const match = matcher(win.cron);
  const end = now + horizonDays * 24 * 60 * MINUTE;
  for (let t = Math.floor(now / MINUTE) * MINUTE + MINUTE; t < end; t += MINUTE) {
    if (match(wallClock(t, win.timezone))) return t;
  }
  return null;
}

const blackedOut = (schedule: Schedule, win: WindowConfig, t: number): boolean => schedule.blackout.includes(wallClock(t, win.timezone).date);

/** The window open at `now` (not blacked out), the one closing last if several overlap. */
export function currentWindow(schedule: Schedule, now: number): OpenWindow | null {
  let best: OpenWindow | null = null;
  for (const win of schedule.windows) {
    const w = containing(win, now);
    if (w && !blackedOut(schedule, win, w.opens) && (!best || w.closes > best.closes)) best = w;
  }
  return best;
}

/** The next window to open after `now` (not blacked out). */
export function nextWindow(schedule: Schedule, now: number): OpenWindow | null {
  let best: OpenWindow | null = null;
  for (const win of schedule.windows) {
    let t: number | null = now;
    for (let i = 0; i < 366 && t !== null; i++) {
      t = nextOpening(win, t);
      if (t !== null && !blackedOut(schedule, win, t)) break;
    }
    if (t !== null && (!best || t < best.opens)) best = { opens: t, closes: t + win.duration, cron: win.cron };
  }
  return best;
}

export type RunDecision = { run: true; window: OpenWindow } | { run: false; reason: string; retryAt: number | null };

/**
 * Whether a run may start now: a window is open, no run started in it yet, it leaves room for the
 * expected duration, the minimum interval since the last run has passed.
 */
export function decideRun(schedule: Schedule, now: number, lastRunAt: number | null, expectedMs: number): RunDecision {
  const win = currentWindow(schedule, now);
  const next = nextWindow(schedule, now);
  if (!win) return { run: false, reason: "no maintenance window is open", retryAt: next?.opens ?? null };
  if (lastRunAt !== null && lastRunAt >= win.opens) {
    return { run: false, reason: "already ran in this window", retryAt: next?.opens ?? null };
  }
  if (lastRunAt !== null && now - lastRunAt < schedule.minInterval) {
    return { run: false, reason: "the minimum interval since the last run has not passed", retryAt: Math.min(lastRunAt + schedule.minInterval, win.closes) };
  }
  if (win.closes - now < expectedMs) {
    return { run: false, reason: `the window closes in ${Math.round((win.closes - now) / 1000)}s, less than the ${Math.round(expectedMs / 1000)}s a run is expected to take`, retryAt: next?.opens ?? null };
  }
  return { run: true, window: win };
}
