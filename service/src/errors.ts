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

export class ConflictError extends AppError {
  constructor(errors: ErrorBody) {
    super(409, errors);
  }
}
