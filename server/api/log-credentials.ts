/**
 * The credential checks of open log streams, shared by the streams that came with the same credential: one
 * database check answers them all, so 500 viewers on one share link or token cost one check per log append
 * and about one a second at idle, not 500.
 */
import type { Context } from 'hono';
import type { Db } from '../../db/client.ts';
import { tick } from '../services/log-feed.ts';
import { runIdForShareToken } from '../services/shares.ts';
import type { AppEnv } from './env.ts';
import { authenticateRequest, sessionTokenOf } from './middleware/auth.ts';

/** How old an answer an idle stream accepts: revocation ends an idle stream within about a second more. */
const IDLE_ANSWER_MS = 1000;

interface SharedCheck {
  run: () => Promise<boolean>;
  last?: { tick: number; at: number; ok: Promise<boolean> };
  streams: number;
}

const checks = new WeakMap<Db, Map<string, SharedCheck>>();

export interface StreamCredential {
  /** Whether the credential still opens the run, by a check begun after tick `since`, or at most a second old without it. */
  allowed(since?: number): Promise<boolean>;
  release(): void;
}

/**
 * Whether the credential this request came with still opens the run: the share token in the path for share
 * links, else the session or API token (revoked, expired, deleted or disabled user all end it).
 */
export function streamCredential(c: Context<AppEnv>, runId: string): StreamCredential {
  const { db } = c.get('deps');
  const shareToken = c.req.param('token');
  // Everything the answer depends on is in the key: a stream only ever shares the answer to its own credential.
  const key =
    shareToken !== undefined
      ? JSON.stringify(['share', shareToken, runId])
      : JSON.stringify(['auth', c.req.method, c.req.header('Authorization') ?? null, sessionTokenOf(c) ?? null]);
  const run =
    shareToken !== undefined
      ? () =>
          runIdForShareToken(db, shareToken).then(
            (id) => id === runId,
            () => false,
          )
      : async () => (await authenticateRequest(c)).ok;
  const ofDb = checks.get(db) ?? new Map<string, SharedCheck>();
  checks.set(db, ofDb);
  const check = ofDb.get(key) ?? { run, streams: 0 };
  ofDb.set(key, check);
  check.streams++;
  let released = false;
  return {
    allowed(since) {
      const last = check.last;
      if (last && (since === undefined ? Date.now() - last.at < IDLE_ANSWER_MS : last.tick > since)) return last.ok;
      const begun = { tick: tick(), at: Date.now(), ok: check.run() };
      check.last = begun;
      // A failed check is not kept: the next stream to ask checks again.
      begun.ok.catch(() => {
        if (check.last === begun) check.last = undefined;
      });
      return begun.ok;
    },
    release() {
      if (released) return;
      released = true;
      if (--check.streams === 0 && ofDb.get(key) === check) ofDb.delete(key);
    },
  };
}
