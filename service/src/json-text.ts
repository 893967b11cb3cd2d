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
