/** `body` with `gauge` raised while it runs: what counts open streams and connections (a prom-client Gauge fits). */
export function whileOpen<A extends unknown[]>(
  gauge: { inc(): void; dec(): void } | undefined,
  body: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args) => {
    gauge?.inc();
    try {
      await body(...args);
    } finally {
      gauge?.dec();
    }
  };
}
