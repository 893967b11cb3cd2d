import { CfnResource } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Pins the logical ID of a construct's CloudFormation resource, so a refactoring of the construct
 * tree cannot replace a stateful or externally visible resource (a test pins each one).
 */
export function keepLogicalId(construct: IConstruct, logicalId: string): void {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to pin`);
  }
  resource.overrideLogicalId(logicalId);
}
