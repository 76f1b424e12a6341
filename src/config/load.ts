import { readFile } from "node:fs/promises";
import { parseDocument } from "yaml";
import { configSchema, type Config } from "./schema.js";

export const DEFAULT_CONFIG_PATH = "/etc/docker-live-upgrade/config.yaml";

export class ConfigError extends Error {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    super(`invalid config ${file}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Validates a parsed document; every problem is reported at once as "path: message". */
export function parseConfig(raw: unknown, file = "<config>"): Config {
  const result = configSchema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
    const keys = issue.code === "unrecognized_keys" ? issue.keys : undefined;
    if (keys) return `${path || "(top level)"}: unknown key${keys.length > 1 ? "s" : ""} ${keys.map((k) => JSON.stringify(k)).join(", ")}`;
    return `${path || "(top level)"}: ${issue.message}`;
  });
  throw new ConfigError(file, problems);
}

export function parseConfigText(text: string, file = "<config>"): Config {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) throw new ConfigError(file, doc.errors.map((e) => `YAML: ${e.message.split("\n")[0]!}`));
  return parseConfig(doc.toJS(), file);
}

export interface ConfigSource {
  /** --config */
  flag?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

/** --config, else DOCKER_LIVE_UPGRADE_CONFIG, else the default path (which may be absent: defaults apply). */
export async function loadConfig(source: ConfigSource = {}): Promise<{ config: Config; file: string | null }> {
  const env = source.env ?? process.env;
  const explicit = source.flag ?? env.DOCKER_LIVE_UPGRADE_CONFIG;
  const file = explicit ?? DEFAULT_CONFIG_PATH;
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!explicit && code === "ENOENT") return { config: parseConfig({}), file: null };
    throw new ConfigError(file, [`cannot read: ${code ?? String(err)}`]);
  }
  return { config: parseConfigText(text, file), file };
}
