import { redactUrl } from "../../config/redact.js";
import type { ActiveAlert, AlertsPort } from "../../ports/alerts.js";

interface QueryResponse {
  status: "success" | "error";
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

/**
 * Active alerts from Prometheus's HTTP API: the instant query `ALERTS` (one sample per pending or
 * firing alert, labels alertname and alertstate), as kured's gate asks it. POST, with GET where a
 * proxy refuses POST (405/501), as Prometheus's own client does.
 */
export class PrometheusAlerts implements AlertsPort {
  readonly source: string;
  private readonly base: string;
  private readonly authorization: string | null;

  constructor(
    url: string,
    private readonly timeoutMs: number,
  ) {
    const u = new URL(url);
    this.authorization = u.username || u.password ? `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString("base64")}` : null;
    u.username = "";
    u.password = "";
    this.base = u.toString().replace(/\/+$/, "");
    this.source = `Prometheus at ${redactUrl(url).replace(/\/+$/, "")}`;
  }

  private async query(method: "POST" | "GET"): Promise<Response> {
    const form = new URLSearchParams({ query: "ALERTS" });
    const headers: Record<string, string> = this.authorization ? { authorization: this.authorization } : {};
    const url = `${this.base}/api/v1/query${method === "GET" ? `?${form.toString()}` : ""}`;
    return fetch(url, {
      method,
      headers: method === "POST" ? { ...headers, "content-type": "application/x-www-form-urlencoded" } : headers,
      ...(method === "POST" ? { body: form.toString() } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  async active(): Promise<ActiveAlert[]> {
    let res: Response;
    try {
      res = await this.query("POST");
      if (res.status === 405 || res.status === 501) res = await this.query("GET");
    } catch (err) {
      throw new Error(`${this.source} unreachable: ${err instanceof Error ? err.message : String(err)}`);
    }
    const text = await res.text();
    let body: QueryResponse;
    try {
      body = JSON.parse(text) as QueryResponse;
    } catch {
      throw new Error(`${this.source} answered ${res.status} with no query result: ${text.slice(0, 200)}`);
    }
    if (body.status !== "success" || !body.data) throw new Error(`${this.source} refused the query ALERTS (${res.status}): ${body.error ?? text.slice(0, 200)}`);
    return body.data.result
      .filter((s) => s.metric.alertname && s.value[1] !== "0")
      .map((s) => ({ name: s.metric.alertname!, state: s.metric.alertstate === "firing" ? "firing" : "pending", labels: s.metric }));
  }
}
