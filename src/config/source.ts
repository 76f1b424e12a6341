import { readFile } from "node:fs/promises";

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

/** The config's text as found, before any parsing: null when the default file is absent (defaults apply). */
export interface ConfigSource {
  text: string | null;
  file: string;
}

/** --config, else DOCKER_LIVE_UPGRADE_CONFIG, else the default path (which may be absent). */
export async function readConfigSource(flag?: string, env: NodeJS.ProcessEnv = process.env): Promise<ConfigSource> {
  const explicit = flag ?? env.DOCKER_LIVE_UPGRADE_CONFIG;
  const file = explicit ?? DEFAULT_CONFIG_PATH;
  try {
    return { text: await readFile(file, "utf8"), file };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (!explicit && code === "ENOENT") return { text: null, file };
    throw new ConfigError(file, [`cannot read: ${code ?? String(err)}`]);
  }
}
