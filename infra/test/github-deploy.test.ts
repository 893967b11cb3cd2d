// The role GitHub Actions deploys with (`-c githubOidc=true`): who may assume it, and what it may do.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { Template } from 'aws-cdk-lib/assertions';
import { GITHUB_DEPLOY_ROLE_NAME } from '../lib/stacks/github-deploy-stack.js';
import { synthesizeGitHubDeploy } from '../lib/synthesize.js';
import { onlyResource, openFindings } from './support.js';
import type { ValidationReport } from './support.js';

function synth(context: Record<string, string> = {}) {
  const outdir = mkdtempSync(join(tmpdir(), 'plinth-github-'));
  const { stack, assembly, config } = synthesizeGitHubDeploy({ outdir, context });
  return {
    config,
    template: Template.fromJSON(assembly.getStackByName(stack.stackName).template),
    report: JSON.parse(
      readFileSync(join(outdir, 'validation-report.json'), 'utf8'),
    ) as ValidationReport,
  };
}

type Statement = { Action: string | string[]; Resource: string | string[] };
const { template, config, report } = synth({ repository: 'acme/plinth', branch: 'release' });
const [roleId, role] = onlyResource(template, 'AWS::IAM::Role');
const statements = (
  onlyResource(template, 'AWS::IAM::Policy')[1].Properties.PolicyDocument as {
    Statement: Statement[];
  }
).Statement;

describe('the GitHub deploy role', () => {
  it('trusts only tokens of the repository and branch, for STS, through the GitHub OIDC provider', () => {
    expect(role.Properties.RoleName).toBe(GITHUB_DEPLOY_ROLE_NAME);
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'sts:AssumeRoleWithWebIdentity',
          Principal: { Federated: { Ref: 'GitHubOidcProvider' } },
          // StringEquals, not StringLike: no wildcard lets another branch, tag, pull request or
          // environment in.
          Condition: {
            StringEquals: {
              'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
              'token.actions.githubusercontent.com:sub': 'repo:acme/plinth:ref:refs/heads/release',
            },
          },
        },
      ],
    });
    template.hasResourceProperties('AWS::IAM::OIDCProvider', {
      Url: 'https://token.actions.githubusercontent.com',
      ClientIdList: ['sts.amazonaws.com'],
    });
  });

  it('may assume the CDK bootstrap roles of its account and region and take release snapshots, nothing else', () => {
    const byAction: Record<string, string[]> = {};
    for (const s of statements) {
      for (const a of [s.Action].flat())
        byAction[a] = [...(byAction[a] ?? []), ...[s.Resource].flat()];
    }
    const role = (kind: string) =>
      `arn:aws:iam::${config.account}:role/cdk-hnb659fds-${kind}-role-${config.account}-${config.region}`;
    expect(byAction['sts:AssumeRole']).toEqual(
      ['deploy', 'file-publishing', 'image-publishing', 'lookup'].map(role),
    );
    expect(Object.keys(byAction).sort()).toEqual([
      'rds:AddTagsToResource',
      'rds:CreateDBSnapshot',
      'rds:DeleteDBSnapshot',
      'rds:DescribeDBInstances',
      'rds:DescribeDBSnapshots',
      'sts:AssumeRole',
    ]);
    for (const envName of ['staging', 'prod']) {
      expect(byAction['rds:DeleteDBSnapshot']).toContain(
        `arn:aws:rds:${config.region}:${config.account}:snapshot:plinth-${envName}-db-release-*`,
      );
    }
    expect(Object.values(byAction).flat()).not.toContain('*');
  });

  it('keeps the logical IDs of the provider and the named role (neither could be replaced)', () => {
    expect(roleId).toBe('GitHubDeployRole');
    expect(Object.keys(template.findResources('AWS::IAM::OIDCProvider'))).toEqual([
      'GitHubOidcProvider',
    ]);
  });

  it('passes cdk-nag with zero open findings', () => {
    // Synthesis (with cdk-nag registered) already threw on any error; warnings must be zero too.
    expect(openFindings(report)).toEqual({});
  });

  it("uses the account's existing provider when given, and only the listed environments", () => {
    const existing = `arn:aws:iam::${config.account}:oidc-provider/token.actions.githubusercontent.com`;
    const other = synth({ repository: 'acme/plinth', oidcProviderArn: existing, envs: 'prod' });
    other.template.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    const text = JSON.stringify(other.template.toJSON());
    expect(text).toContain(existing);
    expect(text).toContain('plinth-prod-db');
    expect(text).not.toContain('plinth-staging-db');
  });
});
