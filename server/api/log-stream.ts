import type { Context } from 'hono';
import { stream, streamSSE } from 'hono/streaming';
import { readLogTail, readWholeLog } from '../services/logs.ts';
import { followStepLog } from '../services/log-feed.ts';
import { getRun } from '../services/runs.ts';
import { ApiError } from '../services/errors.ts';
import { whileOpen } from '../services/open-count.ts';
import type { AppEnv } from './env.ts';
import { streamCredential } from './log-credentials.ts';

const decoder = new TextDecoder();

/**
 * Server-sent events for one step's log: one `log` event per stored chunk (id = its sequence number, data =
 * the text as a JSON string), from after `lastEventId`, in sequence order, then live until the step ends, then one `end` event.
 * A client that reconnects with Last-Event-ID gets exactly the chunks it missed. The chunks come from the step's
 * shared feed (server/services/log-feed.ts). The request's credential is checked again before every batch sent
 * (by a check begun after the batch was stored) and about every idle second: once it is revoked the stream ends
 * with a `revoked` event and sends nothing more.
 */
export function streamStepLog(c: Context<AppEnv>, runId: string, stepIndex: number, lastEventId: number) {
  const { db, events, metrics } = c.get('deps');
  return streamSSE(
    c,
    whileOpen(metrics?.sseConnections, async (sse) => {
      const credential = streamCredential(c, runId);
      let closed = false;
      sse.onAbort(() => {
        closed = true;
      });
      try {
        const outcome = await followStepLog(db, events, runId, stepIndex, lastEventId, {
          allowed: (since) => credential.allowed(since),
          send: (chunk) => sse.writeSSE({ event: 'log', id: String(chunk.seq), data: JSON.stringify(decoder.decode(chunk.data)) }),
          get closed() {
            return closed;
          },
        });
        if ('revoked' in outcome) await sse.writeSSE({ event: 'revoked', data: JSON.stringify({ message: 'access to this log was revoked' }) });
        if ('ended' in outcome) await sse.writeSSE({ event: 'end', data: JSON.stringify({ state: outcome.ended }) });
      } finally {
        credential.release();
      }
    }),
  );
}

/**
 * A step's log as live SSE when the client asks for text/event-stream, else as raw text: all of it, or
 * with `tailLines` only its last lines (header `X-Log-Truncated: 1` when earlier lines were left out).
 */
export async function respondWithStepLog(c: Context<AppEnv>, runId: string, stepName: string, tailLines?: number) {
  const { db } = c.get('deps');
  const run = await getRun(db, runId);
  const step = run.steps.find((s) => s.name === stepName);
  if (!step) throw new ApiError(404, 'not_found', `run #${run.number} has no step "${stepName}"`);
  if ((c.req.header('Accept') ?? '').includes('text/event-stream')) {
    const lastEventId = Number(c.req.header('Last-Event-ID') ?? c.req.query('lastEventId') ?? -1);
    return streamStepLog(c, run.id, step.index, Number.isInteger(lastEventId) ? lastEventId : -1);
  }
  return respondWithText(c, {
    filename: `${run.workflowName}-${run.number}-${step.name}.log`,
    tail: tailLines === undefined ? undefined : () => readLogTail(db, run.id, step.index, tailLines),
    whole: () => readWholeLog(db, run.id, step.index),
  });
}

/** A log as plain text: its last lines (with X-Log-Truncated), or the whole of it streamed as a download. */
export async function respondWithText(
  c: Context<AppEnv>,
  log: { filename: string; tail?: () => Promise<{ data: Uint8Array; truncated: boolean }>; whole: () => AsyncIterable<Uint8Array> },
): Promise<Response> {
  c.header('Content-Type', 'text/plain; charset=utf-8');
  if (log.tail) {
    const tail = await log.tail();
    c.header('X-Log-Truncated', tail.truncated ? '1' : '0');
    return c.body(tail.data as Uint8Array<ArrayBuffer>, 200);
  }
  c.header('Content-Disposition', `attachment; filename="${log.filename}"`);
  return stream(c, async (out) => {
    for await (const chunk of log.whole()) await out.write(chunk);
  });
}
