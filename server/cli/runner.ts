import { hostname, homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createDockerClient, describeDockerHost, pingDocker } from '../../runners/docker/engine.ts';
import { POLICY_FLAGS, policyFromFlags } from '../../runners/daemon/config.ts';
import { startRunner } from '../../runners/daemon/daemon.ts';

/** `flowyard runner`: registers with a server once, then takes jobs until SIGTERM/SIGINT. */
export async function runRunner(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string' },
      token: { type: 'string' },
      name: { type: 'string', default: hostname() },
      labels: { type: 'string', default: 'linux,docker' },
      capacity: { type: 'string', default: '2' },
      config: { type: 'string', default: join(homedir(), '.flowyard', 'runner.json') },
      ...POLICY_FLAGS,
    },
  });
  if (!values.url) {
    process.stderr.write(
      'usage: flowyard runner --url URL --token REGISTRATION_TOKEN [--name N] [--labels a,b] [--capacity 2] [--config PATH]\n' +
        '       [--allow-host-network] [--allow-docker-host URL]... [--allow-bind-mounts] [--allow-egress]\n',
    );
    return 2;
  }
  const capacity = Number(values.capacity);
  if (!Number.isInteger(capacity) || capacity < 1 || capacity > 64) throw new Error(`--capacity: "${values.capacity}" is not a number from 1 to 64`);
  const policy = policyFromFlags(values);
  const docker = createDockerClient();
  if (!(await pingDocker(docker))) throw new Error(`no Docker engine answers at ${describeDockerHost()}`);
  const runner = await startRunner({
    url: values.url,
    registrationToken: values.token,
    name: values.name,
    labels: values.labels.split(',').map((l) => l.trim()).filter(Boolean),
    capacity,
    configPath: values.config,
    docker,
    log: (line) => process.stdout.write(`${line}\n`),
    policy,
  });
  process.stdout.write(`flowyard runner ${runner.config.name} (${runner.config.runnerId}) taking jobs from ${runner.config.url} with labels ${runner.config.labels.join(',')}\n`);
  const stop = () => {
    process.stdout.write('flowyard runner: stopping; handing running jobs back\n');
    void runner.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  await runner.stopped;
  return 0;
}
