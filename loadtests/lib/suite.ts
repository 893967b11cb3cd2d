/**
 * Everything a scenario script exports, made from its name and its default journey mix; the
 * script exports each member under the same name (`run` as the default export), one plain
 * `export const` each, which every k6 module loader understands.
 *
 * k6 calls each journey by name (`exec` of the journey's scenario), so every script exports all
 * of them; `run` picks one by weight for k6's `--vus/--duration/--iterations` shortcuts, which
 * replace the scenarios with a single one that calls the default function.
 */
import type { Options } from 'k6/options';
import type { JourneyName } from './catalog.ts';
import { createJourneys, type Journey, type SetupData } from './journeys.ts';
import { pickJourney, type Weights } from './mix.ts';
import { buildOptions } from './profiles.ts';
import { loadSettings } from './settings.ts';
import { createSetup } from './setup.ts';
import { summaryOutputs, type SummaryData } from './summary.ts';

export type Suite = Record<JourneyName, Journey> & {
  options: Options;
  setup: () => SetupData;
  run: Journey;
  handleSummary: (data: SummaryData) => Record<string, string>;
};

export function createSuite(scenario: string, defaultWeights: Weights): Suite {
  const settings = loadSettings(__ENV, scenario, defaultWeights);
  const journeys = createJourneys(settings);
  return {
    ...journeys,
    options: buildOptions(settings),
    setup: createSetup(settings),
    run: (data) => journeys[pickJourney(settings.weights, Math.random())](data),
    handleSummary: (data) => summaryOutputs(data, settings),
  };
}
