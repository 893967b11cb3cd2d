import { CfnOutput, Fn, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { PlinthStack } from './plinth-stack.js';
import type { PlinthStackProps } from './plinth-stack.js';

/** Props for {@link NetworkStack}. */
export type NetworkStackProps = PlinthStackProps;

/**
 * VPC over the configured AZs: public (ALB, NAT), private-with-egress (Fargate tasks, rotation
 * Lambdas) and isolated (RDS, ElastiCache) subnets; NAT per config; S3 gateway endpoint always,
 * interface endpoints where configured; VPC flow logs.
 */
export class NetworkStack extends PlinthStack {
  /** The VPC. */
  public readonly vpc: ec2.Vpc;
  /**
   * Public IPv4 addresses of the NAT gateways (Elastic IPs): the source address of everything the
   * private subnets send to the internet, including the pipeline's in-VPC k6 steps. Empty with a
   * NAT instance, whose address is not fixed.
   */
  public readonly natPublicIps: string[];

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;

    const natInstance =
      config.network.natType === 'instance'
        ? ec2.NatProvider.instanceV2({
            instanceType: new ec2.InstanceType('t4g.nano'),
            machineImage: ec2.MachineImage.latestAmazonLinux2023({
              cpuType: ec2.AmazonLinuxCpuType.ARM_64,
            }),
            defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
          })
        : undefined;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.network.cidr),
      availabilityZones: [...config.availabilityZones],
      natGateways: config.network.natCount,
      natGatewayProvider: natInstance ?? ec2.NatProvider.gateway(),
      restrictDefaultSecurityGroup: false,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'Private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
        { name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
      ],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
    });
    this.natPublicIps = this.vpc.publicSubnets
      .map((subnet) => subnet.node.tryFindChild('EIP'))
      .filter((eip): eip is ec2.CfnEIP => eip instanceof ec2.CfnEIP)
      .map((eip) => eip.attrPublicIp);
    if (this.natPublicIps.length > 0) {
      new CfnOutput(this, 'NatPublicIps', {
        value: Fn.join(',', this.natPublicIps),
        description: 'Source addresses of traffic from the private subnets (WAF allow-lists)',
      });
    }
    // restrictDefaultSecurityGroup is off: it adds a custom-resource Lambda, and nothing here is
    // ever attached to the default security group (every resource gets its own).

    if (natInstance) {
      natInstance.connections.allowFrom(
        ec2.Peer.ipv4(config.network.cidr),
        ec2.Port.allTraffic(),
        'Egress NAT for private subnets',
      );
      for (const child of this.vpc.node.findAll()) {
        if (child instanceof ec2.Instance) {
          Validations.of(child).acknowledge({
            id: 'AwsSolutions-EC28',
            reason:
              'Dev-only t4g.nano NAT instance; basic 5-minute monitoring is enough and detailed monitoring would cost more than the instance.',
          });
          Validations.of(child).acknowledge({
            id: 'AwsSolutions-EC29',
            reason:
              'Dev-only NAT instance is disposable and recreated by CloudFormation; termination protection would block stack updates that replace it.',
          });
          Validations.of(child).acknowledge({
            id: 'AwsSolutions-EC26',
            reason:
              'NAT instance root volume holds only the stock AL2023 image and iptables rules, no data; NatInstanceProviderV2 exposes no block-device setting.',
          });
        }
      }
    }

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: config.logRetentionDays as logs.RetentionDays,
      removalPolicy: config.protectData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType:
        config.envName === 'dev' ? ec2.FlowLogTrafficType.REJECT : ec2.FlowLogTrafficType.ALL,
    });

    if (config.network.interfaceEndpoints) {
      const endpoints: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
        EcrApi: ec2.InterfaceVpcEndpointAwsService.ECR,
        EcrDocker: ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
        Logs: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
        SecretsManager: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
        Monitoring: ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
      };
      for (const [id, service] of Object.entries(endpoints)) {
        const endpoint = this.vpc.addInterfaceEndpoint(id, {
          service,
          privateDnsEnabled: true,
          open: false,
          subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        });
        endpoint.connections.allowFrom(
          ec2.Peer.ipv4(config.network.cidr),
          ec2.Port.tcp(443),
          'HTTPS from the VPC',
        );
      }
    }
  }
}
