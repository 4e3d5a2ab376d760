/**
 * The Durable Object of one workflow's co-editing (`/api/collab/<workflow id>`), speaking the y-websocket
 * protocol (sync and awareness messages, as @y/websocket-server does on Node) over hibernatable WebSockets:
 * the object may be evicted from memory between messages while its connections stay open. Persistence is
 * the Node server's (server/collab/persistence.ts): the CRDT state in `collab_docs` and the draft YAML with a
 * new revision, saved 250 ms after edits stop. Nothing is kept in the object's own storage, so a Node server
 * and this object read the same document; after an eviction the document is loaded again from the database.
 * Awareness (cursors) is not stored: clients renew theirs every 15 s.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { DocSaver, loadDoc, TEXT_NAME } from '../collab/persistence.ts';
import { replaceText } from '../collab/text-sync.ts';
import type { AppDeps } from '../api/env.ts';
import type { BusEvent } from '../services/events.ts';
import { mayEdit, userFor, type Credential } from './collab-auth.ts';
import { baseDeps, type EdgeEnv } from './context.ts';
import { createDurableBus, OBJECT_HEADER, PUBLISH_PATH } from './durable-bus.ts';
import { newWebSocketPair, webSocketResponse, type DurableObjectState, type EdgeWebSocket } from './workers-types.ts';

/** Set by the Worker after it checked the handshake (never taken from the client). */
export const EDITOR_HEADER = 'x-flowyard-editor';
export const CREDENTIAL_HEADER = 'x-flowyard-credential';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const RECHECK_MS = 1000;
const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** WebSocket readyState of an open connection. */
const OPEN = 1;

/** What each connection carries through hibernation. */
interface Attachment {
  workflowId: string;
  editorId: string;
  credential: Credential;
  checkedAt: number;
  /** The awareness client ids this connection controls. */
  clientIds: number[];
}

interface LiveDoc {
  doc: Y.Doc;
  awareness: awarenessProtocol.Awareness;
  saver: DocSaver;
}

const frame = (type: number, write: (encoder: encoding.Encoder) => void) => {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, type);
  write(encoder);
  return encoding.toUint8Array(encoder);
};

