/**
 * The validation matrix's promotion and demotion rules (pure). A plugin is promoted `experimental → verified`
 * by a green run of its minimal example and demoted `verified → experimental` by two consecutive red runs;
 * one red run of a verified plugin is a warning. `deprecated` is set and lifted only by hand, and a
 * `not_validated` entry (no environment attached, a cancelled run) never changes a status.
 */

export type PluginStatus = 'verified' | 'experimental' | 'deprecated';
export type ValidationResult = 'green' | 'red' | 'not_validated';

export interface ValidationEntry {
  result: ValidationResult;
  /** The run of the minimal example; null when nothing ran (not validated, an example that did not build). */
  runId: string | null;
}

export interface StatusDecision {
  status: PluginStatus;
  changed: boolean;
  /** A verified plugin whose last run was red: shown on its page and in the matrix. */
  warning: boolean;
  /** The runs that caused the change (empty when nothing changed). */
  runIds: string[];
  reason: string;
}

/** Red runs needed in a row to demote a verified plugin. */
export const REDS_TO_DEMOTE = 2;

/**
 * The status after the newest validation. `history` is newest first. Entries that are not runs (`not_validated`)
 * are left out when counting consecutive runs, and a newest entry that is not a run changes nothing.
 */
export function decidePluginStatus(current: PluginStatus, history: readonly ValidationEntry[]): StatusDecision {
  const runs = history.filter((entry) => entry.result !== 'not_validated');
  const leadingReds = runs.findIndex((entry) => entry.result !== 'red');
  const redsInARow = leadingReds === -1 ? runs.length : leadingReds;
  const keep = (reason: string): StatusDecision => ({ status: current, changed: false, warning: current === 'verified' && redsInARow > 0, runIds: [], reason });
  const newest = history[0];
  if (!newest) return keep('never validated');
  if (current === 'deprecated') return keep('deprecated is set and lifted only by hand');
  if (newest.result === 'not_validated') return keep('not validated: the status is kept');
  const runIds = (entries: readonly ValidationEntry[]) => entries.flatMap((entry) => (entry.runId ? [entry.runId] : []));
  if (current === 'experimental' && newest.result === 'green') {
    return { status: 'verified', changed: true, warning: false, runIds: runIds([newest]), reason: 'promoted: the minimal example ran green' };
  }
  if (current === 'verified' && redsInARow >= REDS_TO_DEMOTE) {
    return {
      status: 'experimental',
      changed: true,
      warning: false,
      runIds: runIds(runs.slice(0, REDS_TO_DEMOTE)),
      reason: `demoted: the minimal example ran red ${REDS_TO_DEMOTE} times in a row`,
    };
  }
  if (current === 'verified' && redsInARow === 1) return keep('warning: the last run was red; one more red run demotes it');
  return keep(`stays ${current}`);
}
