import { Migration } from '@mikro-orm/migrations';

export class Migration20261125120505_initial extends Migration {
  override name = 'Migration20261125120505_initial';

  override up(): void | Promise<void> {
    this.addSql(`create table "tags" ("id" serial primary key, "name" varchar(64) not null);`);
    this.addSql(`alter table "tags" add constraint "tags_name_unique" unique ("name");`);

    this.addSql(
      `create table "users" ("id" serial primary key, "email" varchar(254) not null, "username" varchar(64) not null, "password_hash" varchar(255) not null, "bio" text not null default '', "image" varchar(2048) not null default '', "created_at" timestamptz not null, "updated_at" timestamptz not null);`,
    );
    this.addSql(`alter table "users" add constraint "users_email_unique" unique ("email");`);
    this.addSql(`alter table "users" add constraint "users_username_unique" unique ("username");`);

    this.addSql(
      `create table "follows" ("follower_id" int not null, "followee_id" int not null, "created_at" timestamptz not null, primary key ("follower_id", "followee_id"));`,
    );
    this.addSql(`create index "follows_followee_idx" on "follows" ("followee_id");`);

    this.addSql(
      `create table "articles" ("id" serial primary key, "slug" varchar(255) not null, "title" varchar(255) not null, "description" varchar(1000) not null, "body" text not null, "author_id" int not null, "favorites_count" int not null default 0, "created_at" timestamptz not null, "updated_at" timestamptz not null);`,
    );
    this.addSql(`alter table "articles" add constraint "articles_slug_unique" unique ("slug");`);
    this.addSql(`create index "articles_created_at_id_idx" on "articles" ("created_at", "id");`);
    this.addSql(
      `create index "articles_author_created_at_idx" on "articles" ("author_id", "created_at");`,
    );

    this.addSql(
      `create table "favorites" ("user_id" int not null, "article_id" int not null, "created_at" timestamptz not null, primary key ("user_id", "article_id"));`,
    );
    this.addSql(`create index "favorites_article_idx" on "favorites" ("article_id");`);

    this.addSql(
      `create table "comments" ("id" serial primary key, "body" text not null, "article_id" int not null, "author_id" int not null, "created_at" timestamptz not null, "updated_at" timestamptz not null);`,
    );
    this.addSql(`create index "comments_author_idx" on "comments" ("author_id");`);
    this.addSql(
      `create index "comments_article_created_at_idx" on "comments" ("article_id", "created_at");`,
    );

    this.addSql(
      `create table "article_tags" ("article_id" int not null, "tag_id" int not null, primary key ("article_id", "tag_id"));`,
    );
    this.addSql(`create index "article_tags_tag_idx" on "article_tags" ("tag_id");`);

    this.addSql(
      `alter table "follows" add constraint "follows_follower_id_foreign" foreign key ("follower_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "follows" add constraint "follows_followee_id_foreign" foreign key ("followee_id") references "users" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "articles" add constraint "articles_author_id_foreign" foreign key ("author_id") references "users" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "favorites" add constraint "favorites_user_id_foreign" foreign key ("user_id") references "users" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "favorites" add constraint "favorites_article_id_foreign" foreign key ("article_id") references "articles" ("id") on update cascade on delete cascade;`,
    );

    this.addSql(
      `alter table "comments" add constraint "comments_article_id_foreign" foreign key ("article_id") references "articles" ("id") on delete cascade;`,
    );
    this.addSql(
      `alter table "comments" add constraint "comments_author_id_foreign" foreign key ("author_id") references "users" ("id") on delete cascade;`,
    );

    this.addSql(
      `alter table "article_tags" add constraint "article_tags_article_id_foreign" foreign key ("article_id") references "articles" ("id") on update cascade on delete cascade;`,
    );
    this.addSql(
      `alter table "article_tags" add constraint "article_tags_tag_id_foreign" foreign key ("tag_id") references "tags" ("id") on update cascade on delete cascade;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "article_tags" drop constraint "article_tags_tag_id_foreign";`);
    this.addSql(`alter table "follows" drop constraint "follows_follower_id_foreign";`);
    this.addSql(`alter table "follows" drop constraint "follows_followee_id_foreign";`);
    this.addSql(`alter table "articles" drop constraint "articles_author_id_foreign";`);
    this.addSql(`alter table "favorites" drop constraint "favorites_user_id_foreign";`);
    this.addSql(`alter table "comments" drop constraint "comments_author_id_foreign";`);
    this.addSql(`alter table "favorites" drop constraint "favorites_article_id_foreign";`);
    this.addSql(`alter table "comments" drop constraint "comments_article_id_foreign";`);
    this.addSql(`alter table "article_tags" drop constraint "article_tags_article_id_foreign";`);

    this.addSql(`drop table if exists "tags" cascade;`);
    this.addSql(`drop table if exists "users" cascade;`);
    this.addSql(`drop table if exists "follows" cascade;`);
    this.addSql(`drop table if exists "articles" cascade;`);
    this.addSql(`drop table if exists "favorites" cascade;`);
    this.addSql(`drop table if exists "comments" cascade;`);
    this.addSql(`drop table if exists "article_tags" cascade;`);
  }
}
