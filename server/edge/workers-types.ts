/**
 * The few Cloudflare Workers runtime types the edge entry uses (the full set is @cloudflare/workers-types,
 * which this project does not install): Durable Object namespaces, stubs and state, hibernatable WebSockets.
 */
export type DurableObjectId = object;

export interface DurableObjectStub {
  fetch(input: Request | string, init?: RequestInit): Promise<Response>;
}

export interface DurableObjectNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): DurableObjectStub;
}

/** A server-side WebSocket of workerd: accepted by a Durable Object, it survives the object's hibernation. */
export interface EdgeWebSocket extends WebSocket {
  serializeAttachment(value: unknown): void;
  deserializeAttachment(): unknown;
}

export interface DurableObjectState {
  waitUntil(promise: Promise<unknown>): void;
  blockConcurrencyWhile<T>(work: () => Promise<T>): Promise<T>;
  acceptWebSocket(socket: WebSocket, tags?: string[]): void;
  getWebSockets(tag?: string): EdgeWebSocket[];
}

export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
}

/** The pair `new WebSocketPair()` gives: [client, server]. */
export function newWebSocketPair(): [WebSocket, EdgeWebSocket] {
  const Pair = (globalThis as unknown as { WebSocketPair: new () => Record<0 | 1, WebSocket> }).WebSocketPair;
  const pair = new Pair();
  return [pair[0], pair[1] as EdgeWebSocket];
}

/** The 101 answer that hands the client end of a WebSocketPair to the runtime. */
export function webSocketResponse(client: WebSocket): Response {
  return new Response(null, { status: 101, webSocket: client } as ResponseInit);
}
