import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLocalEventBus, type BusEvent, type EventBus } from './events.ts';

/** The one Redis channel every event goes through: one channel keeps the events of one publisher in order. */
export const EVENTS_CHANNEL = 'flowyard:events';
const ONCE_PREFIX = 'flowyard:once:';

interface Envelope {
  /** The publishing process: it has already delivered the event to its own subscribers. */
  from: string;
  event: BusEvent;
}

export interface RedisBusOptions {
  /** Where failures go (a publish that did not reach Redis, a message that was not JSON); never thrown. */
  onError?: (message: string, error: Error) => void;
}

/**
 * An event bus shared by every API process connected to the same Redis (FLOWYARD_PUBSUB_URL=redis://...).
 * A publish reaches this process's subscribers at once (as the local bus does) and the other processes through
 * Redis pub/sub: one connection publishes, one subscribes; both reconnect on their own (ioredis). A publish
 * that fails is logged and dropped: waiters re-read the database, so a lost event costs one poll interval.
 */
export function createRedisEventBus(url: string, options: RedisBusOptions = {}): EventBus & { ready: Promise<void>; close(): Promise<void> } {
  const onError = options.onError ?? ((message, error) => console.error(`[events] ${message}: ${error.message}`));
  const local = createLocalEventBus();
  const processId = randomUUID();
  const connection = { maxRetriesPerRequest: 2, retryStrategy: (attempt: number) => Math.min(attempt * 100, 2000), lazyConnect: false };
  // No offline queue for publishing: while Redis is away a publish fails at once (logged) rather than piling up.
  const publisher = new Redis(url, { ...connection, enableOfflineQueue: false, connectionName: `flowyard-pub-${processId}` });
  const subscriber = new Redis(url, { ...connection, connectionName: `flowyard-sub-${processId}` });
  let lastConnectionError = '';
  for (const client of [publisher, subscriber]) {
    client.on('error', (error: Error) => {
      // ioredis reports every failed reconnect; one line per distinct problem is enough.
      if (error.message === lastConnectionError) return;
      lastConnectionError = error.message;
      onError('redis connection', error);
    });
    client.on('ready', () => (lastConnectionError = ''));
  }
  subscriber.on('message', (channel: string, message: string) => {
    if (channel !== EVENTS_CHANNEL) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message) as Envelope;
    } catch (error) {
      return onError('an event that is not JSON', error as Error);
    }
    if (envelope.from !== processId && envelope.event && typeof envelope.event.type === 'string') local.publish(envelope.event);
  });
  const ready = Promise.all([
    subscriber.subscribe(EVENTS_CHANNEL),
    new Promise<void>((resolve) => (publisher.status === 'ready' ? resolve() : publisher.once('ready', () => resolve()))),
  ]).then(() => undefined);

  return {
    crossProcess: true,
    ready,
    publish(event) {
      local.publish(event);
      const envelope: Envelope = { from: processId, event };
      publisher.publish(EVENTS_CHANNEL, JSON.stringify(envelope)).catch((error: Error) => onError(`publishing ${event.type}`, error));
    },
    subscribe: local.subscribe,
    next: local.next,
    async once(key, ttlMs) {
      try {
        return (await publisher.set(`${ONCE_PREFIX}${key}`, processId, 'PX', Math.max(1, Math.round(ttlMs)), 'NX')) === 'OK';
      } catch (error) {
        // Without Redis nobody can be elected: acting twice is better than nobody acting.
        onError(`electing one process for ${key}`, error as Error);
        return true;
      }
    },
    async close() {
      subscriber.disconnect();
      await publisher.quit().catch(() => publisher.disconnect());
    },
  };
}
