// The lazily loaded part of the editor page: Monaco, monaco-yaml, Yjs and y-monaco.
export { monaco, createDraftModel, createVersionModel } from './monaco';
export { CollabSession } from './collab.svelte';
