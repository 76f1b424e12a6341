import { z } from "zod";
import { PACKAGE_NAME } from "../versions/names.js";
import { parseDuration } from "./duration.js";
import { isValidCron } from "../schedule/cron.js";

const duration = (fallback: string) =>
  z
    .union([z.string(), z.number()])
    .default(fallback)
    .transform((v, ctx) => {
      const ms = parseDuration(v);
      if (ms === null) {
        ctx.addIssue({ code: "custom", message: `not a duration: ${JSON.stringify(v)} (use e.g. 500ms, 30s, 2h)` });
        return z.NEVER;
      }
      return ms;
    });

const argv = z.array(z.string().min(1)).min(1, "an argv list needs at least the program");

const hook = z.union([
  argv,
  z.strictObject({ argv, timeout: duration("60s") }),
]);

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, "expected host:port");

const probe = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, "letters, digits, '_', '.', '-' only"),
    http: z.url({ protocol: /^https?$/ }).optional(),
    tcp: hostPort.optional(),
    interval: duration("200ms"),
    timeout: duration("1s"),
  })
  .refine((p) => (p.http === undefined) !== (p.tcp === undefined), { message: "give exactly one of http or tcp" });

const window = z.strictObject({
  cron: z.string().refine(isValidCron, "a 5-field cron expression (min hour dom month dow)"),
  duration: duration("2h"),
  timezone: z
    .string()
    .optional()
    .refine((tz) => tz === undefined || isTimeZone(tz), "not an IANA time zone name (e.g. Europe/Berlin)"),
});

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

const packageName = z.string().regex(PACKAGE_NAME, "not a package name");

