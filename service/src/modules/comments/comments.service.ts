import { LockMode } from '@mikro-orm/postgresql';
import { NotFoundError } from '../../errors.js';
import { lockArticle, type ArticlesService } from '../articles/articles.service.js';
import { asComment } from '../auth/abilities.js';
import { FeatureService, type ServiceFactory } from '../feature-service.js';
import { followedAmong, toProfileDto } from '../profiles/profiles.service.js';
import { Comment } from './comment.entity.js';
import type { CommentDto } from './comments.schemas.js';

/** The most comments one list call returns (oldest first). */
export const MAX_COMMENTS = 500;

export interface CommentsDeps {
  /** Comments live on articles the actor may read: the articles service decides which. */
  articles: ServiceFactory<ArticlesService>;
}

/** Comments on articles. */
export class CommentsService extends FeatureService<CommentsDeps> {
  private articles() {
    return this.deps.articles(this.em, this.actor);
  }

  async list(slug: string): Promise<CommentDto[]> {
    const article = await this.articles().bySlug(slug);
    const comments = await this.em.find(
      Comment,
      { article: article.id },
      { populate: ['author'], orderBy: { createdAt: 'asc', id: 'asc' }, limit: MAX_COMMENTS },
    );
    return this.toDtos(comments);
  }

  /**
   * The comments of several articles at once (for batching entry points such as GraphQL's
   * loaders), oldest first, at most MAX_COMMENTS each, keyed by slug; articles the actor may not
   * read are absent.
   */
  async listMany(slugs: readonly string[]): Promise<Map<string, CommentDto[]>> {
    const articles = await this.articles().getMany(slugs);
    if (articles.size === 0) return new Map();
    const rows = await this.em.getConnection().execute<{ id: number; slug: string }[]>(
      `select id, slug from (
         select c.id, a.slug,
                row_number() over (partition by c.article_id order by c.created_at, c.id) as n
         from comments c join articles a on a.id = c.article_id
         where a.slug in (?)
       ) ranked where n <= ?`,
      [[...articles.keys()], MAX_COMMENTS],
    );
    const comments = await this.em.find(
      Comment,
      { id: { $in: rows.map((r) => r.id) } },
      { populate: ['author'], orderBy: { createdAt: 'asc', id: 'asc' } },
    );
    const dtos = await this.toDtos(comments);
    const slugOf = new Map(rows.map((r) => [r.id, r.slug]));
    const bySlug = new Map([...articles.keys()].map((slug) => [slug, [] as CommentDto[]]));
    comments.forEach((c, i) => bySlug.get(slugOf.get(c.id)!)?.push(dtos[i]!));
    return bySlug;
  }

  async create(slug: string, body: string): Promise<CommentDto> {
    const author = this.user;
    const article = await this.articles().bySlug(slug);
    this.authorize('create', 'Comment', 'your role may not comment');
    const comment = await this.em.transactional(async (em) => {
      // A share lock is enough to keep the article from being deleted under the new comment.
      await lockArticle(em, article.id, LockMode.PESSIMISTIC_READ);
      return em.create(Comment, { body, article: article.id, author });
    });
    const [dto] = await this.toDtos([comment]);
    return dto!;
  }

  /** The comment's author deletes their own; an editor may delete any (audited). */
  async delete(slug: string, id: number): Promise<void> {
    const user = this.user;
    const article = await this.articles().bySlug(slug);
    const comment = await this.em.findOne(Comment, { id, article: article.id });
    if (!comment) throw new NotFoundError('comment');
    this.authorize(
      'delete',
      asComment({ authorId: comment.author.id }),
      'only the author or an editor can delete this comment',
    );
    await this.em.transactional(async (em) => {
      if (comment.author.id !== user.id) {
        this.audit(em, {
          action: 'comment.delete',
          targetType: 'comment',
          targetId: comment.id,
          before: { body: comment.body, authorId: comment.author.id, articleId: article.id },
        });
      }
      await em.nativeDelete(Comment, { id: comment.id });
    });
  }

  private async toDtos(comments: Comment[]): Promise<CommentDto[]> {
    const following = await followedAmong(
      this.em,
      this.actor.user?.id,
      comments.map((c) => c.author.id),
    );
    return comments.map((c) => ({
      id: c.id,
      createdAt: c.createdAt.toISOString(),
      updatedAt: c.updatedAt.toISOString(),
      body: c.body,
      author: toProfileDto(c.author, following.has(c.author.id)),
    }));
  }
}
