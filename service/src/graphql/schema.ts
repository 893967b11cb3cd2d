/**
 * The GraphQL schema: the same domain as the REST API, resolved by the same feature services
 * (validation by the same zod schemas, business rules, authorization, invalidation), with
 * DataLoader batching for per-item fields. Entry-point layer: resolvers stay thin.
 */
import { GraphQLError } from 'graphql';
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../errors.js';
import { toFieldErrors } from '../http/validation.js';
import { ARTICLE_STATUSES, type ArticleStatus } from '../modules/articles/article.entity.js';
import {
  MAX_TAG_LENGTH,
  NewArticleRequest,
  UpdateArticleRequest,
  type ArticleDto,
  type ArticleListItemDto,
} from '../modules/articles/articles.schemas.js';
import { NewCommentRequest, type CommentDto } from '../modules/comments/comments.schemas.js';
import { MAX_LIMIT, MAX_OFFSET } from '../modules/common.schemas.js';
import type { Page } from '../modules/feature-service.js';
import type { ProfileDto } from '../modules/profiles/profiles.schemas.js';
import { ROLES } from '../modules/users/user.entity.js';
import {
  LoginUserRequest,
  NewUserRequest,
  UpdateUserRequest,
  type UserDto,
} from '../modules/users/users.schemas.js';
import { toUserDto } from '../modules/users/users.service.js';
import { builder } from './builder.js';
import { valueOf, type GraphqlContext } from './context.js';

/** Default page size of a connection (as REST's `limit`). */
export const DEFAULT_FIRST = 20;
/** Comments are a list inside a list: priced so that comments on a whole page do not fit. */
const COMMENTS_MULTIPLIER = 20;

/** Validates `value` with a module's zod schema; failures are the typed ValidationError. */
function parse<T extends z.ZodType>(
  schema: T,
  value: unknown,
  fallbackField = 'input',
): z.output<T> {
  const result = schema.safeParse(value, { reportInput: true });
  if (!result.success) throw new ValidationError(toFieldErrors(result.error, fallbackField));
  return result.data;
}

// ---- Scalars, enums, errors -----------------------------------------------------------------

builder.scalarType('DateTime', {
  description: 'An instant as an ISO 8601 string in UTC, e.g. `2026-11-30T08:49:22.000Z`.',
  serialize: (value) => value,
  parseValue: (value) => {
    if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
      throw new GraphQLError('DateTime must be an ISO 8601 string');
    }
    return value;
  },
});

const ArticleStatusEnum = builder.enumType('ArticleStatus', {
  description: 'Drafts are visible only to their author and editors.',
  values: Object.fromEntries(
    ARTICLE_STATUSES.map((s) => [s.toUpperCase(), { value: s }]),
  ) as Record<Uppercase<ArticleStatus>, { value: ArticleStatus }>,
});

const RoleEnum = builder.enumType('Role', {
  description:
    'What a user may do: viewers read, follow, favorite and comment; authors also write.',
  values: Object.fromEntries(ROLES.map((r) => [r.toUpperCase(), { value: r }])) as Record<
    Uppercase<(typeof ROLES)[number]>,
    { value: (typeof ROLES)[number] }
  >,
});

interface FieldErrorShape {
  field: string;
  messages: string[];
}

const FieldError = builder.objectRef<FieldErrorShape>('FieldError').implement({
  description: 'The messages about one input field (dotted path, e.g. `tagList.0`).',
  fields: (t) => ({
    field: t.exposeString('field'),
    messages: t.exposeStringList('messages'),
  }),
});

builder.objectType(ValidationError, {
  name: 'ValidationError',
  description: 'The input was refused; `fields` says which fields and why (the REST 422 body).',
  fields: (t) => ({
    message: t.exposeString('message'),
    fields: t.field({
      type: [FieldError],
      resolve: (err) =>
        Object.entries(err.errors).map(([field, messages]) => ({ field, messages })),
    }),
  }),
});

// ---- Object types ---------------------------------------------------------------------------

type UserShape = Omit<UserDto, 'token'>;

const User = builder.objectRef<UserShape>('User').implement({
  description: 'The signed-in user (their own account).',
  fields: (t) => ({
    username: t.exposeString('username'),
    email: t.exposeString('email'),
    bio: t.exposeString('bio'),
    image: t.exposeString('image'),
    role: t.field({ type: RoleEnum, resolve: (u) => u.role }),
  }),
});

