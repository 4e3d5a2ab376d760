import { defineContractSuite } from './suite.ts';
import { startWorkerd } from '../helpers/workerd.ts';

/** server/edge.ts bundled for workerd (scripts/build-edge.ts), in Miniflare on a loopback port, with wrangler.toml's bindings. */
defineContractSuite({
  runtime: 'workerd',
  async start(services) {
    const worker = await startWorkerd((baseUrl) => ({ ...services.env, FLOWYARD_PUBLIC_URL: baseUrl }));
    return { baseUrl: worker.url, wsUrl: worker.url.replace(/^http/, 'ws'), stop: () => worker.close() };
  },
});
