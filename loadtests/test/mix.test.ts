import { describe, expect, it } from '@jest/globals';
import { activeJourneys, parseWeights, pickJourney, type Weights } from '../lib/mix.ts';

const MIXED: Weights = { browse: 50, reader: 25, writer: 10, graphql: 15 };

describe('parseWeights', () => {
  it('overrides only the journeys it names, and :0 switches one off', () => {
    expect(parseWeights(' writer:30 , graphql:0 ', MIXED)).toEqual({
      browse: 50,
      reader: 25,
      writer: 30,
      graphql: 0,
    });
  });

  it('an empty override keeps the defaults', () => {
    expect(parseWeights('', MIXED)).toEqual(MIXED);
  });

  it.each(['browse', 'browse:', 'browse:-1', 'browse:1:2', 'browse:x'])('refuses "%s"', (spec) =>
    expect(() => parseWeights(spec, MIXED)).toThrow('is not <journey>:<weight>'),
  );
});

describe('activeJourneys', () => {
  it('lists journeys above 0 with shares that add up to 1', () => {
    const journeys = activeJourneys({ ...MIXED, writer: 0 });
    expect(journeys.map((j) => j.name)).toEqual(['browse', 'reader', 'graphql']);
    expect(journeys.reduce((sum, j) => sum + j.share, 0)).toBeCloseTo(1, 12);
    expect(journeys[0]!.share).toBeCloseTo(50 / 90, 12);
  });

  it('is empty when every weight is 0', () => {
    expect(activeJourneys({ browse: 0, reader: 0, writer: 0, graphql: 0 })).toEqual([]);
  });
});

describe('pickJourney', () => {
  it('over evenly spread draws, picks each journey in proportion to its weight', () => {
    const counts: Record<string, number> = {};
    const draws = 10_000;
    for (let i = 0; i < draws; i += 1) {
      const journey = pickJourney(MIXED, i / draws);
      counts[journey] = (counts[journey] ?? 0) + 1;
    }
    expect(counts).toEqual({ browse: 5000, reader: 2500, writer: 1000, graphql: 1500 });
  });

  it('never picks a journey with weight 0, even at the edges of [0, 1)', () => {
    const weights = { browse: 0, reader: 1, writer: 0, graphql: 0 };
    for (const r of [0, 0.5, 1 - Number.EPSILON]) expect(pickJourney(weights, r)).toBe('reader');
    expect(pickJourney({ ...MIXED, graphql: 0 }, 1 - Number.EPSILON)).toBe('writer');
  });

  it('refuses an empty mix', () => {
    expect(() => pickJourney({ browse: 0, reader: 0, writer: 0, graphql: 0 }, 0.3)).toThrow(
      'the journey mix is empty',
    );
  });
});