const AuthPayload = builder.objectRef<{ token: string; user: UserShape }>('AuthPayload').implement({
  description: 'A signed-in user and their token (send it as `Authorization: Token <token>`).',
  fields: (t) => ({
    token: t.exposeString('token'),
    user: t.field({ type: User, resolve: (p) => p.user }),
  }),
});

const Profile = builder.objectRef<ProfileDto>('Profile').implement({
  description: "A user's public profile, and whether the viewer follows them.",
  fields: (t) => ({
    username: t.exposeString('username'),
    bio: t.exposeString('bio'),
    image: t.exposeString('image'),
    following: t.exposeBoolean('following'),
  }),
});

const Comment = builder.objectRef<CommentDto>('Comment').implement({
  fields: (t) => ({
    id: t.exposeInt('id'),
    body: t.exposeString('body'),
    createdAt: t.field({ type: 'DateTime', resolve: (c) => c.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (c) => c.updatedAt }),
    author: t.field({ type: Profile, resolve: (c) => c.author }),
  }),
});

/** List items carry no body; a full article (from `article`, or a mutation) does. */
type ArticleShape = ArticleListItemDto & Partial<Pick<ArticleDto, 'body' | 'bodyHtml'>>;

/** The full article behind a list item, batched per request (for `body` on list nodes). */
async function fullArticle(a: ArticleShape, ctx: GraphqlContext): Promise<ArticleDto> {
  const full = await (await ctx.loaders()).article.load(a.slug);
  if (!full) throw new NotFoundError('article');
  return full;
}

const Article = builder.objectRef<ArticleShape>('Article').implement({
  fields: (t) => ({
    slug: t.exposeString('slug'),
    title: t.exposeString('title'),
    description: t.exposeString('description'),
    body: t.string({
      description: 'Markdown, exactly as written.',
      resolve: async (a, _args, ctx) => a.body ?? (await fullArticle(a, ctx)).body,
    }),
    bodyHtml: t.string({
      description: 'The body rendered to sanitised HTML.',
      resolve: async (a, _args, ctx) => a.bodyHtml ?? (await fullArticle(a, ctx)).bodyHtml,
    }),
    tagList: t.exposeStringList('tagList'),
    createdAt: t.field({ type: 'DateTime', resolve: (a) => a.createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (a) => a.updatedAt }),
    favorited: t.exposeBoolean('favorited'),
    favoritesCount: t.exposeInt('favoritesCount'),
    status: t.field({ type: ArticleStatusEnum, resolve: (a) => a.status }),
    author: t.field({ type: Profile, resolve: (a) => a.author }),
    comments: t.field({
      type: [Comment],
      description: 'Oldest first (at most 500).',
      complexity: { field: 1, multiplier: COMMENTS_MULTIPLIER },
      resolve: async (a, _args, ctx) => (await ctx.loaders()).comments.load(a.slug),
    }),
  }),
});

// ---- Connections ----------------------------------------------------------------------------

/** One page of a list and where it starts in the list. */
interface PageAt extends Page<ArticleShape> {
  offset: number;
}

