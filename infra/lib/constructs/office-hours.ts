import { Duration, TimeZone } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type * as cw from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as rds from 'aws-cdk-lib/aws-rds';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import { Construct } from 'constructs';
import type { OfficeHoursConfig } from '../config.js';

/** A scalable service and the task counts it gets back at the start of office hours. */
export interface OfficeHoursService {
  /** The service's scalable task count. */
  readonly taskCount: ecs.ScalableTaskCount;
  /** Minimum tasks during office hours. */
  readonly minTasks: number;
  /** Maximum tasks during office hours. */
  readonly maxTasks: number;
}

/** Props for {@link OfficeHours}. */
export interface OfficeHoursProps {
  /** When the environment runs. */
  readonly hours: OfficeHoursConfig;
  /** Services scaled to zero outside office hours. */
  readonly services: readonly OfficeHoursService[];
  /** The database instance stopped outside office hours (no replicas: RDS cannot stop those). */
  readonly database: rds.IDatabaseInstance;
  /** Alarms whose actions pause outside office hours (nothing runs, so they would all fire). */
  readonly alarms: readonly cw.IAlarm[];
}

/**
 * Runs an environment only during office hours: at the stop hour the services scale to zero
 * (Application Auto Scaling scheduled actions), the database stops and alarm actions pause
 * (EventBridge Scheduler universal targets); at the start hour the reverse, alarm actions resuming
 * 30 minutes later, once the database and tasks are back. Jobs wait in Redis meanwhile. RDS starts
 * a stopped instance by itself after 7 days, which a weekday schedule never reaches.
 */
export class OfficeHours extends Construct {
  constructor(scope: Construct, id: string, props: OfficeHoursProps) {
    super(scope, id);
    const { hours } = props;
    const timeZone = TimeZone.of(hours.timeZone);
    const cron = (hour: number, minute = 0) => ({
      minute: String(minute),
      hour: String(hour),
      weekDay: hours.weekDays,
    });
    if (props.services.some((s) => s.minTasks < 1 || s.maxTasks < s.minTasks)) {
      throw new Error(`${id}: each service needs 1 ≤ minTasks ≤ maxTasks during office hours`);
    }

    props.services.forEach((s, i) => {
      s.taskCount.scaleOnSchedule(`OfficeHoursStart${i}`, {
        schedule: appscaling.Schedule.cron(cron(hours.startHour)),
        timeZone,
        minCapacity: s.minTasks,
        maxCapacity: s.maxTasks,
      });
      s.taskCount.scaleOnSchedule(`OfficeHoursStop${i}`, {
        schedule: appscaling.Schedule.cron(cron(hours.stopHour)),
        timeZone,
        minCapacity: 0,
        maxCapacity: 0,
      });
    });

    const role = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com'),
      description: 'Plinth office hours: start/stop the database, pause/resume alarm actions',
    });
    const call = (
      scheduleId: string,
      at: { hour: number; minute?: number },
      service: string,
      action: string,
      input: Record<string, unknown>,
      resources: string[],
    ) =>
      new scheduler.Schedule(this, scheduleId, {
        schedule: scheduler.ScheduleExpression.cron({
          ...cron(at.hour, at.minute),
          timeZone,
        }),
        description: `Plinth office hours: ${service}:${action}`,
        target: new targets.Universal({
          service,
          action,
          role,
          input: scheduler.ScheduleTargetInput.fromObject(input),
          retryAttempts: 3,
          maxEventAge: Duration.hours(1),
          policyStatements: [
            new iam.PolicyStatement({
              actions: [`${service}:${action[0]?.toUpperCase()}${action.slice(1)}`],
              resources,
            }),
          ],
        }),
      });
    const db = { DbInstanceIdentifier: props.database.instanceIdentifier };
    const dbArn = [props.database.instanceArn];
    call('StartDatabase', { hour: hours.startHour }, 'rds', 'startDBInstance', db, dbArn);
    call('StopDatabase', { hour: hours.stopHour }, 'rds', 'stopDBInstance', db, dbArn);
    if (props.alarms.length > 0) {
      const alarmNames = { AlarmNames: props.alarms.map((a) => a.alarmName) };
      const alarmArns = props.alarms.map((a) => a.alarmArn);
      call(
        'PauseAlarms',
        { hour: hours.stopHour },
        'cloudwatch',
        'disableAlarmActions',
        alarmNames,
        alarmArns,
      );
      call(
        'ResumeAlarms',
        { hour: hours.startHour, minute: 30 },
        'cloudwatch',
        'enableAlarmActions',
        alarmNames,
        alarmArns,
      );
    }
  }
}
