/**
 * Helpers shared by the micro-os packages and not meant for applications: the surface may change without
 * a major version.
 */
export type { HttpEndpoint } from './http-endpoint.js';
export { listenHttp } from './http-endpoint.js';
export { postgresError, postgresTerminated, retryTerminated } from './postgres-errors.js';
