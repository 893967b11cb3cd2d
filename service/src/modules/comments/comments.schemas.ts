import { z } from 'zod';
import { longText } from '../common.schemas.js';
import { ProfileSchema } from '../profiles/profiles.schemas.js';

export const NewCommentRequest = z
  .object({ comment: z.object({ body: longText('body', 20_000) }).meta({ id: 'NewComment' }) })
  .meta({ id: 'NewCommentRequest' });

export const CommentSchema = z
  .object({
    id: z.number().int(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    body: z.string(),
    author: ProfileSchema,
  })
  .meta({ id: 'Comment' });

export const SingleCommentResponse = z
  .object({ comment: CommentSchema })
  .meta({ id: 'SingleCommentResponse' });
export const MultipleCommentsResponse = z
  .object({ comments: z.array(CommentSchema) })
  .meta({ id: 'MultipleCommentsResponse' });

export type CommentDto = z.infer<typeof CommentSchema>;
