import { and, eq } from 'drizzle-orm';
import type { Context } from 'hono';
import { stream, streamSSE } from 'hono/streaming';
import { runSteps } from '../../db/schema.ts';
import { readLogPage, readLogTail, readWholeLog } from '../services/logs.ts';
import { getRun } from '../services/runs.ts';
import { runIdForShareToken } from '../services/shares.ts';
import { ApiError } from '../services/errors.ts';
import { whileOpen } from '../services/open-count.ts';
import type { AppEnv } from './env.ts';
import { authenticateRequest } from './middleware/auth.ts';

const IDLE_WAIT_MS = 1000;
const decoder = new TextDecoder();

/**
 * Whether the credential this request came with still opens the run: the share token in the path for share
 * links, else the session or API token (revoked, expired, deleted or disabled user all end it).
 */
function credentialCheck(c: Context<AppEnv>, runId: string): () => Promise<boolean> {
  const { db } = c.get('deps');
  const shareToken = c.req.param('token');
  if (shareToken !== undefined) {
    return () =>
      runIdForShareToken(db, shareToken).then(
        (id) => id === runId,
        () => false,
      );
  }
  return async () => (await authenticateRequest(c)).ok;
}

/**
 * Server-sent events for one step's log: one `log` event per stored chunk (id = its sequence number, data =
 * the text as a JSON string), from after `lastEventId`, in sequence order, then live until the step ends, then one `end` event.
 * A client that reconnects with Last-Event-ID gets exactly the chunks it missed. The request's credential is
 * checked again before every page sent and every idle second: once it is revoked the stream ends with a
 * `revoked` event and sends nothing more.
 */
export function streamStepLog(c: Context<AppEnv>, runId: string, stepIndex: number, lastEventId: number) {
  const { db, events, metrics } = c.get('deps');
  const stillAllowed = credentialCheck(c, runId);
  return streamSSE(
    c,
    whileOpen(metrics?.sseConnections, async (sse) => {
      let after = lastEventId;
      let aborted = false;
      sse.onAbort(() => {
        aborted = true;
      });
      while (!aborted) {
        // Listen before reading: a chunk stored while this pass reads and checks must wake the wait below at once.
        const appended = events.next('log.appended', IDLE_WAIT_MS, (event) => event.runId === runId);
        const page = await readLogPage(db, runId, stepIndex, after);
        if (!(await stillAllowed())) {
          await sse.writeSSE({ event: 'revoked', data: JSON.stringify({ message: 'access to this log was revoked' }) });
          return;
        }
        const send = async (chunks: typeof page) => {
          for (const chunk of chunks) {
            await sse.writeSSE({ event: 'log', id: String(chunk.seq), data: JSON.stringify(decoder.decode(chunk.data)) });
            after = chunk.seq;
          }
        };
        // A runner sends a few batches at once, so a later chunk may be stored before an earlier one: while the step
        // runs, only the chunks that follow on without a gap are sent, and the rest once the gap is filled.
        const inOrder = page.findIndex((chunk, i) => chunk.seq !== after + 1 + i);
        const ready = inOrder < 0 ? page : page.slice(0, inOrder);
        await send(ready);
        if (ready.length > 0) continue;
        const [step] = await db
          .select({ state: runSteps.state })
          .from(runSteps)
          .where(and(eq(runSteps.runId, runId), eq(runSteps.index, stepIndex)));
        if (!step || !['pending', 'running'].includes(step.state)) {
          // The step ended, so nothing more comes: what is stored goes out, gaps (a batch the API refused) and all.
          if (page.length > 0) {
            await send(page);
            continue;
          }
          // A last look: chunks may have landed between the empty page and the state read.
          if ((await readLogPage(db, runId, stepIndex, after, 1)).length > 0) continue;
          await sse.writeSSE({ event: 'end', data: JSON.stringify({ state: step?.state ?? 'unknown' }) });
          return;
        }
        await appended;
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
