// Pure string masking shared by the runner (before it reports) and the server (before it stores).
export const MASK = '***';

/**
 * Replaces secret values with *** in streamed text. A secret may arrive split across chunks, so a tail that
 * could be the start of a secret is held back until more text or the end of the stream decides it.
 */
export class SecretMasker {
  private readonly secrets: string[];
  private readonly holdBack: number;
  private pending = '';

  constructor(values: Iterable<string>) {
    // Longest first, so a secret that contains another is masked whole.
    this.secrets = [...new Set([...values].filter((v) => v.length >= 3))].sort((a, b) => b.length - a.length);
    this.holdBack = Math.max(0, ...this.secrets.map((s) => s.length - 1));
  }

  /** Masked text that is safe to emit now. */
  push(text: string): string {
    if (this.secrets.length === 0) return text;
    const masked = this.mask(this.pending + text);
    const held = this.secretPrefixAtEnd(masked);
    let cut = masked.length - held;
    if (cut > 0 && cut < masked.length && /[\ud800-\udbff]/.test(masked[cut - 1]!)) cut--;
    this.pending = masked.slice(cut);
    return masked.slice(0, cut);
  }

  /** Whatever is still held back, at the end of the stream. */
  flush(): string {
    const rest = this.mask(this.pending);
    this.pending = '';
    return rest;
  }

  /** Length of the longest end of `text` that some secret starts with (0 when none could be starting). */
  private secretPrefixAtEnd(text: string): number {
    for (let length = Math.min(this.holdBack, text.length); length > 0; length--) {
      const tail = text.slice(text.length - length);
      if (this.secrets.some((secret) => secret.startsWith(tail))) return length;
    }
    return 0;
  }

  mask(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(MASK);
    return out;
  }
}

/** Masks every string in a value, keys included: step outputs, errors and results leave the runner through this. */
export function maskDeep<T>(value: T, masker: SecretMasker): T {
  if (typeof value === 'string') return masker.mask(value) as T;
  if (Array.isArray(value)) return value.map((item) => maskDeep(item, masker)) as T;
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [masker.mask(key), maskDeep(item, masker)])) as T;
  }
  return value;
}
