import { defineEntity, p } from '@mikro-orm/core';
import { User } from '../users/user.entity.js';

/** `follower` follows `followee`. The composite primary key makes following idempotent. */
export const FollowSchema = defineEntity({
  name: 'Follow',
  tableName: 'follows',
  properties: {
    follower: () =>
      p
        .manyToOne(User)
        .primary()
        .deleteRule('cascade')
        .foreignKeyName('follows_follower_id_foreign'),
    followee: () =>
      p
        .manyToOne(User)
        .primary()
        .deleteRule('cascade')
        .index('follows_followee_idx')
        .foreignKeyName('follows_followee_id_foreign'),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
  indexes: [
    // An author's followers in id order: the notification fan-out's keyset pages.
    { name: 'follows_followee_follower_idx', properties: ['followee', 'follower'] },
  ],
});

export class Follow extends FollowSchema.class {}
FollowSchema.setClass(Follow);
