import { readSingleFile } from '../../http/multipart.js';
import { route, type RouteDef } from '../../http/routes.js';
import { ACCEPTED_TYPES } from './image-check.js';
import { AVATAR_FIELD, AvatarUploadParams, AvatarUploadResponse } from './avatars.schemas.js';

const TAG = 'User and Authentication';

export const avatarsRoutes: RouteDef[] = [
  route({
    method: 'put',
    path: '/user/avatar',
    operationId: 'UploadAvatar',
    summary: 'Upload a new avatar image',
    tag: TAG,
    auth: 'required',
    upload: {
      field: AVATAR_FIELD,
      description:
        `One ${ACCEPTED_TYPES} image (the type is read from its bytes), at most AVATAR_MAX_BYTES ` +
        'and AVATAR_MAX_PIXELS pixels; animated images keep their first frame. Resized in the ' +
        'background to 64, 128 and 256 px squares (WebP); when done, the user’s `image` is the ' +
        '256 px one and the previous avatar’s files are removed.',
      errors: {
        400: 'Malformed multipart/form-data',
        413: 'File larger than AVATAR_MAX_BYTES',
        415: `Not multipart/form-data, or a file that is not a ${ACCEPTED_TYPES} image`,
        422: 'No file, more than one part, a truncated image, or one of more than AVATAR_MAX_PIXELS pixels',
      },
    },
    success: {
      status: 202,
      description: 'Accepted: the upload, pending; poll GetAvatarUpload for its status',
      schema: AvatarUploadResponse,
    },
    handler: async ({ services, ctx }) => ({
      avatarUpload: await services.avatars.upload((maxBytes) =>
        readSingleFile(ctx, { field: AVATAR_FIELD, maxBytes }),
      ),
    }),
  }),
  route({
    method: 'get',
    path: '/user/avatar/{uploadId}',
    operationId: 'GetAvatarUpload',
    summary: 'Status of one of the current user’s avatar uploads',
    tag: TAG,
    auth: 'required',
    params: AvatarUploadParams,
    success: { status: 200, description: 'The upload', schema: AvatarUploadResponse },
    errors: [404],
    handler: async ({ params, services }) => ({
      avatarUpload: await services.avatars.get(params.uploadId),
    }),
  }),
];
