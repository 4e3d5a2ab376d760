import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.ts';
import { workflowSecrets as secretsTable } from '../../db/schema.ts';
import { toBase64Url } from './passwords.ts';

/** AES-256-GCM key from the server's secret (any string; it is hashed to 256 bits). */
export async function secretsKeyFrom(secret: string): Promise<CryptoKey> {
  const material = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`flowyard-secrets:${secret}`));
  return crypto.subtle.importKey('raw', material, 'AES-GCM', false, ['encrypt', 'decrypt']);
}

const fromBase64Url = (text: string) => Uint8Array.from(atob(text.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));

export async function encrypt(key: CryptoKey, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(plaintext));
  return `${toBase64Url(iv)}.${toBase64Url(new Uint8Array(sealed))}`;
}

export async function decrypt(key: CryptoKey, stored: string): Promise<string> {
  const [iv, sealed] = stored.split('.');
  const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: fromBase64Url(iv ?? '') }, key, fromBase64Url(sealed ?? ''));
  return new TextDecoder().decode(plain);
}

export async function setWorkflowSecret(db: Db, key: CryptoKey, workflowId: string, name: string, value: string): Promise<void> {
  const ciphertext = await encrypt(key, value);
  await db
    .insert(secretsTable)
    .values({ workflowId, name, ciphertext, updatedAt: new Date() })
    .onConflictDoUpdate({ target: [secretsTable.workflowId, secretsTable.name], set: { ciphertext, updatedAt: new Date() } });
}

export async function deleteWorkflowSecret(db: Db, workflowId: string, name: string): Promise<boolean> {
  const rows = await db
    .delete(secretsTable)
    .where(and(eq(secretsTable.workflowId, workflowId), eq(secretsTable.name, name)))
    .returning({ name: secretsTable.name });
  return rows.length > 0;
}

/** Names and update times only: secret values never leave the server except inside a claimed job. */
export async function listWorkflowSecretNames(db: Db, workflowId: string) {
  return db
    .select({ name: secretsTable.name, updatedAt: secretsTable.updatedAt })
    .from(secretsTable)
    .where(eq(secretsTable.workflowId, workflowId))
    .orderBy(secretsTable.name);
}

export async function workflowSecrets(db: Db, key: CryptoKey, workflowId: string): Promise<Record<string, string>> {
  const rows = await db.select().from(secretsTable).where(eq(secretsTable.workflowId, workflowId));
  const out: Record<string, string> = {};
  for (const row of rows) out[row.name] = await decrypt(key, row.ciphertext);
  return out;
}
