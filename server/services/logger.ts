/**
 * Structured logs: every Flowyard process (serve, runner) writes one JSON object per line to stderr, so
 * stdout keeps the CLI's human output (the listening banner, the first admin's one-time password).
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** A JSON-lines logger on stderr; `processName` tells the lines of `serve` and `runner` apart when they are collected together. */
export function createLogger(level: string, processName: 'serve' | 'runner'): Logger {
  return pino({ level, base: { process: processName, pid: process.pid } }, process.stderr);
}

/** The logger an API gets when none is injected (tests, library callers): errors only, still JSON on stderr. */
export function defaultLogger(): Logger {
  return createLogger('error', 'serve');
}
