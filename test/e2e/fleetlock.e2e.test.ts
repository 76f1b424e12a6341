import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FleetLockFleet } from "../../src/adapters/fleet/fleetlock.js";
import { systemClock } from "../../src/adapters/clock/system-clock.js";
import { parseConfig } from "../../src/config/load.js";

/** A FleetLock server as the protocol describes it (one group, `slots` holders), for the client to talk to. */
function protocolServer(slots: number) {
  const holders = new Set<string>();
  const seen: { path: string; header: string | undefined; body: unknown }[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const reply = (status: number, body?: { kind: string; value: string }) => res.writeHead(status, { "content-type": "application/json" }).end(body ? JSON.stringify(body) : "");
      const body = JSON.parse(text || "{}") as { client_params?: { id?: string; group?: string } };
      seen.push({ path: req.url ?? "", header: req.headers["fleet-lock-protocol"] as string | undefined, body });
      if (req.headers["fleet-lock-protocol"] !== "true") return reply(400, { kind: "missing_header", value: "fleet-lock-protocol header must be true" });
      const id = body.client_params?.id;
      if (!id) return reply(400, { kind: "missing_id", value: "client_params.id is required" });
      if (req.url === "/v1/pre-reboot") {
        if (holders.has(id) || holders.size < slots) {
          holders.add(id);
          return reply(200);
        }
        return reply(409, { kind: "failed_lock", value: `semaphore full: held by ${[...holders].join(",")}` });
      }
      if (req.url === "/v1/steady-state") {
        holders.delete(id);
        return reply(200);
      }
      return reply(404, { kind: "not_found", value: req.url ?? "" });
    });
  });
  return { server, holders, seen };
}

describe("backend fleetlock against a server speaking the published protocol", () => {
  const srv = protocolServer(1);
  let url = "";
  beforeAll(async () => {
    await new Promise<void>((r) => srv.server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(srv.server.address() as AddressInfo).port}/`;
  });
  afterAll(() => {
    (srv.server).close();
  });
  const client = (host: string) => new FleetLockFleet(parseConfig({ fleet: { backend: "fleetlock", group: "web", fleetlock: { url } } }).fleet!, host, systemClock, pino({ level: "silent" }));

  it("takes the slot, defers a second host with the server's error, hands over after steady-state, keeps it after a failure", async () => {
    const a = await client("a").acquire({ runId: "r1", target: "v" }, Date.now() + 60_000);
    expect(a.kind).toBe("slot");
    expect(srv.seen[0]).toEqual({ path: "/v1/pre-reboot", header: "true", body: { client_params: { id: "a", group: "web" } } });

    const b = await client("b").acquire({ runId: "r2", target: "v" }, Date.now() + 1_000);
    expect(b).toMatchObject({ kind: "deferred", reason: expect.stringMatching(/answered 409 failed_lock: semaphore full: held by a/) });

    if (a.kind === "slot") await a.slot.release({ ok: true, version: "v", outcome: "upgraded", reason: null });
    expect([...srv.holders]).toEqual([]);
    const b2 = await client("b").acquire({ runId: "r3", target: "v" }, Date.now() + 1_000);
    expect(b2.kind).toBe("slot");
    // a failed run never sends steady-state: the slot stays taken, the one-slot group stops there
    if (b2.kind === "slot") await b2.slot.release({ ok: false, version: "v", outcome: "rolled-back", reason: "x" });
    expect([...srv.holders]).toEqual(["b"]);
    expect((await client("a").acquire({ runId: "r4", target: "v" }, Date.now() + 1_000)).kind).toBe("deferred");
  });

  it("an unreachable server means no upgrade (fail closed), naming it", async () => {
    const down = new FleetLockFleet(parseConfig({ fleet: { backend: "fleetlock", fleetlock: { url: "http://127.0.0.1:9/" } } }).fleet!, "a", systemClock, pino({ level: "silent" }));
    await expect(down.acquire({ runId: "r", target: "v" }, Date.now() + 60_000)).rejects.toThrow(/FleetLock server http:\/\/127\.0\.0\.1:9 unreachable/);
  });
});
