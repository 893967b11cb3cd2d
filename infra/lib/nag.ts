import { Stack, Validations } from 'aws-cdk-lib';
import type { App, CfnElement } from 'aws-cdk-lib';
import type * as codebuild from 'aws-cdk-lib/aws-codebuild';
import type { IConstruct } from 'constructs';
import { AwsSolutionsChecks } from 'cdk-nag';

/**
 * Registers the cdk-nag AwsSolutions pack as a policy-validation plugin: synthesis fails on any
 * finding that is not acknowledged with `Validations.of(construct).acknowledge({ id, reason })`.
 */
export function addNagChecks(app: App): void {
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
}

/** Acknowledges several cdk-nag findings on one construct with one reason. */
export function acknowledge(scope: IConstruct, ids: readonly string[], reason: string): void {
  for (const id of ids) Validations.of(scope).acknowledge({ id, reason });
}

/**
 * Finding ids for the wildcard actions `bucket.grantReadWrite()` adds (and, with `kms`, those for
 * the bucket's KMS key).
 */
export function readWriteBucketFindings(bucketArn: string, { kms = true } = {}): string[] {
  return [
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map(
      (a) => `AwsSolutions-IAM5[Action::${a}]`,
    ),
    `AwsSolutions-IAM5[Resource::${bucketArn}/*]`,
    ...(kms
      ? [
          'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
          'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
        ]
      : []),
  ];
}

/**
 * Finding ids for what CodeBuild grants every project's role: its default log group
 * `/aws/codebuild/<project>` (streams `:*`) and its report groups `<project>-*`.
 */
export function codeBuildProjectFindings(project: codebuild.Project): string[] {
  const stack = Stack.of(project);
  const id = stack.getLogicalId(project.node.defaultChild as CfnElement);
  const arn = (service: string, resource: string) =>
    `AwsSolutions-IAM5[Resource::arn:aws:${service}:${stack.region}:${stack.account}:${resource}]`;
  return [
    arn('logs', `log-group:/aws/codebuild/<${id}>:*`),
    arn('codebuild', `report-group/<${id}>-*`),
  ];
}

/** Why a CodeBuild project without a customer-managed KMS key is acceptable here (CB4). */
export const CODEBUILD_ARTIFACTS_REASON =
  "The project's only artifacts are the pipeline's S3 artifacts (SSE-S3, TLS only, public access " +
  'blocked): the source and templates, which hold no secrets. A customer-managed key would add ' +
  'cost and key policy to manage, not protection.';
