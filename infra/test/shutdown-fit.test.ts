// The shutdown sequence of the processes must fit the platform that stops them (architecture.md,
// "Rules that keep deploys safe"): drain delay + SHUTDOWN_TIMEOUT_MS + exit margin ≤ the API
// task's stop timeout and the target group's deregistration delay; the worker's timeout + margin
// ≤ its stop timeout. Timeouts come from the container environment when the template sets them,
// else from the service's own defaults, so neither side can drift alone.
import { describe, expect, it } from '@jest/globals';
import { loadConfig, SHUTDOWN_EXIT_MARGIN_MS } from '../../service/src/config.js';
import { ENV_NAMES } from '../lib/config.js';
import { synthesize } from './support.js';

interface Container {
  Command?: string[];
  StopTimeout?: number;
  Environment?: { Name: string; Value: unknown }[];
}

const SHUTDOWN_KEYS = [
  'SHUTDOWN_DRAIN_DELAY_MS',
  'SHUTDOWN_TIMEOUT_MS',
  'WORKER_SHUTDOWN_TIMEOUT_MS',
] as const;

/** The service's configuration as this container would load it (only the shutdown settings). */
function shutdownConfig(container: Container) {
  const env: Record<string, string> = {
    DATABASE_URL: 'postgres://plinth@localhost:5432/plinth',
    REDIS_URL: 'redis://localhost:6379',
    JWT_SECRET: 'x'.repeat(32),
  };
  for (const { Name, Value } of container.Environment ?? []) {
    if ((SHUTDOWN_KEYS as readonly string[]).includes(Name)) {
      if (typeof Value !== 'string')
        throw new Error(`${Name} is not a plain value in the template`);
      env[Name] = Value;
    }
  }
  return loadConfig(env);
}

describe.each(ENV_NAMES)('%s: shutdown fits the platform', (envName) => {
  const { app } = synthesize(envName);
  const containers = Object.values(app.findResources('AWS::ECS::TaskDefinition')).flatMap(
    (task) => task.Properties.ContainerDefinitions as Container[],
  );
  const byCommand = (command: string) => {
    const found = containers.filter((c) => c.Command?.[0] === command);
    if (found.length !== 1)
      throw new Error(`expected one '${command}' container, found ${found.length}`);
    return found[0]!;
  };
  const targetGroups = Object.values(
    app.findResources('AWS::ElasticLoadBalancingV2::TargetGroup', {
      Properties: { HealthCheckPath: '/health/ready' },
    }),
  );

  it('drain delay + SHUTDOWN_TIMEOUT_MS + exit margin fit the API stop timeout and the deregistration delay', () => {
    const api = byCommand('service');
    const config = shutdownConfig(api);
    const worstExitMs =
      config.SHUTDOWN_DRAIN_DELAY_MS + config.SHUTDOWN_TIMEOUT_MS + SHUTDOWN_EXIT_MARGIN_MS;
    expect(api.StopTimeout).toBeDefined();
    expect(worstExitMs).toBeLessThanOrEqual(api.StopTimeout! * 1000);

    expect(targetGroups).toHaveLength(1);
    const attributes = targetGroups[0]!.Properties.TargetGroupAttributes as {
      Key: string;
      Value: string;
    }[];
    const delay = attributes.find((a) => a.Key === 'deregistration_delay.timeout_seconds');
    expect(delay).toBeDefined();
    expect(worstExitMs).toBeLessThanOrEqual(Number(delay!.Value) * 1000);
  });

  it('WORKER_SHUTDOWN_TIMEOUT_MS + exit margin fit the worker stop timeout', () => {
    const worker = byCommand('worker');
    const config = shutdownConfig(worker);
    expect(worker.StopTimeout).toBeDefined();
    expect(config.WORKER_SHUTDOWN_TIMEOUT_MS + SHUTDOWN_EXIT_MARGIN_MS).toBeLessThanOrEqual(
      worker.StopTimeout! * 1000,
    );
  });
});
