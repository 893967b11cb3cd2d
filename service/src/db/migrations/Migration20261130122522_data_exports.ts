import { Migration } from '@mikro-orm/migrations';

export class Migration20261130122522_data_exports extends Migration {
  override name = 'Migration20261130122522_data_exports';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "data_exports" ("id" uuid not null, "user_id" int not null, "status" text not null default 'queued', "progress" smallint not null default 0, "error" varchar(500) null, "object_key" varchar(255) null, "size_bytes" bigint null, "created_at" timestamptz not null, "finished_at" timestamptz null, "expires_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(
      `create index "data_exports_user_created_at_idx" on "data_exports" ("user_id", "created_at");`,
    );
    this.addSql(
      `create index "data_exports_expires_at_idx" on "data_exports" ("expires_at") where expires_at is not null;`,
    );
    this.addSql(
      `create unique index "data_exports_one_in_flight_unique" on "data_exports" ("user_id") where status in ('queued', 'running');`,
    );

    this.addSql(
      `alter table "data_exports" add constraint "data_exports_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "data_exports" add constraint "data_exports_status_check" check ("status" in ('queued', 'running', 'done', 'failed'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "data_exports" cascade;`);
  }
}
