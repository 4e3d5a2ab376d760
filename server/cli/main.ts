import { COMMAND_USAGE, helpFor } from '../../bin/usage.js';
import { COMMAND_MAINS, usageError } from './commands.ts';

async function main(argv: string[]): Promise<number> {
  const help = helpFor(argv);
  if (help) {
    (help.toStderr ? process.stderr : process.stdout).write(help.text);
    return help.code;
  }
  const [name, ...rest] = argv as [string, ...string[]];
  const run = await COMMAND_MAINS[name]!();
  try {
    return await run(rest);
  } catch (error) {
    const message = usageError(error);
    if (message === undefined) throw error;
    process.stderr.write(`flowyard ${name}: ${message}\nusage: flowyard ${COMMAND_USAGE[name]!.usage}\n`);
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
