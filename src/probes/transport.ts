import { request } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";

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
      const req = request({ socketPath: probe.unix, path: "/_ping", method: "GET", timeout: probe.timeout, signal, agent: false }, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`HTTP ${res.statusCode}`));
      });
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.on("error", reject);
      req.end();
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
