import { and, eq } from 'drizzle-orm';
import * as Y from 'yjs';
import type { Db } from '../../db/client.ts';
import { collabDocs, workflows } from '../../db/schema.ts';
import type { EventBus } from '../services/events.ts';
import { saveLiveDraft } from '../services/workflows.ts';
import { replaceText } from './text-sync.ts';

export const TEXT_NAME = 'yaml';
/** The origin of changes that came from another process (server/collab/relay.ts): applied here, never sent back out. */
export const RELAY_ORIGIN = 'relay';
const SAVE_DEBOUNCE_MS = 250;

export function workflowIdOfDoc(docName: string): string {
  return docName.replace(/^workflow\//, '');
}

const MAX_SAVE_ATTEMPTS = 8;

/**
 * Saves the document merged with the stored CRDT state: the draft YAML (a new revision when the text changed,
 * through the workflows service), then the state, written only if nobody stored another one meanwhile (else it
 * merges again). Several API processes holding the same document therefore never overwrite each other's edits.
 * A crash between the two writes is harmless: loading brings the stored state up to the draft.
 */
export async function saveDoc(
  db: Db,
  events: EventBus,
  workflowId: string,
  doc: Y.Doc,
  editorId: string | null,
  beforeSave: (yaml: string) => void = () => undefined,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const [stored] = await db.select({ state: collabDocs.state }).from(collabDocs).where(eq(collabDocs.workflowId, workflowId));
    // Edits another process stored and this one has not heard of yet join the document (and its editors) here.
    if (stored) Y.applyUpdate(doc, new Uint8Array(stored.state), RELAY_ORIGIN);
    const state = Buffer.from(Y.encodeStateAsUpdate(doc));
    const yaml = doc.getText(TEXT_NAME).toString();
    beforeSave(yaml);
    await saveLiveDraft(db, events, workflowId, yaml, editorId);
    const now = new Date();
    const written = stored
      ? await db
          .update(collabDocs)
          .set({ state, updatedAt: now })
          .where(and(eq(collabDocs.workflowId, workflowId), eq(collabDocs.state, stored.state)))
          .returning({ id: collabDocs.workflowId })
      : await db.insert(collabDocs).values({ workflowId, state, updatedAt: now }).onConflictDoNothing().returning({ id: collabDocs.workflowId });
    if (written.length > 0) return;
    if (attempt >= MAX_SAVE_ATTEMPTS)
      throw new Error(`co-editing state of workflow ${workflowId} kept changing under ${attempt} saves; the next edit saves again`);
  }
}

/**
 * Loads a document: its stored CRDT state, brought up to the current draft if the draft was saved through the
 * REST API meanwhile; or, the first time, a new document holding the draft. The state that brings it up to the
 * draft is stored (compare-and-set) before it is used, so API processes loading the same document at once all
 * start from the same Yjs history: two histories inserting the same draft would merge into the text twice.
 */
export async function loadDoc(db: Db, workflowId: string, doc: Y.Doc): Promise<boolean> {
  const [workflow] = await db.select({ draftYaml: workflows.draftYaml }).from(workflows).where(eq(workflows.id, workflowId));
  if (!workflow) return false;
  for (let attempt = 1; ; attempt++) {
    const [stored] = await db.select({ state: collabDocs.state }).from(collabDocs).where(eq(collabDocs.workflowId, workflowId));
    const candidate = new Y.Doc();
    if (stored) Y.applyUpdate(candidate, new Uint8Array(stored.state));
    if (candidate.getText(TEXT_NAME).toString() !== workflow.draftYaml) {
      replaceText(candidate.getText(TEXT_NAME), workflow.draftYaml);
      const state = Buffer.from(Y.encodeStateAsUpdate(candidate));
      const now = new Date();
      const written = stored
        ? await db
            .update(collabDocs)
            .set({ state, updatedAt: now })
            .where(and(eq(collabDocs.workflowId, workflowId), eq(collabDocs.state, stored.state)))
            .returning({ id: collabDocs.workflowId })
        : await db.insert(collabDocs).values({ workflowId, state, updatedAt: now }).onConflictDoNothing().returning({ id: collabDocs.workflowId });
      // Another process stored its state first: start from that one.
      if (written.length === 0 && attempt < MAX_SAVE_ATTEMPTS) continue;
    }
    Y.applyUpdate(doc, Y.encodeStateAsUpdate(candidate), 'server');
    candidate.destroy();
    return true;
  }
}

/** Debounced saving of a live document: at most one write per quarter second, and a final one on close. */
export class DocSaver {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private saving: Promise<void> = Promise.resolve();
  lastEditor: string | null = null;

  constructor(
    private readonly db: Db,
    private readonly events: EventBus,
    private readonly workflowId: string,
    private readonly doc: Y.Doc,
    private readonly onError: (error: Error) => void,
    private readonly beforeSave?: (yaml: string) => void,
  ) {}

  schedule(): void {
    this.timer ??= setTimeout(() => void this.flush(), SAVE_DEBOUNCE_MS);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.saving = this.saving.then(() => saveDoc(this.db, this.events, this.workflowId, this.doc, this.lastEditor, this.beforeSave)).catch(this.onError);
    return this.saving;
  }
}
