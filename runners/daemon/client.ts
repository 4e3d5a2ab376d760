import { RUNNER_PROTOCOL_PREFIX } from '../protocol/v1.ts';

export class ApiCallError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }

  /** Worth retrying: the API is away or overloaded, not telling us no. */
  get transient(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500;
  }
}

/** Thin JSON client for runner protocol v1. Network failures surface as status 0 so callers can retry. */
export class RunnerApi {
  constructor(
    private readonly baseUrl: string,
    private token?: string,
  ) {}

  setToken(token: string): void {
    this.token = token;
  }

  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T | null> {
    let response: Response;
    try {
      response = await fetch(new URL(`${RUNNER_PROTOCOL_PREFIX}${path}`, this.baseUrl), {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiCallError(0, 'unreachable', `cannot reach ${this.baseUrl}: ${(error as Error).message}`);
    }
    if (response.status === 204) return null;
    const text = await response.text();
    if (!response.ok) {
      let code = 'error';
      let message = text.slice(0, 500);
      try {
        const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
        code = parsed.error?.code ?? code;
        message = parsed.error?.message ?? message;
      } catch {
        /* not JSON: keep the text */
      }
      throw new ApiCallError(response.status, code, `${method} ${path}: ${response.status} ${message}`);
    }
    return text ? (JSON.parse(text) as T) : null;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts; leaves no listener behind either way. */
export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Exponential backoff with jitter: 250 ms doubling to 5 s. */
export function backoffMs(attempt: number): number {
  const base = Math.min(5000, 250 * 2 ** Math.min(attempt, 5));
  return base / 2 + Math.random() * (base / 2);
}
