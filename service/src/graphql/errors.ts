import { GraphQLError } from 'graphql';
import { isConnectionFailure } from '../db/outage.js';
import { missingReference } from '../db/errors.js';
import { AppError, TooManyRequestsError, ServiceUnavailableError } from '../errors.js';

/** The `extensions.code` of each error status, as GraphQL clients commonly expect them. */
const CODES: Record<number, string> = {
  400: 'BAD_USER_INPUT',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  413: 'BAD_USER_INPUT',
  415: 'BAD_USER_INPUT',
  422: 'BAD_USER_INPUT',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** What a resolver threw, mapped the way the REST error handler maps it (same vocabulary). */
export function classify(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err;
  if (isConnectionFailure(err)) return new ServiceUnavailableError('database', 'is unavailable', 5);
  const missing = missingReference(err);
  if (missing) return new AppError(404, { [missing]: ['not found'] });
  return undefined;
}

/**
 * One execution error as the client sees it: the domain error's message, `extensions.code`
 * (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, BAD_USER_INPUT, RATE_LIMITED, SERVICE_UNAVAILABLE) and
 * `extensions.fields` (the REST body's field messages); anything else is "Unexpected error." with
 * code INTERNAL_SERVER_ERROR and the request id, never a stack trace or SQL. `unexpected` is
 * told about the latter (the caller logs them).
 */
export function toClientError(
  error: GraphQLError,
  requestId: string,
  unexpected: (err: unknown) => void,
): GraphQLError {
  const original = error.originalError;
  // Errors of GraphQL itself (syntax, validation, variable coercion, limits) are for the client.
  if (!original || original instanceof GraphQLError) return error;
  const known = classify(original);
  const extensions: Record<string, unknown> = { requestId };
  if (known) {
    extensions.code = CODES[known.status] ?? 'BAD_REQUEST';
    extensions.fields = known.errors;
    if (known instanceof TooManyRequestsError || known instanceof ServiceUnavailableError) {
      extensions.retryAfterSeconds = known.retryAfterSeconds;
    }
  } else {
    unexpected(original);
    extensions.code = 'INTERNAL_SERVER_ERROR';
  }
  return new GraphQLError(known ? known.message : 'Unexpected error.', {
    nodes: error.nodes,
    path: error.path,
    extensions,
  });
}
