/** Monaco and the co-editing stack are large: they load on the editor page only, once. */
let kit: Promise<typeof import('./kit')> | undefined;

export function loadEditorKit(): Promise<typeof import('./kit')> {
  kit ??= import('./kit');
  kit.catch(() => (kit = undefined));
  return kit;
}

export type EditorKit = Awaited<ReturnType<typeof loadEditorKit>>;
