import type { HookConfig } from "../config/schema.js";
import type { Exec } from "../exec/index.js";

export type HookKind = "pre" | "verify" | "post";

export interface HookResult {
  argv: string[];
  ok: boolean;
  message: string;
}

export interface HookRunner {
  run(kind: HookKind, facts: Record<string, string>): Promise<HookResult[]>;
}

const argvOf = (h: HookConfig): string[] => (Array.isArray(h) ? h : h.argv);
const timeoutOf = (h: HookConfig): number => (Array.isArray(h) ? 60_000 : h.timeout);

/** Runs the configured argv hooks in order; each gets the run's facts as DOCKER_LIVE_UPGRADE_* variables. */
export function createHookRunner(exec: Exec, hooks: Record<HookKind, HookConfig[]>): HookRunner {
  return {
    async run(kind, facts) {
      const env = Object.fromEntries(Object.entries(facts).map(([k, v]) => [`DOCKER_LIVE_UPGRADE_${k.toUpperCase()}`, v]));
      env.DOCKER_LIVE_UPGRADE_HOOK = kind;
      const results: HookResult[] = [];
      for (const hook of hooks[kind]) {
        const [file, ...args] = argvOf(hook);
        try {
          const r = await exec(file!, args, { env, timeoutMs: timeoutOf(hook) });
          results.push({ argv: argvOf(hook), ok: true, message: r.stdout.trim().split("\n").slice(-1)[0] ?? "" });
        } catch (err) {
          results.push({ argv: argvOf(hook), ok: false, message: (err as Error).message });
        }
      }
      return results;
    },
  };
}
