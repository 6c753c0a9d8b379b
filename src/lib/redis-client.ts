import type { Cluster, Redis } from 'ioredis';

/**
 * A connection to Rolecall's Redis: one server (standalone or found through Sentinel) or a Redis
 * Cluster. Code that takes one uses only commands both understand, with every key of a command or
 * script under one hash tag (see lib/redis-keys.ts).
 */
export type RedisClient = Redis | Cluster;
