import { hostname } from "node:os";
import pRetry from "p-retry";
import type { Logger } from "pino";
import type { Config } from "../config/schema.js";
import type { Notifier, NotifyEvent } from "./notifier.js";
import { silentNotifier } from "./notifier.js";
import type { RunReport } from "../report/report.js";

export function summaryText(event: NotifyEvent, r: Partial<RunReport>): string {
  const host = hostname();
  const eng = r.engine?.package ? `${r.engine.package} ${r.engine.from ?? "?"} -> ${r.engine.to ?? "?"}` : "docker";
  const down = typeof r.daemonDowntimeMs === "number" ? `, API down ${r.daemonDowntimeMs} ms` : "";
  const lost = r.containers ? `, containers ${r.containers.unchanged.length}/${r.containers.before} unchanged` : "";
  const err = r.error ? `: ${r.error.message}` : event.startsWith("fleet-") && r.hostState ? `: ${r.hostState}` : "";
  return `[${host}] docker-live-upgrade ${event}: ${eng}${r.outcome && event !== "start" ? ` (${r.outcome})` : ""}${down}${lost}${err}`;
}

/** JSON POSTs with a Slack-compatible `text`, retried; a failing webhook never fails the run. */
export function createWebhookNotifier(targets: Config["notify"], logger: Logger): Notifier {
  if (!targets.length) return silentNotifier;
  return {
    async notify(event, report) {
      const body = JSON.stringify({ event, text: summaryText(event, report), report });
      await Promise.all(
        targets.map(async (t, i) => {
          try {
            await pRetry(
              async () => {
                const res = await fetch(t.webhook, {
                  method: "POST",
                  headers: { "content-type": "application/json" },
                  body,
                  signal: AbortSignal.timeout(t.timeout),
                });
                if (!res.ok) throw new Error(`HTTP ${res.status}`);
              },
              { retries: 3, minTimeout: 500, factor: 2 },
            );
          } catch (err) {
            // the URL carries the token: log which target by index, never the URL
            logger.warn({ target: i, event, error: (err as Error).message }, "webhook failed");
          }
        }),
      );
    },
  };
}
