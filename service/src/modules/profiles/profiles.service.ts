import type { EntityManager } from '@mikro-orm/postgresql';
import { NotFoundError, ValidationError } from '../../errors.js';
import { FeatureService } from '../feature-service.js';
import { User } from '../users/user.entity.js';
import { Follow } from './follow.entity.js';
import type { ProfileDto } from './profiles.schemas.js';

export function toProfileDto(
  user: Pick<User, 'username' | 'bio' | 'image'>,
  following: boolean,
): ProfileDto {
  return { username: user.username, bio: user.bio, image: user.image, following };
}

/** Which of `followeeIds` the viewer follows (one indexed query; empty for anonymous viewers). */
export async function followedAmong(
  em: EntityManager,
  viewerId: number | undefined,
  followeeIds: number[],
): Promise<Set<number>> {
  if (viewerId === undefined || followeeIds.length === 0) return new Set();
  const rows = await em.find(
    Follow,
    { follower: viewerId, followee: { $in: [...new Set(followeeIds)] } },
    { fields: ['followee'] },
  );
  return new Set(rows.map((f) => f.followee.id));
}

/** Collaborators of the profiles service: none yet. */
export type ProfilesDeps = Record<string, never>;

/** Profiles and the follow graph. */
export class ProfilesService extends FeatureService<ProfilesDeps> {
  private async byUsername(username: string): Promise<User> {
    const user = await this.em.findOne(User, { username });
    if (!user) throw new NotFoundError('profile');
    return user;
  }

  async get(username: string): Promise<ProfileDto> {
    const user = await this.byUsername(username);
    const following = await followedAmong(this.em, this.actor.user?.id, [user.id]);
    return toProfileDto(user, following.has(user.id));
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
