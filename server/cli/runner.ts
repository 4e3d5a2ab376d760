import { parseArgs } from 'node:util';
import { createDockerClient, describeDockerHost, pingDocker } from '../../runners/docker/engine.ts';
import { POLICY_FLAGS, loadRunnerSettings } from '../../runners/daemon/config.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';
import { RunnerMetrics, serveRunnerMetrics } from '../../runners/daemon/metrics.ts';
import { readSettings } from '../../runners/protocol/settings.ts';
import { createLogger } from '../services/logger.ts';

/** `flowyard runner`: registers with a server once, then takes jobs until SIGTERM/SIGINT. */
export async function runRunner(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string' },
      labels: { type: 'string' },
      capacity: { type: 'string' },
      config: { type: 'string' },
      'metrics-port': { type: 'string' },
      'metrics-host': { type: 'string' },
      ...POLICY_FLAGS,
    },
  });
  const settings = loadRunnerSettings(values);
  const observability = readSettings(['logLevel', 'metricsPort', 'metricsHost'], process.env, values);
  if (!settings.url) {
    process.stderr.write(
      'usage: flowyard runner --url URL --token REGISTRATION_TOKEN [--name N] [--labels a,b] [--capacity 2] [--config PATH]\n' +
        '       [--allow-host-network] [--allow-docker-host URL]... [--allow-bind-mounts] [--allow-egress]\n' +
        '       [--metrics-port PORT] [--metrics-host 127.0.0.1]\n',
    );
    return 2;
  }
  const docker = createDockerClient();
  if (!(await pingDocker(docker))) throw new Error(`no Docker engine answers at ${describeDockerHost()}`);
  const logger = createLogger(observability.logLevel ?? 'info', 'runner');
  const metrics = observability.metricsPort === undefined ? undefined : new RunnerMetrics();
  const endpoint = metrics && (await serveRunnerMetrics(metrics, observability.metricsHost ?? '127.0.0.1', observability.metricsPort!));
  const runner = await startRunner({
    url: settings.url,
    registrationToken: settings.registrationToken,
    name: settings.name,
    labels: settings.labels,
    capacity: settings.capacity,
    configPath: settings.configPath,
    docker,
    log: (line) => logger.info(line),
    policy: settings.policy,
    metrics,
  });
  process.stdout.write(
    `flowyard runner ${runner.config.name} (${runner.config.runnerId}) taking jobs from ${runner.config.url} with labels ${runner.config.labels.join(',')}\n`,
  );
  if (endpoint) process.stdout.write(`flowyard runner: metrics at ${endpoint.url}\n`);
  const stop = () => {
    process.stdout.write('flowyard runner: stopping; handing running jobs back\n');
    void runner.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await runner.stopped;
  return 0;
}
