/**
 * A value already serialized as JSON (by JSON.stringify), sent as it is: a cache hit is never
 * parsed and serialized again (docs/read-path.md). `cache` says where it came from, for the
 * `X-Cache` response header.
 */
export class JsonText<T = unknown> {
  declare private readonly _type: T;
  private constructor(
    readonly text: string,
    readonly cache?: 'hit' | 'miss',
  ) {}

  static of<T>(value: T, cache?: 'hit' | 'miss'): JsonText<T> {
    return new JsonText<T>(JSON.stringify(value), cache);
  }

  /** Text that JSON.stringify produced (from the cache, or assembled from such pieces). */
  static trusted<T>(text: string, cache?: 'hit' | 'miss'): JsonText<T> {
    return new JsonText<T>(text, cache);
  }
}

/**
 * `{"k1":v1,"k2":v2}` from fields that are JsonText or plain values, in the given order: the same
 * bytes JSON.stringify gives for the object with the texts parsed.
 */
export function jsonObject(fields: Record<string, unknown>): JsonText {
  let cache: 'hit' | 'miss' | undefined;
  const parts: string[] = [];
  for (const [key, value] of Object.entries(fields)) {
    if (value === undefined) continue;
    if (value instanceof JsonText) {
      cache ??= value.cache;
      parts.push(`${JSON.stringify(key)}:${value.text}`);
    } else {
      parts.push(`${JSON.stringify(key)}:${JSON.stringify(value)}`);
    }
  }
  return JsonText.trusted(`{${parts.join(',')}}`, cache);
}

/**
 * The offsets of the boolean literals of `keys` in `text` (JSON.stringify output), in order of
 * appearance, `keys` taken in turn (a list item's `["favorited", "following"]`, again for the
 * next item): where a viewer's flags are spliced in (`withFlags`). One forward pass of indexOf.
 * A match is always a key: inside a JSON string every `"` is escaped, and a closing quote is
 * followed by `,:}]`, never by a key's letters.
 */
export function flagOffsets(text: string, keys: readonly string[]): number[] {
  const needles = keys.map((k) => `${JSON.stringify(k)}:`);
  const offsets: number[] = [];
  for (let from = 0, i = 0; ; i++) {
    const needle = needles[i % needles.length]!;
    const at = text.indexOf(needle, from);
    if (at === -1) return offsets;
    from = at + needle.length;
    offsets.push(from);
  }
}

/**
 * `text` with the boolean literal at `offsets[i]` set to `values[i]` (JSON.stringify output in,
 * the same bytes JSON.stringify gives for the value with those flags set out): a viewer's
 * `favorited`/`following` over a cached shared value without parsing and serializing it again.
 */
export function withFlags(text: string, offsets: readonly number[], values: readonly boolean[]) {
  let out = '';
  let from = 0;
  for (let i = 0; i < offsets.length; i++) {
    const at = offsets[i]!;
    const isTrue = text.startsWith('true', at);
    const want = values[i] === true;
    if (want === isTrue) continue;
    out += `${text.slice(from, at)}${want}`;
    from = at + (isTrue ? 4 : 5);
  }
  return from === 0 ? text : out + text.slice(from);
}
