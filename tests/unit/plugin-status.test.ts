import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decidePluginStatus, type ValidationEntry } from '../../server/engine/plugin-status.ts';

const green = (runId: string): ValidationEntry => ({ result: 'green', runId });
const red = (runId: string): ValidationEntry => ({ result: 'red', runId });
const notValidated: ValidationEntry = { result: 'not_validated', runId: null };

test('experimental is promoted to verified by one green run, naming that run', () => {
  const decision = decidePluginStatus('experimental', [green('r2'), red('r1')]);
  assert.deepEqual([decision.status, decision.changed, decision.warning, decision.runIds], ['verified', true, false, ['r2']]);
  assert.match(decision.reason, /promoted/);
});

test('experimental stays experimental on red runs, without a warning', () => {
  for (const history of [[red('r1')], [red('r2'), red('r1')], [red('r3'), red('r2'), red('r1')]]) {
    const decision = decidePluginStatus('experimental', history);
    assert.deepEqual([decision.status, decision.changed, decision.warning, decision.runIds], ['experimental', false, false, []]);
  }
});

test('verified: one red run is a warning; the second red in a row demotes, naming both runs', () => {
  const once = decidePluginStatus('verified', [red('r2'), green('r1')]);
  assert.deepEqual([once.status, once.changed, once.warning], ['verified', false, true]);
  const twice = decidePluginStatus('verified', [red('r3'), red('r2'), green('r1')]);
  assert.deepEqual([twice.status, twice.changed, twice.warning, twice.runIds], ['experimental', true, false, ['r3', 'r2']]);
  assert.match(twice.reason, /2 times in a row/);
});

test('red, green, red does not demote: the reds are not consecutive', () => {
  const decision = decidePluginStatus('verified', [red('r3'), green('r2'), red('r1')]);
  assert.deepEqual([decision.status, decision.changed, decision.warning], ['verified', false, true]);
});

test('a green run clears the warning of a verified plugin and changes nothing', () => {
  const decision = decidePluginStatus('verified', [green('r2'), red('r1')]);
  assert.deepEqual([decision.status, decision.changed, decision.warning], ['verified', false, false]);
});

test('not validated never changes a status, and is skipped when counting consecutive red runs', () => {
  assert.equal(decidePluginStatus('experimental', [notValidated, green('r1')]).changed, false, 'a not_validated entry does not promote');
  const verified = decidePluginStatus('verified', [notValidated, red('r2'), red('r1')]);
  assert.deepEqual([verified.status, verified.changed, verified.warning], ['verified', false, true], 'the newest entry ran nothing: kept, still warned');
  const across = decidePluginStatus('verified', [red('r2'), notValidated, red('r1')]);
  assert.deepEqual([across.status, across.changed, across.runIds], ['experimental', true, ['r2', 'r1']], 'two red runs with no run between them');
});

test('deprecated is changed only by hand: neither green nor red runs move it', () => {
  for (const history of [[green('r1')], [red('r2'), red('r1')]]) {
    const decision = decidePluginStatus('deprecated', history);
    assert.deepEqual([decision.status, decision.changed, decision.warning], ['deprecated', false, false]);
  }
});

test('no history: nothing changes', () => {
  assert.deepEqual(decidePluginStatus('experimental', []), { status: 'experimental', changed: false, warning: false, runIds: [], reason: 'never validated' });
  assert.equal(decidePluginStatus('verified', []).warning, false);
});

test('a red result with no run (an example that did not build) still counts as red', () => {
  const decision = decidePluginStatus('verified', [{ result: 'red', runId: null }, red('r1')]);
  assert.deepEqual([decision.status, decision.runIds], ['experimental', ['r1']]);
});
