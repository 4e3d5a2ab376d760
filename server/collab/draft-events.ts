/** Draft saves made through the REST API, so a live co-editing document can take them in. */
type DraftListener = (workflowId: string, yaml: string) => void;

const listeners = new Set<DraftListener>();

export function onDraftSaved(listener: DraftListener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function draftSaved(workflowId: string, yaml: string): void {
  for (const listener of listeners) listener(workflowId, yaml);
}
