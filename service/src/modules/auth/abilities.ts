import {
  AbilityBuilder,
  ForbiddenError as CaslForbidden,
  createMongoAbility,
  subject,
  type MongoAbility,
} from '@casl/ability';
import { ForbiddenError, ServiceUnavailableError } from '../../errors.js';
import type { ArticleStatus } from '../articles/article.entity.js';
import type { Role } from '../users/user.entity.js';

type Actions = 'manage' | 'read' | 'create' | 'update' | 'delete' | 'favorite' | 'follow';

interface ArticleFacts {
  authorId: number;
  status: ArticleStatus;
}
interface CommentFacts {
  authorId: number;
}
interface AccountFacts {
  id: number;
}

type Subjects =
  | 'Article'
  | (ArticleFacts & { __caslSubjectType__: 'Article' })
  | 'Comment'
  | (CommentFacts & { __caslSubjectType__: 'Comment' })
  | 'User'
  | (AccountFacts & { __caslSubjectType__: 'User' })
  | 'Admin'
  | 'all';

export type AppAbility = MongoAbility<[Actions, Subjects]>;

/** What the environment says about every request right now. */
export interface Environment {
  /** Maintenance write freeze: writes are refused with 503 for everyone but admins. */
  writeFreeze: boolean;
}

const WRITE_FREEZE = 'write-freeze';
const WRITES: Actions[] = ['create', 'update', 'delete', 'favorite', 'follow'];

const RANK: Record<Role, number> = { viewer: 0, author: 1, editor: 2, admin: 3 };

/**
 * The one ability definition: every route and resolver asks it, nobody checks roles by hand.
 * Roles (weakest first): viewer reads, follows, favorites, comments; author also writes their own
 * articles; editor also edits/unpublishes any article and deletes any comment; admin manages all.
 * Attributes: ownership, article status (drafts only for their author and editors), environment
 * (write freeze).
 */
export function defineAbilityFor(
  user: { id: number; role: Role } | undefined,
  env: Environment,
): AppAbility {
  const { can, cannot, build } = new AbilityBuilder<AppAbility>(createMongoAbility);
  const rank = user ? RANK[user.role as Role] : -1;

  can('read', 'Article', { status: 'published' });
  can('read', 'Comment');
  can('read', 'User');
  if (!user) can('create', 'User'); // registration

  if (user && rank >= RANK.viewer) {
    can('read', 'Article', { authorId: user.id });
    can('favorite', 'Article', { status: 'published' });
    can('create', 'Comment');
    can('delete', 'Comment', { authorId: user.id });
    can('follow', 'User');
    can('update', 'User', { id: user.id });
  }
  if (user && rank >= RANK.author) {
    can('create', 'Article');
    can(['update', 'delete'], 'Article', { authorId: user.id });
  }
  if (user && rank >= RANK.editor) {
    can(['read', 'update'], 'Article');
    can('delete', 'Comment');
  }
  if (user && rank >= RANK.admin) can('manage', 'all');

  if (env.writeFreeze && rank < RANK.admin) {
    cannot(WRITES, 'all').because(WRITE_FREEZE);
  }
  return build();
}

export const asArticle = (facts: ArticleFacts) => subject('Article', { ...facts });
export const asComment = (facts: CommentFacts) => subject('Comment', { ...facts });
export const asAccount = (facts: AccountFacts) => subject('User', { ...facts });

/**
 * Throws unless the ability allows the action: 503 during a write freeze, otherwise 403 with a
 * message naming what was refused.
 */
export function authorize(
  ability: AppAbility,
  action: Actions,
  target: Subjects,
  message = `you may not ${action} this`,
): void {
  try {
    CaslForbidden.from(ability).throwUnlessCan(action, target);
  } catch (err) {
    if (err instanceof CaslForbidden && err.message === WRITE_FREEZE) {
      throw new ServiceUnavailableError('service', 'is in maintenance: writes are paused', 60);
    }
    if (err instanceof CaslForbidden) throw new ForbiddenError(message);
    throw err;
  }
}
