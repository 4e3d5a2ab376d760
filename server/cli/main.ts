import { runExec } from './exec.ts';
import { runRunner } from './runner.ts';
import { runServe } from './serve.ts';
import { runTryActivate, runValidate } from './validate.ts';

const USAGE = `Usage: flowyard <command> [options]

Commands:
  serve [--port 8080] [--host 127.0.0.1] [--data ./data] [--no-runner]
                                  Start the API and the web UI (DATABASE_URL overrides the database)
  validate FILE...                Build workflow files; print FILE:LINE:COL problems; exit 1 on errors
  try-activate FILE [--json]      Build one workflow and show what it would activate
  runner --url URL --token REGISTRATION_TOKEN [--name N] [--labels linux,docker] [--capacity 2] [--config ~/.flowyard/runner.json]
                                  Register this host once, then run jobs from the server
  exec FILE [--pipeline NAME] [--input k=v]... [--secret NAME[=VALUE]]...
                                  Run a pipeline on this machine's Docker engine, no server; exit 1 on failure
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return runServe(rest);
    case 'validate':
      return runValidate(rest);
    case 'try-activate':
      return runTryActivate(rest);
    case 'exec':
      return runExec(rest);
    case 'runner':
      return runRunner(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`flowyard: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`flowyard: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
