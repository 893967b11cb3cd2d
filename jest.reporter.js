// Jest's own reporter (the default one, or the verbose one when jest picks it), except that the
// lines a test reports through `report()` (service/test/support/report.ts) are printed under the
// test file's result as plain lines, not as console output with a call site. Any other console
// output is printed as before, and a verbose run (one test file) prints everything as it comes.
import { DefaultReporter, VerboseReporter } from '@jest/reporters';

/** What `report()` puts before each line (service/test/support/report.ts says the same). */
export const REPORT_TAG = '[report] ';

const isReport = (entry) => entry.type === 'info' && entry.message.startsWith(REPORT_TAG);

const withReports = (Base) =>
  class extends Base {
    printTestFileHeader(testPath, config, result) {
      // A verbose run prints console output as it happens, report lines included.
      const verbose = config.verbose ?? this._globalConfig.verbose;
      const reported = verbose ? [] : (result.console ?? []).filter(isReport);
      if (reported.length === 0) return super.printTestFileHeader(testPath, config, result);
      const rest = result.console.filter((entry) => !isReport(entry));
      super.printTestFileHeader(testPath, config, {
        ...result,
        console: rest.length > 0 ? rest : undefined,
      });
      for (const entry of reported) {
        this.log(entry.message.slice(REPORT_TAG.length).replace(/^/gm, '    '));
      }
    }
  };

const Quiet = withReports(DefaultReporter);
const Verbose = withReports(VerboseReporter);

/** Used in place of jest's `default` reporter (jest.config.js). */
export default class Reporter {
  constructor(globalConfig) {
    // jest runs a single test file verbosely; keep that choice.
    return globalConfig.verbose ? new Verbose(globalConfig) : new Quiet(globalConfig);
  }
}
