import { parseDocument } from "yaml";
import { configSchema, type Config } from "./schema.js";
import { ConfigError, readConfigSource, type ConfigSource } from "./source.js";

export { ConfigError, DEFAULT_CONFIG_PATH } from "./source.js";

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

/** --config, else DOCKER_LIVE_UPGRADE_CONFIG, else the default path (which may be absent: defaults apply). */
export async function loadConfig(source: { flag?: string | undefined; env?: NodeJS.ProcessEnv } = {}): Promise<{ config: Config; file: string | null }> {
  return configOf(await readConfigSource(source.flag, source.env));
}

/** The config of a source already read (the daemon's worker gets its text from the daemon). */
export function configOf(source: ConfigSource): { config: Config; file: string | null } {
  return source.text === null ? { config: parseConfig({}), file: null } : { config: parseConfigText(source.text, source.file), file: source.file };
}
