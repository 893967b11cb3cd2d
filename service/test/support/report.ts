/** Marks a report line for jest.reporter.js (which says the same). */
const REPORT_TAG = '[report] ';

/**
 * Shows a figure that a reader of the test run should see (a seed to reproduce the run, counts
 * of requests and statuses): jest's reporter prints it under the test file's result, instead of
 * as console output with a call site.
 */
export function report(line: string): void {
  console.info(`${REPORT_TAG}${line}`);
}
