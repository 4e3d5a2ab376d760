import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createAdaptorServer } from '@hono/node-server';
import { openDatabase } from '../../db/client.ts';
import { migrateDatabase } from '../../db/migrate.ts';
import { createApp } from '../api/app.ts';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Db } from '../../db/client.ts';
import { createDockerClient, describeDockerHost, pingDocker } from '../../runners/docker/engine.ts';
import { POLICY_FLAGS, loadRunnerConfig, policyFromFlags } from '../../runners/daemon/config.ts';
import type { RunnerPolicy } from '../../runners/docker/policy.ts';
import { startRunner, type RunningRunner } from '../../runners/daemon/daemon.ts';
import { RunnerMetrics } from '../../runners/daemon/metrics.ts';
import type { Registry } from 'prom-client';
import { ensureFirstAdmin } from '../services/auth.ts';
import { createRegistrationToken } from '../services/runners.ts';
import { startLeaseSweeper } from '../services/runs.ts';
import { LOG_SWEEP_MS, startLogSweeper } from '../services/log-archive.ts';
import { fireDueSchedules } from '../services/triggers.ts';
import { DEFAULT_VALIDATION_CRON, startPluginValidation } from '../services/plugin-validation.ts';
import { readSettings } from '../../runners/protocol/settings.ts';
import { depsFromConfig } from './deps.ts';
import { defaultPublicUrl, loadConfig, type Config } from '../config.ts';
import { serveUi } from '../api/ui.ts';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { attachCollab } from '../collab/ws.ts';
import { createLogger, type Logger } from '../services/logger.ts';
import { writePidFile } from '../services/backup.ts';
import { createLocalEventBus, type EventBus } from '../services/events.ts';
import { createRedisEventBus } from '../services/events-redis.ts';

const LEASE_SWEEP_MS = 1000;
const SCHEDULE_TICK_MS = 5000;

/** The configuration of `flowyard serve` from its flags and the environment, and the embedded runner's --allow-* policy. */
export function parseServeArgs(args: string[], env: Record<string, string | undefined> = process.env): { config: Config; runnerPolicy: RunnerPolicy } {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'no-runner': { type: 'boolean' },
      ...POLICY_FLAGS,
    },
  });
  return { config: loadConfig(env, values), runnerPolicy: policyFromFlags(values) };
}

/** Listens on the port; resolves to the bound port, or to a one-line reason when the port cannot be used. */
function listen(server: Server, port: number, host: string): Promise<{ port: number } | { problem: string }> {
  return new Promise((done) => {
    const onError = (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') done({ problem: `port ${port} is in use; use --port` });
      else if (error.code === 'EACCES') done({ problem: `no permission to listen on port ${port}; use --port with a port above 1023` });
      else if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND')
        done({ problem: `cannot listen on host ${host}: no such address here; use --host` });
      else done({ problem: `cannot listen on ${host}:${port}: ${error.message}` });
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      done({ port: (server.address() as AddressInfo).port });
    });
  });
}

