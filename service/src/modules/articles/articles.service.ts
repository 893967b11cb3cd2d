import { DeadlockException, LockMode, sql, type EntityManager } from '@mikro-orm/postgresql';
import type { ReadCache } from '../../cache.js';
import { violatedUniqueConstraint } from '../../db/errors.js';
import { primarySource, type ReadRouter, type ReadSource } from '../../db/read-source.js';
import { jobRequest, NOTIFY_FOLLOWERS } from '../../jobs/contracts.js';
import { flagOffsets, JsonText, withFlags } from '../../json-text.js';
import { NotFoundError } from '../../errors.js';
import { asArticle } from '../auth/abilities.js';
import { FeatureService } from '../feature-service.js';
import { toProfileDto } from '../profiles/profiles.service.js';
import { Tag } from '../tags/tag.entity.js';
import { Article, ArticleTag, Favorite, type ArticleStatus } from './article.entity.js';
import {
  articleBySlug,
  articlesBySlugs,
  listArticles,
  viewerFlags,
  type ArticleItem,
  type ListCriteria,
} from './articles.read-model.js';
import type { ArticleDto, ArticleListItemDto } from './articles.schemas.js';
import { renderMarkdown, RENDERER_VERSION } from './markdown.js';
import { baseSlug, uniqueSlug } from './slugs.js';

export interface ArticleFilter {
  /** `draft` lists the viewer's own drafts (every draft for editors). */
  status?: ArticleStatus;
  tag?: string;
  author?: string;
  favorited?: string;
  limit: number;
  offset: number;
}

interface ArticleInput {
  title: string;
  description: string;
  body: string;
  tagList?: string[];
  status?: ArticleStatus;
}

const facts = (a: Article) => ({ authorId: a.author.id, status: a.status });

/**
 * Locks the article row for the rest of the transaction (404 if it is gone). Writers that touch
 * an article's rows take this first, in the same order as DELETE does, so a concurrent delete
 * either waits for them or makes them 404, never a foreign-key 500 or a deadlock.
 */
export async function lockArticle(
  em: EntityManager,
  id: number,
  mode: LockMode = LockMode.PESSIMISTIC_WRITE,
): Promise<Article> {
  const article = await em.findOne(Article, id, { lockMode: mode, populate: ['author'] });
  if (!article) throw new NotFoundError('article');
  return article;
}

const SLUG_ATTEMPTS = 5;

/** Collaborators of the articles service. */
export interface ArticlesDeps {
  /** Where plain reads run (the primary by default; replicas with issue 10). */
  readRouter: ReadRouter;
  /** The read cache (disabled: every read goes to the read model). */
  cache: ReadCache;
}

/** A list page whose items are JSON text (straight from the cache, or serialized once). */
export interface JsonPage<T> {
  items: JsonText<T[]>;
  count: number;
}

/**
 * A cached list page: the ids a viewer's overlay needs and where its flags stand in the JSON
 * text that follows (`favorited`, `following` per item; absent in values cached by a release
 * before them: then found on read).
 */
interface CachedPage {
  ids: number[];
  authorIds: number[];
  count: number;
  flags?: number[];
}

/** The viewer's flags of an article or list item, in the order they appear in its JSON. */
const ARTICLE_FLAGS = ['favorited', 'following'];

/** Articles, their tags and favorites. */
export class ArticlesService extends FeatureService<ArticlesDeps> {
  private source(): Promise<ReadSource> {
    return this.deps.readRouter({ em: this.em, userId: this.actor.user?.id ?? null });
  }

