/**
 * In-process wake-ups so long-polls and log streams react at once to work done in this process.
 * Other API processes are still seen through the periodic database polls that these only cut short.
 */
class Wakeups {
  private waiters = new Map<string, Set<() => void>>();

  /** Resolves when `topic` is signalled or after `ms`, whichever comes first. */
  wait(topic: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(topic) ?? new Set();
      this.waiters.set(topic, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(topic) === set) this.waiters.delete(topic);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      set.add(done);
    });
  }

  signal(topic: string): void {
    for (const wake of [...(this.waiters.get(topic) ?? [])]) wake();
  }
}

export const wakeups = new Wakeups();
export const JOBS_TOPIC = 'jobs';
export const logsTopic = (runId: string) => `logs:${runId}`;
export const cancelTopic = (runId: string) => `cancel:${runId}`;
