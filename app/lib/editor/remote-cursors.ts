/**
 * Styles for y-monaco's remote selections: y-monaco tags them `yRemoteSelection-<client id>` and
 * `yRemoteSelectionHead-<client id>`; each client gets its user's colour and a name label on its caret.
 * Awareness states come from other browsers, so names and colours are escaped or refused here.
 */

export interface CollabUser {
  name: string;
  color: string;
}

export interface Peer extends CollabUser {
  clientId: number;
}

const PALETTE = ['#d9480f', '#2f9e44', '#1971c2', '#ae3ec9', '#e8590c', '#0c8599', '#c2255c', '#5f3dc4', '#a61e4d', '#087f5b'];
const COLOR = /^#[0-9a-f]{6}$/i;

/** A stable colour for a user id. */
export function colorFor(id: string): string {
  let hash = 0;
  for (const char of id) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length]!;
}

/** The remote users in awareness states (everyone but `self`), with safe names and colours. */
export function peersOf(states: Map<number, Record<string, unknown>>, self: number): Peer[] {
  const peers: Peer[] = [];
  for (const [clientId, state] of states) {
    const user = state.user as Partial<CollabUser> | undefined;
    if (clientId === self || !Number.isInteger(clientId) || typeof user?.name !== 'string') continue;
    const color = typeof user.color === 'string' && COLOR.test(user.color) ? user.color : PALETTE[0]!;
    peers.push({ clientId, name: user.name.slice(0, 60) || 'Someone', color });
  }
  return peers;
}

/** A CSS string literal: quotes, backslashes and control characters escaped. */
function cssString(text: string): string {
  return `"${text.replace(/["\\]/g, '\\$&').replace(/[\u0000-\u001f\u007f]/g, (c) => `\\${c.charCodeAt(0).toString(16)} `)}"`;
}

export function remoteCursorCss(peers: Peer[]): string {
  return peers
    .map(({ clientId: id, name, color }) =>
      [
        `.yRemoteSelection-${id} { background-color: ${color}40; }`,
        `.yRemoteSelectionHead-${id} { position: absolute; height: 100%; border-left: 2px solid ${color}; box-sizing: border-box; }`,
        `.yRemoteSelectionHead-${id}::after { content: ${cssString(name)}; position: absolute; left: -2px; top: -1.25em;` +
          ` padding: 0 4px; border-radius: 3px 3px 3px 0; background: ${color}; color: #fff; font: 600 10px/1.25em var(--font);` +
          ` white-space: nowrap; pointer-events: none; z-index: 5; }`,
      ].join('\n'),
    )
    .join('\n');
}
