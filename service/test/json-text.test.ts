import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { flagOffsets, withFlags } from '../src/json-text.js';

// Strings that try to look like the flags a splice looks for, among any text at all.
const tricky = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.constantFrom(
    '"favorited":false',
    '","following":false,"x":"',
    '\\"following\\":true',
    'false',
    '"}]',
    '\u2028\u2029',
    '</script>',
  ),
);

const profile = fc.record({
  username: tricky,
  bio: tricky,
  image: tricky,
  following: fc.constant(false),
});

// The list item's shape and key order (articles.read-model.ts toItem).
const listItem = fc.record({
  slug: tricky,
  title: tricky,
  description: tricky,
  status: fc.constantFrom('published', 'draft'),
  tagList: fc.array(tricky, { maxLength: 4 }),
  createdAt: tricky,
  updatedAt: tricky,
  favorited: fc.constant(false),
  favoritesCount: fc.nat(),
  author: profile,
});

const article = listItem.chain((item) =>
  fc.record({ body: tricky, bodyHtml: tricky }).map((rest) => ({ ...item, ...rest })),
);

const comment = fc.record({
  id: fc.nat(),
  createdAt: tricky,
  updatedAt: tricky,
  body: tricky,
  author: profile,
});

type Profile = { following: boolean };
type Item = { favorited: boolean; author: Profile };

describe('a viewer’s flags spliced into cached JSON', () => {
  it('when a list page’s favorited/following are set by splicing, then the bytes are JSON.stringify of the page with them set', () => {
    fc.assert(
      fc.property(
        fc.array(listItem, { maxLength: 12 }).chain((items) =>
          fc.tuple(
            fc.constant(items),
            fc.array(fc.boolean(), {
              minLength: items.length * 2,
              maxLength: items.length * 2,
            }),
          ),
        ),
        ([items, flags]) => {
          const shared = JSON.stringify(items);
          const spliced = withFlags(shared, flagOffsets(shared, ['favorited', 'following']), flags);
          const expected = items.map((item: Item, i) => ({
            ...item,
            favorited: flags[2 * i]!,
            author: { ...item.author, following: flags[2 * i + 1]! },
          }));
          expect(spliced).toBe(JSON.stringify(expected));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('when a single article’s flags are spliced, then the bytes are JSON.stringify of it with them set', () => {
    fc.assert(
      fc.property(article, fc.boolean(), fc.boolean(), (a, favorited, following) => {
        const shared = JSON.stringify(a);
        const offsets = flagOffsets(shared, ['favorited', 'following']);
        expect(offsets).toHaveLength(2);
        expect(withFlags(shared, offsets, [favorited, following])).toBe(
          JSON.stringify({ ...a, favorited, author: { ...a.author, following } }),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('when comments’ and a profile’s following are spliced, then the bytes are JSON.stringify with them set', () => {
    fc.assert(
      fc.property(
        fc.array(comment, { maxLength: 10 }),
        fc.array(fc.boolean(), { minLength: 10, maxLength: 10 }),
        profile,
        fc.boolean(),
        (comments, flags, p, following) => {
          const shared = JSON.stringify(comments);
          const offsets = flagOffsets(shared, ['following']);
          expect(withFlags(shared, offsets, flags.slice(0, comments.length))).toBe(
            JSON.stringify(
              comments.map((c, i) => ({ ...c, author: { ...c.author, following: flags[i]! } })),
            ),
          );
          const one = JSON.stringify(p);
          expect(withFlags(one, flagOffsets(one, ['following']), [following])).toBe(
            JSON.stringify({ ...p, following }),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('when flags are set back to false on a spliced text, then the shared text returns', () => {
    fc.assert(
      fc.property(fc.array(listItem, { maxLength: 6 }), (items) => {
        const shared = JSON.stringify(items);
        const offsets = flagOffsets(shared, ['favorited', 'following']);
        const all = withFlags(
          shared,
          offsets,
          offsets.map(() => true),
        );
        // Offsets are those of the shared text; the flipped text has its own.
        const back = withFlags(
          all,
          flagOffsets(all, ['favorited', 'following']),
          offsets.map(() => false),
        );
        expect(back).toBe(shared);
      }),
      { numRuns: 200 },
    );
  });
});
