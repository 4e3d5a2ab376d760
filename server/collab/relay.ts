import { createHash, randomUUID } from 'node:crypto';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as Y from 'yjs';
import type { EventBus } from '../services/events.ts';
import { RELAY_ORIGIN } from './persistence.ts';

/** How many of a document's own recent saves are remembered, so their draft.changed is not merged back in. */
const RECENT_SAVES = 32;

type LiveDoc = Y.Doc & { awareness: awarenessProtocol.Awareness };

const toBase64 = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
const fromBase64 = (text: string) => new Uint8Array(Buffer.from(text, 'base64'));
export const yamlHash = (yaml: string) => createHash('sha256').update(yaml).digest('base64url');

/**
 * Co-editing across API processes without sticky routing: every process that has a workflow's document open
 * publishes its Yjs and awareness updates on the bus and applies the others'. A process that opens a document
 * says hello with its state; the others answer with theirs, so it catches up with edits not yet saved. Yjs
 * updates merge whatever their order or repetition, so a replayed or crossing update changes nothing. With the
 * in-process bus nothing else hears these events and this costs one publish per update.
 */
export class CollabRelay {
  readonly origin = randomUUID();
  private readonly recentSaves = new Map<string, string[]>();
  private readonly stops: (() => void)[];

  constructor(
    private readonly events: EventBus,
    private readonly liveDoc: (workflowId: string) => LiveDoc | undefined,
  ) {
    const foreign = (event: { origin: string; workflowId: string }) => event.origin !== this.origin && this.liveDoc(event.workflowId) !== undefined;
    this.stops = [
      events.subscribe('collab.update', (event) => Y.applyUpdate(this.liveDoc(event.workflowId)!, fromBase64(event.update), RELAY_ORIGIN), foreign),
      events.subscribe(
        'collab.awareness',
        (event) => awarenessProtocol.applyAwarenessUpdate(this.liveDoc(event.workflowId)!.awareness, fromBase64(event.update), RELAY_ORIGIN),
        foreign,
      ),
      events.subscribe(
        'collab.hello',
        (event) => {
          const doc = this.liveDoc(event.workflowId)!;
          Y.applyUpdate(doc, fromBase64(event.update), RELAY_ORIGIN);
          this.publishState(event.workflowId, doc);
        },
        foreign,
      ),
      events.subscribe(
        'collab.saving',
        (event) => this.remember(event.workflowId, event.yamlHash),
        (event) => this.liveDoc(event.workflowId) !== undefined,
      ),
    ];
  }

  /** Relays a document opened here (once it is loaded): its updates and awareness go out, and it asks for the others' state. */
  bind(workflowId: string, doc: LiveDoc): void {
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin !== RELAY_ORIGIN) this.events.publish({ type: 'collab.update', workflowId, origin: this.origin, update: toBase64(update) });
    });
    doc.awareness.on('update', ({ added, updated, removed }: Record<'added' | 'updated' | 'removed', number[]>, origin: unknown) => {
      if (origin === RELAY_ORIGIN) return;
      const update = awarenessProtocol.encodeAwarenessUpdate(doc.awareness, [...added, ...updated, ...removed]);
      this.events.publish({ type: 'collab.awareness', workflowId, origin: this.origin, update: toBase64(update) });
    });
    this.events.publish({ type: 'collab.hello', workflowId, origin: this.origin, update: toBase64(Y.encodeStateAsUpdate(doc)) });
  }

  /** Announced before a live document saves its YAML: the draft.changed that the save causes is its own text, not a REST edit. */
  announceSave(workflowId: string, yaml: string): void {
    this.events.publish({ type: 'collab.saving', workflowId, origin: this.origin, yamlHash: yamlHash(yaml) });
  }

  /** Whether a draft.changed carries text a live document saved (here or in another process) rather than a REST save. */
  isOwnSave(workflowId: string, yaml: string): boolean {
    return this.recentSaves.get(workflowId)?.includes(yamlHash(yaml)) ?? false;
  }

  /** The document was closed here. */
  forget(workflowId: string): void {
    this.recentSaves.delete(workflowId);
  }

  close(): void {
    for (const stop of this.stops) stop();
  }

  private publishState(workflowId: string, doc: Y.Doc): void {
    this.events.publish({ type: 'collab.update', workflowId, origin: this.origin, update: toBase64(Y.encodeStateAsUpdate(doc)) });
  }

  private remember(workflowId: string, hash: string): void {
    const saves = this.recentSaves.get(workflowId) ?? [];
    saves.push(hash);
    if (saves.length > RECENT_SAVES) saves.shift();
    this.recentSaves.set(workflowId, saves);
  }
}
