/**
 * Password hashing with PBKDF2-SHA256 from Web Crypto, so it runs unchanged on Node and edge runtimes.
 * Stored form: `pbkdf2-sha256$<iterations>$<salt b64url>$<hash b64url>`; the iteration count is read back
 * from the stored string, so raising the default later keeps old hashes verifiable.
 */

const SCHEME = 'pbkdf2-sha256';
export const DEFAULT_PBKDF2_ITERATIONS = 310_000;
export const MIN_PASSWORD_LENGTH = 10;
const SALT_BYTES = 16;
const HASH_BITS = 256;

/** Thrown when a new password does not meet the policy; the message is safe to show to the user. */
export class PasswordPolicyError extends Error {}

export function assertPasswordPolicy(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) {
    throw new PasswordPolicyError(`password must be at least ${MIN_PASSWORD_LENGTH} characters long`);
  }
}

export async function hashPassword(password: string, iterations = DEFAULT_PBKDF2_ITERATIONS): Promise<string> {
  assertPasswordPolicy(password);
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const hash = await pbkdf2(password, salt, iterations);
  return [SCHEME, String(iterations), toBase64Url(salt), toBase64Url(hash)].join('$');
}

/** False for a wrong password and for a stored value that is not in the expected format. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, iterationsText, saltText, hashText, ...rest] = stored.split('$');
  if (scheme !== SCHEME || !isBase64Url(saltText) || !isBase64Url(hashText) || rest.length > 0) return false;
  const iterations = Number(iterationsText);
  if (!Number.isSafeInteger(iterations) || iterations < 1) return false;
  const expected = fromBase64Url(hashText);
  const actual = await pbkdf2(password, fromBase64Url(saltText), iterations);
  return constantTimeEqual(actual, expected);
}

async function pbkdf2(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array<ArrayBuffer>> {
  const key = await crypto.subtle.importKey('raw', new TextEncoder().encode(password), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations }, key, HASH_BITS);
  return new Uint8Array(bits);
}

/** Compares every byte whatever the first difference, so timing does not reveal how much matched. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  let difference = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ (b[i] ?? 0);
  return difference === 0;
}

export function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function isBase64Url(text: string | undefined): text is string {
  return text !== undefined && /^[A-Za-z0-9_-]+$/.test(text);
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(binary, (char) => char.charCodeAt(0));
}
