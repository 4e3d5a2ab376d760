/** Artifact keys are relative paths without `.`/`..` segments; a tar file holds each one. */
export function artifactStorageKeyFor(key: string): string {
  const segments = key.split('/');
  if (key.startsWith('/') || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`artifact key "${key}" must be a relative path without empty, . or .. segments`);
  }
  return `${key}.tar`;
}
