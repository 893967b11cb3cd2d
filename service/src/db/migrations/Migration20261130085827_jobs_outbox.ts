import { Migration } from '@mikro-orm/migrations';

export class Migration20261130085827_jobs_outbox extends Migration {
  override name = 'Migration20261130085827_jobs_outbox';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "email_deliveries" ("message_id" varchar(255) not null, "kind" varchar(64) not null, "recipient" varchar(255) not null, "sent_at" timestamptz not null, primary key ("message_id"));`,
    );

    this.addSql(
      `create table "outbox" ("id" bigserial primary key, "queue" varchar(64) not null, "name" varchar(64) not null, "payload" jsonb not null, "meta" jsonb not null default '{}', "created_at" timestamptz not null, "sent_at" timestamptz null);`,
    );
    this.addSql(`create index "outbox_unsent_idx" on "outbox" ("id") where sent_at is null;`);
    this.addSql(
      `create index "outbox_sent_at_idx" on "outbox" ("sent_at") where sent_at is not null;`,
    );

    this.addSql(`alter table "tags" add "trending_score" int not null default 0;`);
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "email_deliveries" cascade;`);
    this.addSql(`drop table if exists "outbox" cascade;`);

    this.addSql(`alter table "tags" drop column "trending_score";`);
  }
}
