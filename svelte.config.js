// SvelteKit config: the web IDE lives in app/ and builds to a static SPA in build/, served by the API (server/api/ui.ts).
import adapter from '@sveltejs/adapter-static';

/** The generated .svelte-kit/tsconfig.json would also include tests/**; those belong to the root tsconfig. */
const appOnly = (pattern) => !/(^|\/)tests?\//.test(pattern);

/** @type {import('@sveltejs/kit').Config} */
export default {
  compilerOptions: { runes: true },
  kit: {
    adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
    files: {
      src: 'app',
      routes: 'app/routes',
      lib: 'app/lib',
      appTemplate: 'app/app.html',
      assets: 'static',
    },
    // The fallback page is served at every URL, so its asset links must be absolute.
    paths: { relative: false },
    typescript: {
      config: (config) => {
        config.include = config.include.filter(appOnly);
      },
    },
  },
};
