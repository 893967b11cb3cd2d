import type { EntityManager } from '@mikro-orm/postgresql';
import { ForbiddenError, NotFoundError } from '../../errors.js';
import { ArticlesService } from '../articles/articles.service.js';
import { followedAmong, toProfileDto } from '../profiles/profiles.service.js';
import type { User } from '../users/user.entity.js';
import { Comment } from './comment.entity.js';
import type { CommentDto } from './comments.schemas.js';

/** The most comments one list call returns (oldest first). */
export const MAX_COMMENTS = 500;

/** Comments on articles. */
export class CommentsService {
  constructor(private readonly em: EntityManager) {}

  private articles() {
    return new ArticlesService(this.em);
  }

  async list(viewer: User | undefined, slug: string): Promise<CommentDto[]> {
    const article = await this.articles().bySlug(slug);
    const comments = await this.em.find(
      Comment,
      { article: article.id },
      { populate: ['author'], orderBy: { createdAt: 'asc', id: 'asc' }, limit: MAX_COMMENTS },
    );
    return this.toDtos(viewer, comments);
  }

  async create(author: User, slug: string, body: string): Promise<CommentDto> {
    const article = await this.articles().bySlug(slug);
    const comment = this.em.create(Comment, { body, article: article.id, author });
    await this.em.flush();
    const [dto] = await this.toDtos(author, [comment]);
    return dto!;
  }

  async delete(user: User, slug: string, id: number): Promise<void> {
    const article = await this.articles().bySlug(slug);
    const comment = await this.em.findOne(Comment, { id, article: article.id });
    if (!comment) throw new NotFoundError('comment');
    if (comment.author.id !== user.id) {
      throw new ForbiddenError('only the author can delete this comment', 'comment');
    }
    await this.em.nativeDelete(Comment, { id: comment.id });
  }

  private async toDtos(viewer: User | undefined, comments: Comment[]): Promise<CommentDto[]> {
    const following = await followedAmong(
      this.em,
      viewer?.id,
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
