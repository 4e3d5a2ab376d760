import { pluginManifestSchema, type PluginManifest } from '../../server/engine/plugin-manifest.ts';

export interface HttpCheckOptions {
  /** Config properties beside `url` and `expect_status`. */
  properties?: Record<string, unknown>;
  outputs?: Record<string, unknown>;
  runtime?: Record<string, unknown>;
}

/** The manifest of a small `acme/http-check` plugin, as tests install it without building the example plugin. */
export function httpCheckManifest(version: string, options: HttpCheckOptions = {}): PluginManifest {
  return pluginManifestSchema.parse({
    name: 'acme/http-check',
    version,
    description: 'HTTP health checks',
    license: 'MIT',
    steps: [
      {
        type: 'step.http_check',
        description: 'Check that a URL answers',
        config: {
          type: 'object',
          required: ['url'],
          properties: {
            url: { type: 'string', description: 'The URL to call' },
            expect_status: { type: 'integer', minimum: 100, maximum: 599, default: 200, description: 'The HTTP status the URL must answer with' },
            ...options.properties,
          },
        },
        outputs: options.outputs ?? { status: { description: 'HTTP status the URL answered with' } },
        runtime: options.runtime ?? { kind: 'container', image: `acme/http-check:${version}` },
      },
    ],
  });
}
