import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  articleEdit,
  commentBody,
  newArticle,
  runId,
  runPassword,
  TAG_POOL,
  userCredentials,
  type Random,
} from '../lib/data.ts';
import {
  NewArticleRequest,
  UpdateArticleRequest,
} from '../../service/src/modules/articles/articles.schemas.js';
import { NewCommentRequest } from '../../service/src/modules/comments/comments.schemas.js';
import { NewUserRequest } from '../../service/src/modules/users/users.schemas.js';

/** Any sequence of draws in [0, 1), as Math.random could return. */
const randoms = fc
  .infiniteStream(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }))
  .map(
    (stream): Random =>
      () =>
        stream.next().value as number,
  );

// The generated data is checked against the API's own request schemas, so it cannot drift from
// the limits the API enforces.
describe('generated data is what the API accepts', () => {
  it('new articles: within every limit, tags unique and from the pool plus the run tag', () => {
    fc.assert(
      fc.property(randoms, (random) => {
        const article = newArticle(random, 'lt-run1');
        expect(NewArticleRequest.safeParse({ article }).error).toBeUndefined();
        expect(new Set(article.tagList).size).toBe(article.tagList.length);
        expect(article.tagList).toContain('lt-run1');
        for (const tag of article.tagList) {
          expect([...TAG_POOL, 'lt-run1']).toContain(tag);
        }
      }),
    );
  });

  it('edits change at least one field; comments are never blank', () => {
    fc.assert(
      fc.property(randoms, (random) => {
        const edit = articleEdit(random);
        expect(Object.keys(edit).length).toBeGreaterThan(0);
        expect(UpdateArticleRequest.safeParse({ article: edit }).error).toBeUndefined();
        expect(
          NewCommentRequest.safeParse({ comment: { body: commentBody(random) } }).error,
        ).toBeUndefined();
      }),
    );
  });

  it('users: valid and distinct within a run, distinct across runs', () => {
    fc.assert(
      fc.property(randoms, fc.integer({ min: 0, max: 10_000_000_000_000 }), (random, now) => {
        const run = runId(random, now);
        const password = runPassword(random);
        expect(password).toMatch(/^[a-z0-9]{24}$/);
        const users = [0, 1, 2].map((i) => userCredentials(run, i, password));
        for (const user of users) {
          expect(NewUserRequest.safeParse({ user }).error).toBeUndefined();
        }
        expect(new Set(users.map((u) => u.username)).size).toBe(3);
        expect(new Set(users.map((u) => u.email)).size).toBe(3);
      }),
    );
    expect(runId(() => 0.5, 1_000)).not.toBe(runId(() => 0.5, 1_001));
    expect(runId(() => 0.1, 1_000)).not.toBe(runId(() => 0.2, 1_000));
  });
});
