/** Scenario "mixed": the production-like mix (mostly anonymous browsing, some signed-in reading, a little writing, GraphQL clients). */
import { createSuite } from '../lib/suite.ts';

const suite = createSuite('mixed', { browse: 50, reader: 25, writer: 10, graphql: 15 });
export const options = suite.options;
export const setup = suite.setup;
export const handleSummary = suite.handleSummary;
export const browse = suite.browse;
export const reader = suite.reader;
export const writer = suite.writer;
export const graphql = suite.graphql;
export default suite.run;
