/** Target and profile come from the environment: `k6 run -e BASE_URL=... -e PROFILE=smoke`. */
export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:3000').replace(/\/$/, '');
export const API = `${BASE_URL}/api`;
