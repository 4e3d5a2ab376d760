/**
 * Co-editing on Deno: `/api/collab/<workflow id>` over `Deno.upgradeWebSocket`, speaking the y-websocket
 * protocol (server/deno/yjs-room.ts). Documents are loaded and saved as on Node (server/collab/persistence.ts);
 * they live in this isolate, so with several Deno isolates one workflow's editors must reach the same one.
 */
import type { AppDeps } from '../api/env.ts';
import { SESSION_COOKIE } from '../api/middleware/auth.ts';
import { hasRole, userForApiToken, userForSession, type AuthUser } from '../services/auth.ts';
import { systemWorkflowName } from '../services/system-workflows.ts';
import { DocSaver, loadDoc, TEXT_NAME } from '../collab/persistence.ts';
import { replaceText } from '../collab/text-sync.ts';
import type { DenoRuntime } from './runtime.ts';
import { YjsRoom } from './yjs-room.ts';

export const COLLAB_PREFIX = '/api/collab/';
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
const RECHECK_MS = 1000;
/** Deno pings an idle socket and closes it when no pong comes back within this many seconds. */
const IDLE_TIMEOUT_S = 30;
const OWN_SAVES_KEPT = 16;

interface LiveDoc {
  room: YjsRoom;
  saver: DocSaver;
  loaded: Promise<boolean>;
}

function cookie(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** The user behind the handshake: an API token, or the session cookie from a page of this server (Origin checked). */
async function authenticate(request: Request, deps: AppDeps): Promise<AuthUser | null> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.get('authorization') ?? '')?.[1];
  if (bearer) {
    const user = await userForApiToken(deps.db, bearer);
    return user && bearer === deps.config.adminToken ? { ...user, mustChangePassword: false } : user;
  }
  const origin = request.headers.get('origin');
  if (origin && origin !== new URL(deps.config.publicUrl).origin && origin !== new URL(request.url).origin) return null;
  const session = cookie(request, SESSION_COOKIE);
  return session ? userForSession(deps.db, session) : null;
}

const refuse = (status: number, message: string) => Response.json({ error: { code: status === 401 ? 'unauthorized' : 'forbidden', message } }, { status });

/** Returns the handler of co-editing handshakes; everything else is the app's. */
export function denoCollab(deps: AppDeps, deno: DenoRuntime) {
  const live = new Map<string, LiveDoc>();
  const ownSaves = new Set<string>();
  const editors = new WeakMap<WebSocket, string>();
  const logError = (error: Error) => console.error(`[collab] ${error.message}`);
  const rememberSave = (yaml: string) => {
    ownSaves.add(yaml);
    if (ownSaves.size > OWN_SAVES_KEPT) ownSaves.delete(ownSaves.values().next().value!);
  };

  function open(workflowId: string): LiveDoc {
    const existing = live.get(workflowId);
    if (existing) return existing;
    const room = new YjsRoom(() => {
      live.delete(workflowId);
      void saver.flush().finally(() => room.doc.destroy());
    });
    const saver = new DocSaver(deps.db, deps.events, workflowId, room.doc, logError, rememberSave);
    room.doc.on('update', (_update: Uint8Array, origin: unknown) => {
      if (origin === 'server') return;
      saver.lastEditor = editors.get(origin as WebSocket) ?? saver.lastEditor;
      saver.schedule();
    });
    const entry = { room, saver, loaded: loadDoc(deps.db, workflowId, room.doc) };
    live.set(workflowId, entry);
    return entry;
  }

  // A draft saved through REST joins a live document; the document's own saves come back here too.
  deps.events.subscribe('draft.changed', ({ workflowId, yaml }) => {
    const entry = live.get(workflowId);
    const text = entry?.room.doc.getText(TEXT_NAME);
    if (!entry || !text || ownSaves.has(yaml) || text.toString() === yaml) return;
    replaceText(text, yaml);
    entry.saver.schedule();
  });

  return async function handshake(request: Request): Promise<Response> {
    const workflowId = decodeURIComponent(new URL(request.url).pathname.slice(COLLAB_PREFIX.length));
    if ((request.headers.get('upgrade') ?? '').toLowerCase() !== 'websocket')
      return refuse(426, 'co-editing speaks the y-websocket protocol: open a WebSocket');
    const user = await authenticate(request, deps);
    if (!user) return refuse(401, 'sign in or send an API token as "Authorization: Bearer <token>"');
    if (!hasRole(user, 'editor') || user.mustChangePassword) return refuse(403, 'co-editing needs the editor role');
    if ((await systemWorkflowName(deps.db, workflowId)) !== null) return refuse(403, 'plugin validation workflows are read-only');
    const entry = open(workflowId);
    if (!(await entry.loaded)) {
      live.delete(workflowId);
      entry.room.doc.destroy();
      return Response.json({ error: { code: 'not_found', message: `no workflow ${workflowId}` } }, { status: 404 });
    }
    const { socket, response } = deno.upgradeWebSocket(request, { idleTimeout: IDLE_TIMEOUT_S });
    socket.binaryType = 'arraybuffer';
    editors.set(socket, user.id);
    // A revoked credential or a demoted user ends the connection within a second.
    const recheck = setInterval(() => {
      authenticate(request, deps)
        .then((again) => {
          if (!again || !hasRole(again, 'editor') || again.mustChangePassword) socket.close(1008, 'credential revoked');
        })
        .catch(logError);
    }, RECHECK_MS);
    socket.addEventListener('open', () => {
      // The document closed while this handshake waited: the client reconnects and loads it afresh.
      if (live.get(workflowId) !== entry) return socket.close(1013, 'try again');
      entry.room.join(socket);
    });
    socket.addEventListener('message', (message) => {
      const data = message.data as ArrayBuffer | string;
      if (typeof data === 'string') return socket.close(1003, 'binary messages only');
      if (data.byteLength > MAX_MESSAGE_BYTES) return socket.close(1009, 'message too big');
      try {
        entry.room.receive(socket, new Uint8Array(data));
      } catch (error) {
        logError(error as Error);
        socket.close(1007, 'malformed y-websocket message');
      }
    });
    socket.addEventListener('close', () => {
      clearInterval(recheck);
      entry.room.leave(socket);
    });
    return response;
  };
}
