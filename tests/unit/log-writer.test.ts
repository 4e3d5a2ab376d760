import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FLUSH_BYTES, FLUSH_INTERVAL_MS, StepLogWriter } from '../../runners/job/log-writer.ts';
import { SecretMasker } from '../../server/engine/masker.ts';

test('a secret split across chunks is still masked, and nothing else is held back at the end', () => {
  const masker = new SecretMasker(['hunter2-secret']);
  const out = [masker.push('password is hun'), masker.push('ter2-sec'), masker.push('ret, ok'), masker.flush()].join('');
  assert.equal(out, 'password is ***, ok');
  const plain = new SecretMasker([]);
  assert.equal(plain.push('no secrets'), 'no secrets');
  const overlapping = new SecretMasker(['abc', 'abcdef']);
  assert.equal(overlapping.push('x abcdef y abc z') + overlapping.flush(), 'x *** y *** z');
});

test('the writer numbers chunks, never splits a UTF-8 character, and flushes by size and time', async () => {
  const chunks: Array<[number, number, string]> = [];
  const writer = new StepLogWriter(3, { chunk: (step, seq, text) => chunks.push([step, seq, text]) }, ['s3cr3t']);
  const euro = new TextEncoder().encode('€');
  writer.write(euro.subarray(0, 1));
  writer.write(euro.subarray(1));
  writer.write(new TextEncoder().encode(' the s3cr3t\n\x1b[31mred\x1b[0m\n'));
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(chunks, [[3, 0, '€ the ***\n\x1b[31mred\x1b[0m\n']]);
  writer.write(new TextEncoder().encode('x'.repeat(FLUSH_BYTES + 10)));
  assert.equal(chunks.length, 2, 'a full buffer flushes at once');
  writer.line('done');
  writer.close();
  assert.deepEqual(
    chunks.map(([, seq]) => seq),
    [0, 1, 2],
  );
  assert.equal(
    chunks
      .map(([, , text]) => text)
      .join('')
      .endsWith('done\n'),
    true,
  );
});

test('the flush size counts UTF-8 bytes, not characters', () => {
  const chunks: string[] = [];
  const writer = new StepLogWriter(0, { chunk: (_step, _seq, text) => chunks.push(text) }, []);
  // 3 bytes a character: a third as many characters as FLUSH_BYTES already fill the buffer.
  const euros = '€'.repeat(Math.ceil(FLUSH_BYTES / 3));
  writer.write(new TextEncoder().encode(euros));
  assert.deepEqual(chunks, [euros], 'a buffer full in bytes flushes at once');
  writer.write(new TextEncoder().encode('€'.repeat(Math.floor(FLUSH_BYTES / 3) - 1)));
  assert.equal(chunks.length, 1, 'just under FLUSH_BYTES waits for the timer');
  writer.close();
  assert.equal(chunks.length, 2);
});

/** A sink that records when each chunk arrives and what it holds. */
function timedSink() {
  const chunks: Array<{ seq: number; text: string; at: number }> = [];
  return { chunks, sink: { chunk: (_step: number, seq: number, text: string) => chunks.push({ seq, text, at: performance.now() }) } };
}

test('a lone line is handed on as soon as output goes idle, not after the batch interval', async () => {
  const { chunks, sink } = timedSink();
  const writer = new StepLogWriter(0, sink, []);
  const writtenAt = performance.now();
  writer.write(new TextEncoder().encode('one line\n'));
  assert.equal(chunks.length, 0, 'held for the idle delay, in case more output follows at once');
  await new Promise((r) => setTimeout(r, FLUSH_INTERVAL_MS + 20));
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.text, 'one line\n');
  // Idle after ~FLUSH_IDLE_MS; the old fixed timer took FLUSH_INTERVAL_MS. The bound leaves room for a busy machine.
  assert.ok(chunks[0]!.at - writtenAt < FLUSH_INTERVAL_MS / 2, `flushed ${(chunks[0]!.at - writtenAt).toFixed(1)} ms after the write`);
  writer.close();
});

test('output that keeps coming is batched, and no chunk is held much past the batch interval', async () => {
  const { chunks, sink } = timedSink();
  const writer = new StepLogWriter(0, sink, []);
  const writtenAt: number[] = [];
  const streamFor = 4 * FLUSH_INTERVAL_MS;
  const started = performance.now();
  await new Promise<void>((resolve) => {
    const ticker = setInterval(() => {
      writtenAt.push(performance.now());
      writer.write(new TextEncoder().encode(`w${writtenAt.length - 1}\n`));
      if (performance.now() - started >= streamFor) {
        clearInterval(ticker);
        resolve();
      }
    }, 1);
  });
  writer.close();
  const writes = writtenAt.length;
  assert.ok(writes > 50, `${writes} writes`);
  assert.ok(chunks.length <= writes / 5, `${chunks.length} chunks for ${writes} writes`);
  assert.deepEqual(
    chunks.map((c) => c.seq),
    chunks.map((_, i) => i),
  );
  assert.equal(chunks.map((c) => c.text).join(''), writtenAt.map((_, i) => `w${i}\n`).join(''), 'everything, in order, exactly once');
  for (const chunk of chunks.slice(0, -1)) {
    const firstWrite = Number(/^w(\d+)/.exec(chunk.text)![1]);
    const held = chunk.at - writtenAt[firstWrite]!;
    assert.ok(held < 2.5 * FLUSH_INTERVAL_MS, `chunk ${chunk.seq} held its first line ${held.toFixed(0)} ms`);
  }
});
