/**
 * The API contract suite's one seam (tests/contract/suite.ts): a runtime that can start Flowyard's API.
 * The suite starts the shared services (a Hrana stand-in for the database, s3rver for artifacts), migrates
 * the database and creates the first admin, then asks the target to start the API against them; every case
 * talks to the API over HTTP and WebSocket only, so the same cases run on Node, Deno and workerd.
 */

/** What the suite hands a target: running services and the settings for them. */
export interface ContractServices {
  /** A fresh folder the target may write to (a data folder, a bundle); removed after the suite. */
  dir: string;
  /** DATABASE_URL: `http://127.0.0.1:<port>` of the Hrana stand-in; migrated, holding the first admin. */
  databaseUrl: string;
  /** DATABASE_AUTH_TOKEN the stand-in requires. */
  databaseAuthToken: string;
  /** ARTIFACTS_URL: `s3://<bucket>?endpoint=http://127.0.0.1:<port>&region=us-east-1&forcePathStyle=true` (s3rver). */
  artifactsUrl: string;
  /** FLOWYARD_ADMIN_TOKEN: the first admin's API token, which the suite calls the API with. */
  adminToken: string;
  /** FLOWYARD_SECRET_KEY. */
  secretKey: string;
  /**
   * Every setting above as the environment variables of docs/configuration.md (DATABASE_URL,
   * DATABASE_AUTH_TOKEN, ARTIFACTS_URL, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION,
   * FLOWYARD_ADMIN_TOKEN, FLOWYARD_SECRET_KEY, FLOWYARD_LEASE_MS), ready for a process or a Worker's
   * bindings. The target adds FLOWYARD_PUBLIC_URL (= its baseUrl) and whatever its runtime needs.
   */
  env: Record<string, string>;
}

/** The API as a target started it. */
export interface StartedApi {
  /** `http://127.0.0.1:<port>`, no trailing slash; also the API's FLOWYARD_PUBLIC_URL. */
  baseUrl: string;
  /** `ws://127.0.0.1:<port>`: co-editing is at `${wsUrl}/api/collab/<workflow id>`. */
  wsUrl: string;
  /** Stops the API and everything the target started; the suite stops the shared services. */
  stop(): Promise<void>;
}

/** A route a runtime cannot serve: the suite asserts this documented answer instead of the route's contract. */
export interface UnsupportedRoute {
  /** A contract case name (see CONTRACT_CASES in suite.ts), e.g. `co-editing`. */
  contractCase: string;
  /** The HTTP status the runtime answers with, e.g. 501. */
  status: number;
  /** A fragment of the answer's `error.message` that names the reason. */
  message: RegExp;
  /** The reason, as the README's support table gives it. */
  reason: string;
}

export interface ContractTarget {
  /** `node`, `deno` or `workerd`: names the test suite. */
  runtime: string;
  start(services: ContractServices): Promise<StartedApi>;
  /** Contract cases this runtime answers with a documented refusal instead. */
  unsupported?: UnsupportedRoute[];
}
