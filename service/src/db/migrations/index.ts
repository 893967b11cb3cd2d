import type { Migration } from '@mikro-orm/migrations';
import { Migration20261130120652_notifications } from './Migration20261130120652_notifications.js';
import { Migration20261130122522_data_exports } from './Migration20261130122522_data_exports.js';
import { Migration20261130122606_avatar_uploads } from './Migration20261130122606_avatar_uploads.js';
import { Migration20261130085737_stored_body_html } from './Migration20261130085737_stored_body_html.js';
import { Migration20261130085827_jobs_outbox } from './Migration20261130085827_jobs_outbox.js';
import { Migration20261125122616_identity_and_access } from './Migration20261125122616_identity_and_access.js';
import { Migration20261125120505_initial } from './Migration20261125120505_initial.js';

type MigrationClass = new (...args: ConstructorParameters<typeof Migration>) => Migration;

/**
 * Every migration, in order. `npm run migration:create` writes a new file here and appends it;
 * the drift test fails when the entities and these migrations disagree.
 */
export const migrations: { name: string; class: MigrationClass }[] = [
  { name: 'Migration20261125120505_initial', class: Migration20261125120505_initial },
  {
    name: 'Migration20261125122616_identity_and_access',
    class: Migration20261125122616_identity_and_access,
  },
  {
    name: 'Migration20261130085737_stored_body_html',
    class: Migration20261130085737_stored_body_html,
  },
  { name: 'Migration20261130085827_jobs_outbox', class: Migration20261130085827_jobs_outbox },
  { name: 'Migration20261130120652_notifications', class: Migration20261130120652_notifications },
  { name: 'Migration20261130122522_data_exports', class: Migration20261130122522_data_exports },
  { name: 'Migration20261130122606_avatar_uploads', class: Migration20261130122606_avatar_uploads },
];
