/** Each `flowyard` command's entry point, loaded only when that command runs. */
export type CommandMain = (args: string[]) => Promise<number>;

export const COMMAND_MAINS: Record<string, () => Promise<CommandMain>> = {
  serve: async () => (await import('./serve.ts')).runServe,
  validate: async () => (await import('./validate.ts')).runValidate,
  'try-activate': async () => (await import('./validate.ts')).runTryActivate,
  runner: async () => (await import('./runner.ts')).runRunner,
  exec: async () => (await import('./exec.ts')).runExec,
  admin: async () => (await import('./admin.ts')).runAdmin,
  plugin: async () => (await import('./plugin.ts')).runPlugin,
  backup: async () => (await import('./backup.ts')).runBackup,
  restore: async () => (await import('./backup.ts')).runRestore,
};

const PARSE_ERRORS = new Set(['ERR_PARSE_ARGS_UNKNOWN_OPTION', 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE', 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL']);

/** A short message for `util.parseArgs` errors (Node's own are long and name no command); undefined for others. */
export function usageError(error: unknown): string | undefined {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (!code || !PARSE_ERRORS.has(code)) return undefined;
  const subject = /'([^']+)'/.exec((error as Error).message)?.[1];
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${subject ?? ''}`.trim();
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${subject ?? ''}`.trim();
  return (error as Error).message.split('\n')[0]!;
}
