import { LockMode, sql, type EntityManager, type QueryBuilder } from '@mikro-orm/postgresql';
import { violatedUniqueConstraint } from '../../db/errors.js';
import { NotFoundError } from '../../errors.js';
import { asArticle } from '../auth/abilities.js';
import { FeatureService, type Page } from '../feature-service.js';
import { followedAmong, toProfileDto } from '../profiles/profiles.service.js';
import { Follow } from '../profiles/follow.entity.js';
import { Tag } from '../tags/tag.entity.js';
import { Article, ArticleTag, Favorite, type ArticleStatus } from './article.entity.js';
import type { ArticleDto, ArticleListItemDto } from './articles.schemas.js';
import { renderMarkdown } from './markdown.js';
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

/** Collaborators of the articles service: none yet (a read model and a cache would come here). */
export type ArticlesDeps = Record<string, never>;

/** Articles, their tags and favorites. */
export class ArticlesService extends FeatureService<ArticlesDeps> {
  async list(filter: ArticleFilter): Promise<Page<ArticleListItemDto>> {
    const viewer = this.actor.user;
    const qb = this.em.createQueryBuilder(Article, 'a');
    if (filter.status === 'draft') {
      qb.where({ status: 'draft' });
      // Drafts are private: everyone but editors sees only their own (anonymous: none).
      if (!this.actor.ability.can('read', asArticle({ authorId: -1, status: 'draft' }))) {
        qb.andWhere({ author: viewer?.id ?? -1 });
      }
    } else {
      qb.where({ status: 'published' });
    }
    if (filter.author) qb.andWhere({ author: { username: filter.author } });
    if (filter.tag) {
      const tagged = this.em
        .createQueryBuilder(ArticleTag, 'at')
        .select('at.article')
        .join('at.tag', 't')
        .where({ 't.name': filter.tag });
      qb.andWhere({ id: { $in: tagged } });
    }
    if (filter.favorited) {
      const favorites = this.em
        .createQueryBuilder(Favorite, 'f')
        .select('f.article')
        .join('f.user', 'fu')
        .where({ 'fu.username': filter.favorited });
      qb.andWhere({ id: { $in: favorites } });
    }
    return this.page(qb, filter);
  }

  async feed(page: { limit: number; offset: number }): Promise<Page<ArticleListItemDto>> {
    const viewer = this.user;
    const followees = this.em
      .createQueryBuilder(Follow, 'fo')
      .select('fo.followee')
      .where({ follower: viewer.id });
    const qb = this.em
      .createQueryBuilder(Article, 'a')
      .where({ status: 'published', author: { $in: followees } });
    return this.page(qb, page);
  }

  private async page(
    qb: QueryBuilder<Article, 'a'>,
    page: { limit: number; offset: number },
  ): Promise<Page<ArticleListItemDto>> {
    const count = await qb.clone().getCount();
    const rows = await qb
      .select(['a.id'])
      .orderBy({ createdAt: 'desc', id: 'desc' })
      .limit(page.limit)
      .offset(page.offset)
      .execute<{ id: number }[]>('all', false);
    const ids = rows.map((r) => r.id);
    const articles = await this.em.find(Article, { id: { $in: ids } }, { populate: ['author'] });
    const byId = new Map(articles.map((a) => [a.id, a]));
    const ordered = ids.map((id) => byId.get(id)).filter((a): a is Article => a !== undefined);
    return { items: await this.toDtos(ordered), count };
  }

  async get(slug: string): Promise<ArticleDto> {
    const article = await this.bySlug(slug);
    const [item] = await this.toDtos([article]);
    return { ...item!, body: article.body, bodyHtml: renderMarkdown(article.body) };
  }

  /**
   * Several articles by slug in one go (for batching entry points such as GraphQL's loaders):
   * the ones the actor may read, keyed by slug; unknown and unreadable slugs are absent.
   */
  async getMany(slugs: readonly string[]): Promise<Map<string, ArticleDto>> {
    if (slugs.length === 0) return new Map();
    const found = await this.em.find(
      Article,
      { slug: { $in: [...new Set(slugs)] } },
      { populate: ['author'], refresh: true },
    );
    const readable = found.filter((a) => this.actor.ability.can('read', asArticle(facts(a))));
    const items = await this.toDtos(readable);
    return new Map(
      readable.map((a, i) => [
        a.slug,
        { ...items[i]!, body: a.body, bodyHtml: renderMarkdown(a.body) },
      ]),
    );
  }

