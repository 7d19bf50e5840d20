// Package fleet is a session budget shared by many processes (the replicas of
// a service) through etcd, so that together they never open more physical
// sessions to one database server than its limit. A *Budget plugs into
// manager.Config.Fleet.
//
// The protocol, in short (docs/FLEET.md has the reasoning):
//
//   - Each process holds an etcd lease (TTL, renewed every TTL/3) and one key
//     under the prefix, prefix+"h/"+lease, whose value is how many permits it
//     holds. The key lives under the lease, so a process that dies or is cut
//     off loses its permits when the lease expires.
//   - Taking k permits is one read of every holder key at revision R, then a
//     transaction that writes the process's new count only if no holder key
//     was created or changed after R (a compare of mod_revision over the
//     whole prefix). etcd applies transactions one at a time in its raft log,
//     so the sum of all counts can never pass the cap: each write checks the
//     exact sum it was computed from. Giving permits back only lowers a
//     count; it checks only that no other program changed the process's own
//     key since its last write, and a process whose key another program
//     lowered counts only what etcd records and takes the rest back.
//   - Each process records its Cap under its lease (prefix+"c/"+lease), and
//     puts it again when another program deletes or changes it; the fleet
//     keeps to the smallest cap a live process states, and processes that
//     find another cap log an error naming both.
//   - Permits are fetched ahead in small batches and returned when idle, so an
//     acquire that hits an open connection never talks to etcd, and a physical
//     open rarely does.
//   - The process counts its lease valid only until the send time of its last
//     successful renewal plus the TTL minus a margin: it stops using its
//     permits before etcd can expire them and hand them to another process.
//     It measures that time by the monotonic and the wall clock both: the
//     monotonic clock stops while the machine is suspended, etcd's does not.
//
// Without etcd the budget fails closed: it keeps the permits it holds while
// its lease is known valid and opens nothing beyond them; after that it asks
// the manager to close every connection, unless Config.FallbackShare lets it
// keep a few (an availability choice that can exceed the cap).
package fleet
