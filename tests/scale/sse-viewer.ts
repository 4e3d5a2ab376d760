import { TEST_ADMIN_TOKEN } from '../helpers/api.ts';

export interface SseEvent {
  event: string;
  id?: string;
  data: string;
  receivedAt: number;
}

/** One SSE connection to a step's log; `events` fills as they arrive, `closed` settles when the stream ends or breaks. */
export function openLogStream(base: string, runId: string, step: string, lastEventId?: string) {
  const events: SseEvent[] = [];
  const controller = new AbortController();
  const waiters: (() => void)[] = [];
  const closed = (async () => {
    const headers: Record<string, string> = { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const response = await fetch(`${base}/api/runs/${runId}/logs?step=${encodeURIComponent(step)}`, { headers, signal: controller.signal });
    if (!response.ok || !response.body) throw new Error(`SSE ${base}: ${response.status} ${await response.text()}`);
    const decoder = new TextDecoder();
    let pending = '';
    for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
      const receivedAt = Date.now();
      pending += decoder.decode(bytes, { stream: true });
      let boundary: number;
      while ((boundary = pending.indexOf('\n\n')) >= 0) {
        const block = pending.slice(0, boundary);
        pending = pending.slice(boundary + 2);
        const field = (name: string) =>
          block
            .split('\n')
            .find((line) => line.startsWith(`${name}:`))
            ?.slice(name.length + 1)
            .trimStart();
        const event = { event: field('event') ?? 'message', id: field('id'), data: field('data') ?? '', receivedAt };
        events.push(event);
        for (const wake of waiters.splice(0)) wake();
        if (event.event === 'end') return;
      }
    }
  })().finally(() => {
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    events,
    closed,
    close: () => controller.abort(),
    /** The first event that `match` accepts, waiting for it up to `timeoutMs`. */
    async next(match: (event: SseEvent) => boolean, timeoutMs = 10_000): Promise<SseEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.find(match);
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no matching SSE event within ${timeoutMs} ms; got ${JSON.stringify(events.map((e) => e.event))}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 100);
        });
      }
    },
  };
}

/**
 * A viewer that reads a step's whole log through the load balancer, reconnecting with Last-Event-ID whenever its
 * stream breaks (a replica died), until the `end` event. Returns every chunk received, in order, and how many
 * connections it took. `firstBase` is where the first connection goes (a replica about to be killed).
 */
export async function followLog(base: string, runId: string, step: string, options: { timeoutMs?: number; firstBase?: string; onChunk?: () => void } = {}) {
  const timeoutMs = options.timeoutMs ?? 45_000;
  const chunks: { seq: number; text: string }[] = [];
  let lastEventId: string | undefined;
  let connections = 0;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    connections++;
    const stream = openLogStream(connections === 1 ? (options.firstBase ?? base) : base, runId, step, lastEventId);
    let seen = 0;
    const counting = setInterval(() => {
      for (; seen < stream.events.length; seen++) if (stream.events[seen]!.event === 'log') options.onChunk?.();
    }, 50);
    const outcome = await stream.closed.then(
      () => 'ended',
      () => 'broken',
    );
    clearInterval(counting);
    for (const event of stream.events) {
      if (event.event !== 'log') continue;
      chunks.push({ seq: Number(event.id), text: JSON.parse(event.data) as string });
      lastEventId = event.id;
    }
    if (outcome === 'ended' && stream.events.at(-1)?.event === 'end')
      return { chunks, connections, end: JSON.parse(stream.events.at(-1)!.data) as { state: string } };
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`the log of step ${step} did not end within ${timeoutMs} ms`);
}
