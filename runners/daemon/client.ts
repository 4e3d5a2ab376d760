import { z } from 'zod';
import {
  RUNNER_PROTOCOL_PREFIX,
  RUNNER_PROTOCOL_VERSION,
  RUNNER_ROUTES,
  type ArtifactUploadRequest,
  type JobResult,
  type LogChunk,
  type ProtocolRoute,
  type StepReport,
} from '../protocol/v1.ts';
import { encodeLogFrames, type LogFrame } from '../protocol/log-frames.ts';

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

type PathParams<Path extends string> = Path extends `${string}{${infer Name}}${infer Rest}` ? Name | PathParams<Rest> : never;
type Body<Schema> = Schema extends z.ZodType ? z.input<Schema> : undefined;
type Answer<Route extends ProtocolRoute> = Route['response'] extends z.ZodType
  ? z.output<Route['response']> | (Route['mayBeEmpty'] extends true ? null : never)
  : void;
type Artifact = z.input<typeof ArtifactUploadRequest>;

/**
 * JSON client for runner protocol v1, one typed method per entry of RUNNER_ROUTES. Network failures surface as
 * status 0 so callers can retry; an answer of the wrong shape is a permanent error (code `unexpected_answer`).
 */
export class RunnerApi {
  constructor(
    private readonly baseUrl: string,
    private token?: string,
  ) {}

  setToken(token: string): void {
    this.token = token;
  }

  register = (request: Body<typeof RUNNER_ROUTES.register.request>) =>
    this.callRoute(RUNNER_ROUTES.register, {}, { ...request, protocol: request.protocol ?? RUNNER_PROTOCOL_VERSION });
  heartbeat = (runningJobs: string[]) => this.callRoute(RUNNER_ROUTES.heartbeat, {}, { runningJobs });
  claim = (waitSeconds: number, signal?: AbortSignal) => this.callRoute(RUNNER_ROUTES.claim, {}, { waitSeconds }, { signal });
  renewLease = (jobId: string, signal?: AbortSignal) => this.callRoute(RUNNER_ROUTES.renewLease, { jobId }, undefined, { signal });
  awaitCancel = (jobId: string, waitSeconds: number, signal?: AbortSignal) =>
    this.callRoute(RUNNER_ROUTES.awaitCancel, { jobId }, undefined, { query: { wait: waitSeconds }, signal });
  reportStep = (jobId: string, index: number, report: StepReport) => this.callRoute(RUNNER_ROUTES.reportStep, { jobId, index }, report);
  appendLogs = (jobId: string, chunks: Body<typeof LogChunk>[]) => this.callRoute(RUNNER_ROUTES.appendLogs, { jobId }, { chunks });
  appendLogFrames = (jobId: string, frames: readonly LogFrame[]) =>
    this.callRoute(RUNNER_ROUTES.appendLogFrames, { jobId }, undefined, { bytes: encodeLogFrames(frames) });
  artifactUploadUrl = (jobId: string, artifact: Artifact) => this.callRoute(RUNNER_ROUTES.artifactUploadUrl, { jobId }, artifact);
  commitArtifact = (jobId: string, artifact: Artifact) => this.callRoute(RUNNER_ROUTES.commitArtifact, { jobId }, artifact);
  artifactDownloadUrl = (jobId: string, request: Body<typeof RUNNER_ROUTES.artifactDownloadUrl.request>) =>
    this.callRoute(RUNNER_ROUTES.artifactDownloadUrl, { jobId }, request);
  pluginArchive = (request: Body<typeof RUNNER_ROUTES.pluginArchive.request>) => this.callRoute(RUNNER_ROUTES.pluginArchive, {}, request);
  release = (jobId: string) => this.callRoute(RUNNER_ROUTES.release, { jobId }, undefined);
  done = (jobId: string, result: JobResult) => this.callRoute(RUNNER_ROUTES.done, { jobId }, result);

  /** One call of the table: fills the path parameters and the query, and checks the answer against the route's schema. */
  async callRoute<Route extends ProtocolRoute>(
    route: Route,
    params: Record<PathParams<Route['path']>, string | number>,
    body: Body<Route['request']>,
    options: { query?: Body<Route['query']>; signal?: AbortSignal; bytes?: Uint8Array<ArrayBuffer> } = {},
  ): Promise<Answer<Route>> {
    const path = route.path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(String((params as Record<string, string | number>)[name])));
    const query = options.query
      ? `?${new URLSearchParams(Object.entries(options.query as Record<string, unknown>).map(([key, value]) => [key, String(value)]))}`
      : '';
    const raw = route.binaryRequest && options.bytes ? { bytes: options.bytes, contentType: route.binaryRequest } : undefined;
    const { status, payload } = await this.send(route.method, path + query, body, options.signal, raw);
    if (!route.response) return undefined as Answer<Route>;
    if (payload === null && route.mayBeEmpty) return null as Answer<Route>;
    const parsed = route.response.safeParse(payload);
    if (!parsed.success) {
      throw new ApiCallError(
        status,
        'unexpected_answer',
        `${route.method} ${path}: the server answered a shape protocol v${RUNNER_PROTOCOL_VERSION} does not allow: ${z.prettifyError(parsed.error)}`,
      );
    }
    return parsed.data as Answer<Route>;
  }

  /** An untyped call by method and path (below the protocol prefix), for probing the API; null for an empty answer. */
  async call<T>(method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T | null> {
    return (await this.send(method, path, body, signal)).payload as T | null;
  }

  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    raw?: { bytes: Uint8Array<ArrayBuffer>; contentType: string },
  ): Promise<{ status: number; payload: unknown }> {
    let response: Response;
    try {
      response = await fetch(new URL(`${RUNNER_PROTOCOL_PREFIX}${path}`, this.baseUrl), {
        method,
        headers: {
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(raw ? { 'content-type': raw.contentType } : body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: raw ? raw.bytes : body === undefined ? undefined : JSON.stringify(body),
        signal,
      });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw new ApiCallError(0, 'unreachable', `cannot reach ${this.baseUrl}: ${(error as Error).message}`);
    }
    if (response.status === 204) return { status: 204, payload: null };
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
    if (!text) return { status: response.status, payload: null };
    try {
      return { status: response.status, payload: JSON.parse(text) };
    } catch {
      throw new ApiCallError(
        response.status,
        'unexpected_answer',
        `${method} ${path}: the server answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
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
