import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

/** `npx vite dev` talks to a Flowyard API started separately (`npm start`), by default on port 8080. */
const api = process.env.FLOWYARD_API_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [sveltekit()],
  // Gzip sizes and the timing report (which only names SvelteKit's adapter step) cost build time and say little.
  build: { reportCompressedSize: false, rolldownOptions: { checks: { bundlerTimings: false } } },
  server: {
    host: '127.0.0.1',
    proxy: {
      '/api': { target: api, ws: true },
      '/hooks': api,
      '/healthz': api,
    },
  },
});
