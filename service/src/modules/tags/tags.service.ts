import type { ReadCache } from '../../cache.js';
import type { ReadRouter } from '../../db/read-source.js';
import { JsonText } from '../../json-text.js';
import { FeatureService } from '../feature-service.js';
import { popularTags } from './tags.read-model.js';

/** Collaborators of the tags service. */
export interface TagsDeps {
  /** Where plain reads run (the primary by default; replicas with issue 10). */
  readRouter: ReadRouter;
  /** The read cache (disabled: every read goes to the read model). */
  cache: ReadCache;
}

/**
 * Tags in use, trending first (the score the `recompute-trending-tags` job keeps: recent articles
 * and their favorites), then most used, then by name; public to every actor. A tag the job has
 * not scored yet still appears, ranked by its use.
 */
export class TagsService extends FeatureService<TagsDeps> {
  async popular(limit: number): Promise<JsonText<string[]>> {
    const source = await this.deps.readRouter({ em: this.em, userId: this.actor.user?.id ?? null });
    const { text, hit } = await this.deps.cache.read(
      { read: 'tags', generations: ['tags'], id: String(limit) },
      source,
      async () => {
        const tags = await popularTags(source, limit);
        return { value: tags, text: JSON.stringify(tags), cacheable: true };
      },
    );
    return JsonText.trusted(text, hit ? 'hit' : 'miss');
  }
}
