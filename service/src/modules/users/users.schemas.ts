import { z } from 'zod';
import { usernameSchema } from '../common.schemas.js';
import { ROLES } from './user.entity.js';

const email = z.string().trim().toLowerCase().max(254).pipe(z.email('is invalid'));
const password = z.string().min(8).max(256);
function isHttpUrl(value: string): boolean {
  try {
    return ['http:', 'https:'].includes(new URL(value).protocol);
  } catch {
    return false;
  }
}

/** http(s) URL or empty (null clears it): never `javascript:` or `data:` in an <img src>. */
const image = z
  .string()
  .max(2048)
  .nullable()
  .refine((v) => !v || isHttpUrl(v), 'must be an http(s) URL')
  .transform((v) => v ?? '')
  .meta({ description: 'http(s) URL of the avatar, or empty' });

export const NewUserRequest = z
  .object({
    user: z.object({ username: usernameSchema, email, password }).meta({ id: 'NewUser' }),
  })
  .meta({ id: 'NewUserRequest' });

export const LoginUserRequest = z
  .object({
    user: z
      .object({
        email: z.string().trim().toLowerCase().min(1).max(254),
        password: z.string().min(1).max(256),
      })
      .meta({ id: 'LoginUser' }),
  })
  .meta({ id: 'LoginUserRequest' });

export const UpdateUserRequest = z
  .object({
    user: z
      .object({
        email: email.optional(),
        // Several RealWorld front ends send an empty password when it is not being changed.
        password: z.union([z.literal('').transform(() => undefined), password]).optional(),
        username: usernameSchema.optional(),
        bio: z
          .string()
          .max(5000)
          .nullable()
          .transform((v) => v ?? '')
          .optional(),
        image: image.optional(),
      })
      .refine(
        (u) => Object.values(u).some((v) => v !== undefined),
        'must contain at least one field',
      )
      .meta({ id: 'UpdateUser' }),
  })
  .meta({ id: 'UpdateUserRequest' });

export const UserSchema = z
  .object({
    email: z.string(),
    token: z.string(),
    username: z.string(),
    bio: z.string(),
    image: z.string(),
    role: z.enum(ROLES).meta({ description: 'Plinth extension: what the user may do' }),
  })
  .meta({ id: 'User' });

export const UserResponse = z.object({ user: UserSchema }).meta({ id: 'UserResponse' });
export type UserDto = z.infer<typeof UserSchema>;
