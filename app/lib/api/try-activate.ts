import { request } from './core';
import type { BuildResult } from './types';

/**
 * Builds any candidate YAML (not tied to a workflow) and reports what it would activate. `live` checks (as the
 * user types) are answered 200 either way, so the browser does not log a draft that does not build as a failure.
 */
export function tryActivate(yaml: string, signal?: AbortSignal): Promise<BuildResult> {
  return request('/try-activate', { method: 'POST', body: { yaml }, query: { live: 'true' }, expect: [422], signal });
}
