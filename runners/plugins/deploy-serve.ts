/**
 * The plugin side of deploy providers: serves flowyard.plugin.v1.DeployProviderService on $FLOWYARD_PLUGIN_ADDRESS
 * for a DeployProvider made per call from the call's target. A cloud plugin implements the runner's own
 * DeployProvider interface and calls `serveDeployProvider`; its bundle (scripts/build-example-plugins.ts) carries this.
 */
import * as grpc from '@grpc/grpc-js';
import type { DeployContext, DeployOutcome, DeployProvider } from '../deploy/provider.ts';
import {
  decodePlan,
  decodeTarget,
  deployProviderService,
  type DeployRequestMessage,
  encodeMetrics,
  encodeOutcome,
  encodeStatus,
  type PluginTarget,
  type TargetMessage,
} from './deploy-grpc.ts';

type Request = { target?: TargetMessage; image?: string; app?: string; environment?: string };
type Streamed = grpc.ServerWritableStream<Request, unknown>;
type Unary = grpc.ServerUnaryCall<Request, unknown>;

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A context whose narration goes down the call and whose signal fires when the runner cancels it. */
function contextOf(call: Streamed): DeployContext {
  const controller = new AbortController();
  call.once('cancelled', () => controller.abort(new Error('the runner cancelled the call')));
  return { log: (line) => call.write({ log: line }), signal: controller.signal };
}

function streamed(run: (call: Streamed, target: PluginTarget, context: DeployContext) => Promise<DeployOutcome | void>) {
  return (call: Streamed) => {
    const context = contextOf(call);
    void run(call, decodeTarget(call.request.target), context)
      .then((outcome) => outcome ?? { status: 'deployed' as const, version: '', url: null })
      .catch((error: unknown): DeployOutcome => ({ status: 'failed', version: '', url: null, error: message(error) }))
      .then((outcome) => {
        if (!call.cancelled) call.write({ outcome: encodeOutcome(outcome) });
        call.end();
      });
  };
}

function unary<T>(run: (call: Unary, target: PluginTarget) => Promise<T>, failed: (error: string) => unknown) {
  return (call: Unary, callback: grpc.sendUnaryData<unknown>) => {
    run(call, decodeTarget(call.request.target)).then(
      (result) => callback(null, result),
      (error: unknown) => callback(null, failed(message(error))),
    );
  };
}

/** Serves the provider on $FLOWYARD_PLUGIN_ADDRESS until the runner stops the process. */
export function serveDeployProvider(providerFor: (target: PluginTarget) => DeployProvider): void {
  const address = process.env.FLOWYARD_PLUGIN_ADDRESS;
  if (!address) {
    console.error('FLOWYARD_PLUGIN_ADDRESS is not set: the Flowyard runner starts this service and sets it');
    process.exit(2);
  }
  const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
  server.addService(deployProviderService().service, {
    TestConnection: unary(
      async (_call, target) => ({ description: await providerFor(target).testConnection(), error: '' }),
      (error) => ({ description: '', error }),
    ),
    PushImage: streamed(async (call, target, context) => providerFor(target).pushImage(call.request.image ?? '', context)),
    PullImage: streamed(async (call, target, context) => providerFor(target).pullImage(call.request.image ?? '', context)),
    Deploy: streamed(async (call, target, context) => providerFor(target).deploy(decodePlan(call.request as DeployRequestMessage), context)),
    Rollback: streamed(async (call, target, context) => providerFor(target).rollback(call.request.app ?? '', call.request.environment ?? '', context)),
    Status: unary(
      async (call, target) => encodeStatus(await providerFor(target).status(call.request.app ?? '', call.request.environment ?? '')),
      (error) => ({ app: '', environment: '', deployment_id: '', version: '', slot: '', instances: [], error }),
    ),
    Metrics: unary(
      async (call, target) => encodeMetrics(await providerFor(target).metrics(call.request.app ?? '', call.request.environment ?? '')),
      (error) => ({ instances: [], error }),
    ),
  });
  const target = address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
  server.bindAsync(target, grpc.ServerCredentials.createInsecure(), (error) => {
    if (error) {
      console.error(`cannot serve on ${address}: ${error.message}`);
      process.exit(1);
    }
  });
  const stop = () => server.tryShutdown(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
