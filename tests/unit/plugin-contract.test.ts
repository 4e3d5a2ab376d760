// The contract rules of plugin steps: what a plugin is sent (Struct-representable values only, no `_` keys in
// strict typed mode, only the secrets and outputs its templates name) and what it may answer (declared outputs).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { StepRuntime } from '../../runners/executors/types.ts';
import { PluginArchiveCache } from '../../runners/plugins/archive-cache.ts';
import { checkOutputs, type DroppedValue, stripInternalKeys, toRepresentable } from '../../runners/plugins/contract.ts';
import { encodeRequest, stepService } from '../../runners/plugins/grpc.ts';
import { buildPluginRequest, pluginEnv } from '../../runners/plugins/request.ts';
import { fromStruct } from '../../runners/plugins/struct.ts';
import { readArchive } from '../../runners/plugins/untar.ts';
import type { PluginStepRef, StepSpec } from '../../runners/protocol/v1.ts';
import { testJobSpec } from '../helpers/job-spec.ts';

const remote = (configMessage?: string): PluginStepRef => ({
  name: 'acme/kv',
  version: '1.0.0',
  digest: `sha256:${'0'.repeat(64)}`,
  runtime: { kind: 'remote', transport: 'unix', command: ['node', 'server.js'], ...(configMessage ? { config_message: configMessage } : {}) },
});

function runtimeFor(stepConfig: Record<string, unknown>, resolved: Record<string, unknown>, extra: { trigger?: Record<string, unknown> } = {}): StepRuntime {
  const job = testJobSpec({
    runId: 'run-1',
    workflow: 'wf',
    pipeline: 'main',
    secrets: { API_TOKEN: 'tok-123456', OTHER: 'other-secret' },
    trigger: extra.trigger ?? {},
  });
  const step: StepSpec = { index: 2, name: 'call', type: 'step.kv', config: stepConfig, timeoutMs: null, continueOnError: false };
  return { job, step, config: resolved, env: { CI: 'true', API_TOKEN: 'tok-123456', OTHER: 'other-secret' } } as unknown as StepRuntime;
}

/** The bytes that go on the wire, decoded again as a plugin would. */
function throughTheWire(request: ReturnType<typeof buildPluginRequest>['request']) {
  const method = stepService().service.Execute!;
  const decoded = method.requestDeserialize(method.requestSerialize(encodeRequest(request))) as Record<string, unknown>;
  return {
    config_message: decoded.config_message,
    config: fromStruct(decoded.config as never),
    metadata: fromStruct(decoded.metadata as never),
    trigger: fromStruct(decoded.trigger as never),
  };
}

test('values a protobuf Struct cannot represent are dropped with a note naming where, never an error', () => {
  const cyclic: Record<string, unknown> = { name: 'loop' };
  cyclic.self = cyclic;
  const shared = { reused: true };
  const dropped: DroppedValue[] = [];
  const kept = toRepresentable(
    {
      text: 'ok',
      count: 3,
      flag: false,
      nothing: null,
      fn: () => 1,
      when: new Date(0),
      buffer: Buffer.from('x'),
      bytes: new Uint8Array([1]),
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      missing: undefined,
      big: 10n,
      cyclic,
      list: [1, () => 2, 'three'],
      twice: [shared, shared],
    },
    dropped,
    'metadata',
  );
  assert.deepEqual(kept, { text: 'ok', count: 3, flag: false, nothing: null, cyclic: { name: 'loop' }, list: [1, null, 'three'], twice: [shared, shared] });
  assert.deepEqual(
    dropped.map((d) => `${d.path}: ${d.reason}`),
    [
      'metadata.fn: a function',
      'metadata.when: a Date',
      'metadata.buffer: binary data',
      'metadata.bytes: binary data',
      'metadata.nan: NaN (not a finite number)',
      'metadata.inf: Infinity (not a finite number)',
      'metadata.missing: undefined',
      'metadata.big: a bigint',
      'metadata.cyclic.self: a cycle back to an enclosing object',
      'metadata.list[1]: a function',
    ],
  );
});

test('a request with unrepresentable trigger data still encodes as protobuf and reaches the plugin intact otherwise', () => {
  const runtime = runtimeFor(
    { op: 'get' },
    { op: 'get', when: new Date(0) },
    { trigger: { type: 'webhook', at: new Date(0), body: { n: 1, bad: Number.NaN } } },
  );
  const { request, dropped } = buildPluginRequest(runtime, remote(), {});
  assert.deepEqual(
    dropped.map((d) => d.path),
    ['config.when', 'trigger.at', 'trigger.body.bad'],
  );
  const wire = throughTheWire(request);
  assert.deepEqual(wire.trigger, { type: 'webhook', body: { n: 1 } });
  assert.deepEqual(wire.config, { op: 'get' });
  assert.equal((wire.metadata as Record<string, unknown>).workflow, 'wf');
  assert.equal((wire.metadata as Record<string, unknown>).step_index, 2);
});

