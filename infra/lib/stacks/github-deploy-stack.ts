import { CfnOutput, Duration, Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { OidcProviderNative } from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { keepLogicalId } from '../logical-id.js';
import type { GitHubDeployConfig } from '../pipeline-config.js';
import { acknowledgeSnapshotWildcard, snapshotStatements } from '../release-plan.js';

/** The stack's name (and construct id). */
export const GITHUB_DEPLOY_STACK_NAME = 'Plinth-GitHubDeploy';
/** The role's name, so a workflow can name its ARN: `arn:aws:iam::<account>:role/<this>`. */
export const GITHUB_DEPLOY_ROLE_NAME = 'plinth-github-deploy';
/** GitHub Actions' OIDC issuer (host name = the claims' prefix). */
export const GITHUB_OIDC_ISSUER = 'token.actions.githubusercontent.com';

/** Props for {@link GitHubDeployStack}. */
export interface GitHubDeployStackProps extends StackProps {
  /** Repository, branch, environments, provider. */
  readonly config: GitHubDeployConfig;
}

/**
 * The alternative to the CodePipeline for teams that deploy from GitHub Actions: a role that
 * workflow runs of one repository's one branch assume through GitHub's OIDC provider (no stored
 * AWS keys). It may assume the CDK bootstrap roles (what `cdk deploy` uses) and take the release
 * snapshots of the listed environments (what `infra/release/snapshot.ts` calls), nothing else.
 * `.github/workflows/deploy.yml` is the workflow that uses it.
 */
export class GitHubDeployStack extends Stack {
  /** The role the workflow assumes. */
  public readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: GitHubDeployStackProps) {
    super(scope, id, props);
    const { config } = props;

    const provider = config.oidcProviderArn
      ? OidcProviderNative.fromOidcProviderArn(this, 'GitHubOidc', config.oidcProviderArn)
      : new OidcProviderNative(this, 'GitHubOidc', {
          url: `https://${GITHUB_OIDC_ISSUER}`,
          clientIds: ['sts.amazonaws.com'],
        });

    if (provider instanceof OidcProviderNative) keepLogicalId(provider, 'GitHubOidcProvider');

    this.role = new iam.Role(this, 'DeployRole', {
      roleName: GITHUB_DEPLOY_ROLE_NAME,
      description: `GitHub Actions deploys of ${config.repository} (${config.branch} only)`,
      maxSessionDuration: Duration.hours(2),
      // A token from any other repository, branch, pull request, tag or environment has another
      // `sub` and is refused.
      assumedBy: new iam.OpenIdConnectPrincipal(provider, {
        StringEquals: {
          [`${GITHUB_OIDC_ISSUER}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_OIDC_ISSUER}:sub`]: `repo:${config.repository}:ref:refs/heads/${config.branch}`,
        },
      }),
    });

    // One provider per URL and account, and a named role: a replacement could not be created.
    keepLogicalId(this.role, 'GitHubDeployRole');

    const bootstrapRole = (kind: string) =>
      `arn:${this.partition}:iam::${config.account}:role/cdk-${config.bootstrapQualifier}-${kind}-role-${config.account}-${config.region}`;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'CdkBootstrapRoles',
        actions: ['sts:AssumeRole'],
        resources: ['deploy', 'file-publishing', 'image-publishing', 'lookup'].map(bootstrapRole),
      }),
    );
    for (const envName of config.envNames) {
      for (const statement of snapshotStatements(this, envName, config)) {
        this.role.addToPolicy(statement);
      }
    }

    for (const envName of config.envNames) acknowledgeSnapshotWildcard(this.role, envName, config);

    new CfnOutput(this, 'DeployRoleArn', {
      value: this.role.roleArn,
      description: 'role-to-assume of .github/workflows/deploy.yml',
    });
  }
}
