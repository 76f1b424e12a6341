/** A sleep that a signal or a reload can cut short: `wake` ends the one in progress, if any. */
export function wakeableSleep(): { sleep: (ms: number) => Promise<void>; wake: () => void } {
  let wake: (() => void) | null = null;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  return { sleep, wake: () => wake?.() };
}
