import { Migration } from '@mikro-orm/migrations';

export class Migration20261125122616_identity_and_access extends Migration {
  override name = 'Migration20261125122616_identity_and_access';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "settings" ("key" varchar(64) not null, "value" jsonb not null, "updated_at" timestamptz not null, primary key ("key"));`,
    );

    this.addSql(
      `create table "audit_log" ("id" serial primary key, "actor_id" int null, "action" varchar(64) not null, "target_type" varchar(32) not null, "target_id" varchar(64) not null, "before" jsonb null, "after" jsonb null, "request_id" varchar(128) null, "created_at" timestamptz not null);`,
    );
    this.addSql(`create index "audit_log_actor_idx" on "audit_log" ("actor_id");`);
    this.addSql(`create index "audit_log_created_at_idx" on "audit_log" ("created_at", "id");`);
    this.addSql(`create index "audit_log_target_idx" on "audit_log" ("target_type", "target_id");`);

    this.addSql(
      `alter table "users" add "role" text not null default 'author', add "suspended_at" timestamptz null, add "tokens_valid_after" timestamptz null;`,
    );
    this.addSql(
      `alter table "users" add constraint "users_role_check" check ("role" in ('viewer', 'author', 'editor', 'admin'));`,
    );

    this.addSql(`drop index "articles_created_at_id_idx";`);
    this.addSql(`alter table "articles" add "status" text not null default 'published';`);
    this.addSql(
      `create index "articles_status_created_at_id_idx" on "articles" ("status", "created_at", "id");`,
    );
    this.addSql(
      `alter table "articles" add constraint "articles_status_check" check ("status" in ('draft', 'published'));`,
    );

    this.addSql(
      `alter table "audit_log" add constraint "audit_log_actor_id_foreign" foreign key ("actor_id") references "users" ("id") on delete set null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "settings" cascade;`);
    this.addSql(`drop table if exists "audit_log" cascade;`);

    this.addSql(`drop index "articles_status_created_at_id_idx";`);
    this.addSql(`alter table "articles" drop constraint "articles_status_check";`);
    this.addSql(`alter table "articles" drop column "status";`);
    this.addSql(`create index "articles_created_at_id_idx" on "articles" ("created_at", "id");`);

    this.addSql(`alter table "users" drop constraint "users_role_check";`);
    this.addSql(
      `alter table "users" drop column "role", drop column "suspended_at", drop column "tokens_valid_after";`,
    );
  }
}
