import { eq } from 'drizzle-orm';
import * as Y from 'yjs';
import type { Db } from '../../db/client.ts';
import { collabDocs, workflows } from '../../db/schema.ts';
import type { EventBus } from '../services/events.ts';
import { saveLiveDraft } from '../services/workflows.ts';
import { replaceText } from './text-sync.ts';

export const TEXT_NAME = 'yaml';
const SAVE_DEBOUNCE_MS = 250;

export function workflowIdOfDoc(docName: string): string {
  return docName.replace(/^workflow\//, '');
}

/**
 * Saves, when the text changed, the draft YAML with a new revision (through the workflows service), then the
 * CRDT state. A crash between the two is harmless: loading brings the stored state up to the draft.
 */
export async function saveDoc(db: Db, events: EventBus, workflowId: string, doc: Y.Doc, editorId: string | null): Promise<void> {
  const state = Buffer.from(Y.encodeStateAsUpdate(doc));
  await saveLiveDraft(db, events, workflowId, doc.getText(TEXT_NAME).toString(), editorId);
  const now = new Date();
  await db
    .insert(collabDocs)
    .values({ workflowId, state, updatedAt: now })
    .onConflictDoUpdate({ target: collabDocs.workflowId, set: { state, updatedAt: now } });
}

/**
 * Loads a document: its stored CRDT state, brought up to the current draft if the draft was saved
 * through the REST API meanwhile; or, the first time, a new document holding the draft.
 */
export async function loadDoc(db: Db, workflowId: string, doc: Y.Doc): Promise<boolean> {
  const [workflow] = await db.select({ draftYaml: workflows.draftYaml }).from(workflows).where(eq(workflows.id, workflowId));
  if (!workflow) return false;
  const [stored] = await db.select({ state: collabDocs.state }).from(collabDocs).where(eq(collabDocs.workflowId, workflowId));
  if (stored) Y.applyUpdate(doc, new Uint8Array(stored.state), 'server');
  replaceText(doc.getText(TEXT_NAME), workflow.draftYaml);
  return true;
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
  ) {}

  schedule(): void {
    this.timer ??= setTimeout(() => void this.flush(), SAVE_DEBOUNCE_MS);
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.saving = this.saving.then(() => saveDoc(this.db, this.events, this.workflowId, this.doc, this.lastEditor)).catch(this.onError);
    return this.saving;
  }
}
