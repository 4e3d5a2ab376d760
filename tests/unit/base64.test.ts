import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { decodeBase64 } from '../../server/api/base64.ts';

test('decodeBase64 matches Node for every length and refuses foreign characters', () => {
  for (let length = 0; length < 300; length++) {
    const bytes = randomBytes(length);
    assert.deepEqual(Buffer.from(decodeBase64(bytes.toString('base64'))), bytes);
  }
  assert.throws(() => decodeBase64('ab$d'), /invalid base64 character at 2/);
});
