import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openDatabase } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { resetPassword, UnknownUserError } from '../services/auth.ts';
import { loadConfig } from '../config.ts';

const USAGE = 'usage: flowyard admin reset-password EMAIL [--data ./data]\n';

/** `flowyard admin reset-password EMAIL`: run on the server host, against the server's own database. */
export async function runAdmin(args: string[], env: Record<string, string | undefined> = process.env): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, options: { data: { type: 'string' } } });
  const [action, email, ...extra] = positionals;
  if (action !== 'reset-password' || !email || extra.length > 0) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfig(env, values);
  const databaseFile = `${config.dataDir}/flowyard.db`;
  if (config.databaseUrl === `file:${databaseFile}` && !existsSync(databaseFile)) {
    process.stderr.write(`flowyard admin: no Flowyard database at ${databaseFile}; point --data at the server's data folder\n`);
    return 1;
  }
  const handle = await openDatabase(config.databaseUrl, config.databaseAuthToken);
  try {
    await migrateDatabase(handle.db);
    const password = await resetPassword(handle.db, email);
    process.stdout.write(`flowyard admin: new one-time password for ${email}: ${password}\n`);
    process.stdout.write('flowyard admin: their sessions were ended; they must choose a new password at the next sign-in.\n');
    return 0;
  } catch (error) {
    if (!(error instanceof UnknownUserError)) throw error;
    process.stderr.write(`flowyard admin: ${error.message}\n`);
    return 1;
  } finally {
    handle.close();
  }
}
