import { Migration } from '@mikro-orm/migrations';

export class Migration20261130120652_notifications extends Migration {
  override name = 'Migration20261130120652_notifications';

  override up(): void | Promise<void> {
    this.addSql(
      `create table "notification_settings" ("user_id" int not null, "digest" boolean not null default false, "digested_until" timestamptz null, "digest_day" varchar(10) null, "updated_at" timestamptz not null, primary key ("user_id"));`,
    );

    this.addSql(
      `create table "notifications" ("id" bigserial primary key, "user_id" int not null, "article_id" int not null, "created_at" timestamptz not null, "read_at" timestamptz null);`,
    );
    this.addSql(`create index "notifications_user_id_idx" on "notifications" ("user_id", "id");`);
    this.addSql(
      `create index "notifications_user_unread_idx" on "notifications" ("user_id", "created_at") where read_at is null;`,
    );
    this.addSql(
      `alter table "notifications" add constraint "notifications_article_user_unique" unique ("article_id", "user_id");`,
    );

    this.addSql(
      `create index "follows_followee_follower_idx" on "follows" ("followee_id", "follower_id");`,
    );

    this.addSql(
      `alter table "notification_settings" add constraint "notification_settings_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "notifications" add constraint "notifications_user_id_foreign" foreign key ("user_id") references "users" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "notifications" add constraint "notifications_article_id_foreign" foreign key ("article_id") references "articles" ("id") on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`drop table if exists "notification_settings" cascade;`);
    this.addSql(`drop table if exists "notifications" cascade;`);

    this.addSql(`drop index "follows_followee_follower_idx";`);
  }
}