  async list(filter: ArticleFilter): Promise<JsonPage<ArticleListItemDto>> {
    const viewer = this.actor.user;
    const criteria: ListCriteria = {
      status: filter.status === 'draft' ? 'draft' : 'published',
      limit: filter.limit,
      offset: filter.offset,
      ...(filter.tag !== undefined ? { tag: filter.tag } : {}),
      ...(filter.author !== undefined ? { author: filter.author } : {}),
      ...(filter.favorited !== undefined ? { favorited: filter.favorited } : {}),
    };
    const source = await this.source();
    if (criteria.status === 'draft') {
      // Drafts are private: everyone but editors sees only their own (anonymous: none). Never cached.
      if (!this.actor.ability.can('read', asArticle({ authorId: -1, status: 'draft' }))) {
        criteria.authorId = viewer?.id ?? -1;
      }
      return this.uncachedPage(source, criteria);
    }
    const id = JSON.stringify([
      criteria.limit,
      criteria.offset,
      criteria.tag ?? null,
      criteria.author ?? null,
      criteria.favorited ?? null,
    ]);
    const asText = (page: { items: ArticleItem[]; count: number }) => {
      const json = JSON.stringify(page.items.map((i) => i.dto));
      const head: CachedPage = {
        ids: page.items.map((i) => i.id),
        authorIds: page.items.map((i) => i.authorId),
        count: page.count,
        flags: flagOffsets(json, ARTICLE_FLAGS),
      };
      return `${JSON.stringify(head)}\n${json}`;
    };
    const { text, hit, direct } = await this.deps.cache.read(
      { read: 'list', generations: ['lists', 'users'], id },
      source,
      async () => {
        const page = await listArticles(source, criteria);
        return { value: page, text: asText(page), cacheable: true };
      },
      async () => asText(await listArticles(source, criteria, viewer?.id)),
    );
    const cut = text.indexOf('\n');
    const head = JSON.parse(text.slice(0, cut)) as CachedPage;
    let json = text.slice(cut + 1);
    if (viewer && !direct) {
      const flags = await viewerFlags(source, viewer.id, head.ids, head.authorIds);
      if (flags.favorited.size > 0 || flags.following.size > 0) {
        const values = head.ids.flatMap((id, i) => [
          flags.favorited.has(id),
          flags.following.has(head.authorIds[i]!),
        ]);
        json = withFlags(json, head.flags ?? flagOffsets(json, ARTICLE_FLAGS), values);
      }
    }
    return { items: JsonText.trusted(json, hit ? 'hit' : 'miss'), count: head.count };
  }

  async feed(page: { limit: number; offset: number }): Promise<JsonPage<ArticleListItemDto>> {
    const viewer = this.user;
    return this.uncachedPage(await this.source(), {
      status: 'published',
      followedBy: viewer.id,
      ...page,
    });
  }

  private async uncachedPage(
    source: ReadSource,
    criteria: ListCriteria,
  ): Promise<JsonPage<ArticleListItemDto>> {
    const page = await listArticles(source, criteria, this.actor.user?.id);
    return { items: JsonText.of(page.items.map((i) => i.dto)), count: page.count };
  }

  /**
   * One article the actor may read. Published articles come from the cache (shared part, then the
   * viewer's flags overlaid); someone else's draft is a 404, not a 403: its existence is private.
   */
  async get(slug: string): Promise<JsonText<ArticleDto>> {
    const viewer = this.actor.user;
    const source = await this.source();
    const asText = (found: Awaited<ReturnType<ArticlesService['detail']>>) =>
      found
        ? `${JSON.stringify([found.id, found.authorId, found.status])}\n${JSON.stringify(found.dto)}`
        : '';
    const { text, hit, direct } = await this.deps.cache.read(
      { read: 'article', generations: [`article:${slug}`, 'users'], id: slug },
      source,
      async () => {
        const found = await this.detail(source, slug);
        return { value: found, text: asText(found), cacheable: found?.status === 'published' };
      },
      async () => asText(await this.detail(source, slug, viewer?.id)),
    );
    if (text === '') throw new NotFoundError('article');
    const cut = text.indexOf('\n');
    const [id, authorId, status] = JSON.parse(text.slice(0, cut)) as [
      number,
      number,
      ArticleStatus,
    ];
    if (!this.actor.ability.can('read', asArticle({ authorId, status }))) {
      throw new NotFoundError('article');
    }
    let json = text.slice(cut + 1);
    if (viewer && !direct) {
      const flags = await viewerFlags(source, viewer.id, [id], [authorId]);
      if (flags.favorited.size > 0 || flags.following.size > 0) {
        // The body and its HTML come after both flags: the first two matches are the flags.
        const offsets = flagOffsets(json, ARTICLE_FLAGS).slice(0, 2);
        json = withFlags(json, offsets, [flags.favorited.has(id), flags.following.has(authorId)]);
      }
    }
    return JsonText.trusted(json, hit ? 'hit' : 'miss');
  }

