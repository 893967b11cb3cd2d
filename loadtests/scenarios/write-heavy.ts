/** Scenario "write-heavy": mostly writing articles, edits and comments (the primary database and the write path). */
import { createSuite } from '../lib/suite.ts';

const suite = createSuite('write-heavy', { browse: 20, reader: 20, writer: 60, graphql: 0 });
export const options = suite.options;
export const setup = suite.setup;
export const handleSummary = suite.handleSummary;
export const browse = suite.browse;
export const reader = suite.reader;
export const writer = suite.writer;
export const graphql = suite.graphql;
export default suite.run;
