/** The weighted journey mix: parsing `WEIGHTS`, sharing a rate out, picking a journey. Pure. */
import { JOURNEY_NAMES, type JourneyName } from './catalog.ts';

/** Relative weight of each journey; 0 leaves it out. */
export type Weights = Record<JourneyName, number>;

/**
 * Applies a `WEIGHTS` override such as `browse:60,writer:5` to a scenario's default mix. Journeys
 * the override does not name keep their default weight; `name:0` switches one off.
 */
export function parseWeights(spec: string, defaults: Weights): Weights {
  const weights = { ...defaults };
  for (const part of spec.split(',')) {
    const item = part.trim();
    if (!item) continue;
    const [name, value, ...rest] = item.split(':').map((s) => s.trim());
    if (!isJourney(name)) {
      throw new Error(
        `WEIGHTS: unknown journey "${name}" in "${spec}"; known: ${JOURNEY_NAMES.join(', ')}`,
      );
    }
    const weight = Number(value);
    if (rest.length > 0 || value === '' || !Number.isFinite(weight) || weight < 0) {
      throw new Error(`WEIGHTS: "${item}" is not <journey>:<weight> with a weight >= 0`);
    }
    weights[name] = weight;
  }
  return weights;
}

function isJourney(name: string | undefined): name is JourneyName {
  return (JOURNEY_NAMES as readonly (string | undefined)[]).includes(name);
}

/** Journeys with a weight above 0, in catalog order, with their share of the whole mix. */
export function activeJourneys(weights: Weights): { name: JourneyName; share: number }[] {
  const total = JOURNEY_NAMES.reduce((sum, name) => sum + weights[name], 0);
  if (total <= 0) return [];
  return JOURNEY_NAMES.filter((name) => weights[name] > 0).map((name) => ({
    name,
    share: weights[name] / total,
  }));
}

/**
 * The journey a draw `r` in [0, 1) selects, each journey taking a slice of [0, 1) as wide as its
 * share. Used by the script's default function (k6's `--vus`/`--duration`/`--iterations`
 * shortcuts replace the per-journey scenarios with one that runs `default`).
 */
export function pickJourney(weights: Weights, r: number): JourneyName {
  const journeys = activeJourneys(weights);
  if (journeys.length === 0) throw new Error('the journey mix is empty: every weight is 0');
  let upper = 0;
  for (const journey of journeys) {
    upper += journey.share;
    if (r < upper) return journey.name;
  }
  // Floating-point sums can end a hair below 1.
  return journeys[journeys.length - 1]!.name;
}
