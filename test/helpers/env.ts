/**
 * The dedicated test database. Each `vitest run` gets its own (`quanke_test_<pid>`, created fresh
 * by the global setup and dropped by its teardown), so two runs on one machine never collide.
 * The global setup publishes the name through the environment, which the test workers inherit.
 */
export const TEST_DATABASE_URL =
  process.env.TEST_DATABASE_URL ?? `postgres://postgres@127.0.0.1:5432/quanke_test_${process.pid}`;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
