import type { EntityManager } from '@mikro-orm/postgresql';
import type { Maintenance } from '../admin/maintenance.js';
import type { Role } from '../users/user.entity.js';
import { defineAbilityFor, type AppAbility } from './abilities.js';

/**
 * The authenticated user as every request has it: one small row read on the primary per request
 * (http/auth.ts), mapped by hand, no entity hydration. Operations that change the account load
 * its entity into their unit of work (`FeatureService.account()`).
 */
export interface AuthUser {
  readonly id: number;
  readonly email: string;
  readonly username: string;
  readonly bio: string;
  readonly image: string;
  readonly role: Role;
}

/**
 * Who is acting: the user (if any), what they may do right now, and the request id the audit log
 * records. Every feature service is built with one, whatever the entry point (REST route, GraphQL
 * resolver, job): authorization is never optional.
 */
export interface Actor {
  readonly user: AuthUser | undefined;
  readonly ability: AppAbility;
  readonly requestId?: string;
}

/**
 * The actor for `user` (undefined: anonymous) under the environment in force now: the write
 * freeze is read through `maintenance` (cached briefly per process).
 */
export async function actorFor(
  em: EntityManager,
  maintenance: Maintenance,
  user: AuthUser | undefined,
  requestId?: string,
): Promise<Actor> {
  const writeFreeze = await maintenance.writeFreeze(em);
  return { user, ability: abilityFor(user, writeFreeze), requestId };
}

/**
 * Abilities depend only on the user's id and role and on the write freeze, so one built ability
 * serves every request with the same three (they are never changed after building). Bounded:
 * cleared when it holds ABILITY_CACHE_SIZE of them.
 */
const ABILITY_CACHE_SIZE = 10_000;
const abilities = new Map<string, AppAbility>();

function abilityFor(user: AuthUser | undefined, writeFreeze: boolean): AppAbility {
  const key = user ? `${user.id}:${user.role}:${writeFreeze}` : `-:${writeFreeze}`;
  let ability = abilities.get(key);
  if (!ability) {
    if (abilities.size >= ABILITY_CACHE_SIZE) abilities.clear();
    ability = defineAbilityFor(user, { writeFreeze });
    abilities.set(key, ability);
  }
  return ability;
}
