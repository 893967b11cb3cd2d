import { Migration } from '@mikro-orm/migrations';

export class Migration20261130085737_stored_body_html extends Migration {
  override name = 'Migration20261130085737_stored_body_html';

  override up(): void | Promise<void> {
    this.addSql(
      `alter table "articles" add "body_html" text null, add "body_html_version" int null;`,
    );
  }

  override down(): void | Promise<void> {
    this.addSql(`alter table "articles" drop column "body_html", drop column "body_html_version";`);
  }
}
