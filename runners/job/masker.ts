export const MASK = '***';

/**
 * Replaces secret values with *** in streamed text. A secret may arrive split across chunks, so the last
 * (longest secret - 1) characters are held back until more text or the end of the stream shows they are safe.
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
    // Never hold back part of a *** we just wrote, and never split a surrogate pair.
    let cut = Math.max(0, masked.length - this.holdBack);
    const lastMask = masked.lastIndexOf(MASK, masked.length - 1);
    if (lastMask >= 0 && lastMask + MASK.length > cut) cut = lastMask + MASK.length;
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

  mask(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(MASK);
    return out;
  }
}
