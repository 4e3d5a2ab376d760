import { createServer } from 'node:net';
import type Dockerode from 'dockerode';
import { MANAGED_LABEL, statusCodeOf } from '../docker/engine.ts';
import type { Release } from './provider.ts';

export type Slot = 'blue' | 'green';

/** Labels of deployed containers; the role tells app instances from the state record. */
export const LABELS = {
  role: 'flowyard.role',
  app: 'flowyard.app',
  env: 'flowyard.env',
  version: 'flowyard.version',
  deployment: 'flowyard.deployment',
  slot: 'flowyard.slot',
  port: 'flowyard.port',
  deployedAt: 'flowyard.deployed-at',
  state: 'flowyard.state',
} as const;
const INSTANCE_ROLE = 'deploy-instance';
const STATE_ROLE = 'deploy-state';
const STOP_GRACE_SECONDS = 5;
const DEFAULT_PORT_RANGE: readonly [number, number] = [20000, 29999];

export interface Instance {
  id: string;
  name: string;
  version: string;
  deploymentId: string;
  slot: Slot;
  port: number;
  running: boolean;
}

/** What the state record keeps: the live deployment, and the release before it for rollback. */
export interface DeployState {
  deploymentId: string;
  slot: Slot;
  release: Release;
  previous: Release | null;
}

export interface InstanceSpec {
  app: string;
  environment: string;
  image: string;
  version: string;
  deploymentId: string;
  slot: Slot;
  port: number;
}

