import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { loadRunnerSettings, policyFromFlags } from '../../runners/daemon/config.ts';
import { SETTINGS } from '../../runners/protocol/settings.ts';
import { CONFIG_DOC_PATH, renderConfigDocs } from '../../scripts/generate-config-docs.ts';
import { ConfigError, loadConfig } from '../../server/config.ts';

test('with nothing set, the defaults', () => {
  const config = loadConfig({});
  assert.deepEqual(config.server, {
    publicUrl: 'http://127.0.0.1:8080',
    adminToken: undefined,
    secureCookies: false,
    leaseMs: 30_000,
    maxBodyBytes: undefined,
    trustProxy: false,
    pluginRegistries: [],
    pluginRegistryTtlMs: 300_000,
    metricsToken: undefined,
  });
  assert.equal(config.logLevel, 'info');
  assert.equal(config.port, 8080);
  assert.equal(config.host, '127.0.0.1');
  assert.equal(config.dataDir, resolve('./data'));
  assert.equal(config.databaseUrl, `file:${resolve('./data')}/flowyard.db`);
  assert.equal(config.artifactsUrl, undefined);
  assert.equal(config.secretKey, undefined);
  assert.equal(config.embeddedRunner, true);
});

test('every server variable is read, empty ones count as unset, and an IPv6 host is bracketed', () => {
  const config = loadConfig({
    HOST: '::1',
    PORT: '9000',
    FLOWYARD_DATA: '/srv/fy',
    FLOWYARD_LEASE_MS: '5000',
    FLOWYARD_MAX_BODY_BYTES: '2048',
    FLOWYARD_TRUST_PROXY: '1',
    FLOWYARD_ADMIN_TOKEN: '',
    FLOWYARD_SECRET_KEY: 'k',
    ARTIFACTS_URL: 's3://bucket?region=x',
    AWS_ACCESS_KEY_ID: 'id',
    DATABASE_AUTH_TOKEN: 't',
  });
  assert.equal(config.server.publicUrl, 'http://[::1]:9000');
  assert.equal(config.server.leaseMs, 5000);
  assert.equal(config.server.maxBodyBytes, 2048);
  assert.equal(config.server.trustProxy, true);
  assert.equal(config.server.adminToken, undefined);
  assert.equal(config.databaseUrl, 'file:/srv/fy/flowyard.db');
  assert.equal(config.databaseAuthToken, 't');
  assert.equal(config.secretKey, 'k');
  assert.equal(config.artifactsUrl, 's3://bucket?region=x');
  assert.equal(config.s3Env.AWS_ACCESS_KEY_ID, 'id');
  const https = loadConfig({ FLOWYARD_PUBLIC_URL: 'https://ci.example.com', DATABASE_URL: 'libsql://db.example.com' });
  assert.equal(https.server.secureCookies, true);
  assert.equal(https.databaseUrl, 'libsql://db.example.com');
});

test('flags override the environment', () => {
  const config = loadConfig(
    { PORT: '9000', HOST: '0.0.0.0', FLOWYARD_DATA: '/env/data' },
    { port: '9100', host: '127.0.0.2', data: '/flag/data', 'no-runner': true },
  );
  assert.equal(config.port, 9100);
  assert.equal(config.host, '127.0.0.2');
  assert.equal(config.dataDir, '/flag/data');
  assert.equal(config.embeddedRunner, false);
  assert.throws(() => loadConfig({ PORT: '9000' }, { port: 'x' }), { message: '--port must be a port number from 0 to 65535, got "x"' });
});

test('each bad value is a ConfigError naming its variable and the value', () => {
  const cases: [Record<string, string>, string][] = [
    [{ FLOWYARD_LEASE_MS: 'abc' }, 'FLOWYARD_LEASE_MS must be a whole number of milliseconds ≥ 1000, got "abc"'],
    [{ FLOWYARD_LEASE_MS: '999' }, 'FLOWYARD_LEASE_MS must be a whole number of milliseconds ≥ 1000, got "999"'],
    [{ FLOWYARD_LEASE_MS: '1.5e4' }, 'FLOWYARD_LEASE_MS must be a whole number of milliseconds ≥ 1000, got "1.5e4"'],
    [{ FLOWYARD_MAX_BODY_BYTES: 'lots' }, 'FLOWYARD_MAX_BODY_BYTES must be a whole number of bytes ≥ 1, got "lots"'],
    [{ FLOWYARD_MAX_BODY_BYTES: '0' }, 'FLOWYARD_MAX_BODY_BYTES must be a whole number of bytes ≥ 1, got "0"'],
    [{ FLOWYARD_TRUST_PROXY: 'true' }, 'FLOWYARD_TRUST_PROXY must be 1 (on) or 0 (off), got "true"'],
    [{ PORT: '70000' }, 'PORT must be a port number from 0 to 65535, got "70000"'],
    [{ FLOWYARD_METRICS_TOKEN: 'short' }, 'FLOWYARD_METRICS_TOKEN must be at least 16 characters, got "short"'],
    [{ FLOWYARD_LOG_LEVEL: 'verbose' }, 'FLOWYARD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    [{ FLOWYARD_PUBLIC_URL: 'ci.example.com' }, 'FLOWYARD_PUBLIC_URL must be an http:// or https:// URL, got "ci.example.com"'],
    [
      { ARTIFACTS_URL: 'gs://bucket' },
      'ARTIFACTS_URL must be an s3:// URL (s3://bucket?endpoint=...&region=...&forcePathStyle=true), or unset to keep artifacts under the data folder, got "gs://bucket"',
    ],
  ];
  for (const [env, message] of cases) {
    assert.throws(
      () => loadConfig(env),
      (error: unknown) => error instanceof ConfigError && error.message === message,
      message,
    );
  }
});

test('the runner reads its flags from the same list, with the same kind of errors', () => {
  const settings = loadRunnerSettings({ url: 'http://127.0.0.1:8080', labels: 'linux, gpu,', capacity: '4', 'allow-egress': true });
  assert.equal(settings.capacity, 4);
  assert.deepEqual(settings.labels, ['linux', 'gpu']);
  assert.equal(settings.policy.allowEgress, true);
  assert.equal(loadRunnerSettings({}).capacity, 2);
  assert.throws(() => loadRunnerSettings({ capacity: '65' }), { message: '--capacity must be a whole number from 1 to 64, got "65"' });
  assert.throws(() => policyFromFlags({ 'allow-docker-host': ['tcp://ok:2375', 'ssh://host'] }), {
    message: '--allow-docker-host must be a unix:// or tcp:// URL, got "ssh://host"',
  });
});

test('every setting is documented, and docs/configuration.md is what the generator writes', () => {
  const doc = readFileSync(CONFIG_DOC_PATH, 'utf8');
  for (const setting of Object.values(SETTINGS)) {
    const name = 'env' in setting ? setting.env : `--${setting.flag}`;
    assert.ok(doc.includes(`\`${name}\``), `${name} is in docs/configuration.md`);
  }
  assert.equal(doc, renderConfigDocs(), 'docs/configuration.md is stale: run npx tsx scripts/generate-config-docs.ts');
});
