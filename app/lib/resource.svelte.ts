import { untrack } from 'svelte';

/**
 * Data from the API with its loading and error state. Keeps the last good value while refreshing, so
 * polling never blanks a page; a newer refresh aborts the older one.
 */
export class Resource<T> {
  value = $state<T | undefined>();
  error = $state<unknown>();
  loading = $state(false);
  #controller: AbortController | undefined;

  constructor(private readonly fetcher: (signal: AbortSignal) => Promise<T>) {}

  async refresh(): Promise<void> {
    this.#controller?.abort();
    const controller = (this.#controller = new AbortController());
    this.loading = true;
    try {
      const value = await this.fetcher(controller.signal);
      if (controller.signal.aborted) return;
      this.value = value;
      this.error = undefined;
    } catch (error) {
      if (!controller.signal.aborted) this.error = error;
    } finally {
      if (this.#controller === controller) this.loading = false;
    }
  }

  stop(): void {
    this.#controller?.abort();
  }
}

/**
 * A `Resource` loaded when the component mounts and, with `every`, refreshed on that interval while the tab
 * is visible (and at once when it becomes visible again). Call during component initialisation.
 */
export function useResource<T>(fetcher: (signal: AbortSignal) => Promise<T>, options: { every?: number } = {}): Resource<T> {
  const resource = new Resource(fetcher);
  $effect(() =>
    untrack(() => {
      void resource.refresh();
      if (!options.every) return () => resource.stop();
      const tick = () => {
        if (document.visibilityState === 'visible' && !resource.loading) void resource.refresh();
      };
      const timer = setInterval(tick, options.every);
      document.addEventListener('visibilitychange', tick);
      return () => {
        clearInterval(timer);
        document.removeEventListener('visibilitychange', tick);
        resource.stop();
      };
    }),
  );
  return resource;
}