/** Starts API + UI on one port; resolves to -1 so the process stays up until a signal. */
export async function runServe(args: string[]): Promise<number> {
  const { config, runnerPolicy } = parseServeArgs(args);
  const { pluginValidationCron = DEFAULT_VALIDATION_CRON } = readSettings(['pluginValidationCron'], process.env);
  mkdirSync(config.dataDir, { recursive: true });
  const handle = await openDatabase(config.databaseUrl, config.databaseAuthToken);
  await migrateDatabase(handle.db);
  const adminToken = config.server.adminToken;
  const deps = await depsFromConfig(handle.db, config, await eventBusFor(config));
  if (config.embeddedRunner) deps.dockerPing = async () => void (await createDockerClient().ping());
  const app = createApp(deps, { ui: (a) => serveUi(a, config.uiDir ?? resolve(import.meta.dirname, '../../build')) });
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
  // Bind before creating the first admin: a busy port must not swallow the only showing of its password.
  const bound = await listen(server, config.port, config.host);
  if ('problem' in bound) {
    process.stderr.write(`flowyard: ${bound.problem}\n`);
    handle.close();
    return 1;
  }
  const firstAdmin = await ensureFirstAdmin(handle.db, { adminToken });
  // `flowyard restore` refuses a data folder whose server is alive.
  const pidFile = await writePidFile(config.dataDir);
  // Lapsed leases are found here too, so a lost runner's job ends even when no other runner is polling.
  const logger = deps.logger!;
  const stopSweeper = startLeaseSweeper(handle.db, deps.events, LEASE_SWEEP_MS, (error) => logger.error({ err: error }, 'lease sweep failed'));
  const stopLogSweeper = startLogSweeper(handle.db, LOG_SWEEP_MS, (error) => logger.error({ err: error }, 'log archive sweep failed'));
  const scheduler = setInterval(
    () => void fireDueSchedules(handle.db, deps.events).catch((error: Error) => logger.error({ err: error }, 'firing schedules failed')),
    SCHEDULE_TICK_MS,
  );
  const stopValidation = startPluginValidation(deps, {
    cron: pluginValidationCron,
    tickMs: SCHEDULE_TICK_MS,
    onError: (error) => console.error(`[plugin validation] ${error.message}`),
  });
  let embedded: RunningRunner | undefined;
  // With --port 0 the default public URL names the port actually bound.
  const url = config.server.publicUrl === defaultPublicUrl(config.host, config.port) ? defaultPublicUrl(config.host, bound.port) : config.server.publicUrl;
  process.stdout.write(`flowyard: listening on ${url} (database ${redactUrl(config.databaseUrl)})\n`);
  logger.info({ url, database: redactUrl(config.databaseUrl) }, 'listening');
  if (firstAdmin.created) {
    process.stdout.write(
      `flowyard: created the first admin. Sign in once as ${firstAdmin.email} with password ${firstAdmin.password} and change it; it is not shown again.\n`,
    );
  }
  if (!config.embeddedRunner) process.stdout.write('flowyard: embedded runner disabled (--no-runner)\n');
  else
    void startEmbeddedRunner(handle.db, `http://127.0.0.1:${bound.port}`, config.dataDir, logger, deps.metrics?.registry, runnerPolicy).then(
      (r) => (embedded = r),
    );
  const collab = attachCollab(server, deps);
  const stop = async () => {
    await collab.close();
    stopSweeper();
    stopLogSweeper();
    clearInterval(scheduler);
    stopValidation();
    await embedded?.stop();
    await deps.events.close?.();
    await pidFile.remove();
    server.close(() => {
      handle.close();
      process.exit(0);
    });
    setTimeout(() => process.exit(0), 5000).unref();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return -1;
}

const PUBSUB_CONNECT_WAIT_MS = 5000;

/** The Redis bus with FLOWYARD_PUBSUB_URL (started even while Redis is away: it reconnects), else the in-process one. */
async function eventBusFor(config: Config): Promise<EventBus> {
  if (!config.pubsubUrl) return createLocalEventBus();
  const logger = createLogger(config.logLevel, 'serve');
  const bus = createRedisEventBus(config.pubsubUrl, { onError: (message, error) => logger.error({ err: error }, `pub/sub: ${message}`) });
  const connected = await Promise.race([
    bus.ready.then(() => true),
    new Promise<boolean>((done) => setTimeout(() => done(false), PUBSUB_CONNECT_WAIT_MS).unref()),
  ]);
  process.stdout.write(
    connected
      ? `flowyard: events shared through ${redactUrl(config.pubsubUrl)}\n`
      : `flowyard: pub/sub at ${redactUrl(config.pubsubUrl)} does not answer yet; events stay in this process until it does\n`,
  );
  return bus;
}

/** A runner in this process when a Docker engine answers, so a new install can run workflows at once. */
async function startEmbeddedRunner(
  db: Db,
  url: string,
  dataDir: string,
  logger: Logger,
  registry?: Registry,
  policy?: RunnerPolicy,
): Promise<RunningRunner | undefined> {
  const docker = createDockerClient();
  if (!(await pingDocker(docker))) {
    process.stdout.write(`flowyard: no Docker engine at ${describeDockerHost()}; no embedded runner (start one with flowyard runner)\n`);
    return undefined;
  }
  const configPath = join(dataDir, 'runner.json');
  const known = await loadRunnerConfig(configPath);
  const labels = ['linux', 'docker', 'embedded'];
  // Same data directory and port: the same runner id, so what a killed process left is removed at start.
  const registrationToken =
    known?.url === url ? undefined : (await createRegistrationToken(db, { description: 'embedded runner', expiresInHours: 1, labels }, null)).token;
  const runner = await startRunner({
    url,
    registrationToken,
    name: `embedded-${hostname()}`,
    labels,
    capacity: 2,
    configPath,
    docker,
    log: (line) => logger.info(line),
    policy,
    // The embedded runner's series (flowyard_runner_*) are served with the server's at /metrics.
    metrics: registry && new RunnerMetrics(registry),
  });
  process.stdout.write(`flowyard: embedded runner ${runner.config.name} is taking jobs (labels ${runner.config.labels.join(', ')})\n`);
  return runner;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