  /**
   * The article as the read model has it, `favorited`/`following` for `viewerId` (else false),
   * with its HTML rendered and stored when missing or from another renderer version.
   */
  private async detail(source: ReadSource, slug: string, viewerId?: number, em = this.em) {
    const found = await articleBySlug(source, slug, viewerId);
    if (!found) return undefined;
    const { item, row } = found;
    let bodyHtml = row.body_html;
    if (bodyHtml === null || row.body_html_version !== RENDERER_VERSION) {
      bodyHtml = renderMarkdown(row.body);
      await this.storeHtml(em, row.id, row.body, bodyHtml);
    }
    return {
      id: item.id,
      authorId: item.authorId,
      status: item.dto.status,
      dto: { ...item.dto, body: row.body, bodyHtml } as ArticleDto,
    };
  }

  /** Stores a rendering made on read, unless the article changed meanwhile (on the primary). */
  private async storeHtml(
    em: EntityManager,
    id: number,
    body: string,
    html: string,
  ): Promise<void> {
    await em.execute(
      'update articles set body_html = ?, body_html_version = ? where id = ? and body = ?',
      [html, RENDERER_VERSION, id, body],
      'run',
    );
  }

  /**
   * Several articles by slug in one go (for batching entry points such as GraphQL's loaders): one
   * read-model statement, bypassing the cache, each as `get` gives it (the viewer's flags, stored
   * HTML rendered when missing). Only the ones the actor may read, keyed by slug.
   */
  async getMany(slugs: readonly string[]): Promise<Map<string, ArticleDto & { id: number }>> {
    const viewerId = this.actor.user?.id;
    const found = await articlesBySlugs(await this.source(), slugs, viewerId);
    const out = new Map<string, ArticleDto & { id: number }>();
    for (const { item, row } of found) {
      if (
        !this.actor.ability.can('read', asArticle({ authorId: item.authorId, status: row.status }))
      ) {
        continue;
      }
      let bodyHtml = row.body_html;
      if (bodyHtml === null || row.body_html_version !== RENDERER_VERSION) {
        bodyHtml = renderMarkdown(row.body);
        await this.storeHtml(this.em, row.id, row.body, bodyHtml);
      }
      out.set(item.dto.slug, { ...item.dto, body: row.body, bodyHtml, id: item.id });
    }
    return out;
  }

  async create(input: ArticleInput): Promise<ArticleDto> {
    this.authorize('create', 'Article', 'your role may not write articles');
    const author = this.user;
    const tagList = input.tagList ?? [];
    const bodyHtml = renderMarkdown(input.body);
    const write = () =>
      this.withUniqueSlug(input.title, async (em, slug) => {
        const created = em.create(Article, {
          slug,
          title: input.title,
          description: input.description,
          body: input.body,
          bodyHtml,
          bodyHtmlVersion: RENDERER_VERSION,
          status: input.status ?? 'published',
          author: author.id,
        });
        await em.flush();
        await this.replaceTags(em, created.id, tagList);
        if (created.status === 'published') await this.notifyFollowers(em, created.id);
        return created;
      });
    const article = await this.deps.cache.write(['lists', 'tags'], write, (a) => [
      `article:${a.slug}`,
    ]);
    // Everything the response shows is known: no read back. Nobody follows themselves.
    return {
      slug: article.slug,
      title: article.title,
      description: article.description,
      status: article.status,
      tagList: [...tagList].sort(),
      createdAt: article.createdAt.toISOString(),
      updatedAt: article.updatedAt.toISOString(),
      favorited: false,
      favoritesCount: article.favoritesCount,
      author: toProfileDto(author, false),
      body: article.body,
      bodyHtml,
    };
  }

