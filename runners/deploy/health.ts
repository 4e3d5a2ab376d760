import { setTimeout as sleep } from 'node:timers/promises';
import type { HealthCheck } from './provider.ts';

/** Attempts an instance gets beyond healthy_threshold before it is declared unhealthy. */
const EXTRA_HEALTH_ATTEMPTS = 10;

export class CancelledError extends Error {
  constructor() {
    super('cancelled');
  }
}

export function throwIfCancelled(signal: AbortSignal): void {
  if (signal.aborted) throw new CancelledError();
}

/** Sleeps `ms`, or throws CancelledError as soon as `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  throwIfCancelled(signal);
  await sleep(ms, undefined, { signal }).catch(() => throwIfCancelled(signal));
}

export interface HealthTarget {
  /** e.g. http://127.0.0.1:20001/healthz */
  url: string;
  /** Instance name for the log. */
  label: string;
  /** Why the instance cannot become healthy any more (its container exited), or null. */
  failure(): Promise<string | null>;
}

/**
 * Resolves once `target` answered 2xx/3xx `healthyThreshold` times in a row, one GET every `intervalMs`,
 * each with `timeoutMs`. Throws when that has not happened within healthyThreshold + EXTRA_HEALTH_ATTEMPTS
 * attempts or the container stopped; throws CancelledError when `signal` aborts.
 */
export async function waitHealthy(target: HealthTarget, check: HealthCheck, signal: AbortSignal, log: (line: string) => void): Promise<void> {
  const attempts = check.healthyThreshold + EXTRA_HEALTH_ATTEMPTS;
  let passes = 0;
  let lastResult = '';
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1) await pause(check.intervalMs, signal);
    throwIfCancelled(signal);
    lastResult = await probe(target.url, check.timeoutMs, signal);
    const passed = /^[23]\d\d$/.test(lastResult);
    passes = passed ? passes + 1 : 0;
    log(`health ${target.label}: GET ${target.url} → ${lastResult} (${passes}/${check.healthyThreshold} consecutive passes)`);
    if (passes >= check.healthyThreshold) return;
    const failure = passed ? null : await target.failure();
    if (failure) throw new Error(`${target.label} is unhealthy: ${failure}`);
  }
  throw new Error(
    `${target.label} is unhealthy: ${target.url} did not pass ${check.healthyThreshold} time(s) in a row within ${attempts} attempts (last: ${lastResult})`,
  );
}

/** The HTTP status as text, or why there was none. */
async function probe(url: string, timeoutMs: number, signal: AbortSignal): Promise<string> {
  const timeout = new AbortController();
  const abort = () => timeout.abort();
  signal.addEventListener('abort', abort, { once: true });
  const timer = setTimeout(abort, timeoutMs);
  try {
    const response = await fetch(url, { redirect: 'manual', signal: timeout.signal });
    await response.body?.cancel();
    return String(response.status);
  } catch (error) {
    throwIfCancelled(signal);
    if (timeout.signal.aborted) return `no answer within ${timeoutMs} ms`;
    const cause = (error as { cause?: { code?: string } }).cause;
    return cause?.code ?? (error instanceof Error ? error.message : String(error));
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', abort);
  }
}
