import { request } from 'node:http';
import { createS3Store } from './artifacts/index.ts';

export interface ConnectionResult {
  ok: boolean;
  message: string;
}

/** GET on a Docker engine by unix socket or tcp URL; resolves the status code. */
function dockerGet(host: string, path: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = host.startsWith('unix://') ? null : new URL(host.replace(/^tcp:/, 'http:'));
    const req = request(
      url ? { host: url.hostname, port: url.port || 2375, path, timeout: timeoutMs } : { socketPath: host.slice('unix://'.length), path, timeout: timeoutMs },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * Really reaches the environment's target: a Docker engine answers /_ping, a registry answers /v2/ with
 * the given credentials, an S3 bucket answers HeadBucket. Cloud providers come from plugins that run on runners:
 * their test says which plugin and whether it is installed (plugins/provider-connection.ts), not this one.
 */
export async function testEnvironmentConnection(
  provider: string,
  config: Record<string, unknown>,
  secrets: Record<string, string>,
  timeoutMs = 5000,
): Promise<ConnectionResult> {
  try {
    if (provider === 'docker') {
      const host = String(config.docker_host ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock');
      const status = await dockerGet(host, '/_ping', timeoutMs);
      return status === 200
        ? { ok: true, message: `Docker engine at ${host} answered` }
        : { ok: false, message: `Docker engine at ${host} answered ${status}` };
    }
    if (provider === 'registry') {
      const base = String(config.url ?? '');
      const url = `${/^https?:/.test(base) ? base : `${config.insecure ? 'http' : 'https'}://${base}`}/v2/`;
      const password = config.password_secret ? secrets[String(config.password_secret)] : undefined;
      const headers: Record<string, string> = config.username && password ? { authorization: `Basic ${btoa(`${String(config.username)}:${password}`)}` } : {};
      const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
      if (response.ok) return { ok: true, message: `registry ${base} accepted ${headers.authorization ? 'the credentials' : 'anonymous access'}` };
      return {
        ok: false,
        message: response.status === 401 ? `registry ${base} refused the credentials (401)` : `registry ${base} answered ${response.status}`,
      };
    }
    if (provider === 's3') {
      const store = createS3Store(String(config.url ?? ''), {
        AWS_ACCESS_KEY_ID: secrets.AWS_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY: secrets.AWS_SECRET_ACCESS_KEY,
      });
      await store.check();
      return { ok: true, message: 'the bucket is reachable with these credentials' };
    }
    return { ok: false, message: `provider ${provider} is not one the server reaches itself; it tests docker, registry and s3` };
  } catch (error) {
    // fetch hides the reason (ECONNREFUSED, a TLS error...) in `cause`.
    const cause = (error as { cause?: { message?: string } }).cause?.message;
    return { ok: false, message: cause ? `${(error as Error).message}: ${cause}` : (error as Error).message };
  }
}