  async update(slug: string, changes: Partial<ArticleInput>): Promise<ArticleDto> {
    const existing = await this.bySlug(slug);
    this.authorize(
      'update',
      asArticle(facts(existing)),
      'only the author or an editor can change this article',
    );
    const titleChanged = changes.title !== undefined && changes.title !== existing.title;
    const write = () =>
      this.withUniqueSlug(
        changes.title ?? existing.title,
        async (em, newSlug) => {
          const article = await lockArticle(em, existing.id);
          const { tagList, ...fields } = changes;
          em.assign(
            article,
            Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
          );
          if (fields.body !== undefined) {
            article.bodyHtml = renderMarkdown(fields.body);
            article.bodyHtmlVersion = RENDERER_VERSION;
          }
          if (titleChanged) article.slug = newSlug;
          // The article row (and its new slug) before the tags, as `create` does: two writers
          // taking the same slug and tags in opposite orders would deadlock.
          await em.flush();
          if (existing.status === 'draft' && article.status === 'published') {
            await this.notifyFollowers(em, article.id);
          }
          if (tagList !== undefined) {
            await this.replaceTags(em, article.id, tagList);
            article.updatedAt = new Date();
          }
          if (article.author.id !== this.user.id) {
            // An editor changing someone else's article is a privileged action.
            this.audit(em, {
              action: 'article.update',
              targetType: 'article',
              targetId: article.id,
              before: { slug: existing.slug, title: existing.title, status: existing.status },
              after: { slug: article.slug, title: article.title, status: article.status },
            });
          }
          await em.flush();
          // The response as this transaction sees it: one read-model statement, no entity re-read.
          return (await this.detail(primarySource(em), article.slug, this.user.id, em))!;
        },
        titleChanged,
      );
    const updated = await this.deps.cache.write(
      ['lists', 'tags', `article:${slug}`, `comments:${slug}`],
      write,
      (u) => [`article:${u.dto.slug}`, `comments:${u.dto.slug}`],
    );
    return updated.dto;
  }

  async delete(slug: string): Promise<void> {
    const article = await this.bySlug(slug);
    this.authorize('delete', asArticle(facts(article)), 'only the author can delete this article');
    // Comments, favorites and tag rows go with it (ON DELETE CASCADE).
    const write = () =>
      this.em.transactional(async (em) => {
        if (article.author.id !== this.user.id) {
          this.audit(em, {
            action: 'article.delete',
            targetType: 'article',
            targetId: article.id,
            before: { slug: article.slug, title: article.title, authorId: article.author.id },
          });
        }
        await em.nativeDelete(Article, { id: article.id });
      });
    await this.deps.cache.write(['lists', 'tags', `article:${slug}`, `comments:${slug}`], write);
  }

  async favorite(slug: string): Promise<ArticleDto> {
    const user = this.user;
    const article = await this.bySlug(slug);
    this.authorize('favorite', asArticle(facts(article)), 'drafts cannot be favorited');
    const write = () =>
      this.em.transactional(async (em) => {
        await lockArticle(em, article.id);
        const inserted = await em
          .createQueryBuilder(Favorite)
          .insert({ user: user.id, article: article.id, createdAt: new Date() })
          .onConflict(['user', 'article'])
          .ignore()
          .execute('run');
        if (inserted.affectedRows > 0) await this.bumpFavorites(em, article.id, +1);
        return this.detail(primarySource(em), slug, user.id, em);
      });
    const result = await this.deps.cache.write(['lists', `article:${slug}`], write);
    if (!result) throw new NotFoundError('article');
    return result.dto;
  }

