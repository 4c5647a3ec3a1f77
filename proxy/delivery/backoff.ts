export interface BackoffOptions {
  /** Delay before the first retry, before jitter. */
  baseMs: number;
  /** No single delay grows beyond this. */
  maxMs: number;
  /** Injected for deterministic tests. */
  random?: () => number;
}

/**
 * Exponential backoff with "equal jitter": half the step is fixed, half random, so
 * retries never fire at once and a fleet of failed jobs spreads out instead of
 * hitting a recovering Tapfiliate together.
 *
 * @example
 * backoffDelay(1, { baseMs: 1000, maxMs: 8000 }); // 500..1000
 * backoffDelay(3, { baseMs: 1000, maxMs: 8000 }); // 2000..4000
 */
export function backoffDelay(retry: number, options: BackoffOptions): number {
  const { baseMs, maxMs, random = Math.random } = options;
  const step = Math.min(maxMs, baseMs * 2 ** Math.max(0, retry - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
