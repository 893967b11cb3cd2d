/** Scenario "graphql": GraphQL clients only. */
import { createSuite } from '../lib/suite.ts';

const suite = createSuite('graphql', { browse: 0, reader: 0, writer: 0, graphql: 1 });
export const options = suite.options;
export const setup = suite.setup;
export const handleSummary = suite.handleSummary;
export const browse = suite.browse;
export const reader = suite.reader;
export const writer = suite.writer;
export const graphql = suite.graphql;
export default suite.run;
