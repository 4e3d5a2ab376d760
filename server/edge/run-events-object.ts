/**
 * The Durable Object of one run (`run:<id>`), and of the runners' claims (`claims`): it serves the requests
 * that wait for the run's events (SSE log streams, cancel long-polls; claims), which the Worker forwards to
 * it, and receives those events from whichever isolate published them. One object per run spreads the
 * viewers of many runs over many objects; the claims object wakes one waiting runner per queued job, as the
 * Node server does.
 */
import type { BusEvent } from '../services/events.ts';
import { edgeApp, startFailure, type EdgeEnv } from './context.ts';
import { createDurableBus, OBJECT_HEADER, PUBLISH_PATH, withContext, type DurableBus } from './durable-bus.ts';
import type { DurableObjectState } from './workers-types.ts';

export class RunEvents {
  private bus: DurableBus | undefined;
  private app: ReturnType<typeof edgeApp> | undefined;

  constructor(
    private readonly state: DurableObjectState,
    private readonly env: EdgeEnv,
  ) {}

  async fetch(request: Request): Promise<Response> {
    this.bus ??= createDurableBus(this.env, { binding: 'RUN_EVENTS', name: request.headers.get(OBJECT_HEADER) ?? '' });
    if (new URL(request.url).pathname === PUBLISH_PATH) {
      this.bus.deliver((await request.json()) as BusEvent);
      return new Response(null, { status: 204 });
    }
    let app;
    try {
      app = (await (this.app ??= edgeApp(this.env, this.bus))).app;
    } catch (error) {
      this.app = undefined;
      return startFailure(error);
    }
    return withContext(this.state, () => app.fetch(request));
  }
}
