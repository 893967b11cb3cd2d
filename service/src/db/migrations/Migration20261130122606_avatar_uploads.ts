import { Migration } from '@mikro-orm/migrations';

export class Migration20261130122606_avatar_uploads extends Migration {
  override name = 'Migration20261130122606_avatar_uploads';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "avatar_uploads" ("id" uuid not null, "user_id" int not null, "status" text not null default 'pending', "content_type" varchar(32) not null, "width" int not null, "height" int not null, "bytes" int not null, "original_key" varchar(255) not null, "keys" jsonb null, "error" varchar(500) null, "created_at" timestamptz not null, "completed_at" timestamptz null, "superseded_at" timestamptz null, "files_removed_at" timestamptz null, primary key ("id"));`,
    );
    this.addSql(`create index "avatar_uploads_user_idx" on "avatar_uploads" ("user_id");`);

    this.addSql(
      `alter table "avatar_uploads" add constraint "avatar_uploads_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "avatar_uploads" add constraint "avatar_uploads_status_check" check ("status" in ('pending', 'done', 'failed'));`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "avatar_uploads" cascade;`);
  }
}
