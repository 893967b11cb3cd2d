import {
  OpenAPIRegistry,
  OpenApiGeneratorV31,
  extendZodWithOpenApi,
} from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';

extendZodWithOpenApi(z);

export function createRegistry(): OpenAPIRegistry {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'Token', {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'A JWT from /users or /users/login, sent as `Authorization: Token <jwt>`.',
  });
  return registry;
}

/** Plinth's OpenAPI document: the RealWorld contract plus what Plinth adds. */
export function generateDocument(registry: OpenAPIRegistry): object {
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Plinth Conduit API',
      version: '1.0.0',
      description:
        'The RealWorld "Conduit" API as served by Plinth. Errors use `{"errors": {"field": ["message"]}}`.',
      license: { name: 'MIT', url: 'https://opensource.org/licenses/MIT' },
    },
    servers: [{ url: '/api' }],
  });
}
