import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  body: string;
}

export interface HttpProxy {
  url: string;
  /** Every request the proxy received while not blocked, in order, with its body. */
  requests: RecordedRequest[];
  /** Cuts every open connection and resets new ones: the runner behind it is partitioned from the API. */
  block(): void;
  unblock(): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host']);

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A loopback HTTP proxy in front of `target` that records what passes and can drop off the network. */
export async function startProxy(target: string): Promise<HttpProxy> {
  const sockets = new Set<Socket>();
  const requests: RecordedRequest[] = [];
  let blocked = false;
  const server = createServer(async (request, response) => {
    if (blocked) return request.socket.destroy();
    const body = await readBody(request);
    requests.push({ method: request.method ?? 'GET', path: request.url ?? '/', body: body.toString('utf8') });
    const upstream = new AbortController();
    response.on('close', () => upstream.abort());
    try {
      const headers = Object.fromEntries(
        Object.entries(request.headers)
          .filter(([name]) => !HOP_BY_HOP.has(name))
          .map(([name, value]) => [name, String(value)]),
      );
      const answer = await fetch(new URL(request.url ?? '/', target), {
        method: request.method,
        headers,
        body: body.length ? new Uint8Array(body) : undefined,
        signal: upstream.signal,
      });
      const text = Buffer.from(await answer.arrayBuffer());
      if (blocked) return request.socket.destroy();
      response.writeHead(answer.status, Object.fromEntries([...answer.headers].filter(([name]) => !HOP_BY_HOP.has(name))));
      response.end(text);
    } catch {
      request.socket.destroy();
    }
  });
  server.on('connection', (socket) => {
    if (blocked) return socket.destroy();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    block() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