  async create(input: ArticleInput): Promise<ArticleDto> {
    this.authorize('create', 'Article', 'your role may not write articles');
    const author = this.user;
    const article = await this.withUniqueSlug(input.title, async (em, slug) => {
      const created = em.create(Article, {
        slug,
        title: input.title,
        description: input.description,
        body: input.body,
        status: input.status ?? 'published',
        author: author.id,
      });
      await em.flush();
      await this.replaceTags(em, created.id, input.tagList ?? []);
      return created;
    });
    return this.get(article.slug);
  }

  async update(slug: string, changes: Partial<ArticleInput>): Promise<ArticleDto> {
    const existing = await this.bySlug(slug);
    this.authorize(
      'update',
      asArticle(facts(existing)),
      'only the author or an editor can change this article',
    );
    const titleChanged = changes.title !== undefined && changes.title !== existing.title;
    const updated = await this.withUniqueSlug(
      changes.title ?? existing.title,
      async (em, newSlug) => {
        const article = await lockArticle(em, existing.id);
        const { tagList, ...fields } = changes;
        em.assign(
          article,
          Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
        );
        if (titleChanged) article.slug = newSlug;
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
        return article;
      },
      titleChanged,
    );
    return this.get(updated.slug);
  }

  async delete(slug: string): Promise<void> {
    const article = await this.bySlug(slug);
    this.authorize('delete', asArticle(facts(article)), 'only the author can delete this article');
    // Comments, favorites and tag rows go with it (ON DELETE CASCADE).
    await this.em.transactional(async (em) => {
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
  }

  async favorite(slug: string): Promise<ArticleDto> {
    const user = this.user;
    const article = await this.bySlug(slug);
    this.authorize('favorite', asArticle(facts(article)), 'drafts cannot be favorited');
    await this.em.transactional(async (em) => {
      await lockArticle(em, article.id);
      const inserted = await em
        .createQueryBuilder(Favorite)
        .insert({ user: user.id, article: article.id, createdAt: new Date() })
        .onConflict(['user', 'article'])
        .ignore()
        .execute('run');
      if (inserted.affectedRows > 0) await this.bumpFavorites(em, article.id, +1);
    });
    return this.get(slug);
  }

  async unfavorite(slug: string): Promise<ArticleDto> {
    const user = this.user;
    const article = await this.bySlug(slug);
    this.authorize('favorite', asArticle(facts(article)));
    await this.em.transactional(async (em) => {
      await lockArticle(em, article.id);
      const deleted = await em.nativeDelete(Favorite, { user: user.id, article: article.id });
      if (deleted > 0) await this.bumpFavorites(em, article.id, -1);
    });
    return this.get(slug);
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
        if (violatedUniqueConstraint(err) !== 'articles_slug_unique' || attempt >= SLUG_ATTEMPTS) {
          throw err;
        }
      }
    }
  }

  private async replaceTags(em: EntityManager, articleId: number, names: string[]) {
    await em.nativeDelete(ArticleTag, { article: articleId });
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

  /** List-item shapes (no body: lists never pay for Markdown rendering). */
  private async toDtos(articles: Article[]): Promise<ArticleListItemDto[]> {
    const viewer = this.actor.user;
    if (articles.length === 0) return [];
    const ids = articles.map((a) => a.id);
    const [tagRows, favoriteRows, following] = await Promise.all([
      this.em.find(ArticleTag, { article: { $in: ids } }, { populate: ['tag'] }),
      viewer ? this.em.find(Favorite, { user: viewer.id, article: { $in: ids } }) : [],
      followedAmong(
        this.em,
        viewer?.id,
        articles.map((a) => a.author.id),
      ),
    ]);
    const tagsOf = new Map<number, string[]>();
    for (const row of tagRows) {
      const list = tagsOf.get(row.article.id) ?? [];
      list.push(row.tag.name);
      tagsOf.set(row.article.id, list);
    }
    const favorited = new Set(favoriteRows.map((f) => f.article.id));
    return articles.map((a) => ({
      slug: a.slug,
      title: a.title,
      description: a.description,
      status: a.status,
      tagList: (tagsOf.get(a.id) ?? []).sort(),
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
      favorited: favorited.has(a.id),
      favoritesCount: a.favoritesCount,
      author: toProfileDto(a.author, following.has(a.author.id)),
    }));
  }
}
