import { defineEntity, p } from '@mikro-orm/core';

export const UserSchema = defineEntity({
  name: 'User',
  tableName: 'users',
  properties: {
    id: p.integer().primary(),
    /** Stored lower-cased; uniqueness is enforced by the database. */
    email: p.string().length(254).unique('users_email_unique'),
    username: p.string().length(64).unique('users_username_unique'),
    passwordHash: p.string().length(255).hidden().lazy(),
    bio: p.text().default(''),
    image: p.string().length(2048).default(''),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
