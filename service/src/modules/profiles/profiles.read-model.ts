import type { ReadSource } from '../../db/read-source.js';
import type { ProfileDto } from './profiles.schemas.js';

/** The profiles' read model (docs/read-path.md): one statement per profile. */

const PROFILE_SQL = 'select id, username, bio, image from users where username = ?';
const PROFILE_VIEWER_SQL =
  'select id, username, bio, image, exists(select 1 from follows where follower_id = ? and followee_id = users.id) as following from users where username = ?';

/** A profile and its user id, or undefined; `following` is the viewer's (else false). */
export async function profileByUsername(
  source: ReadSource,
  username: string,
  viewerId?: number,
): Promise<{ id: number; dto: ProfileDto } | undefined> {
  const rows = await source.all<{
    id: number;
    username: string;
    bio: string;
    image: string;
    following?: boolean;
  }>(
    viewerId === undefined ? PROFILE_SQL : PROFILE_VIEWER_SQL,
    viewerId === undefined ? [username] : [viewerId, username],
  );
  const r = rows[0];
  if (!r) return undefined;
  return {
    id: r.id,
    dto: { username: r.username, bio: r.bio, image: r.image, following: r.following === true },
  };
}
