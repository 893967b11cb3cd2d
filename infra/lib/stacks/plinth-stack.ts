import { Stack } from 'aws-cdk-lib';
import type { StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { PlinthConfig } from '../config.js';

/** Props of every Plinth stack. */
export interface PlinthStackProps extends StackProps {
  /** Environment configuration. */
  readonly config: PlinthConfig;
}

/**
 * Base stack: availability zones come from config instead of a context lookup, so `cdk synth`
 * needs no AWS credentials even though account and region are explicit.
 */
export class PlinthStack extends Stack {
  private readonly configuredAzs: string[];

  constructor(scope: Construct, id: string, props: PlinthStackProps) {
    super(scope, id, props);
    this.configuredAzs = [...props.config.availabilityZones];
  }

  override get availabilityZones(): string[] {
    return this.configuredAzs;
  }
}
