/**
 * The gRPC side of remote steps: flowyard.plugin.v1.StepService (proto/flowyard/plugin/v1/step.proto),
 * loaded with @grpc/proto-loader, and one Execute call per step execution.
 */
import { resolve } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { JsonObject } from './contract.ts';
import type { PluginRequest } from './request.ts';
import { fromStruct, type StructMessage, toStruct } from './struct.ts';

const PROTO_DIR = resolve(import.meta.dirname, 'proto');
const STEP_PROTO = 'flowyard/plugin/v1/step.proto';

const PROTO_LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

type StepServiceClient = grpc.Client & {
  Execute(request: unknown, options: grpc.CallOptions): grpc.ClientReadableStream<ExecuteEvent>;
};
type StepServiceConstructor = grpc.ServiceClientConstructor;

export interface ExecuteEvent {
  event?: 'log' | 'result';
  log?: { stream?: 'STDOUT' | 'STDERR'; text?: string };
  result?: { outputs?: StructMessage; error?: string };
}

let service: StepServiceConstructor | undefined;

/** The StepService client constructor (its `.service` is the server-side definition too). */
export function stepService(): StepServiceConstructor {
  if (service) return service;
  const definition = protoLoader.loadSync(STEP_PROTO, { ...PROTO_LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { flowyard: { plugin: { v1: { StepService: StepServiceConstructor } } } };
  return (service = loaded.flowyard.plugin.v1.StepService);
}

/** `unix:///path` or `tcp://host:port` (as plugin.yaml and FLOWYARD_PLUGIN_ADDRESS write them) as a gRPC target. */
export function grpcTarget(address: string): string {
  if (address.startsWith('unix://')) return address;
  if (address.startsWith('tcp://')) return address.slice('tcp://'.length);
  throw new Error(`plugin address ${address} is neither unix:///path nor tcp://host:port`);
}

export function stepClient(address: string): StepServiceClient {
  const StepService = stepService();
  // One call per step execution and no retry policy: the retry machinery and channelz bookkeeping are per-call cost only.
  return new StepService(grpcTarget(address), grpc.credentials.createInsecure(), {
    'grpc.enable_retries': 0,
    'grpc.enable_channelz': 0,
  }) as unknown as StepServiceClient;
}

export function encodeRequest(request: PluginRequest) {
  return {
    ...request,
    config: toStruct(request.config),
    metadata: toStruct(request.metadata),
    trigger: toStruct(request.trigger),
    outputs: toStruct(request.outputs),
    config_message: request.config_message ?? '',
  };
}

export type RemoteOutcome =
  { state: 'succeeded'; outputs: JsonObject } | { state: 'failed'; error: string; outputs?: JsonObject } | { state: 'cancelled' | 'timed_out'; error: string };

export interface RemoteCallIO {
  onLog(text: string, stream: 'stdout' | 'stderr'): void;
  signal: AbortSignal;
  timeoutMs?: number;
}

/** One Execute call: log lines as they come, then the result. A cancel or the step timeout cancels the call. */
export function callExecute(client: StepServiceClient, request: PluginRequest, io: RemoteCallIO): Promise<RemoteOutcome> {
  return new Promise((resolvePromise) => {
    let interruption: 'cancelled' | 'timed_out' | undefined;
    let result: ExecuteEvent['result'] | undefined;
    let settled = false;
    const call = client.Execute(encodeRequest(request), {});
    const finish = (outcome: RemoteOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      io.signal.removeEventListener('abort', onAbort);
      resolvePromise(outcome);
    };
    const interrupt = (why: 'cancelled' | 'timed_out') => {
      interruption ??= why;
      call.cancel();
    };
    const onAbort = () => interrupt('cancelled');
    const timer = io.timeoutMs === undefined ? undefined : setTimeout(() => interrupt('timed_out'), io.timeoutMs);
    io.signal.addEventListener('abort', onAbort, { once: true });
    if (io.signal.aborted) interrupt('cancelled');

    call.on('data', (event: ExecuteEvent) => {
      if (event.event === 'log' && event.log) io.onLog(event.log.text ?? '', event.log.stream === 'STDERR' ? 'stderr' : 'stdout');
      else if (event.event === 'result') result = event.result;
    });
    call.on('error', (error: grpc.ServiceError) => {
      if (interruption === 'timed_out') finish({ state: 'timed_out', error: `step timed out after ${io.timeoutMs} ms` });
      else if (interruption === 'cancelled') finish({ state: 'cancelled', error: 'cancelled' });
      else finish({ state: 'failed', error: `plugin call failed: ${grpc.status[error.code] ?? error.code} ${error.details || error.message}` });
    });
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code !== grpc.status.OK) return; // the error event tells
      if (!result) return finish({ state: 'failed', error: 'the plugin ended the call without a result' });
      const outputs = fromStruct(result.outputs);
      if (result.error) finish({ state: 'failed', error: result.error, outputs });
      else finish({ state: 'succeeded', outputs });
    });
  });
}
