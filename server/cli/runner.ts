import { parseArgs } from 'node:util';
import { createDockerClient, describeDockerHost, pingDocker } from '../../runners/docker/engine.ts';
import { POLICY_FLAGS, loadRunnerSettings } from '../../runners/daemon/config.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';

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
      ...POLICY_FLAGS,
    },
  });
  const settings = loadRunnerSettings(values);
  if (!settings.url) {
    process.stderr.write(
      'usage: flowyard runner --url URL --token REGISTRATION_TOKEN [--name N] [--labels a,b] [--capacity 2] [--config PATH]\n' +
        '       [--allow-host-network] [--allow-docker-host URL]... [--allow-bind-mounts] [--allow-egress]\n',
    );
    return 2;
  }
  const docker = createDockerClient();
  if (!(await pingDocker(docker))) throw new Error(`no Docker engine answers at ${describeDockerHost()}`);
  const runner = await startRunner({
    url: settings.url,
    registrationToken: settings.registrationToken,
    name: settings.name,
    labels: settings.labels,
    capacity: settings.capacity,
    configPath: settings.configPath,
    docker,
    log: (line) => process.stdout.write(`${line}\n`),
    policy: settings.policy,
  });
  process.stdout.write(
    `flowyard runner ${runner.config.name} (${runner.config.runnerId}) taking jobs from ${runner.config.url} with labels ${runner.config.labels.join(',')}\n`,
  );
  const stop = () => {
    process.stdout.write('flowyard runner: stopping; handing running jobs back\n');
    void runner.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await runner.stopped;
  return 0;
}
