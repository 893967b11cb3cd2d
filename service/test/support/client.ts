/** A response as tests see it: status, parsed JSON body (or text), headers. */
export interface ApiResponse<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface RequestOptions {
  token?: string;
  body?: unknown;
  /** Sent as-is instead of JSON-encoding `body` (a FormData sets its multipart Content-Type). */
  raw?: string | FormData | Uint8Array<ArrayBuffer>;
  headers?: Record<string, string>;
}

/** A registered user's credentials and token. */
export interface Account {
  username: string;
  email: string;
  password: string;
  token: string;
}

/** A response body as text, whatever it parsed as. */
export const bodyText = (res: ApiResponse) =>
  typeof res.body === 'string' ? res.body : (JSON.stringify(res.body) ?? '');

let counter = 0;
/** A username/email pair no other test in this run uses. */
export function uniqueUser(prefix = 'user') {
  counter += 1;
  const id = `${prefix}${process.pid}x${counter}x${Math.random().toString(36).slice(2, 7)}`;
  return { username: id, email: `${id}@example.com`, password: 'correct horse battery staple' };
}

/** Minimal client for the RealWorld API over real HTTP. */
export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.Authorization = `Token ${options.token}`;
    let body: string | FormData | Uint8Array<ArrayBuffer> | undefined = options.raw;
    if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers['Content-Type'] ??= 'application/json';
    }
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: tests see the text.
    }
    return { status: res.status, body: parsed as T, headers: res.headers };
  }

  get = <T = any>(path: string, options?: RequestOptions) => this.request<T>('GET', path, options);
  post = <T = any>(path: string, options?: RequestOptions) =>
    this.request<T>('POST', path, options);
  put = <T = any>(path: string, options?: RequestOptions) => this.request<T>('PUT', path, options);
  delete = <T = any>(path: string, options?: RequestOptions) =>
    this.request<T>('DELETE', path, options);

  /** Registers a fresh user and returns its credentials and token. */
  async register(prefix = 'user'): Promise<Account> {
    const user = uniqueUser(prefix);
    const res = await this.post('/users', { body: { user } });
    if (res.status !== 201)
      throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    return { ...user, token: res.body.user.token as string };
  }

  /** Creates an article as `token` and returns it. */
  async createArticle(
    token: string,
    article: Partial<{ title: string; description: string; body: string; tagList: string[] }> = {},
  ) {
    const res = await this.post('/articles', {
      token,
      body: {
        article: { title: 'A title', description: 'A description', body: 'A body', ...article },
      },
    });
    if (res.status !== 201)
      throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.article;
  }
}
