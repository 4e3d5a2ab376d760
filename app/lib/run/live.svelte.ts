import { untrack } from 'svelte';
import { Resource } from '$lib/resource.svelte';

const MAX_BACKOFF_STEPS = 5;

/**
 * A `Resource` loaded on mount, then again after `interval(value)` ms for as long as that returns a
 * number (null: the value can no longer change, e.g. a finished run). Refreshes skip while the tab is
 * hidden; failures back off (×2, up to ×32). Call during component initialisation.
 */
export function usePolling<T>(fetcher: (signal: AbortSignal) => Promise<T>, interval: (value: T | undefined) => number | null): Resource<T> {
  const resource = new Resource(fetcher);
  $effect(() =>
    untrack(() => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      let stopped = false;
      let failures = 0;
      const loop = async () => {
        if (document.visibilityState === 'visible') await resource.refresh();
        const delay = interval(resource.value);
        if (stopped || delay === null) return;
        failures = resource.error ? Math.min(failures + 1, MAX_BACKOFF_STEPS) : 0;
        timer = setTimeout(loop, delay * 2 ** failures);
      };
      void loop();
      return () => {
        stopped = true;
        clearTimeout(timer);
        resource.stop();
      };
    }),
  );
  return resource;
}

/** The current time, ticking every `everyMs` while `active()` holds: for durations that grow on screen. */
export function useNow(active: () => boolean, everyMs = 1000): { readonly value: number } {
  let now = $state(Date.now());
  $effect(() => {
    if (!active()) return;
    now = Date.now();
    const timer = setInterval(() => (now = Date.now()), everyMs);
    return () => clearInterval(timer);
  });
  return {
    get value() {
      return now;
    },
  };
}