test('in strict typed mode the engine-internal `_` keys never reach the plugin; without it they do', () => {
  const config = { op: 'set', key: 'k', _config_dir: '/srv/flowyard/config', _internal: { a: 1 }, nested: { _kept: true } };
  const strict = buildPluginRequest(runtimeFor(config, config), remote('flowyard.examples.kv.v1.KvConfig'), {}).request;
  assert.deepEqual(throughTheWire(strict).config, { op: 'set', key: 'k', nested: { _kept: true } });
  assert.equal(throughTheWire(strict).config_message, 'flowyard.examples.kv.v1.KvConfig');
  const loose = buildPluginRequest(runtimeFor(config, config), remote(), {}).request;
  assert.deepEqual(Object.keys(throughTheWire(loose).config).sort(), ['_config_dir', '_internal', 'key', 'nested', 'op']);
  assert.deepEqual(stripInternalKeys({ _a: 1, b: 2 }), { b: 2 });
});

test('a step is sent only the secrets and the earlier outputs its templates refer to', () => {
  const stepConfig = { op: 'set', value: '{{ .Secrets.API_TOKEN }}', template: '{{ .steps.build.image }} {{ step "test" "passed" }}' };
  const resolved = { op: 'set', value: 'tok-123456', template: 'img true' };
  const outputs = { build: { image: 'img' }, test: { passed: true }, unrelated: { secret_ish: 'x' } };
  const runtime = runtimeFor(stepConfig, resolved);
  const { request } = buildPluginRequest(runtime, remote(), outputs);
  assert.deepEqual(request.secrets, { API_TOKEN: 'tok-123456' });
  assert.deepEqual(request.outputs, { build: { image: 'img' }, test: { passed: true } });
  assert.deepEqual(pluginEnv(runtime, request), { CI: 'true', API_TOKEN: 'tok-123456' }, 'an unreferenced secret is not in the environment either');

  const none = buildPluginRequest(runtimeFor({ op: 'noop' }, { op: 'noop' }), remote(), outputs).request;
  assert.deepEqual(none.secrets, {});
  assert.deepEqual(none.outputs, {});
});

test('outputs are checked against the declared ones', () => {
  assert.deepEqual(checkOutputs({ status: 200, ok: true }, ['status', 'ok', 'latency_ms'], 'outputs.json'), { outputs: { status: 200, ok: true } });
  assert.deepEqual(checkOutputs({ status: 200, extra: 1 }, ['status'], 'outputs.json'), {
    error: 'outputs.json has undeclared output(s) extra: it declares status in plugin.yaml',
  });
  assert.deepEqual(checkOutputs([1], ['status'], 'outputs.json'), { error: 'outputs.json must hold a JSON object of outputs, not a list' });
  assert.deepEqual(checkOutputs('x', [], 'outputs.json'), { error: 'outputs.json must hold a JSON object of outputs, not string' });
});

/** A one-entry ustar archive, gzipped, with the given name and type flag. */
function tarWith(name: string, type: string, content = 'x'): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write('0000644\0', 100);
  header.write(`${content.length.toString(8).padStart(11, '0')}\0`, 124);
  header.write(type, 156);
  header.write('ustar\u000000', 257);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const body = Buffer.alloc(512);
  body.write(content);
  return gzipSync(Buffer.concat([header, body, Buffer.alloc(1024)]));
}

test('plugin archives that would write outside their folder are refused, and a digest other than the pinned one is not run', async () => {
  assert.deepEqual(
    readArchive(tarWith('plugin.yaml', '0')).map((e) => e.path),
    ['plugin.yaml'],
  );
  assert.throws(() => readArchive(tarWith('../evil', '0')), /climbs out of the archive/);
  assert.throws(() => readArchive(tarWith('/etc/passwd', '0')), /not a clean relative path/);
  assert.throws(() => readArchive(tarWith('link', '2')), /links are refused/);

  const dir = await mkdtemp(join(tmpdir(), 'plugin-cache-'));
  try {
    const archive = tarWith('plugin.yaml', '0', 'name: acme/kv\n');
    const cache = new PluginArchiveCache(dir, async () => ({ digest: 'whatever', archiveBase64: archive.toString('base64') }));
    await assert.rejects(cache.get(remote()), /has digest sha256:[0-9a-f]{64}, but the run pinned sha256:0{64}: not running it/);
    const pinned = { ...remote(), digest: `sha256:${createHash('sha256').update(archive).digest('hex')}` };
    await assert.rejects(cache.get(pinned), /plugin.yaml does not match the manifest contract/);
    assert.equal(await readFile(join(dir, pinned.digest.slice(7), 'plugin.yaml'), 'utf8'), 'name: acme/kv\n', 'unpacked under its digest');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
