/** A GraphQL client for tests: `POST /graphql` with a query, variables and credentials. */
export interface GraphqlResponse<T = any> {
  status: number;
  body: { data?: T | null; errors?: GraphqlErrorBody[] } & Record<string, any>;
  headers: Headers;
}

export interface GraphqlErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; fields?: Record<string, string[]>; [key: string]: unknown };
}

export interface GraphqlOptions {
  variables?: Record<string, unknown>;
  operationName?: string;
  token?: string;
  headers?: Record<string, string>;
}

/** Sends one operation (or, with `batch`, a JSON array of operations) to `${baseUrl}/graphql`. */
export async function graphql<T = any>(
  baseUrl: string,
  query: string,
  options: GraphqlOptions = {},
): Promise<GraphqlResponse<T>> {
  return send(
    baseUrl,
    { query, variables: options.variables, operationName: options.operationName },
    options,
  );
}

/** A batch: one request carrying several operations; the body is an array of results. */
export async function graphqlBatch(
  baseUrl: string,
  operations: { query: string; variables?: Record<string, unknown> }[],
  options: Omit<GraphqlOptions, 'variables' | 'operationName'> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  return send(baseUrl, operations, options);
}

async function send(baseUrl: string, payload: unknown, options: GraphqlOptions) {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    Accept: 'application/graphql-response+json, application/json',
    ...options.headers,
  };
  if (options.token) headers.Authorization = `Token ${options.token}`;
  const res = await fetch(`${baseUrl}/graphql`, {
    method: 'POST',
    headers,
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  let body: any = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: tests see the text.
  }
  return { status: res.status, body, headers: res.headers };
}

/** The codes of a response's errors, in order. */
export const errorCodes = (res: GraphqlResponse) =>
  (res.body.errors ?? []).map((e) => e.extensions?.code);
