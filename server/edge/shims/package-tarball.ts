/**
 * The edge bundle's stand-in for server/services/package-tarball.ts (swapped in by scripts/build-edge.ts): a
 * Worker cannot run `npm pack`, so the runner package is not offered here; runners install it from npm or from
 * a Node server. The version is the one of the package the bundle was built from.
 */
declare const FLOWYARD_VERSION: string;

export function packageVersion(): Promise<string> {
  return Promise.resolve(FLOWYARD_VERSION);
}

const notOnTheEdge = () => new Error('the runner package is built by `npm pack` on a Node server; on Cloudflare Workers install flowyard from npm');

export function packageTarball(): Promise<string> {
  return Promise.reject(notOnTheEdge());
}

export function packageTarballBytes(): Promise<Uint8Array<ArrayBuffer>> {
  return Promise.reject(notOnTheEdge());
}
