/**
 * The one place the app talks HTTP: same-origin fetch with the session cookie, JSON in and out, and
 * `{ error: { code, message, issues? } }` answers turned into a thrown `ApiError`.
 */

export interface ApiIssue {
  path: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly issues: ApiIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Sent as JSON. */
  body?: unknown;
  query?: Record<string, string | number | undefined>;
  /** Non-2xx statuses whose JSON body is a result, not an error (try-activate's 422, publish's 409). */
  expect?: number[];
  signal?: AbortSignal;
  /** Defaults to the page's own `fetch`; SvelteKit `load` functions pass theirs. */
  fetch?: typeof fetch;
}

type UnauthorizedHandler = (error: ApiError) => void;
let onUnauthorized: UnauthorizedHandler | undefined;

/** Called when a request fails with 401 (expired session), except for the sign-in call itself. */
export function setUnauthorizedHandler(handler: UnauthorizedHandler | undefined): void {
  onUnauthorized = handler;
}

export function apiUrl(path: string, query?: RequestOptions['query']): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) if (value !== undefined) params.set(key, String(value));
  const search = params.toString();
  return `/api${path}${search ? `?${search}` : ''}`;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const { method = 'GET', body, query, expect = [], signal, fetch: doFetch = fetch } = options;
  let response: Response;
  try {
    response = await doFetch(apiUrl(path, query), {
      method,
      signal,
      credentials: 'same-origin',
      headers: { accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    if (signal?.aborted) throw cause;
    throw new ApiError(0, 'network', 'cannot reach the Flowyard server; check your connection and try again');
  }
  if (response.ok || expect.includes(response.status)) {
    return (response.status === 204 ? undefined : await response.json()) as T;
  }
  const error = await errorFrom(response);
  if (error.status === 401 && path !== '/auth/login') onUnauthorized?.(error);
  throw error;
}

async function errorFrom(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => '');
  try {
    const { error } = JSON.parse(text) as { error?: { code?: string; message?: string; issues?: ApiIssue[] } };
    if (error?.message) return new ApiError(response.status, error.code ?? 'error', error.message, error.issues);
  } catch {
    // Not JSON: a proxy or a crash answered; fall through to a generic error.
  }
  return new ApiError(response.status, 'http_error', `the server answered ${response.status} ${response.statusText}`.trim());
}

/** A readable message for anything caught from the API client. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
