/** AWS Signature Version 4 for the JSON-protocol POSTs flowyard/aws-ecs makes (no SDK). */
import { createHash, createHmac } from 'node:crypto';

const sha256 = (data: string) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** Signature Version 4 headers for a POST of `body` to `url` (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html). */
export function signV4(url: URL, body: string, headers: Record<string, string>, credentials: { id: string; secret: string; token?: string }, region: string, service: string, now = new Date()): Record<string, string> {
  const amzDate = now.toISOString().replace(/[:-]|\.\d{3}/g, '');
  const day = amzDate.slice(0, 8);
  const all: Record<string, string> = { ...headers, host: url.host, 'x-amz-date': amzDate, ...(credentials.token ? { 'x-amz-security-token': credentials.token } : {}) };
  const names = Object.keys(all).map((n) => n.toLowerCase()).sort();
  const lower = Object.fromEntries(Object.entries(all).map(([k, v]) => [k.toLowerCase(), v.trim()]));
  const canonical = ['POST', url.pathname || '/', url.search.slice(1), ...names.map((n) => `${n}:${lower[n]}`), '', names.join(';'), sha256(body)].join('\n');
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${credentials.secret}`, day), region), service), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign).digest('hex');
  return { ...all, authorization: `AWS4-HMAC-SHA256 Credential=${credentials.id}/${scope}, SignedHeaders=${names.join(';')}, Signature=${signature}` };
}

