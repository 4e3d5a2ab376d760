import { OpenAPIHono } from '@hono/zod-openapi';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { AppDeps, AppEnv } from './env.ts';
import { ApiError } from '../services/errors.ts';
import { authUnlessPublic } from './middleware/auth.ts';
import { limitRequestBodies } from './middleware/body-limit.ts';
import { authRoutes } from './routes/auth.ts';
import { blobRoutesFor } from './routes/blobs.ts';
import { healthRoutes } from './routes/health.ts';
import { hookRoutes } from './routes/hooks.ts';
import { schemaRoutes } from './routes/schema.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { userRoutes } from './routes/users.ts';
import { tryActivateRoutes } from './routes/try-activate.ts';
import { workflowRoutes } from './routes/workflows.ts';
import { runRoutes } from './routes/runs.ts';
import { rerunRoutes } from './routes/reruns.ts';
import { runLogRoutes } from './routes/run-log.ts';
import { runnerRoutes } from './routes/runners.ts';
import { secretRoutes } from './routes/secrets.ts';
import { shareRoutes } from './routes/shares.ts';
import { environmentRoutes } from './routes/environments.ts';
import { pluginValidationRoutes } from './routes/plugin-validations.ts';
import { pluginRoutes } from './routes/plugins.ts';
import { pluginRegistryRoutes } from './routes/plugin-registry.ts';
import { runnerProtocolRoutes } from './routes/runner-protocol.ts';
import { runnerArtifactRoutes } from './routes/runner-artifacts.ts';
import { downloadRoutes } from './routes/downloads.ts';
import { metricsRoutes, timeRequests } from './routes/metrics.ts';
import { API_DOCS_PATH, apiDocsRoutes } from './routes/api-docs.ts';
import { requestId } from './middleware/request-id.ts';
import { refuseSystemWorkflowChanges } from './middleware/system-workflows.ts';
import { defaultLogger } from '../services/logger.ts';
import { RUNNER_PROTOCOL_PREFIX } from '../../runners/protocol/v1.ts';

export const API_VERSION = '0.1.0';

const errorBody = (code: string, message: string, details?: Record<string, unknown>) => ({ error: { code, message, ...details } });

/** The whole HTTP API: runtime-neutral (Web Request/Response), so it runs on Node and on edge runtimes. */
export function createApp(deps: AppDeps, options: { ui?: (app: OpenAPIHono<AppEnv>) => void } = {}) {
  const app = new OpenAPIHono<AppEnv>();
  const logger = deps.logger ?? defaultLogger();
  app.use('*', secureHeaders({ crossOriginResourcePolicy: false }));
  app.use('*', async (c, next) => {
    c.set('deps', deps);
    await next();
  });
  app.use('*', requestId);
  app.use('*', timeRequests);
  app.use('*', limitRequestBodies);
  app.route('/', healthRoutes);
  app.route('/', metricsRoutes);
  app.route('/hooks', hookRoutes);
  // Public and read-only, like npm's registry (docs/security.md): installed plugins for other Flowyards to install.
  app.route('/registry', pluginRegistryRoutes);
  app.use('/api/*', authUnlessPublic);
  app.use('/api/*', refuseSystemWorkflowChanges);
  app.route(
    '/api/blobs',
    blobRoutesFor<AppEnv>((c) => c.get('deps').localBlobs),
  );
  app.route('/api/auth', authRoutes);
  app.route('/api/tokens', tokenRoutes);
  app.route('/api/users', userRoutes);
  app.route('/api/schema', schemaRoutes);
  app.route('/api/try-activate', tryActivateRoutes);
  app.route('/api/workflows', workflowRoutes);
  app.route('/api', runRoutes);
  app.route('/api', rerunRoutes);
  app.route('/api', runLogRoutes);
  app.route('/api', secretRoutes);
  app.route('/api', runnerRoutes);
  app.route('/api', shareRoutes);
  app.route('/api/environments', environmentRoutes);
  app.route('/api/plugin-validations', pluginValidationRoutes);
  app.route('/api/plugins', pluginRoutes);
  app.route(RUNNER_PROTOCOL_PREFIX, runnerProtocolRoutes);
  app.route(RUNNER_PROTOCOL_PREFIX, runnerArtifactRoutes);
  app.route('/', downloadRoutes);
  app.route(API_DOCS_PATH, apiDocsRoutes);
  app.doc31('/api/openapi.json', {
    openapi: '3.1.0',
    info: { title: 'Flowyard API', version: API_VERSION, description: 'Workflows, try-activate, publish, versions.' },
    security: [{ bearerAuth: [] }, { sessionCookie: [] }],
  });
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', { type: 'http', scheme: 'bearer' });
  app.openAPIRegistry.registerComponent('securitySchemes', 'sessionCookie', { type: 'apiKey', in: 'cookie', name: 'flowyard_session' });

  app.notFound((c) => c.json(errorBody('not_found', `no route for ${c.req.method} ${new URL(c.req.url).pathname}`), 404));
  app.onError((error, c) => {
    if (error instanceof ApiError) return c.json(errorBody(error.code, error.message, error.details), error.status);
    if (error instanceof HTTPException) {
      const message = error.status === 400 ? `malformed request: ${error.message || 'the body is not valid JSON'}` : error.message;
      return c.json(errorBody('invalid_request', message), error.status);
    }
    logger.error({ err: error, requestId: c.get('requestId'), method: c.req.method, path: new URL(c.req.url).pathname }, 'request failed');
    return c.json(errorBody('internal', 'the server failed to handle this request; the error was logged'), 500);
  });
  options.ui?.(app);
  return app;
}

export type App = ReturnType<typeof createApp>;
