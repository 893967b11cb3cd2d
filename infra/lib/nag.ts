import { Validations } from 'aws-cdk-lib';
import type { App } from 'aws-cdk-lib';
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

/** Finding ids for the wildcard actions `bucket.grantReadWrite()` on a KMS-encrypted bucket adds. */
export function readWriteBucketFindings(bucketArn: string): string[] {
  return [
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map(
      (a) => `AwsSolutions-IAM5[Action::${a}]`,
    ),
    `AwsSolutions-IAM5[Resource::${bucketArn}/*]`,
    'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
  ];
}