  async unfavorite(slug: string): Promise<ArticleDto> {
    const user = this.user;
    const article = await this.bySlug(slug);
    this.authorize('favorite', asArticle(facts(article)));
    const write = () =>
      this.em.transactional(async (em) => {
        await lockArticle(em, article.id);
        const deleted = await em.nativeDelete(Favorite, { user: user.id, article: article.id });
        if (deleted > 0) await this.bumpFavorites(em, article.id, -1);
        return this.detail(primarySource(em), slug, user.id, em);
      });
    const result = await this.deps.cache.write(['lists', `article:${slug}`], write);
    if (!result) throw new NotFoundError('article');
    return result.dto;
  }

  /**
   * Publishing notifies the author's followers: a fan-out job committed with the article (the
   * outbox), run in batches by the worker (NOTIFY_FOLLOWERS in service/src/jobs/contracts.ts).
   */
  private async notifyFollowers(em: EntityManager, articleId: number): Promise<void> {
    await this.enqueue(em, jobRequest(NOTIFY_FOLLOWERS, { articleId }));
  }

  private async bumpFavorites(em: EntityManager, articleId: number, delta: 1 | -1) {
    await em
      .createQueryBuilder(Article)
      .update({ favoritesCount: sql`favorites_count + ${delta}` })
      .where({ id: articleId })
      .execute();
  }

  /**
   * Loads an article the actor may read, bypassing the identity map so counters are current.
   * Someone else's draft is a 404, not a 403: its existence is private too.
   */
  async bySlug(slug: string): Promise<Article> {
    const article = await this.em.findOne(
      Article,
      { slug },
      { populate: ['author'], refresh: true },
    );
    if (!article || !this.actor.ability.can('read', asArticle(facts(article)))) {
      throw new NotFoundError('article');
    }
    return article;
  }

  /**
   * Runs `write` in a transaction with the title's slug; if a concurrent writer took that slug,
   * retries with a random suffix. The unique constraint is the arbiter: the count before the
   * first attempt only skips a write that would certainly collide, and a slug taken after it
   * fails the insert, which is retried.
   */
  private async withUniqueSlug<T>(
    title: string,
    write: (em: EntityManager, slug: string) => Promise<T>,
    needsSlug = true,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const slug = attempt === 0 ? baseSlug(title) : uniqueSlug(title);
      if (needsSlug && attempt === 0 && (await this.em.count(Article, { slug })) > 0) continue;
      try {
        return await this.em.fork().transactional((em) => write(em as EntityManager, slug));
      } catch (err) {
        // PostgreSQL chose this transaction as a deadlock's victim (writers lock the slug, then
        // the tags, so this should not happen): it rolled back whole, so running it again is safe.
        if (err instanceof DeadlockException && attempt < SLUG_ATTEMPTS) continue;
        if (violatedUniqueConstraint(err) !== 'articles_slug_unique' || attempt >= SLUG_ATTEMPTS) {
          throw err;
        }
      }
    }
  }

  private async replaceTags(em: EntityManager, articleId: number, tagList: string[]) {
    await em.nativeDelete(ArticleTag, { article: articleId });
    // In one order for every writer, so concurrent upserts lock the tag rows in the same order.
    const names = [...new Set(tagList)].sort();
    if (names.length === 0) return;
    // DO UPDATE (not DO NOTHING) locks existing tag rows until commit, so the hourly
    // prune-unused-tags job cannot delete a tag between this upsert and the link insert.
    const tags = await em
      .createQueryBuilder(Tag)
      .insert(names.map((name) => ({ name })))
      .onConflict('name')
      .merge(['name'])
      .returning(['id'])
      .execute<{ id: number }[]>('all');
    await em.insertMany(
      ArticleTag,
      tags.map((t) => ({ article: articleId, tag: t.id })),
    );
  }
}
