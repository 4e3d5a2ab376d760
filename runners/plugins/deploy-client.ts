/**
 * The runner side of DeployProviderService: a client per plugin address, and the two shapes of call it makes:
 * streamed (narration lines, then one outcome; the context's signal cancels the call) and unary.
 */
import * as grpc from '@grpc/grpc-js';
import type { DeployContext } from '../deploy/provider.ts';
import { type DeployEventMessage, deployProviderService, type OutcomeMessage } from './deploy-grpc.ts';
import { grpcTarget } from './grpc.ts';

type Callback<T> = (error: grpc.ServiceError | null, response?: T) => void;

export type DeployProviderClient = grpc.Client & {
  [method in 'PushImage' | 'PullImage' | 'Deploy' | 'Rollback']: (request: unknown, options: grpc.CallOptions) => grpc.ClientReadableStream<DeployEventMessage>;
} & {
  [method in 'TestConnection' | 'Status' | 'Metrics']: (request: unknown, options: grpc.CallOptions, callback: Callback<unknown>) => grpc.ClientUnaryCall;
};

export function deployProviderClient(address: string): DeployProviderClient {
  const Service = deployProviderService();
  return new Service(grpcTarget(address), grpc.credentials.createInsecure(), {
    'grpc.enable_retries': 0,
    'grpc.enable_channelz': 0,
  }) as unknown as DeployProviderClient;
}

const failure = (what: string, error: grpc.ServiceError) =>
  new Error(`deploy provider plugin: ${what} failed: ${grpc.status[error.code] ?? error.code} ${error.details || error.message}`);

/** A streamed call: each narration line to `context.log`, then the outcome. Aborting `context.signal` cancels the call. */
export function streamedCall(
  client: DeployProviderClient,
  method: 'PushImage' | 'PullImage' | 'Deploy' | 'Rollback',
  request: unknown,
  context: DeployContext,
): Promise<OutcomeMessage> {
  return new Promise((resolve, reject) => {
    let outcome: OutcomeMessage | undefined;
    const call = client[method](request, {});
    const onAbort = () => call.cancel();
    context.signal.addEventListener('abort', onAbort, { once: true });
    if (context.signal.aborted) call.cancel();
    const done = () => context.signal.removeEventListener('abort', onAbort);
    call.on('data', (event: DeployEventMessage) => {
      if (event.event === 'log') context.log(event.log ?? '');
      else if (event.event === 'outcome') outcome = event.outcome;
    });
    call.on('error', (error: grpc.ServiceError) => {
      done();
      reject(context.signal.aborted ? new Error(`${method} was cancelled`) : failure(method, error));
    });
    call.on('status', (status: grpc.StatusObject) => {
      if (status.code !== grpc.status.OK) return; // the error event tells
      done();
      if (outcome) resolve(outcome);
      else reject(new Error(`deploy provider plugin: ${method} ended without an outcome`));
    });
  });
}

/** A unary call; `error` in the answer (the plugin's own failure) becomes a thrown Error with its message. */
export function unaryCall<T extends { error?: string }>(
  client: DeployProviderClient,
  method: 'TestConnection' | 'Status' | 'Metrics',
  request: unknown,
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, {}, (error, response) => {
      if (error) return reject(failure(method, error));
      const answer = response as T;
      if (answer.error) reject(new Error(answer.error));
      else resolve(answer);
    });
  });
}
