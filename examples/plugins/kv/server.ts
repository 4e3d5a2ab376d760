/**
 * step.kv: a remote-step plugin service. It serves flowyard.plugin.v1.StepService on $FLOWYARD_PLUGIN_ADDRESS
 * (unix:///path or tcp://127.0.0.1:port) and keeps its values in memory for as long as the runner runs it.
 * Packed as one file (dist/server.cjs, built by scripts/build-example-plugins.ts) so its archive is self-contained.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { fromStruct, toStruct, type StructMessage } from '../../../runners/plugins/struct.ts';
import type { JsonObject } from '../../../runners/plugins/contract.ts';

/** The .proto files: beside the bundle once packed, in the repository when run from source. */
const protoDirs = (() => {
  const packed = join(dirname(resolve(process.argv[1] ?? '.')), 'proto');
  if (existsSync(join(packed, 'kv.proto'))) return { service: packed, config: packed };
  const repo = resolve(dirname(resolve(process.argv[1] ?? '.')), '../../..');
  return { service: join(repo, 'runners/plugins/proto'), config: join(repo, 'examples/plugins/kv/proto') };
})();

const configType = new protobuf.Root().loadSync(join(protoDirs.config, 'kv.proto'), { keepCase: true }).lookupType('flowyard.examples.kv.v1.KvConfig');
/** What a strict decoder (Go's protojson without DiscardUnknown) does: a field the message lacks is an error. */
function decodeStrict(config: JsonObject, message: string): JsonObject {
  if (message !== configType.fullName.replace(/^\./, '')) throw new Error(`this plugin decodes its config as ${configType.fullName}, not ${message}`);
  const known = new Set(configType.fieldsArray.map((field) => field.name));
  for (const key of Object.keys(config)) if (!known.has(key)) throw new Error(`strict decode of ${message}: unknown field "${key}"`);
  return config;
}

interface ExecuteRequest {
  step_type: string;
  config: StructMessage;
  metadata: StructMessage;
  secrets: Record<string, string>;
  config_message: string;
}

const store = new Map<string, string>();
let cancelledCalls = 0;

type Call = grpc.ServerWritableStream<ExecuteRequest, unknown>;

const log = (call: Call, text: string, stream: 'STDOUT' | 'STDERR' = 'STDOUT') => call.write({ log: { stream, text } });

function waitUnlessCancelled(call: Call, ms: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const timer = setTimeout(() => resolvePromise(true), ms);
    call.once('cancelled', () => {
      clearTimeout(timer);
      cancelledCalls++;
      resolvePromise(false);
    });
  });
}

function run(config: JsonObject): JsonObject {
  const key = String(config.key ?? '');
  switch (config.op) {
    case 'set':
      store.set(key, String(config.value ?? ''));
      return { key, value: store.get(key)! };
    case 'get': {
      if (key === '_cancelled_calls') return { key, value: String(cancelledCalls), found: true };
      const value = store.get(key);
      if (value === undefined && config.required) throw new Error(`key ${key} is not set`);
      return { key, value: value ?? null, found: value !== undefined };
    }
    case 'render':
      return { text: String(config.template ?? '').replace(/\[\[([A-Za-z0-9_.-]+)\]\]/g, (_, name: string) => store.get(name) ?? '') };
    case 'noop':
      return {};
    default:
      throw new Error(`op ${String(config.op)} is not one of set, get, render, noop`);
  }
}

async function execute(call: Call): Promise<void> {
  const request = call.request;
  try {
    let config = fromStruct(request.config);
    if (request.config_message) config = decodeStrict(config, request.config_message);
    if (config.op !== 'noop') {
      const meta = fromStruct(request.metadata);
      log(call, `kv ${String(config.op)} in ${String(meta.workflow)} #${String(meta.run_number)} step ${String(meta.step)}`);
      log(call, `secrets received: ${Object.keys(request.secrets).sort().join(', ') || 'none'}`);
    }
    if (typeof config.wait_ms === 'number' && config.wait_ms > 0 && !(await waitUnlessCancelled(call, config.wait_ms))) return;
    const outputs = run(config);
    if (config.op === 'set') log(call, `set ${String(outputs.key)} = ${String(outputs.value)}`);
    call.write({ result: { outputs: toStruct(outputs), error: '' } });
  } catch (error) {
    log(call, (error as Error).message, 'STDERR');
    call.write({ result: { outputs: toStruct({}), error: (error as Error).message } });
  }
  call.end();
}

const address = process.env.FLOWYARD_PLUGIN_ADDRESS;
if (!address) {
  console.error('FLOWYARD_PLUGIN_ADDRESS is not set: the Flowyard runner starts this service and sets it');
  process.exit(2);
}
const definition = protoLoader.loadSync('flowyard/plugin/v1/step.proto', {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [protoDirs.service],
});
const loaded = grpc.loadPackageDefinition(definition) as unknown as { flowyard: { plugin: { v1: { StepService: grpc.ServiceClientConstructor } } } };
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
server.addService(loaded.flowyard.plugin.v1.StepService.service, { Execute: (call: Call) => void execute(call) });
server.bindAsync(address.replace(/^tcp:\/\//, ''), grpc.ServerCredentials.createInsecure(), (error) => {
  if (error) {
    console.error(`cannot listen on ${address}: ${error.message}`);
    process.exit(1);
  }
  console.log(`kv plugin serving on ${address}`);
});
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => server.tryShutdown(() => process.exit(0)));
}
