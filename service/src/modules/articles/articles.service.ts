import { sql, type EntityManager, type QueryBuilder } from '@mikro-orm/postgresql';
import { violatedUniqueConstraint } from '../../db/errors.js';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import { followedAmong, toProfileDto } from '../profiles/profiles.service.js';
import { Follow } from '../profiles/follow.entity.js';
import { Tag } from '../tags/tag.entity.js';
import type { User } from '../users/user.entity.js';
import { Article, ArticleTag, Favorite } from './article.entity.js';
import type { ArticleDto, ArticleListItemDto } from './articles.schemas.js';
import { baseSlug, uniqueSlug } from './slugs.js';

export interface ArticleFilter {
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
}

const SLUG_ATTEMPTS = 5;

/** Articles, their tags and favorites. */
export class ArticlesService {
  constructor(private readonly em: EntityManager) {}

  async list(viewer: User | undefined, filter: ArticleFilter) {
    const qb = this.em.createQueryBuilder(Article, 'a');
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
    return this.page(viewer, qb, filter);
  }

  async feed(viewer: User, page: { limit: number; offset: number }) {
    const followees = this.em
      .createQueryBuilder(Follow, 'fo')
      .select('fo.followee')
      .where({ follower: viewer.id });
    const qb = this.em.createQueryBuilder(Article, 'a').where({ author: { $in: followees } });
    return this.page(viewer, qb, page);
  }

  private async page(
    viewer: User | undefined,
    qb: QueryBuilder<Article, 'a'>,
    page: { limit: number; offset: number },
  ): Promise<{ articles: ArticleListItemDto[]; articlesCount: number }> {
    const articlesCount = await qb.clone().getCount();
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
    const dtos = await this.toDtos(viewer, ordered);
    return { articles: dtos.map(({ body: _body, ...item }) => item), articlesCount };
  }

  async get(viewer: User | undefined, slug: string): Promise<ArticleDto> {
    const [dto] = await this.toDtos(viewer, [await this.bySlug(slug)]);
    return dto!;
  }

  async create(author: User, input: ArticleInput): Promise<ArticleDto> {
    const article = await this.withUniqueSlug(input.title, async (em, slug) => {
      const created = em.create(Article, {
        slug,
        title: input.title,
        description: input.description,
        body: input.body,
        author: author.id,
      });
      await em.flush();
      await this.replaceTags(em, created.id, input.tagList ?? []);
      return created;
    });
    return this.get(author, article.slug);
  }

  async update(user: User, slug: string, changes: Partial<ArticleInput>): Promise<ArticleDto> {
    const existing = await this.bySlug(slug);
    this.assertAuthor(user, existing);
    const titleChanged = changes.title !== undefined && changes.title !== existing.title;
    const updated = await this.withUniqueSlug(
      changes.title ?? existing.title,
      async (em, newSlug) => {
        const article = await em.findOneOrFail(Article, existing.id);
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
        await em.flush();
        return article;
      },
      titleChanged,
    );
    return this.get(user, updated.slug);
  }

  async delete(user: User, slug: string): Promise<void> {
    const article = await this.bySlug(slug);
    this.assertAuthor(user, article);
    // Comments, favorites and tag rows go with it (ON DELETE CASCADE).
    await this.em.nativeDelete(Article, { id: article.id });
  }

  async favorite(user: User, slug: string): Promise<ArticleDto> {
    const article = await this.bySlug(slug);
    await this.em.transactional(async (em) => {
      const inserted = await em
        .createQueryBuilder(Favorite)
        .insert({ user: user.id, article: article.id, createdAt: new Date() })
        .onConflict(['user', 'article'])
        .ignore()
        .execute('run');
      if (inserted.affectedRows > 0) await this.bumpFavorites(em, article.id, +1);
    });
    return this.get(user, slug);
  }

  async unfavorite(user: User, slug: string): Promise<ArticleDto> {
    const article = await this.bySlug(slug);
    await this.em.transactional(async (em) => {
      const deleted = await em.nativeDelete(Favorite, { user: user.id, article: article.id });
      if (deleted > 0) await this.bumpFavorites(em, article.id, -1);
    });
    return this.get(user, slug);
  }

  private async bumpFavorites(em: EntityManager, articleId: number, delta: 1 | -1) {
    await em
      .createQueryBuilder(Article)
      .update({ favoritesCount: sql`favorites_count + ${delta}` })
      .where({ id: articleId })
      .execute();
  }

  /** Loads an article by slug, bypassing the identity map so counters are current. */
  async bySlug(slug: string): Promise<Article> {
    const article = await this.em.findOne(
      Article,
      { slug },
      { populate: ['author'], refresh: true },
    );
    if (!article) throw new NotFoundError('article');
    return article;
  }

  private assertAuthor(user: User, article: Article) {
    if (article.author.id !== user.id) {
      throw new ForbiddenError('only the author can change this article', 'article');
    }
  }

  /**
   * Runs `write` in a transaction with the title's slug; if a concurrent writer took that slug,
   * retries with a random suffix. The unique constraint is the arbiter, not a prior SELECT.
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
    await em
      .createQueryBuilder(Tag)
      .insert(names.map((name) => ({ name })))
      .onConflict('name')
      .ignore()
      .execute('run');
    const tags = await em.find(Tag, { name: { $in: names } });
    await em.insertMany(
      ArticleTag,
      tags.map((t) => ({ article: articleId, tag: t.id })),
    );
  }

  private async toDtos(viewer: User | undefined, articles: Article[]): Promise<ArticleDto[]> {
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
      body: a.body,
      tagList: (tagsOf.get(a.id) ?? []).sort(),
      createdAt: a.createdAt.toISOString(),
      updatedAt: a.updatedAt.toISOString(),
      favorited: favorited.has(a.id),
      favoritesCount: a.favoritesCount,
      author: toProfileDto(a.author, following.has(a.author.id)),
    }));
  }
}
