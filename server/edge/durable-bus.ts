/**
 * The event bus on Cloudflare Workers. An isolate's subscribers are only the waits it serves itself, so each
 * event goes where its waiters are: a run's events (log.appended, job.queued, cancel.requested, gate.decided,
 * ...) to that run's Durable Object, which holds the run's SSE log streams and cancel long-polls; job.queued
 * also to the one object that holds the runners' claim long-polls (a claim waits for any run's job); and
 * draft.changed to the workflow's co-editing object. The Worker routes those requests to those objects
 * (server/edge/routing.ts), where an in-process bus wakes them exactly as on Node. As there, events only cut
 * waits short: every waiter re-reads the database.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createLocalEventBus, type BusEvent, type EventBus } from '../services/events.ts';
import type { EdgeEnv } from './context.ts';
import type { ExecutionContext } from './workers-types.ts';

/** The claims object's name in RUN_EVENTS; runs' objects are named `run:<id>`. */
export const CLAIMS_OBJECT = 'claims';
export const runObject = (runId: string) => `run:${runId}`;
/** Path of the internal publish call on an object (never one the Worker forwards from a client: those are /api/...). */
export const PUBLISH_PATH = '/__flowyard/publish';
/** Tells an object its own name (the Worker sets it on every call it forwards). */
export const OBJECT_HEADER = 'x-flowyard-object';

export interface ObjectAddress {
  binding: 'RUN_EVENTS' | 'WORKFLOW_COLLAB';
  name: string;
}

export function destinationsOf(event: BusEvent): ObjectAddress[] {
  if (event.type === 'draft.changed') return [{ binding: 'WORKFLOW_COLLAB', name: event.workflowId }];
  // Other events without a run (the Node replicas' co-editing relay) have no waiter on the edge.
  if (!('runId' in event)) return [];
  const run: ObjectAddress = { binding: 'RUN_EVENTS', name: runObject(event.runId) };
  return event.type === 'job.queued' ? [run, { binding: 'RUN_EVENTS', name: CLAIMS_OBJECT }] : [run];
}

/** Calls to other objects belong to the request (or cron event) that made them: they are kept alive past its answer. */
const currentContext = new AsyncLocalStorage<ExecutionContext>();

export function withContext<T>(context: ExecutionContext, work: () => T): T {
  return currentContext.run(context, work);
}

export function objectStub(env: EdgeEnv, address: ObjectAddress) {
  const namespace = env[address.binding];
  return namespace.get(namespace.idFromName(address.name));
}

export interface DurableBus extends EventBus {
  /** An event sent here by another isolate: for this object's own waiters only. */
  deliver(event: BusEvent): void;
}

/** `self`: the object this bus serves (its events are delivered in place), or none for the Worker itself. */
export function createDurableBus(env: EdgeEnv, self?: ObjectAddress): DurableBus {
  const local = createLocalEventBus();
  const send = async (address: ObjectAddress, event: BusEvent) => {
    const answer = await objectStub(env, address).fetch(`https://flowyard.internal${PUBLISH_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', [OBJECT_HEADER]: address.name },
      body: JSON.stringify(event),
    });
    if (!answer.ok) throw new Error(`${address.binding} ${address.name} answered ${answer.status}`);
  };
  return {
    publish(event) {
      local.publish(event);
      for (const address of destinationsOf(event)) {
        if (self && address.binding === self.binding && address.name === self.name) continue;
        const sent = send(address, event).catch((error: Error) => console.error(`[events] ${event.type} to ${address.name}: ${error.message}`));
        currentContext.getStore()?.waitUntil(sent);
      }
    },
    deliver: (event) => local.publish(event),
    subscribe: local.subscribe,
    next: local.next,
  };
}
