/** Scenario "browse": anonymous browsing only (the read path and its cache). */
import { createSuite } from '../lib/suite.ts';

const suite = createSuite('browse', { browse: 1, reader: 0, writer: 0, graphql: 0 });
export const options = suite.options;
export const setup = suite.setup;
export const handleSummary = suite.handleSummary;
export const browse = suite.browse;
export const reader = suite.reader;
export const writer = suite.writer;
export const graphql = suite.graphql;
export default suite.run;
