/**
 * The id of a multipart upload as the runner sees it: the store's own upload id sealed with an HMAC together with
 * what it was created for (storage key, owning job, part size, expiry). The API keeps no table of open uploads, yet
 * a token names exactly one artifact of one job: a token presented for another key or by another job is refused.
 * Runtime-neutral (Web Crypto), like store.ts.
 */
import { ArtifactUploadRefusedError } from './store.ts';

export interface UploadClaims {
  /** `runs/<runId>/<key>`. */
  storageKey: string;
  /** The job the upload was created for; only that job may sign, complete or abort it. */
  owner: string;
  /** The backend's upload id (S3 `UploadId`, or the embedded store's temp file name). */
  uploadId: string;
  partSize: number;
  /** Epoch milliseconds after which no more parts are signed. */
  expiresAt: number;
}

const MAX_TOKEN_LENGTH = 2000;
const encoder = new TextEncoder();

const base64url = (bytes: Uint8Array) =>
  btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
const fromBase64url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (char) => char.charCodeAt(0));

export interface UploadTokenSealer {
  seal(claims: UploadClaims): Promise<string>;
  /** The claims of a token this store sealed for `storageKey` and `owner`; throws `ArtifactUploadRefusedError` otherwise. */
  open(token: string, expected: { storageKey: string; owner: string }): Promise<UploadClaims>;
}

export function uploadTokenSealer(signingKey: Uint8Array | string): UploadTokenSealer {
  const keyBytes = typeof signingKey === 'string' ? encoder.encode(`multipart:${signingKey}`) : signingKey;
  const key = crypto.subtle.importKey('raw', keyBytes as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const refuse = (reason: string): never => {
    throw new ArtifactUploadRefusedError(`upload id refused: ${reason}`);
  };
  return {
    async seal(claims) {
      const body = base64url(encoder.encode(JSON.stringify(claims)));
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', await key, encoder.encode(body)));
      return `${body}.${base64url(mac)}`;
    },
    async open(token, expected) {
      const [body, mac, extra] = token.length <= MAX_TOKEN_LENGTH ? token.split('.') : [];
      if (!body || !mac || extra !== undefined || !/^[A-Za-z0-9_-]+$/.test(body + mac)) return refuse('it is not an upload id this API issued');
      if (!(await crypto.subtle.verify('HMAC', await key, fromBase64url(mac) as BufferSource, encoder.encode(body)))) {
        return refuse('its signature does not match; start a new upload');
      }
      const claims = JSON.parse(new TextDecoder().decode(fromBase64url(body))) as UploadClaims;
      if (claims.owner !== expected.owner || claims.storageKey !== expected.storageKey) {
        return refuse(`it was issued for another job's artifact, not for ${expected.storageKey} of job ${expected.owner}`);
      }
      if (Date.now() > claims.expiresAt) return refuse(`it expired at ${new Date(claims.expiresAt).toISOString()}; start a new upload`);
      return claims;
    },
  };
}