export const configSchema = z.strictObject({
  docker: z
    .strictObject({
      socket: z.string().startsWith("/", "an absolute unix socket path").default("/var/run/docker.sock"),
      /** The daemon's configuration file, validated with the new dockerd (23.0+) before the restart. */
      configFile: z.string().startsWith("/", "an absolute path").default("/etc/docker/daemon.json"),
      /** dockerd's pid file: tells whether the running dockerd's binary was replaced on disk (not the installed build). */
      pidFile: z.string().startsWith("/", "an absolute path").default("/var/run/docker.pid"),
      readyTimeout: duration("60s"),
      /** The built-in probe of the API (GET /_ping on the socket) during the run; 0s turns it off. */
      apiProbeInterval: duration("20ms"),
    })
    .prefault({}),
  service: z
    .strictObject({
      manager: z.enum(["systemd", "openrc", "command"]).default("systemd"),
      stop: argv.optional(),
      start: argv.optional(),
      timeout: duration("120s"),
    })
    .prefault({})
    .superRefine((s, ctx) => {
      for (const key of ["stop", "start"] as const) {
        if (s.manager === "command" && !s[key]) {
          ctx.addIssue({ code: "custom", path: [key], message: "required with manager: command" });
        }
        if (s.manager !== "command" && s[key]) {
          ctx.addIssue({ code: "custom", path: [key], message: `only used with manager: command (manager is ${s.manager})` });
        }
      }
    }),
  packages: z
    .strictObject({
      manager: z.enum(["auto", "apt", "dnf"]).default("auto"),
      names: z.union([z.literal("auto"), z.array(packageName).min(1)]).default("auto"),
      engine: z.union([z.literal("auto"), packageName]).default("auto"),
      refresh: z.boolean().default(true),
      deny: z.array(z.string().regex(/^[0-9][A-Za-z0-9.+~:-]*$/, "not a version")).default([]),
      hold: z.boolean().default(false),
      timeout: duration("15m"),
    })
    .prefault({}),
  upgrade: z
    .strictObject({
      order: z.enum(["staged", "stop-first"]).default("staged"),
      downtimeBudget: duration("90s"),
      settle: duration("15s"),
      /** A MAJOR.MINOR jump (live restore cannot carry it): refused (exit 3), or made by planned container restarts. */
      beyondPatch: z.enum(["refuse", "restart"]).default("refuse"),
      /** The planned-restart path: how long each started container has to be ready, and how long "up and steady" lasts without a health check. */
      restart: z
        .strictObject({
          readyTimeout: duration("2m"),
          steady: duration("3s"),
        })
        .prefault({}),
      rollbackOn: z
        .strictObject({
          restarted: z.boolean().default(true),
          missing: z.boolean().default(true),
          probeFailures: z.number().int().min(0).nullable().default(null),
        })
        .prefault({}),
    })
    .prefault({}),
  stateDir: z.string().startsWith("/", "an absolute path").default("/var/lib/docker-live-upgrade"),
  /** Where the host's root is mounted: "/" on the host; "/host" in the container image (commands run under chroot). */
  hostRoot: z.string().startsWith("/", "an absolute path").default("/"),
  probes: z.array(probe).default([]),
  schedule: z
    .strictObject({
      windows: z.array(window).default([]),
      blackout: z.array(z.string().regex(/^\d{4}-\d{2}-\d{2}$/, "a date YYYY-MM-DD")).default([]),
      minInterval: duration("0s"),
      expectedDuration: duration("10m"),
    })
    .prefault({}),
  hooks: z
    .strictObject({
      pre: z.array(hook).default([]),
      verify: z.array(hook).default([]),
      post: z.array(hook).default([]),
    })
    .prefault({}),
  notify: z.array(z.strictObject({ webhook: z.url({ protocol: /^https?$/ }), timeout: duration("10s") })).default([]),
  metrics: z.strictObject({ listen: hostPort }).optional(),
  /** Coordination of hosts: at most `slots` of a group upgrade at once; absent, this host decides alone. */
  fleet: z
    .strictObject({
      backend: z.enum(["etcd", "fleetlock"]).default("etcd"),
      group: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "letters, digits, . _ -").default("default"),
      /** How many hosts of the group upgrade at once (etcd; a FleetLock server keeps its own count). Default 1. */
      slots: z.number().int().min(1).optional(),
      /** After a successful run, keep the slot this long before giving it back (watch the new engine first). */
      soak: duration("0s"),
      /** How long a run outside a window (upgrade, the timer) waits for a slot before it is deferred. */
      wait: duration("30m"),
      /** This host's name in the group; default the host name. */
      host: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/).optional(),
      /** `fleet status` lists hosts not seen (no run, no check-in) for this long: retired ones to `fleet forget`. */
      staleAfter: duration("14d"),
      /**
       * A rollout (every host of one MAJOR.MINOR series to one release) in batches: host counts or shares
       * of the group's hosts ("10%", truncated, at least 1); the last size repeats. Default: the
       * canaries, then everyone (etcd).
       */
      rollout: z.array(z.union([z.number().int().min(1), z.string().regex(/^(100|[1-9]?[0-9])%$/, "a host count, or a whole percentage like \"10%\"")])).min(1).optional(),
      /** Hosts that go first in every rollout, in this order. */
      canaries: z.array(z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/)).default([]),
      /** After the last host of a batch gave its slot back, the next batch waits this long. */
      batchSoak: duration("0s"),
      /** Before a host takes a slot: Prometheus must show no active alert (kured's gate). */
      alerts: z
        .strictObject({
          /** Base URL of the Prometheus HTTP API, e.g. http://127.0.0.1:9090 */
          prometheus: z.url({ protocol: /^https?$/ }),
          /** Alert names (a regular expression) that never block. */
          ignore: z.string().optional(),
          /** Only alerts whose name matches block (a regular expression). */
          only: z.string().optional(),
          /** Pending alerts block too, unless this is true. */
          firingOnly: z.boolean().default(false),
          timeout: duration("10s"),
        })
        .optional(),
      etcd: z
        .strictObject({
          endpoints: z.array(z.url({ protocol: /^https?$/ }).refine((u) => !/^\w+:\/\/[^/@]*@/.test(u), "no credentials in the URL: use fleet.etcd.username and password")).min(1),
          ca: z.string().startsWith("/", "an absolute path").optional(),
          cert: z.string().startsWith("/", "an absolute path").optional(),
          key: z.string().startsWith("/", "an absolute path").optional(),
          username: z.string().min(1).optional(),
          password: z.string().optional(),
          prefix: z.string().startsWith("/", "starts with /").default("/docker-live-upgrade"),
          /** The slot's lease: a holder silent this long has lost it (and halts the group). */
          leaseTtl: duration("30s"),
        })
        .optional(),
      fleetlock: z.strictObject({ url: z.url({ protocol: /^https?$/ }) }).optional(),
    })
    .superRefine((f, ctx) => {
      if (f.backend === "etcd" && !f.etcd) ctx.addIssue({ code: "custom", path: ["etcd"], message: "required with backend: etcd (endpoints at least)" });
      if (f.backend === "fleetlock" && !f.fleetlock) ctx.addIssue({ code: "custom", path: ["fleetlock"], message: "required with backend: fleetlock (url)" });
      if (f.backend === "fleetlock" && f.slots !== undefined) ctx.addIssue({ code: "custom", path: ["slots"], message: "with backend: fleetlock the server keeps the count of slots (airlock: [[lock.groups]] slots); remove this key" });
      if (f.backend === "fleetlock" && (f.rollout !== undefined || f.canaries.length || f.batchSoak > 0)) ctx.addIssue({ code: "custom", path: ["rollout"], message: "rollout batches, canaries and batchSoak need backend: etcd (the FleetLock protocol only hands out slots)" });
      if (f.etcd && (f.etcd.cert === undefined) !== (f.etcd.key === undefined)) ctx.addIssue({ code: "custom", path: ["etcd", "cert"], message: "cert and key go together" });
      if (f.etcd?.username !== undefined && f.etcd.endpoints.some((e) => e.startsWith("http://"))) {
        ctx.addIssue({ code: "custom", path: ["etcd", "endpoints"], message: "a password would cross the network in clear over http://: use https:// endpoints (and fleet.etcd.ca) with username/password" });
      }
      // credentials in a URL go as Basic auth: never in clear past this host
      const clear = (u: string | undefined) => u !== undefined && /^http:\/\/[^/?#]*@/i.test(u) && !/^http:\/\/[^/?#]*@(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?(\/|$)/i.test(u);
      if (clear(f.fleetlock?.url)) ctx.addIssue({ code: "custom", path: ["fleetlock", "url"], message: "credentials in an http:// URL would cross the network in clear: use https://" });
      if (clear(f.alerts?.prometheus)) ctx.addIssue({ code: "custom", path: ["alerts", "prometheus"], message: "credentials in an http:// URL would cross the network in clear: use https://" });
      if (f.etcd && new Set(f.etcd.endpoints.map((e) => e.slice(0, e.indexOf(":")))).size > 1) ctx.addIssue({ code: "custom", path: ["etcd", "endpoints"], message: "all http:// or all https://, not a mix" });
      for (const k of ["ignore", "only"] as const) {
        const re = f.alerts?.[k];
        if (re === undefined) continue;
        try {
          new RegExp(re);
        } catch (err) {
          ctx.addIssue({ code: "custom", path: ["alerts", k], message: `not a regular expression: ${(err as Error).message}` });
        }
      }
    })
    .transform((f) => ({ ...f, slots: f.slots ?? 1 }))
    .optional(),
  /** Periodic checkpoints (CRIU, the engine in experimental mode): each running container a job names, every `every`, the newest `keep` kept. */
  checkpoints: z
    .array(
      z
        .strictObject({
          container: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/, "a container name or ID").optional(),
          label: z.string().regex(/^[^=\s]+(=.*)?$/, "a label: KEY or KEY=VALUE").optional(),
          every: duration("1h").refine((ms) => ms >= 10_000, "at least 10s"),
          keep: z.number().int().min(1).default(3),
          /** The container runs on after each checkpoint (false: it stops there, which periodic use rarely wants). */
          leaveRunning: z.boolean().default(true),
        })
        .refine((j) => (j.container === undefined) !== (j.label === undefined), { message: "give exactly one of container or label" }),
    )
    .default([]),
  log: z.strictObject({ level: z.enum(["trace", "debug", "info", "warn", "error"]).default("info") }).prefault({}),
});

export type Config = z.output<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
export type HookConfig = Config["hooks"]["pre"][number];
