import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** An error a handler can throw to answer with a clear JSON body instead of a 500. */
export class ApiError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const forbidden = (message = 'your role does not allow this') => new ApiError(403, 'forbidden', message);
