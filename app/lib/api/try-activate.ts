import { request } from './core';
import type { BuildResult } from './types';

/** Builds any candidate YAML (not tied to a workflow) and reports what it would activate. */
export function tryActivate(yaml: string, signal?: AbortSignal): Promise<BuildResult> {
  return request('/try-activate', { method: 'POST', body: { yaml }, expect: [422], signal });
}
