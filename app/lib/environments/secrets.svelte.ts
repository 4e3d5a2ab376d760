/** UPPER_CASE letters, digits and _, as the API requires; for the `pattern` attribute. */
export const SECRET_NAME_PATTERN = '[A-Z][A-Z0-9_]*';

interface StoredSecret {
  name: string;
  action: 'keep' | 'replace' | 'remove';
  /** The new value while replacing; never the stored one, which the API does not return. */
  value: string;
}

interface NewSecret {
  key: number;
  name: string;
  value: string;
}

/** Secret changes made in a form, sent as the API's `secrets` patch: NAME → new value, or null to delete. */
export class SecretsDraft {
  stored = $state<StoredSecret[]>([]);
  added = $state<NewSecret[]>([]);
  #nextKey = 0;

  constructor(names: string[]) {
    this.stored = names.map((name) => ({ name, action: 'keep', value: '' }));
  }

  /** Press "Replace" or "Remove" once to choose it, again to keep the secret as it is. */
  toggle(secret: StoredSecret, action: 'replace' | 'remove'): void {
    secret.action = secret.action === action ? 'keep' : action;
    secret.value = '';
  }

  add(): void {
    this.added.push({ key: this.#nextKey++, name: '', value: '' });
  }

  discard(key: number): void {
    this.added = this.added.filter((secret) => secret.key !== key);
  }

  /** Names the environment will have after saving. */
  get names(): string[] {
    return [...this.stored.filter((s) => s.action !== 'remove').map((s) => s.name), ...this.added.map((s) => s.name).filter(Boolean)];
  }

  /** A name given twice among the new secrets, or a new secret named like a stored one. */
  get duplicate(): string | undefined {
    const names = this.names;
    return names.find((name, i) => names.indexOf(name) !== i);
  }

  get patch(): Record<string, string | null> {
    const patch: Record<string, string | null> = {};
    for (const secret of this.stored) {
      if (secret.action === 'remove') patch[secret.name] = null;
      if (secret.action === 'replace') patch[secret.name] = secret.value;
    }
    for (const secret of this.added) patch[secret.name] = secret.value;
    return patch;
  }
}
