import { LockMode } from '@mikro-orm/postgresql';
import { NotFoundError } from '../../errors.js';
import type { ReadCache } from '../../cache.js';
import type { ReadRouter } from '../../db/read-source.js';
import { flagOffsets, JsonText, withFlags } from '../../json-text.js';
import type { ArticleStatus } from '../articles/article.entity.js';
import { articleFacts, viewerFlags } from '../articles/articles.read-model.js';
import { COMMENT_EMAIL, jobRequest } from '../../jobs/contracts.js';
import { lockArticle, type ArticlesService } from '../articles/articles.service.js';
import { asArticle, asComment } from '../auth/abilities.js';
import { FeatureService, type ServiceFactory } from '../feature-service.js';
import { toProfileDto } from '../profiles/profiles.service.js';
import { Comment } from './comment.entity.js';
import { listComments, listCommentsOf } from './comments.read-model.js';
import type { CommentDto } from './comments.schemas.js';

/** The most comments one list call returns (oldest first). */
export const MAX_COMMENTS = 500;

export interface CommentsDeps {
  /** Comments live on articles the actor may read: the articles service decides which. */
  articles: ServiceFactory<ArticlesService>;
  /** Where plain reads run (the primary by default; replicas with issue 10). */
  readRouter: ReadRouter;
  /** The read cache (disabled: every read goes to the read model). */
  cache: ReadCache;
}

/**
 * A cached comment list: the article's visibility facts, the authors and where each author's
 * `following` stands in the JSON text that follows (absent in values cached by a release before
 * it: then found on read).
 */
interface CachedComments {
  authorId: number;
  status: ArticleStatus;
  authorIds: number[];
  flags?: number[];
}

const COMMENT_FLAGS = ['following'];

/** Comments on articles. */
export class CommentsService extends FeatureService<CommentsDeps> {
  private articles() {
    return this.deps.articles(this.em, this.actor);
  }

  async list(slug: string): Promise<JsonText<CommentDto[]>> {
    const viewer = this.actor.user;
    const source = await this.deps.readRouter({ em: this.em, userId: viewer?.id ?? null });
    const load = async (viewerId?: number) => {
      const facts = await articleFacts(source, slug);
      if (!facts) return { text: '', cacheable: false };
      const items = await listComments(source, facts.id, MAX_COMMENTS, viewerId);
      const json = JSON.stringify(items.map((c) => c.dto));
      const head: CachedComments = {
        authorId: facts.authorId,
        status: facts.status,
        authorIds: items.map((c) => c.authorId),
        flags: flagOffsets(json, COMMENT_FLAGS),
      };
      return { text: `${JSON.stringify(head)}\n${json}`, cacheable: facts.status === 'published' };
    };
    const { text, hit, direct } = await this.deps.cache.read(
      { read: 'comments', generations: [`comments:${slug}`, `article:${slug}`, 'users'], id: slug },
      source,
      async () => ({ value: undefined, ...(await load()) }),
      async () => (await load(viewer?.id)).text,
    );
    if (text === '') throw new NotFoundError('article');
    const cut = text.indexOf('\n');
    const head = JSON.parse(text.slice(0, cut)) as CachedComments;
    if (
      !this.actor.ability.can('read', asArticle({ authorId: head.authorId, status: head.status }))
    ) {
      throw new NotFoundError('article');
    }
    let json = text.slice(cut + 1);
    if (viewer && !direct && head.authorIds.length > 0) {
      const { following } = await viewerFlags(source, viewer.id, [], head.authorIds);
      if (following.size > 0) {
        const values = head.authorIds.map((id) => following.has(id));
        json = withFlags(json, head.flags ?? flagOffsets(json, COMMENT_FLAGS), values);
      }
    }
    return JsonText.trusted(json, hit ? 'hit' : 'miss');
  }

  /**
   * The comments of several articles at once (for batching entry points such as GraphQL's
   * loaders), oldest first, at most MAX_COMMENTS each, keyed by slug; articles the actor may not
   * read are absent. Two read-model statements for all, bypassing the cache.
   */
  async listMany(slugs: readonly string[]): Promise<Map<string, CommentDto[]>> {
    const viewer = this.actor.user;
    const articles = await this.articles().getMany(slugs);
    if (articles.size === 0) return new Map();
    const source = await this.deps.readRouter({ em: this.em, userId: viewer?.id ?? null });
    const ids = [...articles.values()].map((a) => a.id);
    const comments = await listCommentsOf(source, ids, MAX_COMMENTS, viewer?.id);
    return new Map(
      [...articles.values()].map((a) => [a.slug, (comments.get(a.id) ?? []).map((c) => c.dto)]),
    );
  }

  async create(slug: string, body: string): Promise<CommentDto> {
    const author = this.user;
    const article = await this.articles().bySlug(slug);
    this.authorize('create', 'Comment', 'your role may not comment');
    const write = () =>
      this.em.transactional(async (em) => {
        // A share lock is enough to keep the article from being deleted under the new comment.
        await lockArticle(em, article.id, LockMode.PESSIMISTIC_READ);
        const created = em.create(Comment, { body, article: article.id, author: author.id });
        // The author hears of comments by others, through an outbox row committed with the comment.
        if (article.author.id !== author.id) {
          await em.flush();
          await this.enqueue(em, jobRequest(COMMENT_EMAIL, { commentId: created.id }));
        }
        return created;
      });
    const comment = await this.deps.cache.write([`comments:${slug}`], write);
    // The new comment's author is the viewer, whom they cannot follow.
    return {
      id: comment.id,
      createdAt: comment.createdAt.toISOString(),
      updatedAt: comment.updatedAt.toISOString(),
      body: comment.body,
      author: toProfileDto(author, false),
    };
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
    const write = () =>
      this.em.transactional(async (em) => {
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
    await this.deps.cache.write([`comments:${slug}`], write);
  }
}
