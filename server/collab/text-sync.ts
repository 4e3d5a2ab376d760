import type * as Y from 'yjs';

/**
 * Turns `text` into `target` with one delete and one insert around the common prefix and suffix, so
 * co-editors' cursors outside the changed span stay where they are.
 */
export function replaceText(text: Y.Text, target: string): void {
  const current = text.toString();
  if (current === target) return;
  let start = 0;
  const max = Math.min(current.length, target.length);
  while (start < max && current.charCodeAt(start) === target.charCodeAt(start)) start++;
  let endCurrent = current.length;
  let endTarget = target.length;
  while (endCurrent > start && endTarget > start && current.charCodeAt(endCurrent - 1) === target.charCodeAt(endTarget - 1)) {
    endCurrent--;
    endTarget--;
  }
  text.doc!.transact(() => {
    if (endCurrent > start) text.delete(start, endCurrent - start);
    if (endTarget > start) text.insert(start, target.slice(start, endTarget));
  }, 'server');
}
