/** Colour only for a terminal, and never when NO_COLOR is set to anything (https://no-color.org). */
export function colourEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

const SGR = /\x1b\[[0-9;]*m/g;

export function stripColour(text: string): string {
  return text.replace(SGR, '');
}

/** `paint('31', text)` wraps text in an SGR colour when enabled, and returns it unchanged otherwise. */
export function painter(enabled: boolean): (code: string, text: string) => string {
  return (code, text) => (enabled ? `\x1b[${code}m${text}\x1b[0m` : text);
}
