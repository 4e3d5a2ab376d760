/** The few Deno APIs the Deno entry uses, typed here so the server type-checks with Node's types alone. */
export interface DenoRuntime {
  env: { toObject(): Record<string, string> };
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { socket: WebSocket; response: Response };
}

export function denoRuntime(): DenoRuntime {
  const deno = (globalThis as { Deno?: DenoRuntime }).Deno;
  if (!deno) throw new Error('server/deno.ts runs on Deno: deno serve server/deno.ts');
  return deno;
}
