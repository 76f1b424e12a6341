/** Time, injected: the system clock in production, a fake one in tests. Plain functions, safe to pass around. */
export interface Clock {
  now: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}
