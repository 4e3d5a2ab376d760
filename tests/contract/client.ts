/** How the contract suite talks to an API: JSON over HTTP, server-sent events, and y-websocket co-editing. */
import WebSocket from 'ws';
import { WebsocketProvider } from 'y-websocket';
import * as Y from 'yjs';

export interface Answer {
  status: number;
  headers: Headers;
  body: any;
}

export type Call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => Promise<Answer>;

/** Calls the API with `credential` (a Bearer token, a `cookie:` header value, or none). */
export function caller(baseUrl: string, credential?: { token: string } | { cookie: string }): Call {
  return async (method, path, body, headers = {}) => {
    // A browser sends its Origin with the session cookie; the API refuses cookie writes from other origins.
    const auth: Record<string, string> = !credential
      ? {}
      : 'token' in credential
        ? { authorization: `Bearer ${credential.token}` }
        : { cookie: credential.cookie, origin: baseUrl };
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      redirect: 'manual',
      headers: { ...auth, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: the body stays text
    }
    return { status: response.status, headers: response.headers, body: parsed };
  };
}

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** Reads an SSE stream until an event named `until` (or the stream's end); fails after `timeoutMs`. */
export async function readSse(url: string, headers: Record<string, string>, until = 'end', timeoutMs = 30_000): Promise<SseEvent[]> {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new Error(`no "${until}" event within ${timeoutMs} ms from ${url}`)), timeoutMs);
  try {
    const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
    if (response.status !== 200) throw new Error(`SSE ${url} answered ${response.status}: ${await response.text()}`);
    const events: SseEvent[] = [];
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(':');
          const value = rest.join(':').replace(/^ /, '');
          if (field === 'event') event.event = value;
          else if (field === 'id') event.id = value;
          else if (field === 'data') event.data += value;
        }
        events.push(event);
        if (event.event === until) return events;
      }
    }
    return events;
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
}

/** A co-editor as a browser is one: a Yjs document synced over the y-websocket protocol. */
export function coEditor(wsUrl: string, workflowId: string, token: string) {
  const doc = new Y.Doc();
  const AuthedWebSocket = class extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { authorization: `Bearer ${token}` } });
    }
  };
  const provider = new WebsocketProvider(`${wsUrl}/api/collab`, workflowId, doc, { WebSocketPolyfill: AuthedWebSocket as never, disableBc: true });
  const synced = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no y-websocket sync for workflow ${workflowId} within 10 s`)), 10_000);
    provider.once('sync', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    text: doc.getText('yaml'),
    synced,
    close() {
      provider.destroy();
      doc.destroy();
    },
  };
}

/** The answer to a WebSocket handshake the server refuses: its status and body. */
export function refusedHandshake(url: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    socket.once('open', () => {
      socket.close();
      reject(new Error(`${url} accepted the WebSocket`));
    });
    socket.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    socket.once('error', (error) => reject(error));
  });
}

export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
