import type { RunReport } from "../report/report.js";
import { formatReport } from "../report/format.js";

export function printResult(json: boolean, value: unknown, human: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human}\n`);
}

export function printReport(json: boolean, report: RunReport, file?: string | null): void {
  printResult(json, report, formatReport(report) + (file ? `\nreport: ${file}` : ""));
}