export const instanceUrl = (host: string, port: number) => `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

const appFilter = (role: string, app: string, environment: string) => ({
  label: [`${MANAGED_LABEL}=true`, `${LABELS.role}=${role}`, `${LABELS.app}=${app}`, `${LABELS.env}=${environment}`],
});

/** Container names allow [a-zA-Z0-9_.-]. */
const nameSafe = (text: string) => text.replace(/[^a-zA-Z0-9_.-]+/g, '-').replace(/^[-_.]+/, '');

export async function listInstances(docker: Dockerode, app: string, environment: string): Promise<Instance[]> {
  const containers = await docker.listContainers({ all: true, filters: appFilter(INSTANCE_ROLE, app, environment) });
  return containers.map((container) => ({
    id: container.Id,
    name: (container.Names[0] ?? container.Id).replace(/^\//, ''),
    version: container.Labels[LABELS.version] ?? '',
    deploymentId: container.Labels[LABELS.deployment] ?? '',
    slot: container.Labels[LABELS.slot] === 'green' ? 'green' : 'blue',
    port: Number(container.Labels[LABELS.port]),
    running: container.State === 'running',
  }));
}

/**
 * Creates and starts one app instance on the host network, told its port in $PORT. It restarts with the
 * engine (unless stopped) like any service; Docker's default capabilities are kept, privilege gains are not.
 */
export async function startInstance(docker: Dockerode, spec: InstanceSpec): Promise<Instance> {
  const name = nameSafe(`flowyard-${spec.app}-${spec.environment}-${spec.version}-${spec.port}`);
  const container = await docker.createContainer({
    name,
    Image: spec.image,
    Env: [`PORT=${spec.port}`],
    Labels: {
      [MANAGED_LABEL]: 'true',
      [LABELS.role]: INSTANCE_ROLE,
      [LABELS.app]: spec.app,
      [LABELS.env]: spec.environment,
      [LABELS.version]: spec.version,
      [LABELS.deployment]: spec.deploymentId,
      [LABELS.slot]: spec.slot,
      [LABELS.port]: String(spec.port),
    },
    HostConfig: { NetworkMode: 'host', Init: true, SecurityOpt: ['no-new-privileges'], RestartPolicy: { Name: 'unless-stopped' } },
  });
  try {
    await container.start();
  } catch (error) {
    await removeContainer(docker, container.id);
    throw error;
  }
  return { id: container.id, name, version: spec.version, deploymentId: spec.deploymentId, slot: spec.slot, port: spec.port, running: true };
}

/** Why an instance is not serving: null while it runs and has not restarted. */
export async function instanceFailure(docker: Dockerode, id: string): Promise<string | null> {
  try {
    const { State, RestartCount } = await docker.getContainer(id).inspect();
    if (State.Running && !State.Restarting && RestartCount === 0) return null;
    return `container exited with code ${State.ExitCode}${RestartCount ? ` and restarted ${RestartCount} time(s)` : ''}`;
  } catch (error) {
    if (statusCodeOf(error) === 404) return 'container is gone';
    throw error;
  }
}

export async function stopContainer(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).stop({ t: STOP_GRACE_SECONDS });
  } catch (error) {
    if (statusCodeOf(error) !== 304 && statusCodeOf(error) !== 404) throw error;
  }
}

export async function restartContainer(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).start();
  } catch (error) {
    if (statusCodeOf(error) !== 304) throw error;
  }
}

export async function removeContainer(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
  } catch (error) {
    if (statusCodeOf(error) !== 404) throw error;
  }
}

/** `"20000-20999"` → [20000, 20999]; the default range lies below Linux's ephemeral ports. */
export function parsePortRange(text: unknown): readonly [number, number] {
  if (text === undefined) return DEFAULT_PORT_RANGE;
  const match = /^(\d+)-(\d+)$/.exec(String(text).trim());
  const [from, to] = match ? [Number(match[1]), Number(match[2])] : [0, 0];
  if (from < 1024 || to > 65535 || from > to) throw new Error(`settings.port_range "${String(text)}" is not a range such as 20000-20999 (ports 1024-65535)`);
  return [from, to];
}

/**
 * `count` ports from `range` that no deployed container holds (by its port label) and, when the
 * instances answer on this machine's loopback, that nothing else listens on. The scan starts at a random
 * offset so that concurrent deploys rarely race for the same port.
 */
export async function allocatePorts(docker: Dockerode, range: readonly [number, number], count: number, checkLocal: boolean): Promise<number[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [`${LABELS.role}=${INSTANCE_ROLE}`] } });
  const taken = new Set(containers.map((container) => Number(container.Labels[LABELS.port])));
  const [from, to] = range;
  const size = to - from + 1;
  const offset = Math.floor(Math.random() * size);
  const ports: number[] = [];
  for (let i = 0; i < size && ports.length < count; i++) {
    const port = from + ((offset + i) % size);
    if (!taken.has(port) && (!checkLocal || (await loopbackPortFree(port)))) ports.push(port);
  }
  if (ports.length < count) throw new Error(`no ${count} free port(s) left in ${from}-${to}`);
  return ports;
}

function loopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** The newest state record of app/env. It is a container that is created and never started: its labels are the record. */
export async function readState(docker: Dockerode, app: string, environment: string): Promise<DeployState | null> {
  const records = await docker.listContainers({ all: true, filters: appFilter(STATE_ROLE, app, environment) });
  const newest = records.sort((a, b) => Number(b.Labels[LABELS.deployedAt]) - Number(a.Labels[LABELS.deployedAt]))[0];
  return newest ? (JSON.parse(newest.Labels[LABELS.state] ?? 'null') as DeployState | null) : null;
}

/** Labels cannot change, so switching means a new record and then removing the older ones. */
export async function writeState(docker: Dockerode, app: string, environment: string, state: DeployState): Promise<void> {
  const older = await docker.listContainers({ all: true, filters: appFilter(STATE_ROLE, app, environment) });
  await docker.createContainer({
    name: nameSafe(`flowyard-state-${app}-${environment}-${state.deploymentId.slice(0, 8)}`),
    Image: state.release.image,
    Cmd: ['true'],
    Labels: {
      [MANAGED_LABEL]: 'true',
      [LABELS.role]: STATE_ROLE,
      [LABELS.app]: app,
      [LABELS.env]: environment,
      [LABELS.deployment]: state.deploymentId,
      [LABELS.version]: state.release.version,
      [LABELS.slot]: state.slot,
      [LABELS.deployedAt]: String(Date.now()),
      [LABELS.state]: JSON.stringify(state),
    },
    NetworkDisabled: true,
    HostConfig: { NetworkMode: 'none' },
  });
  for (const record of older) await removeContainer(docker, record.Id);
}
