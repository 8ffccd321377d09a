// Package redis is the Redis inspector, the seed's "ARC2 client": a safe
// web tool and JSON API to look at the data in Redis, Redis Sentinel and
// Redis Cluster — key search by pattern across every master, values by type
// with paging, clients, cluster nodes, INFO, CONFIG, the slow log and a
// rate-limited big-keys scan. It is read-only unless a connection allows
// writes, and never sends the commands its guard denies.
package redis
