import { validate } from "node-cron";

/** A 5-field cron expression node-cron accepts (no seconds field). Depends on nothing of ours: the config schema uses it. */
export function isValidCron(expression: string): boolean {
  return expression.trim().split(/\s+/).length === 5 && validate(expression);
}
