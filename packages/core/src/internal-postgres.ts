/** Postgres helpers shared by the micro-os packages (needs pg); not meant for applications. */
export type { MigratedQuery, MigratedQueryOptions, OwnedPoolOptions } from './postgres-table.js';
export { migratedQuery, ownedPostgresPool } from './postgres-table.js';
