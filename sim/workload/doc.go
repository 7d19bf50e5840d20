// Package workload describes what a simulation run does: how many
// identities and how skewed their popularity, how requests arrive, how long
// connections are held and which queries run on them, how the pools are
// configured, how tokens live and rotate, which faults strike and which bug
// (if any) is injected. Both the virtual-time simulator (sim/virtual) and the
// live runner (sim/live) take a Config; they draw from it with the seeded
// random streams defined here, so the same seed gives the same workload.
package workload
