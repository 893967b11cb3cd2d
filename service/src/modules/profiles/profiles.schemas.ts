import { z } from 'zod';

export const ProfileSchema = z
  .object({
    username: z.string(),
    bio: z.string(),
    image: z.string(),
    following: z.boolean(),
  })
  .meta({ id: 'Profile' });

export const ProfileResponse = z.object({ profile: ProfileSchema }).meta({ id: 'ProfileResponse' });

export type ProfileDto = z.infer<typeof ProfileSchema>;
