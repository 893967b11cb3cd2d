import { LockMode } from '@mikro-orm/postgresql';
import { NotFoundError } from '../../errors.js';
import { COMMENT_EMAIL, jobRequest } from '../../jobs/contracts.js';
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

  async create(slug: string, body: string): Promise<CommentDto> {
    const author = this.user;
    const article = await this.articles().bySlug(slug);
    this.authorize('create', 'Comment', 'your role may not comment');
    const comment = await this.em.transactional(async (em) => {
      // A share lock is enough to keep the article from being deleted under the new comment.
      await lockArticle(em, article.id, LockMode.PESSIMISTIC_READ);
      const created = em.create(Comment, { body, article: article.id, author });
      // The author hears of comments by others, through an outbox row committed with the comment.
      if (article.author.id !== author.id) {
        await em.flush();
        this.enqueue(em, jobRequest(COMMENT_EMAIL, { commentId: created.id }));
      }
      return created;
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
