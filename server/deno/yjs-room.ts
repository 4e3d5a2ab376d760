/**
 * The server side of the y-websocket protocol for Web WebSockets (Deno), on y-protocols: one room per
 * document, sync step 1/2 and updates (message 0), awareness (message 1), each update sent to every
 * connection. @y/websocket-server does the same for `ws` sockets on Node, but it imports y-leveldb, whose
 * native leveldown binding Deno Deploy cannot load.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';

const MESSAGE_SYNC = 0;
const MESSAGE_AWARENESS = 1;
const OPEN = 1;

export class YjsRoom {
  readonly doc = new Y.Doc();
  private readonly awareness = new awarenessProtocol.Awareness(this.doc);
  /** Each connection with the awareness client ids it controls. */
  private readonly connections = new Map<WebSocket, Set<number>>();

  constructor(private readonly onEmpty: () => void) {
    this.awareness.setLocalState(null);
    this.doc.on('update', (update: Uint8Array) => {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.writeUpdate(encoder, update);
      this.broadcast(encoding.toUint8Array(encoder));
    });
    this.awareness.on('update', ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown) => {
      const controlled = this.connections.get(origin as WebSocket);
      if (controlled) {
        for (const id of added) controlled.add(id);
        for (const id of removed) controlled.delete(id);
      }
      const changed = [...added, ...updated, ...removed];
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, changed));
      this.broadcast(encoding.toUint8Array(encoder));
    });
  }

  get size(): number {
    return this.connections.size;
  }

  /** Starts the sync with an open socket: sync step 1 and the current awareness states. */
  join(socket: WebSocket): void {
    this.connections.set(socket, new Set());
    const sync = encoding.createEncoder();
    encoding.writeVarUint(sync, MESSAGE_SYNC);
    syncProtocol.writeSyncStep1(sync, this.doc);
    send(socket, encoding.toUint8Array(sync));
    const states = this.awareness.getStates();
    if (states.size > 0) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_AWARENESS);
      encoding.writeVarUint8Array(encoder, awarenessProtocol.encodeAwarenessUpdate(this.awareness, [...states.keys()]));
      send(socket, encoding.toUint8Array(encoder));
    }
  }

  /** One protocol message from `socket`; the socket is the origin of the changes it makes. */
  receive(socket: WebSocket, message: Uint8Array): void {
    const decoder = decoding.createDecoder(message);
    const type = decoding.readVarUint(decoder);
    if (type === MESSAGE_SYNC) {
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, MESSAGE_SYNC);
      syncProtocol.readSyncMessage(decoder, encoder, this.doc, socket);
      // A reply (sync step 2) is more than the message type.
      if (encoding.length(encoder) > 1) send(socket, encoding.toUint8Array(encoder));
    } else if (type === MESSAGE_AWARENESS) {
      awarenessProtocol.applyAwarenessUpdate(this.awareness, decoding.readVarUint8Array(decoder), socket);
    }
  }

  leave(socket: WebSocket): void {
    const controlled = this.connections.get(socket);
    if (!controlled) return;
    this.connections.delete(socket);
    awarenessProtocol.removeAwarenessStates(this.awareness, [...controlled], null);
    if (this.connections.size === 0) this.onEmpty();
  }

  private broadcast(message: Uint8Array): void {
    for (const socket of this.connections.keys()) send(socket, message);
  }
}

function send(socket: WebSocket, message: Uint8Array): void {
  if (socket.readyState !== OPEN) return;
  try {
    socket.send(message);
  } catch {
    socket.close();
  }
}
