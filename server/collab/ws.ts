import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { docs, getYDoc, setPersistence, setupWSConnection } from '@y/websocket-server/utils';
import { WebSocketServer, type WebSocket } from 'ws';
import type * as Y from 'yjs';
import type { AppDeps } from '../api/env.ts';
import type { AuthUser } from '../services/auth.ts';
import { SESSION_COOKIE } from '../api/middleware/auth.ts';
import { hasRole, userForApiToken, userForSession } from '../services/auth.ts';
import { systemWorkflowName } from '../services/system-workflows.ts';
import { DocSaver, loadDoc, RELAY_ORIGIN, TEXT_NAME, workflowIdOfDoc } from './persistence.ts';
import { CollabRelay, yamlHash } from './relay.ts';
import { replaceText } from './text-sync.ts';

export const COLLAB_PATH_PREFIX = '/api/collab/';

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return decodeURIComponent(value.join('='));
  }
  return undefined;
}

/** The user behind the handshake, or null. */
async function authenticate(req: IncomingMessage, deps: AppDeps): Promise<AuthUser | null> {
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (bearer) {
    const user = await userForApiToken(deps.db, bearer);
    // The operator's FLOWYARD_ADMIN_TOKEN is exempt from the password change, as on every REST route.
    return user && bearer === deps.config.adminToken ? { ...user, mustChangePassword: false } : user;
  }
  // Browsers send cookies on cross-site WebSocket handshakes too, so the Origin must be ours.
  const origin = req.headers.origin;
  const allowed = [new URL(deps.config.publicUrl).origin, `http://${req.headers.host}`, `https://${req.headers.host}`];
  if (origin && !allowed.includes(origin)) return null;
  const session = cookie(req, SESSION_COOKIE);
  return session ? userForSession(deps.db, session) : null;
}

const RECHECK_MS = 1000;
/** How long the election of the one process that merges a REST draft save into a live document holds. */
const DRAFT_MERGE_ONCE_MS = 10_000;

/** A revoked session or token, or a disabled or demoted user, ends the open connection within a second. */
function watchCredential(ws: WebSocket, req: IncomingMessage, deps: AppDeps, onError: (error: Error) => void) {
  const timer = setInterval(() => {
    authenticate(req, deps)
      .then((user) => {
        if (!user || !hasRole(user, 'editor') || user.mustChangePassword) ws.close(1008, 'credential revoked');
      })
      .catch(onError);
  }, RECHECK_MS);
  timer.unref?.();
  ws.on('close', () => clearInterval(timer));
}

function refuse(socket: Duplex, status: number, message: string) {
  socket.end(`HTTP/1.1 ${status} ${message}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/**
 * Live co-editing of workflow drafts over the y-websocket protocol at /api/collab/<workflow id>.
 * Documents are kept in this process while someone edits; their CRDT state and the draft YAML are saved
 * to the database as they change. With a cross-process bus (FLOWYARD_PUBSUB_URL), editors of one workflow
 * may be connected to different API processes: the relay carries updates between them, and each process
 * saves its own editors' changes merged with the stored state (server/collab/persistence.ts).
 */
export function attachCollab(server: Server, deps: AppDeps) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 * 1024 * 1024 });
  const savers = new Map<string, DocSaver>();
  const loading = new Map<string, Promise<boolean>>();
  const editors = new WeakMap<object, string>();
  const logError = (error: Error) => console.error(`[collab] ${error.message}`);
  type LiveDoc = ReturnType<typeof getYDoc>;
  const relay = new CollabRelay(deps.events, (workflowId) =>
    loading.has(`workflow/${workflowId}`) ? (docs.get(`workflow/${workflowId}`) as LiveDoc) : undefined,
  );

  setPersistence({
    provider: null,
    bindState: (docName: string, doc: Y.Doc) => {
      const workflowId = workflowIdOfDoc(docName);
      const saver = new DocSaver(deps.db, deps.events, workflowId, doc, logError, (yaml) => relay.announceSave(workflowId, yaml));
      savers.set(docName, saver);
      doc.on('update', (_update: Uint8Array, origin: unknown) => {
        // Each process saves its own editors' changes; another process's arrive through the relay and are saved there.
        if (origin === 'server' || origin === RELAY_ORIGIN) return;
        saver.lastEditor = (origin ? editors.get(origin as object) : undefined) ?? saver.lastEditor;
        saver.schedule();
      });
      const loaded = loadDoc(deps.db, workflowId, doc);
      loading.set(docName, loaded);
      void loaded.then((found) => found && relay.bind(workflowId, doc as LiveDoc), logError);
    },
    writeState: async (docName: string) => {
      await savers.get(docName)?.flush();
      savers.delete(docName);
      loading.delete(docName);
      relay.forget(workflowIdOfDoc(docName));
    },
  });

  const stopListening = deps.events.subscribe('draft.changed', ({ workflowId, yaml }) => {
    const docName = `workflow/${workflowId}`;
    const doc = docs.get(docName);
    // A live document's own saves come back here too (from this process or another): their text is already in it.
    if (!doc || doc.getText(TEXT_NAME).toString() === yaml || relay.isOwnSave(workflowId, yaml)) return;
    // A REST save is merged by one of the processes holding the document; the relay brings it to the others.
    void (deps.events.once?.(`draft:${workflowId}:${yamlHash(yaml)}`, DRAFT_MERGE_ONCE_MS) ?? Promise.resolve(true)).then((mine) => {
      if (!mine || docs.get(docName) !== doc || doc.getText(TEXT_NAME).toString() === yaml) return;
      replaceText(doc.getText(TEXT_NAME), yaml);
      savers.get(docName)?.schedule();
    }, logError);
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0]!;
    if (!path.startsWith(COLLAB_PATH_PREFIX)) return;
    const workflowId = decodeURIComponent(path.slice(COLLAB_PATH_PREFIX.length));
    void (async () => {
      const user = await authenticate(req, deps);
      if (!user) return refuse(socket, 401, 'Unauthorized');
      if (!hasRole(user, 'editor') || user.mustChangePassword) return refuse(socket, 403, 'Forbidden');
      // Plugin validation workflows are read-only to every user (services/system-workflows.ts).
      if ((await systemWorkflowName(deps.db, workflowId)) !== null) return refuse(socket, 403, 'Forbidden');
      const docName = `workflow/${workflowId}`;
      // Creating the shared doc starts loading it; connections wait so nobody syncs an empty draft.
      const doc = getYDoc(docName);
      if (!(await loading.get(docName))) {
        docs.delete(docName);
        doc.destroy();
        return refuse(socket, 404, 'Not Found');
      }
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
        // An oversized or broken frame is this connection's problem, not the process's: ws closes it (1009, 1002).
        ws.on('error', logError);
        deps.metrics?.collabConnections.inc();
        ws.on('close', () => deps.metrics?.collabConnections.dec());
        editors.set(ws, user.id);
        watchCredential(ws, req, deps, logError);
        setupWSConnection(ws, req, { docName });
      });
    })().catch((error: Error) => {
      logError(error);
      refuse(socket, 500, 'Internal Server Error');
    });
  };
  server.on('upgrade', onUpgrade);

  return {
    async close() {
      server.off('upgrade', onUpgrade);
      stopListening();
      relay.close();
      for (const client of wss.clients) client.terminate();
      await Promise.all([...savers.values()].map((saver) => saver.flush()));
      wss.close();
    },
  };
}
