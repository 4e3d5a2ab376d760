// The command table and help text of `flowyard`, in plain JavaScript so `flowyard --help` answers without
// loading the TypeScript loader (that alone takes most of a second on a busy machine).

/** @type {Record<string, { usage: string, summary: string }>} */
export const COMMAND_USAGE = {
  serve: {
    usage: 'serve [--port 8080] [--host 127.0.0.1] [--data ./data] [--no-runner]',
    summary: 'Start the API and the web UI (DATABASE_URL overrides the database)',
  },
  validate: {
    usage: 'validate FILE...',
    summary: 'Build workflow files; print FILE:LINE:COL problems; exit 1 on errors',
  },
  'try-activate': {
    usage: 'try-activate FILE [--json]',
    summary: 'Build one workflow and show what it would activate',
  },
  runner: {
    usage:
      'runner --url URL --token REGISTRATION_TOKEN [--name N] [--labels linux,docker] [--capacity 2] [--config ~/.flowyard/runner.json] [--metrics-port PORT]',
    summary: 'Register this host once, then run jobs from the server',
  },
  exec: {
    usage: 'exec FILE [--pipeline NAME] [--input k=v]... [--secret NAME[=VALUE]]... [--event webhook --payload FILE] [--approve-gates | --reject-gates]',
    summary: "Run a pipeline on this machine's Docker engine, no server; exit 1 on failure",
  },
  admin: {
    usage: 'admin reset-password EMAIL [--data ./data]',
    summary: 'On the server host: give a user a new one-time password (DATABASE_URL overrides the database)',
  },
  plugin: {
    usage: 'plugin pack FOLDER [OUT]',
    summary: 'Pack a plugin folder into its deterministic archive (.tar.gz), checked as an install checks it; prints its digest',
  },
  backup: {
    usage: 'backup FILE [--data ./data]',
    summary: 'On the server host, also while it runs: write the database, artifacts and secret key to FILE (.tar.gz)',
  },
  restore: {
    usage: 'restore FILE [--data ./data] [--force]',
    summary: "Into a stopped server's data folder: restore a backup (--force replaces an existing database)",
  },
};

export const USAGE = `Usage: flowyard <command> [options]    (flowyard <command> --help for one command)

Commands:
${Object.values(COMMAND_USAGE)
  .map((c) => `  ${c.usage}\n      ${c.summary}`)
  .join('\n')}
`;

/**
 * What to print instead of running a command: the usage for no command, `help`, `--help`, an unknown command
 * or `<command> --help`; undefined when a command should run.
 * @param {string[]} argv
 * @returns {{ text: string, toStderr: boolean, code: number } | undefined}
 */
export function helpFor(argv) {
  const [name, ...rest] = argv;
  if (name === undefined) return { text: USAGE, toStderr: false, code: 2 };
  if (name === 'help' || name === '--help' || name === '-h') return { text: USAGE, toStderr: false, code: 0 };
  const command = COMMAND_USAGE[name];
  if (!command) return { text: `flowyard: unknown command "${name}"\n\n${USAGE}`, toStderr: true, code: 2 };
  if (rest.includes('--help') || rest.includes('-h')) return { text: `usage: flowyard ${command.usage}\n`, toStderr: false, code: 0 };
  return undefined;
}
