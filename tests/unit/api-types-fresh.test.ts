import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { GENERATED_API_TYPES, generateApiTypes } from '../../scripts/generate-api-types.ts';

test('the UI types generated from the OpenAPI document match the server schemas', async () => {
  const fresh = await generateApiTypes();
  assert.match(fresh, /export interface components/);
  assert.match(fresh, /Run: components\["schemas"\]\["RunSummary"\] & \{/, 'the Run response is a typed schema, not a free-form record');
  const committed = readFileSync(GENERATED_API_TYPES, 'utf8');
  assert.ok(committed === fresh, 'stale generated API types: run npm run generate:api');
});
