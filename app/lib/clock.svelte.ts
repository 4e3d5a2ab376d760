const TICK_MS = 15_000;

let now = $state(Date.now());
setInterval(() => (now = Date.now()), TICK_MS);

/** The current time, updated every few seconds so relative times ("2 min ago") stay true without a reload. */
export const clock = {
  get now() {
    return now;
  },
};
