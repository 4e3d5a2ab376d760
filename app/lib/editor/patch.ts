export type PatchLineKind = 'add' | 'remove' | 'hunk' | 'file' | 'context';

/** Classifies the lines of a unified diff for colouring. */
export function patchLines(patch: string): Array<{ kind: PatchLineKind; text: string }> {
  return patch
    .replace(/\n$/, '')
    .split('\n')
    .map((text) => {
      if (text.startsWith('+++') || text.startsWith('---') || text.startsWith('Index:') || text.startsWith('====')) return { kind: 'file', text };
      if (text.startsWith('@@')) return { kind: 'hunk', text };
      if (text.startsWith('+')) return { kind: 'add', text };
      if (text.startsWith('-')) return { kind: 'remove', text };
      return { kind: 'context', text };
    });
}