/** Opaque cursors: the position in the list (`after` resumes after it), base64url. */
const encodeCursor = (position: number) => Buffer.from(`o:${position}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const match = /^o:(\d{1,9})$/.exec(Buffer.from(cursor, 'base64url').toString());
  const position = match ? Number(match[1]) : NaN;
  if (!(position >= 0 && position < MAX_OFFSET)) {
    throw new ValidationError({ after: ['is not a cursor this API gave out'] });
  }
  return position;
}

const PageInfo = builder.objectRef<PageAt>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.boolean({ resolve: (p) => p.offset + p.items.length < p.count }),
    hasPreviousPage: t.boolean({ resolve: (p) => p.offset > 0 }),
    startCursor: t.string({
      nullable: true,
      resolve: (p) => (p.items.length > 0 ? encodeCursor(p.offset) : null),
    }),
    endCursor: t.string({
      nullable: true,
      resolve: (p) => (p.items.length > 0 ? encodeCursor(p.offset + p.items.length - 1) : null),
    }),
  }),
});

const ArticleEdge = builder
  .objectRef<{ cursor: string; node: ArticleShape }>('ArticleEdge')
  .implement({
    fields: (t) => ({
      cursor: t.exposeString('cursor'),
      node: t.field({ type: Article, resolve: (e) => e.node }),
    }),
  });

const ArticleConnection = builder.objectRef<PageAt>('ArticleConnection').implement({
  description: 'A page of articles, newest first.',
  fields: (t) => ({
    totalCount: t.int({ description: 'Articles the filters match.', resolve: (p) => p.count }),
    pageInfo: t.field({ type: PageInfo, complexity: 1, resolve: (p) => p }),
    edges: t.field({
      type: [ArticleEdge],
      // The connection's `first` already multiplies what lies below it.
      complexity: { field: 1, multiplier: 1 },
      resolve: (p) => p.items.map((node, i) => ({ cursor: encodeCursor(p.offset + i), node })),
    }),
    nodes: t.field({
      type: [Article],
      complexity: { field: 1, multiplier: 1 },
      resolve: (p) => p.items,
    }),
  }),
});

const filterArg = z.string().min(1).max(64).nullish();
const PageArgs = z.object({
  first: z.number().int().min(1).max(MAX_LIMIT),
  after: z.string().max(64).nullish(),
});
const ArticlesArgs = PageArgs.extend({
  tag: filterArg,
  author: filterArg,
  favorited: filterArg,
  status: z.enum(ARTICLE_STATUSES).nullish(),
});

/** `limit`/`offset` of REST from `first`/`after`. */
function window(args: z.output<typeof PageArgs>) {
  return { limit: args.first, offset: args.after ? decodeCursor(args.after) + 1 : 0 };
}

const firstArg = (t: { arg: { int: (o: object) => unknown } }) =>
  t.arg.int({
    defaultValue: DEFAULT_FIRST,
    description: `Page size, 1–${MAX_LIMIT}.`,
  });

/** A connection's cost: its selections count `first` times. */
const perItem = (args: { first?: unknown }) => ({
  field: 1,
  multiplier: Math.max(1, Number(args.first) || 1),
});

/** A page of `GET /api/articles` with the given filter, as a connection. */
async function articlesPage(
  ctx: GraphqlContext,
  args: Record<string, unknown>,
  filter: { author?: string; favorited?: string } = {},
): Promise<PageAt> {
  const input = parse(ArticlesArgs, args);
  const at = window(input);
  const page = await (
    await ctx.services()
  ).articles.list({
    ...at,
    ...(input.tag ? { tag: input.tag } : {}),
    ...(input.author ? { author: input.author } : {}),
    ...(input.favorited ? { favorited: input.favorited } : {}),
    ...(input.status ? { status: input.status } : {}),
    ...filter,
  });
  return { items: valueOf(page.items), count: page.count, offset: at.offset };
}

builder.objectFields(Profile, (t) => ({
  articles: t.field({
    type: ArticleConnection,
    description: "This user's articles, newest first.",
    args: { first: firstArg(t) as never, after: t.arg.string() },
    complexity: (args) => ({ ...perItem(args), field: 5 }),
    resolve: (profile, args, ctx) => articlesPage(ctx, args, { author: profile.username }),
  }),
  favoritedArticles: t.field({
    type: ArticleConnection,
    description: 'Articles this user favorited, newest first.',
    args: { first: firstArg(t) as never, after: t.arg.string() },
    complexity: (args) => ({ ...perItem(args), field: 5 }),
    resolve: (profile, args, ctx) => articlesPage(ctx, args, { favorited: profile.username }),
  }),
}));

// ---- Queries --------------------------------------------------------------------------------

builder.queryType({
  fields: (t) => ({
    viewer: t.field({
      type: User,
      nullable: true,
      description: 'The signed-in user; null when anonymous.',
      resolve: async (_root, _args, ctx) => {
        const { user } = await ctx.actor();
        return user ? toUserDto(user, '') : null;
      },
    }),
    profile: t.field({
      type: Profile,
      nullable: true,
      args: { username: t.arg.string({ required: true }) },
      resolve: async (_root, { username }, ctx) => {
        try {
          return valueOf(await (await ctx.services()).profiles.get(username));
        } catch (err) {
          if (err instanceof NotFoundError) return null;
          throw err;
        }
      },
    }),
    article: t.field({
      type: Article,
      nullable: true,
      description: 'An article by slug; null when it does not exist or is not yours to see.',
      args: { slug: t.arg.string({ required: true }) },
      resolve: async (_root, { slug }, ctx) => (await ctx.loaders()).article.load(slug),
    }),
    articles: t.field({
      type: ArticleConnection,
      nullable: true,
      description: 'Articles, newest first, with the same filters as `GET /api/articles`.',
      args: {
        first: firstArg(t) as never,
        after: t.arg.string(),
        tag: t.arg.string({ description: 'Only articles with this tag.' }),
        author: t.arg.string({ description: 'Only articles by this username.' }),
        favorited: t.arg.string({ description: 'Only articles favorited by this username.' }),
        status: t.arg({ type: ArticleStatusEnum, description: 'DRAFT: your drafts.' }),
      },
      complexity: perItem,
      resolve: (_root, args, ctx) => articlesPage(ctx, args),
    }),
    feed: t.field({
      type: ArticleConnection,
      nullable: true,
      description: 'Articles by the users you follow, newest first (signed in only).',
      args: { first: firstArg(t) as never, after: t.arg.string() },
      complexity: perItem,
      resolve: async (_root, args, ctx) => {
        const at = window(parse(PageArgs, args));
        const page = await (await ctx.services()).articles.feed(at);
        return { items: valueOf(page.items), count: page.count, offset: at.offset };
      },
    }),
    tags: t.stringList({
      nullable: true,
      description: 'Tags in use, most used first.',
      args: { first: t.arg.int({ defaultValue: 100, description: 'How many, 1–1000.' }) },
      complexity: { field: 1, multiplier: 1 },
      resolve: async (_root, args, ctx) => {
        const { first } = parse(z.object({ first: z.number().int().min(1).max(1000) }), args);
        return valueOf(await (await ctx.anonymousServices()).tags.popular(first));
      },
    }),
  }),
});

// ---- Mutations ------------------------------------------------------------------------------

const RegisterInput = builder.inputType('RegisterInput', {
  fields: (t) => ({
    username: t.string({ required: true }),
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

const LoginInput = builder.inputType('LoginInput', {
  fields: (t) => ({
    email: t.string({ required: true }),
    password: t.string({ required: true }),
  }),
});

const UpdateUserInput = builder.inputType('UpdateUserInput', {
  description: 'Only the fields given change; `bio` and `image` accept null to clear.',
  fields: (t) => ({
    email: t.string(),
    username: t.string(),
    password: t.string(),
    bio: t.string(),
    image: t.string(),
  }),
});

const CreateArticleInput = builder.inputType('CreateArticleInput', {
  fields: (t) => ({
    title: t.string({ required: true }),
    description: t.string({ required: true }),
    body: t.string({ required: true, description: 'Markdown.' }),
    tagList: t.stringList({ description: `At most 20 tags of ${MAX_TAG_LENGTH} characters.` }),
    status: t.field({ type: ArticleStatusEnum, description: 'PUBLISHED unless given.' }),
  }),
});

const UpdateArticleInput = builder.inputType('UpdateArticleInput', {
  description: 'Only the fields given change; a new title gives a new slug.',
  fields: (t) => ({
    title: t.string(),
    description: t.string(),
    body: t.string(),
    tagList: t.stringList({ description: 'Replaces the tags.' }),
    status: t.field({ type: ArticleStatusEnum }),
  }),
});

/** Input objects without the keys the client left out (GraphQL gives them as undefined or null). */
const given = (input: object) =>
  Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));

/*
 * Root fields are nullable, as GraphQL recommends: one failing field (an alias, a refused login)
 * leaves the others of the document their results. Mutations that can be refused for their
 * input answer the typed ValidationError.
 */
const validated = { types: [ValidationError] };

builder.mutationType({
  fields: (t) => ({
    register: t.field({
      type: AuthPayload,
      nullable: true,
      errors: validated,
      description: 'Create an account (rate limited per client, like every registration).',
      args: { input: t.arg({ type: RegisterInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        await ctx.limits.consume('auth', ctx.ip);
        const { user } = parse(NewUserRequest, { user: input });
        const created = await (await ctx.anonymousServices()).users.register(user);
        const { token, ...rest } = created;
        return { token, user: rest };
      },
    }),
    login: t.field({
      type: AuthPayload,
      nullable: true,
      errors: validated,
      description:
        'Exchange credentials for a token. Every login (each alias, each batched operation) ' +
        'counts against the per-client and per-account limits.',
      args: { input: t.arg({ type: LoginInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        await ctx.limits.consume('auth', ctx.ip);
        const { user: credentials } = parse(LoginUserRequest, { user: input });
        const users = (await ctx.anonymousServices()).users;
        const { token, ...rest } = await ctx.limits.login(credentials.email, () =>
          users.login(credentials),
        );
        return { token, user: rest };
      },
    }),
    updateUser: t.field({
      type: User,
      nullable: true,
      errors: validated,
      args: { input: t.arg({ type: UpdateUserInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        // A password can be changed here: as guarded as login and registration.
        await ctx.limits.consume('auth', ctx.ip);
        const { user } = parse(UpdateUserRequest, { user: given(input) });
        const { token: _token, ...rest } = await (await ctx.signedIn()).users.update(user, '');
        return rest;
      },
    }),
    followUser: t.field({
      type: Profile,
      nullable: true,
      errors: validated,
      args: { username: t.arg.string({ required: true }) },
      resolve: async (_root, { username }, ctx) => (await ctx.signedIn()).profiles.follow(username),
    }),
    unfollowUser: t.field({
      type: Profile,
      nullable: true,
      args: { username: t.arg.string({ required: true }) },
      resolve: async (_root, { username }, ctx) =>
        (await ctx.signedIn()).profiles.unfollow(username),
    }),
    createArticle: t.field({
      type: Article,
      nullable: true,
      errors: validated,
      args: { input: t.arg({ type: CreateArticleInput, required: true }) },
      resolve: async (_root, { input }, ctx) => {
        const { article } = parse(NewArticleRequest, { article: given(input) });
        return (await ctx.signedIn()).articles.create(article);
      },
    }),
    updateArticle: t.field({
      type: Article,
      nullable: true,
      errors: validated,
      args: {
        slug: t.arg.string({ required: true }),
        input: t.arg({ type: UpdateArticleInput, required: true }),
      },
      resolve: async (_root, { slug, input }, ctx) => {
        const { article } = parse(UpdateArticleRequest, { article: given(input) });
        return (await ctx.signedIn()).articles.update(slug, article);
      },
    }),
    deleteArticle: t.boolean({
      nullable: true,
      description: 'Deletes the article with its comments; true when done.',
      args: { slug: t.arg.string({ required: true }) },
      resolve: async (_root, { slug }, ctx) => {
        await (await ctx.signedIn()).articles.delete(slug);
        return true;
      },
    }),
    favoriteArticle: t.field({
      type: Article,
      nullable: true,
      args: { slug: t.arg.string({ required: true }) },
      resolve: async (_root, { slug }, ctx) => (await ctx.signedIn()).articles.favorite(slug),
    }),
    unfavoriteArticle: t.field({
      type: Article,
      nullable: true,
      args: { slug: t.arg.string({ required: true }) },
      resolve: async (_root, { slug }, ctx) => (await ctx.signedIn()).articles.unfavorite(slug),
    }),
    addComment: t.field({
      type: Comment,
      nullable: true,
      errors: validated,
      args: { slug: t.arg.string({ required: true }), body: t.arg.string({ required: true }) },
      resolve: async (_root, { slug, body }, ctx) => {
        const { comment } = parse(NewCommentRequest, { comment: { body } });
        return (await ctx.signedIn()).comments.create(slug, comment.body);
      },
    }),
    deleteComment: t.boolean({
      nullable: true,
      description: 'true when done.',
      args: { slug: t.arg.string({ required: true }), id: t.arg.int({ required: true }) },
      resolve: async (_root, { slug, id }, ctx) => {
        await (await ctx.signedIn()).comments.delete(slug, id);
        return true;
      },
    }),
  }),
});

/** The executable schema. */
export const schema = builder.toSchema({ sortSchema: true });
