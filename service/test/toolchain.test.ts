import { describe, expect, it } from '@jest/globals';

describe('module setup', () => {
  it('loads every library the project builds on from ESM', async () => {
    const mods = await Promise.all([
      import('@mikro-orm/postgresql'),
      import('bull'),
      import('koa'),
      import('aws-cdk-lib'),
      import('aws-cdk-lib/assertions'),
      import('openid-client'),
      import('newman'),
    ]);
    const [orm, bull, koa, cdk, assertions, oidc, newman] = mods;
    expect(typeof orm.MikroORM).toBe('function');
    expect(typeof bull.default).toBe('function');
    expect(typeof koa.default).toBe('function');
    expect(typeof cdk.App).toBe('function');
    expect(typeof assertions.Template.fromStack).toBe('function');
    expect(typeof oidc.discovery).toBe('function');
    expect(typeof newman.run).toBe('function');
  });
});