export class WorkflowCollab {
  private live: Promise<LiveDoc | null> | undefined;
  private deps: Promise<AppDeps> | undefined;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: EdgeEnv,
  ) {}

  private appDeps(workflowId: string): Promise<AppDeps> {
    this.deps ??= baseDeps(this.env).then((base) => ({ ...base, events: createDurableBus(this.env, { binding: 'WORKFLOW_COLLAB', name: workflowId }) }));
    return this.deps;
  }

  async fetch(request: Request): Promise<Response> {
    const workflowId = request.headers.get(OBJECT_HEADER) ?? '';
    if (new URL(request.url).pathname === PUBLISH_PATH) {
      const event = (await request.json()) as BusEvent;
      if (event.type === 'draft.changed') await this.mergeDraft(event.yaml);
      return new Response(null, { status: 204 });
    }
    const live = await this.document(workflowId);
    if (!live) return new Response('Not Found', { status: 404 });
    const [client, server] = newWebSocketPair();
    this.state.acceptWebSocket(server);
    const attachment: Attachment = {
      workflowId,
      editorId: request.headers.get(EDITOR_HEADER) ?? '',
      credential: JSON.parse(request.headers.get(CREDENTIAL_HEADER) ?? 'null') as Credential,
      checkedAt: Date.now(),
      clientIds: [],
    };
    server.serializeAttachment(attachment);
    server.send(frame(MESSAGE_SYNC, (encoder) => syncProtocol.writeSyncStep1(encoder, live.doc)));
    const states = [...live.awareness.getStates().keys()];
    if (states.length > 0) {
      server.send(frame(MESSAGE_AWARENESS, (encoder) => encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(live.awareness, states))));
    }
    return webSocketResponse(client);
  }

  async webSocketMessage(ws: EdgeWebSocket, message: ArrayBuffer | string): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment;
    if (typeof message === 'string' || message.byteLength > MAX_MESSAGE_BYTES) return ws.close(1003, 'binary y-websocket messages only');
    if (!(await this.stillAllowed(ws, attachment))) return;
    const live = await this.document(attachment.workflowId);
    if (!live) return ws.close(1011, 'the workflow was deleted');
    try {
      const decoder = decoding.createDecoder(new Uint8Array(message));
      const type = decoding.readVarUint(decoder);
      if (type === MESSAGE_SYNC) {
        const encoder = encoding.createEncoder();
        encoding.writeVarUint(encoder, MESSAGE_SYNC);
        syncProtocol.readSyncMessage(decoder, encoder, live.doc, ws);
        if (encoding.length(encoder) > 1) ws.send(encoding.toUint8Array(encoder));
      } else if (type === MESSAGE_AWARENESS) {
        awarenessProtocol.applyAwarenessUpdate(live.awareness, decoding.readVarUint8Array(decoder), ws);
      }
    } catch (error) {
      console.error(`[collab] ${(error as Error).message}`);
      ws.close(1002, 'malformed y-websocket message');
    }
  }

  async webSocketClose(ws: EdgeWebSocket, code: number, reason: string): Promise<void> {
    await this.drop(ws);
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // Already closed by the runtime.
    }
  }

  async webSocketError(ws: EdgeWebSocket): Promise<void> {
    await this.drop(ws);
  }

  /** A connection gone: its cursors leave the others' screens; the last one out saves at once. */
  private async drop(ws: EdgeWebSocket): Promise<void> {
    const attachment = ws.deserializeAttachment() as Attachment;
    const live = await this.live;
    if (!live) return;
    awarenessProtocol.removeAwarenessStates(live.awareness, attachment.clientIds, null);
    if (this.state.getWebSockets().every((other) => other === ws || other.readyState !== OPEN)) await live.saver.flush();
  }

  /** A revoked session or token, or a disabled or demoted user, ends the connection at its next message (checked at most once a second). */
  private async stillAllowed(ws: EdgeWebSocket, attachment: Attachment): Promise<boolean> {
    if (Date.now() - attachment.checkedAt < RECHECK_MS) return true;
    const user = await userFor(await this.appDeps(attachment.workflowId), attachment.credential);
    if (!user || !mayEdit(user)) {
      ws.close(1008, 'credential revoked');
      return false;
    }
    ws.serializeAttachment({ ...attachment, checkedAt: Date.now() });
    return true;
  }

  /** A REST draft save is merged into the live document (a document not in memory loads the draft when it is next opened). */
  private async mergeDraft(yaml: string): Promise<void> {
    const live = await this.live;
    // A live document's own saves come back here too: their text is already in it.
    if (!live || live.doc.getText(TEXT_NAME).toString() === yaml) return;
    replaceText(live.doc.getText(TEXT_NAME), yaml);
    live.saver.schedule();
  }

  /** The live document, loaded from the database at first need (also after the object was evicted); null when the workflow is gone. */
  private document(workflowId: string): Promise<LiveDoc | null> {
    this.live ??= this.load(workflowId).catch((error: unknown) => {
      this.live = undefined;
      throw error;
    });
    return this.live;
  }

  private async load(workflowId: string): Promise<LiveDoc | null> {
    const deps = await this.appDeps(workflowId);
    const doc = new Y.Doc();
    if (!(await loadDoc(deps.db, workflowId, doc))) return null;
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalState(null);
    const saver = new DocSaver(deps.db, deps.events, workflowId, doc, (error) => console.error(`[collab] ${error.message}`));
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      this.broadcast(frame(MESSAGE_SYNC, (encoder) => syncProtocol.writeUpdate(encoder, update)));
      if (origin === 'server') return;
      const editor = (origin as EdgeWebSocket | null)?.deserializeAttachment?.() as Attachment | undefined;
      saver.lastEditor = editor?.editorId ?? saver.lastEditor;
      saver.schedule();
    });
    awareness.on('update', ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown) => {
      const socket = origin as EdgeWebSocket | null;
      if (socket?.deserializeAttachment) {
        const attachment = socket.deserializeAttachment() as Attachment;
        const ids = new Set(attachment.clientIds);
        for (const id of added) ids.add(id);
        for (const id of removed) ids.delete(id);
        socket.serializeAttachment({ ...attachment, clientIds: [...ids] });
      }
      const changed = [...added, ...updated, ...removed];
      this.broadcast(frame(MESSAGE_AWARENESS, (encoder) => encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(awareness, changed))));
    });
    return { doc, awareness, saver };
  }

  private broadcast(message: Uint8Array): void {
    for (const socket of this.state.getWebSockets()) {
      try {
        socket.send(message);
      } catch {
        // A socket closing meanwhile: webSocketClose tidies up.
      }
    }
  }
}
