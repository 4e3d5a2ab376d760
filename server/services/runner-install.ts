/** How a new build host gets the runner: Flowyard's own package, served by the server it will work for. */
export const tarballName = (version: string) => `flowyard-${version}.tgz`;

export function tarballUrl(publicUrl: string, version: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/downloads/${tarballName(version)}`;
}

/** One command that works on a host with only Node (and Docker for the jobs): npx fetches the package from the server. */
export function runnerInstallCommand(publicUrl: string, version: string, token = '<REGISTRATION_TOKEN>', labels = 'linux,docker'): string {
  return `npx --yes ${tarballUrl(publicUrl, version)} runner --url ${publicUrl.replace(/\/+$/, '')} --token ${token} --labels ${labels}`;
}
