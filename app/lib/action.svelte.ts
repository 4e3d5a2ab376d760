/**
 * An async action the user starts, with its busy and error state. A run clears the last error, marks the action
 * running until it settles and keeps what it threw in `error`, so a form or button shows it instead of losing it.
 */
export class Action<Args extends unknown[], Key = true> {
  /** What the running call works on (the `key` option's answer, else `true`); undefined while idle. */
  running = $state<Key>();
  error = $state<unknown>();

  constructor(
    private readonly action: (...args: Args) => Promise<unknown>,
    private readonly keyOf: (...args: Args) => Key = () => true as Key,
  ) {}

  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves true when the action succeeded, false when it threw (the error is then in `error`). */
  async run(...args: Args): Promise<boolean> {
    this.running = this.keyOf(...args);
    this.error = undefined;
    try {
      await this.action(...args);
      return true;
    } catch (error) {
      this.error = error;
      return false;
    } finally {
      this.running = undefined;
    }
  }
}

/** An `Action` around `action`; `key` names what a call works on (a row's id, a button) for `running`. */
export function useAction<Args extends unknown[], Key = true>(
  action: (...args: Args) => Promise<unknown>,
  options: { key?: (...args: Args) => Key } = {},
): Action<Args, Key> {
  return new Action(action, options.key);
}

/** `act` on one item of `list` by its id (a delete, a revoke), then the list reloaded; `running` is that id. */
export function useListAction<Item extends { id: string }>(
  act: (id: string) => Promise<unknown>,
  list: { refresh(): Promise<void> } | undefined,
): Action<[Item], string> {
  return useAction(
    async (item: Item) => {
      await act(item.id);
      await list?.refresh();
    },
    { key: (item) => item.id },
  );
}
