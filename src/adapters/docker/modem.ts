import type Docker from "dockerode";

/** One call of the Docker API: path without a query, the status codes that mean success, a deadline. */
export interface ModemCall {
  path: string;
  query?: Record<string, string>;
  method: "GET" | "POST" | "DELETE";
  ok: number[];
  body?: object;
  timeoutMs: number;
}

/**
 * A client for calls with a deadline of their own. docker-modem ignores a per-call `timeout` and
 * applies only the client's, as an idle timeout on the socket (a stop waiting out a 60 s stop timeout
 * would be cut at a 30 s one): this client has none, each call an abort signal instead.
 */
export function deadlineClient(socketPath: string): Promise<Docker> {
  return import("dockerode").then(({ default: Dockerode }) => new Dockerode({ socketPath }));
}

/** The modem parses JSON only when the engine labels it so (the checkpoint list comes unlabelled); `/_ping` answers plain text. */
function parsed(data: unknown): unknown {
  if (!Buffer.isBuffer(data)) return data;
  const text = data.toString("utf8").trim();
  if (text === "") return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/** One call through the client's modem (a `deadlineClient`), with its deadline as an abort signal. */
export async function modemCall<T>(client: Promise<Docker>, { path, query = {}, method, ok, body, timeoutMs }: ModemCall): Promise<T> {
  const modem = (await client).modem as unknown as { dial(o: object, cb: (err: unknown, data: unknown) => void): void };
  const statusCodes = Object.fromEntries(ok.map((c) => [c, true]));
  return new Promise<T>((resolve, reject) => {
    // the modem takes the query from `_query` after a "?", the body from `_body`; with neither, it
    // drops the "?" and sends no body
    const options = Object.keys(query).length || body ? { _query: query, _body: body ?? {} } : undefined;
    modem.dial({ path: `${path}?`, method, statusCodes, abortSignal: AbortSignal.timeout(timeoutMs), options, allowEmpty: true }, (err, data) =>
      err ? reject(err instanceof Error ? err : new Error(JSON.stringify(err))) : resolve(parsed(data) as T),
    );
  });
}
