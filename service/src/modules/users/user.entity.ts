import { defineEntity, p } from '@mikro-orm/core';

/** Roles, weakest first; see service/src/modules/auth/abilities.ts for what each may do. */
export const ROLES = ['viewer', 'author', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

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
    role: p.enum(ROLES).default('author'),
    /** Set while the account is suspended: no login, and existing sessions/tokens stop working. */
    suspendedAt: p.datetime().nullable(),
    /** Tokens issued before this instant are rejected ("log out everywhere", suspension). */
    tokensValidAfter: p.datetime().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p
      .datetime()
      .onCreate(() => new Date())
      .onUpdate(() => new Date()),
  },
});

export class User extends UserSchema.class {}
UserSchema.setClass(User);
