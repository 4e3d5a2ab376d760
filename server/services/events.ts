/**
 * The event bus: services publish what changed (after it is committed), long-polls, log streams and live
 * co-editing subscribe. The bus is injected (AppDeps.events), so a cross-process implementation (Redis,
 * Postgres NOTIFY) can replace the in-process one without touching the services. Events only cut waits
 * short: every waiter still re-reads the database, so a missed event costs at most one poll interval.
 */
export interface EventMap {
  'run.created': { runId: string; workflowId: string };
  /** A job can be claimed: a new run, a gate passed, a job handed back or requeued after its runner was lost. */
  'job.queued': { runId: string; jobIndex: number };
  'gate.decided': { runId: string; stepIndex: number; decision: 'approved' | 'rejected'; via: 'auto' | 'manual' | 'timeout' };
  /** `stored` chunks of `bytes` bytes in all, duplicates left out. */
  'log.appended': { runId: string; stored: number; bytes: number };
  'draft.changed': { workflowId: string; yaml: string };
  'cancel.requested': { runId: string };
  /** A run reached its final state (succeeded, failed, cancelled, ...): what the plugin validation matrix records. */
  'run.finished': { runId: string; state: string };
  /**
   * Co-editing across API processes (server/collab/relay.ts): a Yjs document update or awareness update (base64)
   * made in process `origin`; `hello` when a process opens a live document (the others answer with their state);
   * `saving` names the YAML a live document is about to save, so the draft.changed it causes is not merged back.
   */
  'collab.update': { workflowId: string; origin: string; update: string };
  'collab.awareness': { workflowId: string; origin: string; update: string };
  'collab.hello': { workflowId: string; origin: string; update: string };
  'collab.saving': { workflowId: string; origin: string; yamlHash: string };
}

export type EventType = keyof EventMap;
export type BusEvent<K extends EventType = EventType> = { [T in K]: { type: T } & EventMap[T] }[K];
export type Unsubscribe = () => void;

export interface EventBus {
  publish(event: BusEvent): void;
  /** Calls `handler` with each event of `type` that `filter` accepts (all of them without one). */
  subscribe<K extends EventType>(type: K, handler: (event: BusEvent<K>) => void, filter?: (event: BusEvent<K>) => boolean): Unsubscribe;
  /** The next event of `type` that `filter` accepts, or undefined once `ms` passed: what long-polls wait on. */
  next<K extends EventType>(type: K, ms: number, filter?: (event: BusEvent<K>) => boolean): Promise<BusEvent<K> | undefined>;
  /**
   * True in exactly one of the processes sharing the bus that ask for `key` within `ttlMs` (one of several
   * replicas acts on an event they all received). Absent on a bus that reaches one process: that process acts.
   */
  once?(key: string, ttlMs: number): Promise<boolean>;
  /** Whether events reach every API process sharing the database (a Redis bus), not this process only. */
  readonly crossProcess?: boolean;
  close?(): Promise<void>;
}

type Handler = (event: BusEvent) => void;

/** The subscribers of one process, by event type: the local bus, and the local half of a cross-process bus. */
export function createLocalEventBus(): EventBus {
  const handlers = new Map<EventType, Set<Handler>>();
  const subscribe = <K extends EventType>(type: K, handler: (event: BusEvent<K>) => void, filter?: (event: BusEvent<K>) => boolean): Unsubscribe => {
    const set = handlers.get(type) ?? new Set();
    handlers.set(type, set);
    const entry: Handler = (event) => {
      const typed = event as unknown as BusEvent<K>;
      if (!filter || filter(typed)) handler(typed);
    };
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && handlers.get(type) === set) handlers.delete(type);
    };
  };
  return {
    publish(event) {
      for (const handler of [...(handlers.get(event.type) ?? [])]) {
        try {
          handler(event);
        } catch (error) {
          // One failing subscriber must not keep the event from the others, nor fail the service that published it.
          console.error(`[events] ${event.type}: ${(error as Error).message}`);
        }
      }
    },
    subscribe,
    next(type, ms, filter) {
      return new Promise((resolve) => {
        const done = (event?: BusEvent<typeof type>) => {
          clearTimeout(timer);
          unsubscribe();
          resolve(event);
        };
        const timer = setTimeout(() => done(), Math.max(0, ms));
        const unsubscribe = subscribe(type, done, filter);
      });
    },
  };
}
