// The queue Redis as Bull needs it: its blocking and subscriber connections retry forever and skip
// the ready check, and the start-up check reads maxmemory-policy where CONFIG is allowed and
// warns where it is not. A private Redis: the test changes its policy and its ACL users.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { loadConfig } from '../../service/src/config.js';
import { EMAIL_QUEUE } from '../../service/src/jobs/contracts.js';
import { checkNoEviction, createQueue } from '../../service/src/jobs/queue.js';
import { testEnv } from '../../service/test/support/env.js';
import { startPrivateStore, type PrivateStore } from '../../service/test/support/stores.js';
import { silentLogger } from './support/queues.js';

let redis: PrivateStore;
let admin: Redis;

beforeAll(async () => {
  redis = await startPrivateStore('redis');
  admin = new Redis(redis.url);
}, 60_000);

afterAll(async () => {
  admin?.disconnect();
  await redis?.remove();
});

describe('queue Redis', () => {
  it("when a queue connects, then its blocking and subscriber connections follow Bull's rules and its command connection keeps failing fast", async () => {
    const config = loadConfig(
      testEnv('postgres://postgres@127.0.0.1:5432/unused', { REDIS_URL: redis.url }),
    );
    const queue = createQueue(EMAIL_QUEUE, config, silentLogger());
    try {
      await queue.isReady();
      // Bull's subscriber (`eclient`) and blocking (`bclient`) connections; not in its typings.
      const { eclient, bclient } = queue as unknown as { eclient: Redis; bclient: Redis };
      for (const client of [eclient, bclient]) {
        expect(client.options).toMatchObject({
          maxRetriesPerRequest: null,
          enableReadyCheck: false,
        });
      }
      expect(queue.client.options.maxRetriesPerRequest).not.toBeNull();
    } finally {
      await queue.close();
    }
  });

  it('when the policy is noeviction, then the check is silent; an evicting policy is an error naming it', async () => {
    expect(await checkNoEviction(admin)).toBeUndefined();
    await admin.config('SET', 'maxmemory-policy', 'allkeys-lru');
    try {
      expect(await checkNoEviction(admin)).toEqual({
        level: 'error',
        policy: 'allkeys-lru',
        message: expect.stringMatching(
          /maxmemory-policy allkeys-lru.*set maxmemory-policy noeviction/,
        ),
      });
    } finally {
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
    }
  });

  it('when CONFIG is not allowed (as on ElastiCache), then the check warns instead of guessing', async () => {
    await admin.call(
      'ACL',
      'SETUSER',
      'app',
      'on',
      '>app-password',
      '~*',
      '&*',
      '+@all',
      '-config',
    );
    const limited = new Redis(redis.url, { username: 'app', password: 'app-password' });
    try {
      expect(await checkNoEviction(limited)).toEqual({
        level: 'warn',
        message: expect.stringMatching(/cannot read the queue Redis maxmemory-policy.*noeviction/),
      });
    } finally {
      limited.disconnect();
    }
  });
});
