/**
 * The one error vocabulary of the service. Feature code throws these; the HTTP error handler maps
 * them to a status and the RealWorld error body `{"errors": {"field": ["message"]}}`.
 */
export type ErrorBody = Record<string, string[]>;

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly errors: ErrorBody,
    readonly headers: Record<string, string> = {},
  ) {
    super(
      Object.entries(errors)
        .map(([k, v]) => `${k} ${v.join(', ')}`)
        .join('; '),
    );
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(errors: ErrorBody) {
    super(400, errors);
  }
}

export class ValidationError extends AppError {
  constructor(errors: ErrorBody) {
    super(422, errors);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'is missing or invalid', field = 'token') {
    super(401, { [field]: [message] }, { 'WWW-Authenticate': 'Token' });
  }
}

export class ForbiddenError extends AppError {
  constructor(message: string, field = 'authorization') {
    super(403, { [field]: [message] });
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, { [what]: ['not found'] });
  }
}

/** The request body is over a size or count limit. */
export class PayloadTooLargeError extends AppError {
  constructor(message: string) {
    super(413, { body: [message] });
  }
}

/** The request body is in a media type or charset the service does not read. */
export class UnsupportedMediaTypeError extends AppError {
  constructor(message: string) {
    super(415, { body: [message] });
  }
}

/** A rate limit is spent: retry after `retryAfterSeconds`; `limit` is the budget that ran out. */
export class TooManyRequestsError extends AppError {
  constructor(
    readonly retryAfterSeconds: number,
    limit: number,
  ) {
    super(
      429,
      { rate: [`too many requests, retry in ${retryAfterSeconds} s`] },
      {
        'Retry-After': String(retryAfterSeconds),
        'RateLimit-Limit': String(limit),
        'RateLimit-Remaining': '0',
        'RateLimit-Reset': String(retryAfterSeconds),
      },
    );
  }
}

/**
 * Something the request needs cannot be had right now (a store is down, writes are paused): the
 * client should retry after `retryAfterSeconds`. `field` names what is unavailable.
 */
export class ServiceUnavailableError extends AppError {
  constructor(
    field: string,
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(503, { [field]: [message] }, { 'Retry-After': String(retryAfterSeconds) });
  }
}
