// Cross-stack values are weak references, resolved at deploy time: a replaced Data resource must
// still change the App template, or `cdk deploy` skips the App and tasks keep stale endpoints.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { App } from 'aws-cdk-lib';
import type { CfnResource } from 'aws-cdk-lib';
import { cdkJsonContext } from '../lib/cdk-context.js';
import { loadConfig } from '../lib/config.js';
import { addPlinthStacks } from '../lib/plinth.js';
import type { PlinthStacks } from '../lib/plinth.js';
import { FIXTURE_IMAGE } from './support.js';

/** The dev App template, after `change` edits the Data stack (no cdk-nag: not under test here). */
function appTemplate(change: (stacks: PlinthStacks) => void = () => undefined): string {
  const app = new App({
    outdir: mkdtempSync(join(tmpdir(), 'plinth-dv-')),
    context: { ...cdkJsonContext(), env: 'dev' },
  });
  const config = loadConfig({ context: (key) => app.node.tryGetContext(key) });
  const stacks = addPlinthStacks(app, config, { imageDirectory: FIXTURE_IMAGE });
  change(stacks);
  const template = app.synth().getStackByName(stacks.app.stackName).template as object;
  return JSON.stringify(template);
}

describe('Data changes reach the App stack', () => {
  const unchanged = appTemplate();

  it('an unchanged Data stack leaves the App template byte for byte the same', () => {
    expect(appTemplate()).toBe(unchanged);
  });

  it('replacing the Redis group (a new endpoint) changes the App template: tasks redeploy', () => {
    // Port is a replacement property of AWS::ElastiCache::ReplicationGroup; the App reads the
    // endpoint through Fn::GetStackOutput, whose text does not change.
    const replaced = appTemplate((s) =>
      s.data.queueRedis.replicationGroup.addPropertyOverride('SnapshotArns', ['arn:aws:s3:::b/k']),
    );
    expect(replaced).not.toBe(unchanged);
    const label = (t: string) => /"plinth\.data-version":"([0-9a-f]+)"/.exec(t)?.[1];
    expect(label(replaced)).toBeDefined();
    expect(label(replaced)).not.toBe(label(unchanged));
  });

  it('replacing the database changes it too', () => {
    const replaced = appTemplate((s) =>
      (s.data.database.primary.node.defaultChild as CfnResource).addPropertyOverride(
        'DBSnapshotIdentifier',
        'restored',
      ),
    );
    expect(replaced).not.toBe(unchanged);
  });
});
