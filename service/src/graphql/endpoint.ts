import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import { getOperationAST, NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type Plugin } from 'graphql-yoga';
import type { Middleware } from 'koa';
import { UnsupportedMediaTypeError } from '../errors.js';
import type { AppContext, AppState } from '../http/state.js';
import { createContext, type GraphqlContext, type GraphqlDeps } from './context.js';
import { toClientError } from './errors.js';
import { schema } from './schema.js';

export const GRAPHQL_PATH = '/graphql';

/** Limits checked before execution (validation), so a refused document costs no query. */
export const GRAPHQL_LIMITS = {
  /** Deepest selection (the article list page is 5 deep; comments' authors 6). */
  maxDepth: 8,
  /** Aliases per document: enough for a page that asks for a few lists at once. */
  maxAliases: 15,
  /** Lexical tokens per document. */
  maxTokens: 2000,
  /** Directives per document. */
  maxDirectives: 20,
  /** Operations per batched request (a JSON array of operations). */
  maxBatch: 20,
} as const;

export interface GraphqlEndpointOptions extends GraphqlDeps {
  /** Introspection and the GraphiQL explorer: outside production only. */
  explorer: boolean;
}

type ServerContext = { koa: AppContext };

/** The explorer page loads GraphiQL from a CDN with inline bootstrapping: its own CSP, dev only. */
const EXPLORER_CSP = [
  "default-src 'self'",
  "script-src 'self' 'unsafe-inline' https://unpkg.com",
  "style-src 'self' 'unsafe-inline' https://unpkg.com",
  "img-src 'self' data: https://unpkg.com",
  "font-src 'self' data: https://unpkg.com",
  // GraphiQL's editor fetches its worker bundles and starts them from blob: URLs.
  "connect-src 'self' https://unpkg.com",
  "worker-src 'self' blob: https://unpkg.com",
  "frame-ancestors 'none'",
].join('; ');

/**
 * `POST /graphql` (and `GET` for queries): graphql-yoga over the request the Koa stack already
 * prepared (request id, rate limits, body limits, the request's EntityManager). The JSON body
 * has passed `jsonBody`'s size, depth and element limits; other media types are refused here so
 * those limits cover every byte the endpoint reads.
 */
export function graphqlEndpoint(options: GraphqlEndpointOptions): Middleware<AppState> {
  const { explorer, ...deps } = options;
  const requestContext: Plugin<GraphqlContext & ServerContext> = {
    onExecute({ args }) {
      const context = args.contextValue;
      context.setOperation(getOperationAST(args.document, args.operationName)?.operation);
      return {
        onExecuteDone({ result, setResult }) {
          if (!('errors' in result) || !result.errors?.length) return;
          const koa = context.koa;
          setResult({
            ...result,
            errors: result.errors.map((e) =>
              toClientError(e, koa.state.requestId, (err) =>
                koa.state.log.error({ err }, 'unhandled error in a GraphQL resolver'),
              ),
            ),
          });
        },
      };
    },
  };
  const noIntrospection: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
  const yoga = createYoga<ServerContext, GraphqlContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    context: ({ koa }) => createContext(deps, koa),
    graphiql: explorer ? { title: 'Plinth GraphQL' } : false,
    landingPage: false,
    cors: false,
    logging: false,
    batching: { limit: GRAPHQL_LIMITS.maxBatch },
    maskedErrors: true,
    plugins: [
      maxDepthPlugin({ n: GRAPHQL_LIMITS.maxDepth, exposeLimits: true }),
      maxAliasesPlugin({ n: GRAPHQL_LIMITS.maxAliases, exposeLimits: true }),
      maxTokensPlugin({ n: GRAPHQL_LIMITS.maxTokens, exposeLimits: true }),
      maxDirectivesPlugin({ n: GRAPHQL_LIMITS.maxDirectives, exposeLimits: true }),
      ...(explorer ? [] : [blockFieldSuggestionsPlugin(), noIntrospection]),
      requestContext as Plugin,
    ],
  });

  return async (ctx, next) => {
    if (ctx.path !== GRAPHQL_PATH) return next();
    const c = ctx as AppContext;
    if (ctx.method === 'POST' && ctx.request.body === undefined) {
      throw new UnsupportedMediaTypeError('must be application/json');
    }
    const response = await yoga.handleNodeRequestAndResponse(ctx.request as never, ctx.res, {
      koa: c,
    });
    ctx.status = response.status;
    response.headers.forEach((value, key) => {
      // Koa computes the length of the body it sends.
      if (key !== 'content-length') ctx.set(key, value);
    });
    if (response.headers.get('content-type')?.startsWith('text/html')) {
      ctx.set('Content-Security-Policy', EXPLORER_CSP);
    }
    ctx.body = await response.text();
  };
}
