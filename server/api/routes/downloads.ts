import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../../services/errors.ts';
import { jsonContent } from '../validation.ts';
import { runnerInstallCommand, tarballName, tarballUrl } from '../../services/runner-install.ts';

// Node only (npm pack); loaded at the first request so the app module stays runtime-neutral.
const tarballs = () => import('../../services/package-tarball.ts');

const installRoute = createRoute({
  method: 'get',
  path: '/api/runners/install',
  tags: ['runners'],
  summary: 'The command that installs and starts a runner on a host with Node and Docker',
  responses: {
    200: jsonContent(
      z.object({ version: z.string(), tarballUrl: z.string(), command: z.string() }),
      'Replace <REGISTRATION_TOKEN> with a token from POST /api/runner-tokens',
    ),
  },
});

/**
 * `GET /downloads/flowyard-<version>.tgz` needs no credential (it is this open-source package; a runner host
 * has no account), and `GET /api/runners/install` sits behind the API's authentication like all of /api.
 */
export const downloadRoutes = new OpenAPIHono<AppEnv>()
  .openapi(installRoute, async (c) => {
    const { publicUrl } = c.get('deps').config;
    const version = await (await tarballs()).packageVersion();
    return c.json({ version, tarballUrl: tarballUrl(publicUrl, version), command: runnerInstallCommand(publicUrl, version) }, 200);
  })
  .get('/downloads/:file', async (c) => {
    const { packageTarballBytes, packageVersion } = await tarballs();
    const name = tarballName(await packageVersion());
    if (c.req.param('file') !== name) throw new ApiError(404, 'not_found', `no download ${c.req.param('file')}; this server offers ${name}`);
    const body = await packageTarballBytes().catch((error: Error) => {
      throw new ApiError(503, 'unavailable', error.message);
    });
    return c.body(body, 200, { 'Content-Type': 'application/gzip', 'Content-Disposition': `attachment; filename="${name}"`, 'Cache-Control': 'no-cache' });
  });
