import { loadEditorKit } from '$lib/editor/load';
import type { PageLoad } from './$types';

/** Starts fetching the editor's code (Monaco and co-editing) while the page itself loads. */
export const load: PageLoad = ({ params }) => {
  loadEditorKit().catch(() => {
    // The page retries and shows the error.
  });
  return { id: params.id };
};
