import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { toFieldErrors } from '../../src/http/validation.js';

describe('toFieldErrors', () => {
  it('when unknown keys are named like Object members, then each is reported as a field', () => {
    const body = JSON.parse('{"constructor":1,"toString":2,"__proto__":3,"hasOwnProperty":4}');
    const result = z.strictObject({ name: z.string().optional() }).safeParse(body);
    expect(result.success).toBe(false);
    const errors = toFieldErrors(result.error!, 'body');
    expect(JSON.parse(JSON.stringify(errors))).toEqual(
      JSON.parse(
        '{"constructor":["is not a known parameter"],"toString":["is not a known parameter"],' +
          '"__proto__":["is not a known parameter"],"hasOwnProperty":["is not a known parameter"]}',
      ),
    );
  });
});
