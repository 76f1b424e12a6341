import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { PingError } from "../ports/docker.js";

/** What one probe checks: an HTTP(S) URL, a TCP address, or the Docker API's /_ping on a unix socket. */
export interface ProbeTarget {
  http?: string | undefined;
  tcp?: string | undefined;
  /** A unix socket path: GET /_ping must answer 200 (the Docker API as its clients see it). */
  unix?: string | undefined;
  timeout: number;
}

/** One availability check of a service; rejects when the service does not answer in time. */
export type ProbeCheck = (probe: ProbeTarget, signal: AbortSignal) => Promise<void>;

/** HTTP(S): any response below 500 counts as available. TCP: the connection is accepted. Unix: /_ping is 200. */
export const nodeProbeCheck: ProbeCheck = (probe, signal) =>
  new Promise<void>((resolve, reject) => {
    if (probe.unix) {
      // the connect alone while dockerd is down: this probe asks all through the down window
      pingSocket(probe.unix, probe.timeout, signal).then(resolve, reject);
      return;
    }
    if (probe.http) {
      const url = new URL(probe.http);
      const req = (url.protocol === "https:" ? httpsRequest : request)(url, { method: "GET", timeout: probe.timeout, signal, agent: false }, (res) => {
        res.resume();
        if ((res.statusCode ?? 500) < 500) resolve();
        else reject(new Error(`HTTP ${res.statusCode}`));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
      return;
    }
    const [host, port] = splitHostPort(probe.tcp!);
    const socket = connect({ host, port, timeout: probe.timeout, signal });
    socket.once("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.once("timeout", () => socket.destroy(new Error("timeout")));
    socket.once("error", reject);
  });

export function splitHostPort(text: string): [string, number] {
  const i = text.lastIndexOf(":");
  return [text.slice(0, i).replace(/^\[|\]$/g, ""), Number(text.slice(i + 1))];
}

/** A connect that failed because nothing listens there (a full backlog, EAGAIN, is a listener that is busy). */
const NOTHING_LISTENS = new Set(["ENOENT", "ECONNREFUSED"]);

/**
 * `GET /_ping` on the API's unix socket, answered 200 within `timeoutMs`. The connect comes first and
 * alone: while nothing listens (dockerd down, no socket unit) a ping fails on it, at about a sixth of
 * the CPU a failed request through docker-modem costs (measured: 0.1 ms against 0.6 ms). The readiness
 * wait and the API probe ask while the new dockerd starts beside them, on hosts with two cores too.
 * Once connected, the request goes on that same connection (node's http client), so a socket unit's
 * held connection is answered as soon as dockerd accepts it. `signal` ends it early (the probes' stop).
 */
export function pingSocket(socketPath: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(new PingError(`GET /_ping on ${socketPath}: stopped`, "failed"));
    let settled = false;
    let connected = false;
    const socket = connect(socketPath);
    const onAbort = () => finish(new PingError(`GET /_ping on ${socketPath}: stopped`, "failed"));
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      if (!err) return resolve();
      if (err instanceof PingError) return reject(err);
      const nothingListens = !connected && NOTHING_LISTENS.has((err as NodeJS.ErrnoException).code ?? "");
      reject(new PingError(err.message, nothingListens ? "unreachable" : "failed"));
    };
    // a connection that neither failed nor was answered in time is held (a unix connect does not linger)
    const timer = setTimeout(() => finish(new PingError(`GET /_ping on ${socketPath}: no answer within ${timeoutMs}ms`, "held")), timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    socket.once("error", finish);
    socket.once("connect", () => {
      connected = true;
      const req = request({ createConnection: () => socket, path: "/_ping", method: "GET", headers: { host: "docker", connection: "close" } }, (res) => {
        res.resume();
        res.once("error", finish);
        res.once("end", () => finish(res.statusCode === 200 ? undefined : new Error(`GET /_ping on ${socketPath} answered ${res.statusCode ?? "nothing"}`)));
      });
      req.once("error", finish);
      req.end();
    });
  });
}
