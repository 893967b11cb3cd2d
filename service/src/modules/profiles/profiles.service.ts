import { NotFoundError, ValidationError } from '../../errors.js';
import type { ReadCache } from '../../cache.js';
import type { ReadRouter } from '../../db/read-source.js';
import { flagOffsets, JsonText, withFlags } from '../../json-text.js';
import { viewerFlags } from '../articles/articles.read-model.js';
import { FeatureService } from '../feature-service.js';
import { User } from '../users/user.entity.js';
import { Follow } from './follow.entity.js';
import { profileByUsername } from './profiles.read-model.js';
import type { ProfileDto } from './profiles.schemas.js';

export function toProfileDto(
  user: Pick<User, 'username' | 'bio' | 'image'>,
  following: boolean,
): ProfileDto {
  return { username: user.username, bio: user.bio, image: user.image, following };
}

/** Collaborators of the profiles service. */
export interface ProfilesDeps {
  /** Where plain reads run (the primary by default; replicas with issue 10). */
  readRouter: ReadRouter;
  /** The read cache (disabled: every read goes to the read model). */
  cache: ReadCache;
}

/** Profiles and the follow graph. */
export class ProfilesService extends FeatureService<ProfilesDeps> {
  private async byUsername(username: string): Promise<User> {
    const user = await this.em.findOne(User, { username });
    if (!user) throw new NotFoundError('profile');
    return user;
  }

  /**
   * A profile: the shared part from the cache (`following` false, the user id before it), the
   * viewer's `following` from one indexed statement.
   */
  async get(username: string): Promise<JsonText<ProfileDto>> {
    const viewer = this.actor.user;
    const source = await this.deps.readRouter({ em: this.em, userId: viewer?.id ?? null });
    const load = async (viewerId?: number) => {
      const found = await profileByUsername(source, username, viewerId);
      return found ? `${found.id}\n${JSON.stringify(found.dto)}` : '';
    };
    const { text, hit, direct } = await this.deps.cache.read(
      { read: 'profile', generations: ['users'], id: username },
      source,
      async () => {
        const value = await load();
        return { value, text: value, cacheable: value !== '' };
      },
      () => load(viewer?.id),
    );
    if (text === '') throw new NotFoundError('profile');
    const cut = text.indexOf('\n');
    const id = Number(text.slice(0, cut));
    let json = text.slice(cut + 1);
    if (viewer && !direct) {
      const { following } = await viewerFlags(source, viewer.id, [], [id]);
      if (following.size > 0) json = withFlags(json, flagOffsets(json, ['following']), [true]);
    }
    return JsonText.trusted(json, hit ? 'hit' : 'miss');
  }

  async follow(username: string): Promise<ProfileDto> {
    const viewer = this.user;
    this.authorize('follow', 'User');
    const user = await this.byUsername(username);
    if (user.id === viewer.id) throw new ValidationError({ profile: ['cannot follow yourself'] });
    await this.em
      .createQueryBuilder(Follow)
      .insert({ follower: viewer.id, followee: user.id, createdAt: new Date() })
      .onConflict(['follower', 'followee'])
      .ignore()
      .execute();
    return toProfileDto(user, true);
  }

  async unfollow(username: string): Promise<ProfileDto> {
    const viewer = this.user;
    this.authorize('follow', 'User');
    const user = await this.byUsername(username);
    await this.em.nativeDelete(Follow, { follower: viewer.id, followee: user.id });
    return toProfileDto(user, false);
  }
}
