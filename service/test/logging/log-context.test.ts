import { describe, expect, it } from '@jest/globals';
import { withLogContext } from '../../src/logger.js';
import { memoryLogger } from '../support/logs.js';

describe('log context (a job’s request id on its lines)', () => {
  it('when a line inside a log context carries fields of its own, then the context’s later lines do not', () => {
    const { logger, logs } = memoryLogger();
    withLogContext({ requestId: 'req-1', job: 'welcome-email' }, () => {
      logger.info({ attempt: 2 }, 'first');
      logger.info('second');
    });
    logger.info('outside');
    expect(logs[0]).toMatchObject({ requestId: 'req-1', job: 'welcome-email', attempt: 2 });
    expect(logs[1]).toMatchObject({ requestId: 'req-1', job: 'welcome-email', msg: 'second' });
    expect(logs[1]).not.toHaveProperty('attempt');
    expect(logs[2]).not.toHaveProperty('requestId');
  });
});
