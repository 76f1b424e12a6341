import { pino } from "pino";
import { parseConfig } from "../../src/config/load.js";
import type { ConfigInput } from "../../src/config/schema.js";
import type { ProbeCheck } from "../../src/probes/transport.js";
import type { World } from "../../src/upgrade/world.js";
import { SimFleet } from "./fleet.js";
import { SimHost } from "./host.js";
import { SimProcess, type Fault } from "./process.js";
import { SimCheckpoints, SimEngine } from "./engine.js";
import { SimPackages } from "./packages.js";
import { SimLock, SimState, simHost } from "./ports.js";
import { SimService, SimServiceHold } from "./services.js";

export { container, SimHost } from "./host.js";
export type { Fault } from "./process.js";

/** A world of one upgrader process over a simulated host, with the handles tests arrange and assert through. */
export interface FakeWorld extends World {
  sim: SimHost;
  process: SimProcess;
  events: string[];
  engine: SimEngine;
  fakePackages: SimPackages;
  fakeService: SimService;
  fakeHold: SimServiceHold;
  memory: SimState;
  fakeClock: { t: number };
}

export interface SimOptions {
  fault?: Fault | null;
  /** A fleet of this many slots (etcd semantics), or none. */
  fleetSlots?: number | null;
}

/** The process's probes: the built-in API probe sees dockerd; configured services (host network) always answer. */
const probeCheck =
  (p: SimProcess): ProbeCheck =>
  (target) => {
    if (p.dead) return new Promise(() => undefined);
    if (target.unix && !p.host.daemonUp) return Promise.reject(new Error("connect ECONNREFUSED"));
    return Promise.resolve();
  };

const SILENT = pino({ level: "silent" });
/** Parsed once per config object (and with or without a fleet): a simulation starts tens of thousands of processes. */
const parsedConfigs = { plain: new WeakMap<object, ReturnType<typeof parseConfig>>(), fleet: new WeakMap<object, ReturnType<typeof parseConfig>>() };

/** A new upgrader process on `host` (after a crash: the same host, a new process, nothing in memory). */
export function simWorld(host: SimHost, config: ConfigInput = {}, options: SimOptions = {}): FakeWorld {
  const p = new SimProcess(host, options.fault ?? null);
  if (options.fleetSlots != null) host.fleetEnabled = true;
  const engine = new SimEngine(p);
  const fakePackages = new SimPackages(p);
  const fakeService = new SimService(p);
  const fakeHold = new SimServiceHold(p);
  const memory = new SimState(p);
  const fleetSlots = options.fleetSlots ?? null;
  const cache = fleetSlots === null ? parsedConfigs.plain : parsedConfigs.fleet;
  let parsed = cache.get(config);
  if (!parsed) {
    parsed = parseConfig({
      service: { manager: "command", stop: ["stop"], start: ["start"] },
      ...config,
      ...(fleetSlots !== null && !config.fleet ? { fleet: { backend: "etcd", slots: fleetSlots, etcd: { endpoints: ["http://127.0.0.1:2379"] } } } : {}),
    });
    cache.set(config, parsed);
  }
  return {
    config: parsed,
    docker: engine,
    packages: fakePackages,
    service: fakeService,
    serviceHold: fakeHold,
    clock: p.clock,
    state: memory,
    lock: new SimLock(p),
    host: simHost(p),
    probeCheck: probeCheck(p),
    hooks: { run: (kind) => p.call("write", "hooks", kind, () => []) },
    notifier: { notify: (event) => p.call("write", "notify", event, () => void host.events.push(`notify ${event}`)) },
    fleet: fleetSlots !== null ? new SimFleet(p, fleetSlots) : null,
    checkpoints: new SimCheckpoints(p),
    logger: SILENT,
    sim: host,
    process: p,
    events: host.events,
    engine,
    fakePackages,
    fakeService,
    fakeHold,
    memory,
    fakeClock: {
      get t() {
        return host.now;
      },
      set t(v: number) {
        host.now = v;
      },
    },
  };
}

/** A fresh simulated Debian host with docker.io 20.10.24 and one process on it. No API probe unless asked for: tests assert exact calls. */
export function fakeWorld(config: ConfigInput = {}): FakeWorld {
  return simWorld(new SimHost(), { ...config, docker: { apiProbeInterval: "0s", ...config.docker } });
}
