/** Settings the API needs at run time; the CLI fills them from flags and the environment. */
export interface ServerConfig {
  /** Public base URL used in printed links and the JSON Schema `$id`, e.g. `http://127.0.0.1:8080`. */
  publicUrl: string;
  /** When set, accepted as the first admin's API token (automation, tests). */
  adminToken?: string;
  /** Cookies get `Secure` when the public URL is https. */
  secureCookies: boolean;
  /** How long a runner's claim on a job lasts without renewal; a lapsed lease means the runner is lost. */
  leaseMs: number;
  /** Largest request body accepted (artifact uploads excepted); FLOWYARD_MAX_BODY_BYTES, 1 MiB by default. */
  maxBodyBytes?: number;
  /** Trust X-Forwarded-For for the client address (FLOWYARD_TRUST_PROXY=1): only behind a proxy that sets it. */
  trustProxy?: boolean;
}
